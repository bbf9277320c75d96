// Package flightdeck is the root of a Go SDK for GitOps delivery inside an
// Internal Developer Platform.
//
// The root package holds the shared vocabulary every other package speaks:
// a [Release] is one application's container image pinned by digest, plus
// the source repository and revision it was built from; an [Environment]
// is one rung of the promotion ladder (dev, staging, prod).
//
// The work is done by the sub-packages:
//
//   - pipeline: the CI stage graph and its build, test, scan and push stages
//   - gitops: repository access, manifest edits, render, commit and push,
//     history, and the Syncer interface a GitOps controller implements
//   - gitops/argocd: a client for the Argo CD API server
//   - health: evaluators, analysis runs and statistical judges
//   - sim: an in-memory cluster for examples and tests
//
// Each package that defines an interface ships a fake in a sibling package
// whose name ends in "test" (gitopstest, healthtest, ...), for use in your
// own unit tests.
package flightdeck
