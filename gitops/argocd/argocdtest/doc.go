// Package argocdtest is a fake Argo CD API server for tests and demos of
// code that uses gitops/argocd (or any client of Argo CD's REST API).
//
// [New] starts an httptest server that speaks Argo CD's application API:
// GET /api/v1/applications[/{name}] (with ?refresh=normal|hard), POST
// .../{name}/sync and .../{name}/rollback, GET .../{name}/resource-tree,
// DELETE .../{name}/operation and the stream GET
// /api/v1/stream/applications, with Argo CD's JSON field names, bearer
// token authentication and gRPC-gateway error bodies.
//
// Each application registered with [Server.AddApp] points at a Git
// repository URL, a kustomization path and a target revision. A sync
// resolves the revision, renders it with kustomize through gitops.Repo,
// and applies the result to a [sim.Cluster], pruning if asked; the
// operation then runs for the sync duration on the server's [sim.Clock].
// The application's health is the worst health of its resources as the
// cluster plays out the rollout, its sync status compares the applied
// revision with the target revision, it is reconciled one second after
// each operation and every reconcile interval, and its history records
// every sync. Auto-sync, when on, syncs each new target revision the
// controller sees.
//
// Faults can be injected: [Server.FailNext] (5xx and others),
// [Server.MalformNext], [Server.SetLatency], [Server.DenySyncs] (sync
// window), [Server.HoldOperations] (operation in progress),
// [Server.MomentaryHealthy] (Healthy before the rollout really is),
// [Server.StaleReconcile] (a reconcile older than the operation) and
// [Server.DropStreamsAfter] (a stream that drops mid-line).
//
// Time is the server's [sim.Clock]: tests move it explicitly so a
// ten-minute rollout takes milliseconds, and demos can let it run faster
// than real time with [WithAcceleratedClock].
package argocdtest
