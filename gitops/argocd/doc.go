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
// a history id, [Client.ResourceTree], [Client.TerminateOperation], and
// the pod logs of an application ([Client.Logs], [Client.FollowLogs] on
// /api/v1/applications/{name}/logs), which [LogSource] hands to
// health.ErrorLogs.
//
// Paths, query parameters and JSON field names are Argo CD's own (see the
// types in types.go, which mirror v1alpha1 and the application service
// messages). Requests carry the token as "Authorization: Bearer" and go
// to the configured server only: redirects are never followed (a
// redirected POST would turn into a GET of whatever page it points at,
// and the token would follow it to another port or scheme). TLS verifies
// the server against the system roots, or against [WithCACert];
// [WithInsecureSkipVerify] turns verification off only when asked.
//
// Every answer is read with a size limit ([WithMaxResponseBytes], 32 MiB
// by default, also per line of the stream); past it the client stops
// reading and returns [ErrResponseTooLarge].
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
//	3xx redirect                                                           ErrBadResponse
//
// ErrNotFound matches [gitops.ErrAppNotFound], and ErrUnauthenticated and
// ErrPermissionDenied match [gitops.ErrAccessDenied], so
// [gitops.WaitFor] ends at once on them instead of retrying.
//
// 502, 503 and 504 answers, connections that could not be made and
// timeouts are retried with exponential back-off and jitter
// ([WithRetry], timed on [WithClock]); the waits end with the context,
// and a cancelled or expired context is never retried. A server that
// stays unreachable is [ErrUnavailable]. A 2xx answer that is not the
// expected JSON (a login page, another application) is [ErrBadResponse].
//
// Error texts are one line and start with "argocd: <what was attempted>".
// The token is replaced by "xxxxx" wherever a server echoes it back, in
// errors and log lines, and an HTML page (a proxy's 502, a login form) is
// summarised by its title instead of quoted.
//
// The sibling package argocdtest is a fake Argo CD server backed by a
// simulated cluster, for testing code that uses this client.
package argocd
