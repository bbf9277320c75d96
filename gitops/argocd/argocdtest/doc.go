// Package argocdtest is a fake Argo CD API server for tests and demos of
// code that uses gitops/argocd (or any client of Argo CD's REST API).
//
// [New] starts an httptest server that speaks Argo CD's application API:
// GET /api/v1/applications[/{name}] (with ?refresh=normal|hard), POST
// .../{name}/sync and .../{name}/rollback, GET .../{name}/resource-tree,
// DELETE .../{name}/operation, the stream GET
// /api/v1/stream/applications and the pod logs GET .../{name}/logs, with
// Argo CD's JSON field names, bearer token authentication and
// gRPC-gateway error bodies.
//
// The logs are the cluster's ([sim.Cluster.Logs]) for the pods of the
// application's resource tree, selected, merged and filtered as Argo CD's
// PodLogs does: podName, namespace, kind, group and resourceName select
// pods (or their owners), sinceSeconds and tailLines apply per pod on the
// server's clock, filter keeps lines containing a substring ("!" keeps
// the others), untilTime ends the stream at the first line after it,
// follow keeps sending new lines, and the stream ends with an empty entry
// marked last. As in Argo CD, a container the pod does not have comes
// back as a line saying so, sinceTime is refused (the REST gateway
// cannot parse it), and more than [MaxPodLogsToRender] pods is
// InvalidArgument. The sim keeps no previous container instance, so
// previous=true answers each pod with Kubernetes' "previous terminated
// container ... not found".
//
// Each application registered with [Server.AddApp] points at a Git
// repository URL, a kustomization path and a target revision. A sync
// resolves the revision, renders it with kustomize through gitops.Repo,
// and applies the result to a [sim.Cluster], pruning if asked; the
// operation then runs for the sync duration on the server's clock.
// The application's health is the worst health of its resources as the
// cluster plays out the rollout, its sync status compares the applied
// revision with the target revision, it is reconciled one second after
// each operation and every reconcile interval, and its history records
// its last syncs (ten, or [App.RevisionHistoryLimit], as Argo CD keeps
// them; IDs keep counting up). Auto-sync, when on, syncs each new target revision the
// controller sees.
//
// Errors are Argo CD's: the gRPC-gateway body {"error", "code",
// "message"} with the HTTP status grpc-gateway maps the gRPC code to
// ([HTTPStatus]: NotFound 404, PermissionDenied 403, Unauthenticated 401,
// InvalidArgument and FailedPrecondition 400, AlreadyExists 409,
// Unavailable 503, ...), and Argo CD's messages.
//
// Faults can be injected: [Server.FailNext] (5xx as a proxy's HTML page,
// others as gateway errors), [Server.RefuseNext] (any gRPC code),
// [Server.MalformNext], [Server.SetLatency] (up to a server that never
// answers), [Server.RevokeToken], [Server.DenyAccess] (RBAC),
// [Server.DeleteApp], [Server.DenySyncs] (sync window),
// [Server.HoldOperations] (operation in progress),
// [Server.MomentaryHealthy] (Healthy before the rollout really is),
// [Server.StaleReconcile] (a reconcile older than the operation) and
// [Server.DropStreamsAfter] (a stream that drops mid-line).
//
// Time is the server's clock, a clocktest.Clock (sim.Clock is the same
// type): tests move it explicitly so a ten-minute rollout takes
// milliseconds, and demos can let it run faster than real time with
// [WithAcceleratedClock]. [WithClock] shares one clock with the cluster,
// the client and gitops.WaitFor.
package argocdtest
