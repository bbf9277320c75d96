// Package healthtest provides fakes and a conformance suite for package
// health: [Scripted], an [health.Evaluator] that replays a script of
// measurements; [Prometheus], a fake Prometheus HTTP API (/api/v1/query
// and /api/v1/query_range) with programmable results and injectable
// faults; and [TestEvaluator] and [TestEvaluatorFailSafe], the suites any
// Evaluator implementation can run, in the style of testing/slogtest.
// Time is driven by the project's one fake clock, clocktest.Clock
// (clocktest.NewAuto lets analysis runs and probes with long intervals
// finish at once), passed with health.WithClock and [Scripted.SetClock].
// [Success], [Failure], [NoData] and [Err] build scripted measurements.
//
// All fakes keep state, record their calls and are safe for concurrent
// use.
package healthtest
