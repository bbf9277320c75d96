package health_test

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flightdeck-dev/flightdeck/health"
)

// BenchmarkSequentialRequestsToDetect measures how many requests (canary
// and stable together, half each) the sequential test needs to fail a
// canary whose error rate is twice the stable 1%. Each iteration is one
// simulated canary; the figures are reported per detection.
func BenchmarkSequentialRequestsToDetect(b *testing.B) {
	rng := rand.New(rand.NewPCG(2026, 4))
	var reqs []float64
	missed := 0
	for b.Loop() {
		n, ok := sequentialRequestsToDetect(rng, 0.5, 0.01, 2, 1_000_000)
		if !ok {
			missed++
			continue
		}
		reqs = append(reqs, float64(n))
	}
	slices.Sort(reqs)
	if len(reqs) == 0 {
		b.Fatal("never detected")
	}
	q := func(p float64) float64 { return reqs[int(p*float64(len(reqs)-1))] }
	b.ReportMetric(q(0.5), "p50-requests")
	b.ReportMetric(q(0.8), "p80-requests")
	b.ReportMetric(q(0.95), "p95-requests")
	b.ReportMetric(float64(missed)/float64(missed+len(reqs)), "missed-fraction")
}

// BenchmarkMannWhitneyRequestsToDetect measures the fixed sample size the
// Mann-Whitney judge needs to call a canary with twice the stable 1%
// error rate High in at least 80% of 200 simulated comparisons, with error
// rates sampled per interval of 100 requests per side (Direction
// Increase, Kayenta's defaults). The power search runs once and reports
// the total requests (both sides) at the smallest interval count on its
// grid reaching 80%; the timed loop then classifies one comparison of
// that size.
func BenchmarkMannWhitneyRequestsToDetect(b *testing.B) {
	const perInterval, trials = 100, 200
	rng := rand.New(rand.NewPCG(2026, 5))
	found, intervals := 0, 0
	for _, k := range []int{25, 50, 100, 150, 200, 300, 400} {
		high := 0
		for range trials {
			v := health.ClassifyMetric(health.JudgeConfig{}, health.CanaryMetric{Name: "errors", Direction: health.Increase,
				Control: errorRates(rng, k, perInterval, 0.01), Experiment: errorRates(rng, k, perInterval, 0.02)})
			if v.Classification == health.High {
				high++
			}
		}
		b.Logf("%d intervals × %d requests per side: power %.2f", k, perInterval, float64(high)/trials)
		if float64(high)/trials >= 0.8 {
			found, intervals = 2*k*perInterval, k
			break
		}
	}
	if found == 0 {
		b.Fatal("80% power not reached on the grid")
	}
	control, experiment := errorRates(rng, intervals, perInterval, 0.01), errorRates(rng, intervals, perInterval, 0.02)
	for b.Loop() {
		health.ClassifyMetric(health.JudgeConfig{}, health.CanaryMetric{Name: "errors", Direction: health.Increase,
			Control: control, Experiment: experiment})
	}
	b.ReportMetric(float64(found), "requests-for-80%-power")
}
