// Package flightdeck is the root of a Go SDK for GitOps delivery inside an
// Internal Developer Platform.
//
// The root package holds the shared vocabulary every other package speaks:
// a [Release] is one application's container image pinned by digest, plus
// the source repository and revision it was built from; an [Environment]
// is one rung of the promotion ladder (dev, staging, prod).
//
// The work is done by the sub-packages, which depend downward only:
//
//   - clock: the one Clock every package accepts; clock/clocktest drives a
//     whole test on one timeline
//   - pipeline: the CI stage graph and its build, test, scan and push stages
//   - gitops: repository access, manifest edits, render, commit and push,
//     release-level deploy/read/copy/restore, holds, history, and the
//     Syncer interface a GitOps controller implements
//   - gitops/argocd: a client for the Argo CD API server
//   - health: evaluators, fail-safe analysis runs and statistical judges
//   - strategy: rolling, blue-green and canary plans carried out through Git
//   - rollback: verification after deploy, automatic and manual rollback,
//     holds and quarantined digests
//   - promote: the environment ladder, its policies, verified approvals
//   - dora: the five DORA metrics read from Git history
//   - notify: events, signed webhooks and Slack messages for stakeholders
//   - sim: an in-memory cluster with real traffic for examples and tests
//
// Each package that defines an interface ships a fake in a sibling package
// whose name ends in "test" (gitopstest, healthtest, ...), for use in your
// own unit tests.
package flightdeck
