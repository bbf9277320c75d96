package health_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

// condition is a named condition of the product tables; a nil cond means
// the metric sets none.
type condition struct {
	name string
	cond health.Condition
}

var (
	successConditions = []condition{
		{"none", nil},
		{"below 0.05", health.Below(0.05)},
		{"always", func(health.Measurement) bool { return true }},
		{"never", func(health.Measurement) bool { return false }},
	}
	failureConditions = []condition{
		{"none", nil},
		{"above 0.1", health.Above(0.1)},
		{"always", func(health.Measurement) bool { return true }},
		{"never", func(health.Measurement) bool { return false }},
	}
)

// expectedPhase is the measurement classification table of the package
// documentation, row by row.
func expectedPhase(in health.Measurement, succ, fail health.Condition, noData health.Phase) health.Phase {
	if noData == "" {
		noData = health.Inconclusive
	}
	hasValue := !math.IsNaN(in.Value) || len(in.Values) > 0
	switch in.Phase {
	case health.Failed:
		return health.Failed
	case health.Error:
		return health.Error
	case health.Running, "":
		return health.Inconclusive
	case health.Inconclusive:
		return noData
	case health.Successful:
	default:
		return health.Error // unknown phase
	}
	if !hasValue {
		return noData
	}
	if succ == nil && fail == nil {
		return health.Successful
	}
	s, f := succ != nil && succ(in), fail != nil && fail(in)
	switch {
	case fail == nil:
		f = !s
	case succ == nil:
		s = !f
	}
	switch {
	case f:
		return health.Failed
	case s:
		return health.Successful
	}
	return health.Inconclusive
}

// TestClassifyProduct walks the whole measurement table: every evaluator
// phase (the documented ones, none, and an unknown one) × every kind of
// value (in range, out of range either side, NaN, ±Inf, with and without
// Values) × every success condition × every failure condition × every
// NoData phase. Besides the table's answer it checks the fail-safe rules
// on their own terms: only an evaluator's Successful with a value can be
// Successful, and then only if its conditions allow it; an evaluator's
// Failed or Error is never anything else.
func TestClassifyProduct(t *testing.T) {
	phases := []health.Phase{health.Successful, health.Failed, health.Inconclusive, health.Error, health.Running, "", "Healthy"}
	values := []float64{0.01, 0.07, 0.2, math.NaN(), math.Inf(1), math.Inf(-1)}
	noDatas := []health.Phase{"", health.Inconclusive, health.Failed, health.Error}
	r, _ := newRunner(t)
	cases := 0
	for _, phase := range phases {
		for _, v := range values {
			for _, withValues := range []bool{false, true} {
				in := health.Measurement{Value: v, Phase: phase, Message: "scripted"}
				if withValues {
					in.Values = map[string]float64{"a": v}
				}
				if phase == health.Error {
					in.Err = errBoom
				}
				for _, sc := range successConditions {
					for _, fc := range failureConditions {
						for _, nd := range noDatas {
							cases++
							name := fmt.Sprintf("phase %q value %g values %v success %s failure %s no data %q", phase, v, withValues, sc.name, fc.name, nd)
							res, err := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{{
								Name: "m", Evaluator: healthtest.NewScripted(in),
								SuccessCondition: sc.cond, FailureCondition: fc.cond, NoData: nd,
								FailureLimit: -1, InconclusiveLimit: -1, ConsecutiveErrorLimit: health.Limit(0),
							}}})
							require.NoError(t, err, name)
							mr := res.Metric("m")
							require.Len(t, mr.Measurements, 1, name)
							got := mr.Measurements[0]

							want := expectedPhase(in, sc.cond, fc.cond, nd)
							if !assert.Equal(t, want, got.Phase, name) {
								continue
							}
							assert.Equal(t, got.Phase, mr.Phase, "a single measurement decides the metric: %s", name)
							assert.Equal(t, got.Phase, res.Phase, "and the run: %s", name)
							if got.Phase == health.Error {
								assert.Error(t, got.Err, name)
							}
							// The fail-safe rules, independently of the table.
							if got.Phase == health.Successful {
								assert.Equal(t, health.Successful, in.Phase, "only the evaluator's success can be one: %s", name)
								assert.True(t, !math.IsNaN(in.Value) || withValues, "a success needs a value: %s", name)
								assert.True(t, sc.cond == nil || sc.cond(in), "a success condition that does not hold: %s", name)
								assert.True(t, fc.cond == nil || !fc.cond(in), "a failure condition that holds: %s", name)
							}
							switch in.Phase {
							case health.Failed, health.Error:
								assert.Equal(t, in.Phase, got.Phase, "a judged failure or an error stands: %s", name)
							}
						}
					}
				}
			}
		}
	}
	assert.Equal(t, 7*6*2*4*4*4, cases)
}

