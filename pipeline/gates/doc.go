// Package gates holds pipeline stages that pass or fail a build on
// measured results rather than doing work: a performance gate and a scan
// gate.
//
// The performance gate ([NewPerfGate]) reads [Measurement]s from Go
// benchmark output ([ParseBench], the text `go test -bench -benchmem`
// prints), from k6's end-of-test summary ([ParseK6Summary], the file
// `k6 run --summary-export=FILE` writes; [K6SummaryFile] in a pipeline),
// or from a load-test result in a small JSON format ([ParseLoadTest]),
// and checks them against [Budget]s: p95 latency,
// throughput, allocations and bytes per operation, error rate. For
// benchmarks run with -count=N the samples of one benchmark are
// aggregated: latency is the median ns/op, p95 latency the 95th
// percentile of the ns/op samples, throughput 1e9 / median ns/op, and
// allocations the worst sample. A budget that matches no measurement is
// an error ([ErrNoMeasurement]), so a renamed benchmark cannot silently
// pass the gate. For k6, p95 and median latency come from
// http_req_duration, the error rate from http_req_failed and throughput
// from http_reqs' rate; a refusal names the k6 metric, the budget and the
// measured value.
//
// The scan gate ([NewScanGate]) applies a [scan.Policy] to the findings
// of one or more scan steps together, at the time of a clock, so that
// allowlist entries expire on schedule.
//
// Both fail with errors marked [pipeline.Permanent]: running the same
// check again cannot change its outcome, so the engine does not retry.
package gates
