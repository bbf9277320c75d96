// Package argocd is a client of the Argo CD API server over its REST API
// and application stream, with no dependency on the argo-cd module. It
// works against Argo CD v2 and v3 servers.
//
// [Client] implements [gitops.Syncer] and [gitops.Refresher], so
// [gitops.WaitFor] waits on it correctly: only a finished operation, a
// reconcile after it, the right revision, and sync and health held for a
// window count as done. Beyond the interface the client offers
// [Client.Get] with refresh, [Client.Watch] on
// /api/v1/stream/applications (reconnecting when the stream drops and
// falling back to polling when it cannot be opened), [Client.Rollback] to
// a history id, [Client.ResourceTree] and [Client.TerminateOperation].
//
// Paths, query parameters and JSON field names are Argo CD's own (see the
// types in types.go, which mirror v1alpha1 and the application service
// messages). Requests carry the token as "Authorization: Bearer"; the
// token never appears in errors or logs. TLS verifies the server against
// the system roots, or against [WithCACert]; [WithInsecureSkipVerify]
// turns verification off only when asked.
//
// # Errors
//
// Refusals come as [*APIError], decoded from the gRPC-gateway error body,
// keeping the server's message and wrapping a sentinel when one applies:
//
//	gRPC code / HTTP            message contains                           sentinel
//	5 NotFound / 404                                                       ErrNotFound
//	16 Unauthenticated / 401                                               ErrUnauthenticated
//	7 PermissionDenied / 403    "sync window"                              ErrSyncWindow
//	7 PermissionDenied / 403                                               ErrPermissionDenied
//	9 FailedPrecondition / 400  "another operation is already in progress" ErrOperationInProgress
//	9 FailedPrecondition / 400  "auto-sync currently set to"               ErrAutoSyncRevision
//	502, 503, 504 (after retries)                                          ErrUnavailable
//
// 502, 503 and 504 answers and connections that could not be made are
// retried with exponential back-off and jitter ([WithRetry]); the waits
// end with the context, and a cancelled or expired context is never
// retried. An answer that does not decode is [ErrBadResponse].
//
// The sibling package argocdtest is a fake Argo CD server backed by a
// simulated cluster, for testing code that uses this client.
package argocd
