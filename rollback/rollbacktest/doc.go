// Package rollbacktest provides test helpers for code that uses package
// rollback: [Observer], which records a Controller's events; [Series], a
// scripted time series that serves a degradation check's windows (a
// health.SampleSource); and [SimRecorder], which samples a sim.Cluster's
// metrics step by step into the three signals of a degradation check,
// p95 latency, error rate and CPU per request, as Prometheus would
// compute them from the same counters and histograms.
package rollbacktest