// TestMetricSequences walks the per-metric decision table over every
// sequence of up to three measurement phases (the last repeating, as the
// scripted evaluator does) for metrics measured once, with a count, and in
// the background until the analysis ends, under every combination of
// failure, inconclusive, consecutive-error and consecutive-success limits.
// It checks the counters, the retry schedule and that no metric is
// Successful without a successful measurement or beyond its limits.
func TestMetricSequences(t *testing.T) {
	kinds := map[health.Phase]health.Measurement{
		health.Successful:   healthtest.Success(1),
		health.Failed:       healthtest.Failure(1),
		health.Inconclusive: healthtest.NoData(),
		health.Error:        healthtest.Err(errBoom),
	}
	order := []health.Phase{health.Successful, health.Failed, health.Inconclusive, health.Error}
	var sequences [][]health.Phase
	var grow func(prefix []health.Phase)
	grow = func(prefix []health.Phase) {
		if len(prefix) > 0 {
			sequences = append(sequences, prefix)
		}
		if len(prefix) == 3 {
			return
		}
		for _, p := range order {
			grow(append(append([]health.Phase(nil), prefix...), p))
		}
	}
	grow(nil)
	require.Len(t, sequences, 4+16+64)

	shapes := []struct {
		name     string
		metric   health.Metric
		duration time.Duration
	}{
		{"once", health.Metric{}, 0},
		{"count 2", health.Metric{Interval: time.Minute, Count: 2}, 0},
		{"background", health.Metric{Interval: time.Minute}, 5 * time.Minute},
	}
	for _, sh := range shapes {
		for _, fl := range []int{0, 1, -1} {
			for _, il := range []int{0, -1} {
				for _, cel := range []int{0, 2} {
					for _, csl := range []int{0, 2} {
						for _, seq := range sequences {
							name := fmt.Sprintf("%s failure limit %d inconclusive limit %d error limit %d success limit %d: %v", sh.name, fl, il, cel, csl, seq)
							r, c := newRunner(t)
							ev := healthtest.NewScripted()
							for _, p := range seq {
								ev.Push(kinds[p])
							}
							ev.SetClock(c)
							m := sh.metric
							m.Name, m.Evaluator = "m", ev
							m.FailureLimit, m.InconclusiveLimit, m.ConsecutiveErrorLimit, m.ConsecutiveSuccessLimit = fl, il, health.Limit(cel), csl
							res, err := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{m}, Duration: sh.duration})
							require.NoError(t, err, name)
							mr := res.Metric("m")
							checkMetricResult(t, name, m, *mr)
							assert.Equal(t, mr.Phase, res.Phase, "a single metric decides the run: %s", name)
							assert.Equal(t, len(mr.Measurements), ev.Calls(), name)
						}
					}
				}
			}
		}
	}
}

// checkMetricResult checks the invariants of one metric's record.
func checkMetricResult(t *testing.T, name string, m health.Metric, mr health.MetricResult) {
	t.Helper()
	var s, f, i, e int
	for k, meas := range mr.Measurements {
		switch meas.Phase {
		case health.Successful:
			s++
		case health.Failed:
			f++
		case health.Inconclusive:
			i++
		case health.Error:
			e++
		}
		if k > 0 {
			want := m.Interval
			if mr.Measurements[k-1].Phase == health.Error {
				want = health.DefaultErrorRetryInterval
			}
			assert.Equal(t, want, meas.Time.Sub(mr.Measurements[k-1].Time), "wait before measurement %d: %s", k, name)
		}
	}
	assert.Equal(t, [4]int{s, f, i, e}, [4]int{mr.Successful, mr.Failed, mr.Inconclusive, mr.Error}, "tallies: %s", name)
	assert.Equal(t, s+f+i, mr.Count, "errors do not count: %s", name)
	assert.True(t, mr.Phase.Completed(), "undecided at the end: %s", name)
	if e > 0 && s+f+i == 0 {
		assert.Equal(t, health.Error, mr.Phase, "every measurement errored: %s", name)
	}
	if mr.Phase != health.Successful {
		return
	}
	assert.Positive(t, s, "Successful without a successful measurement: %s", name)
	if m.FailureLimit >= 0 {
		assert.LessOrEqual(t, f, m.FailureLimit, "Successful beyond the failure limit: %s", name)
	}
	if m.InconclusiveLimit >= 0 {
		assert.LessOrEqual(t, i, m.InconclusiveLimit, "Successful beyond the inconclusive limit: %s", name)
	}
	assert.LessOrEqual(t, mr.ConsecutiveError, *m.ConsecutiveErrorLimit, "Successful beyond the error limit: %s", name)
	count := m.Count
	if count == 0 && m.Interval == 0 {
		count = 1
	}
	switch {
	case count == 0:
		// A background metric the analysis duration ended, as in Argo Rollouts.
	case m.ConsecutiveSuccessLimit > 0:
		assert.GreaterOrEqual(t, mr.ConsecutiveSuccess, m.ConsecutiveSuccessLimit, "Successful short of the consecutive successes: %s", name)
	default:
		assert.GreaterOrEqual(t, mr.Count, count, "Successful before the count: %s", name)
	}
}
