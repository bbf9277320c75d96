// Package argocdv2test is an in-memory Argo CD v2.14 API server built on
// Argo CD's own generated code, for testing clients of the Argo CD API
// against the real wire format rather than a hand-written imitation.
//
// [Server] implements the generated
// application.ApplicationServiceServer (Get, List, Watch, Sync, Rollback,
// TerminateOperation, ResourceTree, PodLogs) over a store of
// v1alpha1.Application objects and the pod log lines a test gives
// ([Server.AddLogs]), with Argo CD's refusals and messages:
//
//	missing or unknown token                 Unauthenticated     HTTP 401
//	token without the sync action            PermissionDenied    HTTP 403
//	unknown app, no project in the request   PermissionDenied    HTTP 403  (existence is not leaked)
//	unknown app, project in the request      NotFound            HTTP 404
//	sync blocked by a sync window            PermissionDenied    HTTP 403  "cannot sync: blocked by sync window"
//	operation already requested or running   FailedPrecondition  HTTP 400  "... another operation is already in progress"
//	revision differs while auto-sync is on   FailedPrecondition  HTTP 400  "Cannot sync to X: auto-sync currently set to Y"
//	rollback while auto-sync is on           FailedPrecondition  HTTP 400
//	terminate with no operation running      InvalidArgument     HTTP 400
//
// A sync or rollback only requests an operation (app.operation is set and
// operationState cleared, as Argo CD's API server does); the application
// controller's part is played by the test through
// [Server.StartOperation] and [Server.FinishOperation], or at once with
// [WithAutoComplete]. Faults are injected with [Server.FailNext] (any
// error, usually a gRPC status) and [Server.DropWatches] (open streams end
// with Unavailable); [Server.Calls] records every call with the transport
// it came by.
//
// [Serve] puts the server on one loopback port the way Argo CD's API
// server does: cmux sends HTTP/2 requests with content-type
// application/grpc to the gRPC server and everything else to an HTTP
// server, which hands gRPC-web requests to improbable-eng's grpcweb
// wrapper and /api/ to the generated grpc-gateway (v1) REST handlers. The
// gateway uses Argo CD's JSON marshaler and the stream forwarders Argo CD
// installs, and reaches the gRPC server over a loopback connection, so
// /api/v1/stream/applications streams exactly as it does in Argo CD:
// newline-delimited {"result": {"type", "application"}} chunks, an
// {"error": {"grpc_code", "http_code", "message"}} chunk when the stream
// fails, or Server-Sent Events when the request accepts
// text/event-stream. [WithTLS] serves TLS on the same port (ALPN
// http/1.1 before h2, as Argo CD offers them); [SelfSignedCert] makes a
// certificate for it.
//
// Watch streams get events through a buffer of 256; a watcher that falls
// further behind misses events (logged), as with Argo CD's broadcaster.
package argocdv2test
