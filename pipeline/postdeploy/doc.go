// Package postdeploy is the pipeline stage that verifies functionality
// after a deployment: it runs a suite of integration or smoke tests
// against the environment a release was just deployed to, once that
// environment is ready, and keeps the suite's report with the release in
// the GitOps repository, where promotion policies read it.
//
// Its name says when it runs: after package deploy, whose stage comes
// right before it; package gotest runs the unit tests of the source
// before the image is built, postdeploy runs tests against what is
// deployed.
//
// # Running
//
// A [Spec] names the suite (its name is what a promotion asks for), the
// [Runner] that runs it, and the environment's endpoints. Runners:
//
//   - [GoTest] runs `go test -json` with a build tag that selects the
//     tests against a deployed environment (for example files under
//     `//go:build smoke`), through package gotest, so the report names
//     every test and subtest, its time and its output when it failed;
//   - [Command] runs any program (a script, `npm test`, a test binary):
//     one test that passes when it exits 0;
//   - [RunnerFunc] adapts a function.
//
// The tests find the environment in their process environment:
//
//	FLIGHTDECK_APP       the app, "shop"
//	FLIGHTDECK_ENV       the environment, "staging"
//	FLIGHTDECK_RELEASE   the release tested, "registry.example.com/shop@sha256:…"
//	FLIGHTDECK_DIGEST    its digest, "sha256:…"
//	FLIGHTDECK_SUITE     the suite's name
//	FLIGHTDECK_ENDPOINT_<NAME>=<url>
//	                     one per Spec.Endpoints entry; NAME is the entry's
//	                     name upper-cased with "-" and "." as "_"
//	                     ("api" → FLIGHTDECK_ENDPOINT_API, "admin-ui" →
//	                     FLIGHTDECK_ENDPOINT_ADMIN_UI), see [EnvName]
//
// # Waiting
//
// The target (the release and environment, by default the deployment the
// deploy stage put under deploy.Deployed; [Current] reads what an
// environment runs, for scheduled runs) is tested only once it is ready:
// with [WithSyncer], [gitops.WaitFor] waits until the GitOps controller
// reports the app Synced at the deploy's commit and Healthy; with
// [WithReady], a function of yours must return nil. If the environment
// does not become ready the stage fails with [ErrNotReady], runs nothing
// and records nothing.
//
// # Keeping the report with the release
//
// Each run builds a [Report] (which tests ran, how long, which failed,
// with the endpoints minus any credentials in their URLs) and, through
// the [gitops.Writer] given to [New], commits it with [Record]: one
// commit, action [gitops.ActionTest], carrying the release trailers of
// the app, environment and digest tested and the trailer
// "Flightdeck-Tests: <suite>=passed" (or "=failed") that the promote
// package's Tests policy reads, and writing the report as JSON to
// ".flightdeck/tests/<app>/<env>/<digest hex>/<suite>.json" ([Path]).
// The newest result of a suite counts, so a suite that failed and then
// passed on a retry lets the release be promoted.
//
// A failed suite returns a [*FailError] naming the failing tests, after
// the report is recorded. It is not marked permanent: a step's retry
// policy may run a flaky suite again.
package postdeploy
