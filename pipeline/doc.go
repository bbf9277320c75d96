// Package pipeline runs the CI half of a delivery: a graph of stages that
// build, test, scan and push an image and hand its digest to the deploy
// stage. This package is the engine; the stages live in subpackages
// (command, gotest, image, scan, gates, deploy) and pipelinetest has
// fakes.
//
// # Stages, steps and graphs
//
// A [Stage] is one small interface: a name and Run(ctx, state). A [Step]
// wraps a stage with policy, so a stage never retries, times out or
// decides whether to run by itself:
//
//   - After: ordering by step name. Ordering only: the step still runs
//     when the earlier step was skipped by its condition, or failed with
//     ContinueOnError.
//   - Needs and Provides: dependencies by data. A step that Needs a [Key]
//     depends on the one step that Provides it, and is skipped, with the
//     reason recorded, when that step did not succeed. Skips cascade
//     along data dependencies. A stage that returns nil without putting a
//     key its step provides fails with [ErrMissingResult].
//   - When: a condition evaluated just before the step would start.
//   - Timeout: a deadline for each attempt.
//   - Retry: more attempts with exponential backoff. The wait is a select
//     on the run's context, and a run whose context was cancelled or
//     passed its deadline is never retried. An attempt that hit the
//     step's own Timeout is retried. [Permanent] errors and errors that
//     Retry.If rejects are not.
//   - ContinueOnError: whether a failure stops the run (the default) or
//     lets independent work continue.
//
// A [Builder] collects main steps (Add) and finally steps (Finally) and
// checks them in [Builder.Build]: duplicate names, unknown After names,
// keys nobody provides, keys provided twice, and cycles are errors that
// name the steps; every problem is reported, joined. The resulting
// [Graph] is immutable and can be rendered with [Graph.Mermaid] and
// [Graph.DOT].
//
// # Results: typed keys and State
//
// Stages hand each other results through the run's [State] under typed
// keys declared once by the producing package:
//
//	var Digest = pipeline.NewKey[string]("image.digest")
//
//	Digest.Put(st, "sha256:…")      // in the producing stage
//	d, err := Digest.Get(st)        // in a consuming stage
//
// Keys are identified by their name; namespacing names by package
// ("image.digest", "gotest.report") keeps them apart.
//
// # Running
//
// An [Engine] (built with [New]) runs graphs. Steps whose dependencies
// are done run in parallel, up to [WithParallelism]. A step that fails
// without ContinueOnError stops the run: no further main steps start
// (they are reported as skipped, "run stopped: step X failed"), running
// steps finish. When the run's context ends, running stages see it, no
// further main steps start, and Run reports the context's error.
//
// Finally steps run after all main steps are done, whatever happened, on
// a context derived with [context.WithoutCancel] from the run's context
// (so they keep its values but not its cancellation or deadline) and
// bounded by [WithFinallyTimeout]. A finally failure does not stop other
// finally steps.
//
// [Engine.Run] returns a [Report] with one [StepReport] per step (status,
// attempts, duration, skip reason, error) and an error joining every
// step's [*StepError]; nothing is swallowed. [Observer]s receive an
// [Event] as each step starts, fails an attempt, finishes or is skipped;
// [Progress] is an observer that prints one line per event for CLIs.
//
// A panic in a stage, a When condition or a Retry.If fails its step with a
// [*PanicError] ([ErrPanic]) carrying the panic value and stack; a panic
// in an observer stops that observer's events for the run and is reported
// in Run's error. No panic escapes [Engine.Run].
//
// Time comes from one [clock.Clock] ([WithClock], the system clock by
// default): step timing, event stamps, retry backoff, each attempt's
// Timeout and the finally deadline. With clocktest.Clock a test drives a
// whole run, timeouts included, without waiting.
// With [WithRegisterer] the engine exports
// flightdeck_stage_duration_seconds and flightdeck_stage_attempts_total,
// labelled by step name and result.
//
// The engine's own cost is measured by BenchmarkEngineOverhead (ns/step
// on a 10,000-step graph of no-op stages, against a bare
// goroutine-per-call baseline in the same run); the target is under
// 5 µs a step.
//
// # Stages in this module
//
//   - command: run a program; output captured, exit code and output tail
//     in the error.
//   - gotest: `go test -json` parsed into a per-package, per-test report.
//   - image: build, push and copy images with go-containerregistry.
//   - scan: govulncheck, Trivy and Grype findings under a policy.
//   - gates: performance budgets and the scan policy as gate steps, and
//     pre-deploy gates on an environment's rendered overlay (resource
//     requests and limits, ResourceQuota) and on a release (tests passed,
//     scan passes).
//   - deploy: pin the pushed digest in an environment overlay via gitops.
package pipeline
