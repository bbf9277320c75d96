package health_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

var errBoom = errors.New("boom")

func newRunner(t *testing.T, opts ...health.Option) (*health.Runner, *clocktest.Clock) {
	t.Helper()
	c := clocktest.NewAuto(fixedNow)
	r, err := health.NewRunner(append([]health.Option{health.WithClock(c)}, opts...)...)
	require.NoError(t, err)
	return r, c
}

func run(t *testing.T, a health.Analysis) health.RunResult {
	t.Helper()
	r, _ := newRunner(t)
	res, err := r.Run(context.Background(), a)
	require.NoError(t, err)
	return res
}

// TestMeasurementTable covers the measurement classification table of the
// package documentation, one named row per case; TestClassifyProduct
// walks the whole product of phases, values and conditions.
func TestMeasurementTable(t *testing.T) {
	below := health.Below(0.05)
	above := health.Above(0.1)
	tests := []struct {
		name       string
		meas       health.Measurement
		succ, fail health.Condition
		noData     health.Phase
		want       health.Phase
	}{
		{"error stays error", healthtest.Err(errBoom), below, above, "", health.Error},
		{"no data is inconclusive by default", healthtest.NoData(), below, nil, "", health.Inconclusive},
		{"NaN value is no data", health.Measurement{Value: math.NaN(), Phase: health.Successful}, below, nil, "", health.Inconclusive},
		{"no data configured as failed", healthtest.NoData(), below, nil, health.Failed, health.Failed},
		{"no condition keeps evaluator success", healthtest.Success(7), nil, nil, "", health.Successful},
		{"no condition keeps evaluator failure", healthtest.Failure(7), nil, nil, "", health.Failed},
		{"success only, holds", healthtest.Success(0.01), below, nil, "", health.Successful},
		{"success only, does not hold", healthtest.Success(0.07), below, nil, "", health.Failed},
		{"failure only, holds", healthtest.Success(0.2), nil, above, "", health.Failed},
		{"failure only, does not hold", healthtest.Success(0.07), nil, above, "", health.Successful},
		{"both, success holds", healthtest.Success(0.01), below, above, "", health.Successful},
		{"both, failure holds", healthtest.Success(0.2), below, above, "", health.Failed},
		{"both, neither holds", healthtest.Success(0.07), below, above, "", health.Inconclusive},
		{"both hold: failure wins", healthtest.Success(0.2), health.Above(0), above, "", health.Failed},
		{"judging evaluator failure is not overruled by a success condition", healthtest.Failure(0.01), below, nil, "", health.Failed},
		{"a Running measurement is undecided", health.Measurement{Value: 1, Phase: health.Running}, nil, nil, "", health.Inconclusive},
		{"a measurement without a phase is undecided", health.Measurement{Value: 1}, below, above, "", health.Inconclusive},
		{"no data configured as error", healthtest.NoData(), below, nil, health.Error, health.Error},
		{"NaN value with a condition is no data, not a comparison", health.Measurement{Value: math.NaN(), Phase: health.Successful}, nil, health.Above(0.1), health.Failed, health.Failed},
		{"judging evaluator failure, failure only, holds", healthtest.Failure(0.2), nil, above, "", health.Failed},
		{"judging evaluator failure, failure only, does not hold", healthtest.Failure(0.07), nil, above, "", health.Failed},
		{"judging evaluator failure, both, success holds", healthtest.Failure(0.01), below, above, "", health.Failed},
		{"judging evaluator failure, both, neither holds", healthtest.Failure(0.07), below, above, "", health.Failed},
		{"probe without a response under a failure condition", health.Measurement{Value: math.NaN(), Phase: health.Failed, Message: "no response"}, nil, health.AtLeast(500), "", health.Failed},
		{"Degraded objects under a failure condition", health.Measurement{Value: math.NaN(), Values: map[string]float64{"Degraded": 1}, Phase: health.Failed}, nil, health.AtLeast(500), "", health.Failed},
		{"NaN failure is not overruled by a failure condition that does not hold", health.Measurement{Value: math.NaN(), Phase: health.Failed}, nil, health.Above(0.1), "", health.Failed},
		{"+Inf is a value a failure condition judges", health.Measurement{Value: math.Inf(1), Phase: health.Successful}, nil, above, "", health.Failed},
		{"-Inf is a value a success condition judges", health.Measurement{Value: math.Inf(-1), Phase: health.Successful}, below, nil, "", health.Successful},
		{"an unknown phase is an error", health.Measurement{Value: 0.01, Phase: "Healthy"}, below, nil, "", health.Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, health.Analysis{Metrics: []health.Metric{{
				Name: "m", Evaluator: healthtest.NewScripted(tt.meas),
				SuccessCondition: tt.succ, FailureCondition: tt.fail, NoData: tt.noData,
				InconclusiveLimit: -1, FailureLimit: -1, ConsecutiveErrorLimit: health.Limit(0),
			}}})
			m := res.Metric("m")
			require.NotNil(t, m)
			require.Len(t, m.Measurements, 1)
			got := m.Measurements[0]
			assert.Equal(t, tt.want, got.Phase)
			if tt.want == health.Error {
				assert.Error(t, got.Err, "an Error measurement carries Err")
			}
			if tt.noData == health.Error && tt.meas.Phase == health.Inconclusive {
				assert.ErrorIs(t, got.Err, health.ErrNoData)
			}
		})
	}
}

// TestMetricDecisionTable covers each row of the per-metric decision
// table, in order; TestMetricSequences walks every short sequence of
// measurement phases under every combination of limits.
func TestMetricDecisionTable(t *testing.T) {
	s, f, n, e := healthtest.Success(1), healthtest.Failure(1), healthtest.NoData(), healthtest.Err(errBoom)
	tests := []struct {
		name    string
		metric  health.Metric
		script  []health.Measurement
		want    health.Phase
		count   int // measurements that are not errors
		calls   int // every measurement
		message string
	}{
		{"1 failure limit exceeded", health.Metric{Interval: time.Minute, Count: 5, FailureLimit: 1},
			[]health.Measurement{s, f, s, f, s}, health.Failed, 4, 4, "2 failed measurements exceed the failure limit 1"},
		{"1 default failure limit is zero", health.Metric{Interval: time.Minute, Count: 5},
			[]health.Measurement{s, f}, health.Failed, 2, 2, "1 failed measurement exceeds the failure limit 0"},
		{"1 negative failure limit disables", health.Metric{Interval: time.Minute, Count: 3, FailureLimit: -1},
			[]health.Measurement{s, f, f}, health.Successful, 3, 3, "3 measurements within limits (1 successful, 2 failed"},
		{"2 inconclusive limit exceeded", health.Metric{Interval: time.Minute, Count: 5, InconclusiveLimit: 1},
			[]health.Measurement{n, s, n}, health.Inconclusive, 3, 3, "2 inconclusive measurements exceed the inconclusive limit 1"},
		{"2 default inconclusive limit is zero", health.Metric{Interval: time.Minute, Count: 5},
			[]health.Measurement{n}, health.Inconclusive, 1, 1, "1 inconclusive measurement exceeds the inconclusive limit 0"},
		{"3 default consecutive error limit is four", health.Metric{Interval: time.Minute, Count: 10},
			[]health.Measurement{e, e, e, e, e}, health.Error, 0, 5, "5 consecutive errors exceed the limit 4: boom"},
		{"3 errors not consecutive are tolerated and do not count", health.Metric{Interval: time.Minute, Count: 3, ConsecutiveErrorLimit: health.Limit(1)},
			[]health.Measurement{e, s, e, s, e, s}, health.Successful, 3, 6, "3 measurements within limits (3 successful, 0 failed, 0 inconclusive, 3 errors)"},
		{"3 limit zero fails on first error", health.Metric{Interval: time.Minute, Count: 3, ConsecutiveErrorLimit: health.Limit(0)},
			[]health.Measurement{e}, health.Error, 0, 1, "1 consecutive error exceeds the limit 0"},
		{"3 a metric without an interval whose only measurement errors is retried until Error", health.Metric{},
			[]health.Measurement{e}, health.Error, 0, 5, "5 consecutive errors exceed the limit 4"},
		{"3 a metric without an interval measures again after an error", health.Metric{},
			[]health.Measurement{e, s}, health.Successful, 1, 2, "1 measurement within limits"},
		{"3 two errors then a failure under count 2 fail", health.Metric{Interval: time.Minute, Count: 2},
			[]health.Measurement{e, e, f}, health.Failed, 1, 3, "1 failed measurement exceeds the failure limit 0"},
		{"4 consecutive success limit reached", health.Metric{Interval: time.Minute, Count: 10, FailureLimit: 2, ConsecutiveSuccessLimit: 3},
			[]health.Measurement{s, f, s, s, s}, health.Successful, 5, 5, "3 consecutive successful measurements reach the limit"},
		{"5 count reached without consecutive successes", health.Metric{Interval: time.Minute, Count: 4, FailureLimit: 2, ConsecutiveSuccessLimit: 3},
			[]health.Measurement{s, f, s, f}, health.Inconclusive, 4, 4, "count 4 reached without 3 consecutive successes"},
		{"6 count reached with failures only is Failed", health.Metric{Interval: time.Minute, Count: 3, FailureLimit: -1},
			[]health.Measurement{f, f, f}, health.Failed, 3, 3, "count 3 reached without a successful measurement"},
		{"6 count reached with no data only is Inconclusive", health.Metric{Interval: time.Minute, Count: 2, InconclusiveLimit: 5},
			[]health.Measurement{n, n}, health.Inconclusive, 2, 2, "count 2 reached without a successful measurement"},
		{"6 count reached with errors and no data only is Error", health.Metric{InconclusiveLimit: 1},
			[]health.Measurement{e, n}, health.Error, 1, 2, "count 1 reached without a successful measurement (0 successful, 0 failed, 1 inconclusive, 1 errors)"},
		{"7 count reached", health.Metric{Interval: time.Minute, Count: 3},
			[]health.Measurement{s, s, s}, health.Successful, 3, 3, "3 measurements within limits"},
		{"7 no interval measures once", health.Metric{},
			[]health.Measurement{s}, health.Successful, 1, 1, "1 measurement within limits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.metric
			m.Name = "m"
			ev := healthtest.NewScripted(tt.script...)
			m.Evaluator = ev
			res := run(t, health.Analysis{Metrics: []health.Metric{m}})
			mr := res.Metric("m")
			require.NotNil(t, mr)
			assert.Equal(t, tt.want, mr.Phase)
			assert.Equal(t, tt.want, res.Phase, "a single metric decides the run")
			assert.Equal(t, tt.count, mr.Count, "errors do not count")
			assert.Equal(t, tt.calls-tt.count, mr.Error)
			assert.Equal(t, tt.calls, ev.Calls(), "no measurement after the metric decided")
			assert.Len(t, mr.Measurements, tt.calls)
			assert.Contains(t, mr.Message, tt.message)
		})
	}
}

// TestErrorRetryInterval checks that an error is retried after the error
// retry interval, whatever the metric's interval, as in Argo Rollouts.
func TestErrorRetryInterval(t *testing.T) {
	s, e := healthtest.Success(1), healthtest.Err(errBoom)
	tests := []struct {
		name   string
		metric health.Metric
		script []health.Measurement
		waits  []time.Duration
	}{
		{"default 10s after an error, the interval otherwise", health.Metric{Interval: time.Minute, Count: 3},
			[]health.Measurement{s, e, e, s, s}, []time.Duration{time.Minute, 10 * time.Second, 10 * time.Second, time.Minute}},
		{"without an interval", health.Metric{},
			[]health.Measurement{e, e, s}, []time.Duration{10 * time.Second, 10 * time.Second}},
		{"configured", health.Metric{ErrorRetryInterval: 3 * time.Second, Interval: time.Minute, Count: 2},
			[]health.Measurement{e, s, s}, []time.Duration{3 * time.Second, time.Minute}},
		{"shorter than the error retry interval", health.Metric{Interval: time.Second, Count: 2},
			[]health.Measurement{e, s, s}, []time.Duration{10 * time.Second, time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, c := newRunner(t)
			m := tt.metric
			m.Name, m.Evaluator = "m", healthtest.NewScripted(tt.script...)
			res, err := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{m}})
			require.NoError(t, err)
			assert.Equal(t, health.Successful, res.Phase, res.Message)
			assert.Equal(t, tt.waits, c.Waits())
		})
	}
}

func TestRunScheduleAndRecord(t *testing.T) {
	r, c := newRunner(t)
	ev := healthtest.Values(0.01, 0.02, 0.03)
	ev.SetClock(c)
	res, err := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{{
		Name: "errors", Evaluator: ev, InitialDelay: 30 * time.Second, Interval: time.Minute, Count: 3,
		SuccessCondition: health.Below(0.05),
	}}})
	require.NoError(t, err)
	assert.Equal(t, health.Successful, res.Phase)
	assert.Equal(t, []time.Duration{30 * time.Second, time.Minute, time.Minute}, c.Waits())
	m := res.Metric("errors")
	require.NotNil(t, m)
	var times []time.Time
	var values []float64
	for _, meas := range m.Measurements {
		times = append(times, meas.Time)
		values = append(values, meas.Value)
		assert.Equal(t, health.Successful, meas.Phase)
	}
	assert.Equal(t, []float64{0.01, 0.02, 0.03}, values, "every value is in the record")
	assert.Equal(t, []time.Time{fixedNow.Add(30 * time.Second), fixedNow.Add(90 * time.Second), fixedNow.Add(150 * time.Second)}, times)
	assert.Equal(t, fixedNow, res.Started)
	assert.Equal(t, fixedNow.Add(150*time.Second), res.Finished)
}

func TestRunLevelDecisions(t *testing.T) {
	s, f, e := healthtest.Success(1), healthtest.Failure(1), healthtest.Err(errBoom)
	t.Run("a failing metric ends the run early", func(t *testing.T) {
		slow := healthtest.NewScripted(s)
		res := run(t, health.Analysis{Metrics: []health.Metric{
			{Name: "slow", Evaluator: slow, Interval: time.Minute, Count: 10},
			{Name: "bad", Evaluator: healthtest.NewScripted(s, f), Interval: time.Minute, Count: 10},
		}})
		assert.Equal(t, health.Failed, res.Phase)
		assert.Contains(t, res.Message, "bad Failed")
		assert.Equal(t, 2, slow.Calls())
		assert.Equal(t, health.Inconclusive, res.Metric("slow").Phase, "an undecided metric with a count is Inconclusive when the run ends")
	})
	t.Run("worst decided phase wins", func(t *testing.T) {
		res := run(t, health.Analysis{Metrics: []health.Metric{
			{Name: "err", Evaluator: healthtest.NewScripted(e), ConsecutiveErrorLimit: health.Limit(0)},
			{Name: "fail", Evaluator: healthtest.NewScripted(f)},
		}})
		assert.Equal(t, health.Failed, res.Phase)
	})
	t.Run("an inconclusive metric ends the run early", func(t *testing.T) {
		slow := healthtest.NewScripted(s)
		res := run(t, health.Analysis{Metrics: []health.Metric{
			{Name: "slow", Evaluator: slow, Interval: time.Minute, Count: 10},
			{Name: "quiet", Evaluator: healthtest.NewScripted(s, healthtest.NoData()), Interval: time.Minute, Count: 10},
		}})
		assert.Equal(t, health.Inconclusive, res.Phase)
		assert.Contains(t, res.Message, "quiet Inconclusive")
		assert.Equal(t, 2, slow.Calls())
	})
	t.Run("error is worse than inconclusive", func(t *testing.T) {
		res := run(t, health.Analysis{Metrics: []health.Metric{
			{Name: "err", Evaluator: healthtest.NewScripted(e), ConsecutiveErrorLimit: health.Limit(0)},
			{Name: "quiet", Evaluator: healthtest.NewScripted(healthtest.NoData())},
		}})
		assert.Equal(t, health.Error, res.Phase)
		assert.Contains(t, res.Message, "err Error")
		assert.Contains(t, res.Message, "quiet Inconclusive")
	})
	t.Run("a dry-run failure does not end the run early", func(t *testing.T) {
		deciding := healthtest.NewScripted(s)
		res := run(t, health.Analysis{Metrics: []health.Metric{
			{Name: "dry", Evaluator: healthtest.NewScripted(e), DryRun: true, ConsecutiveErrorLimit: health.Limit(0)},
			{Name: "real", Evaluator: deciding, Interval: time.Minute, Count: 3},
		}})
		assert.Equal(t, health.Successful, res.Phase)
		assert.Equal(t, 3, deciding.Calls())
		assert.Equal(t, health.Error, res.Metric("dry").Phase, "dry-run phase is recorded")
	})
	t.Run("all successful", func(t *testing.T) {
		res := run(t, health.Analysis{Metrics: []health.Metric{
			{Name: "a", Evaluator: healthtest.NewScripted(s)},
			{Name: "b", Evaluator: healthtest.NewScripted(s), Interval: time.Second, Count: 2},
		}})
		assert.Equal(t, health.Successful, res.Phase)
		assert.Equal(t, "all 2 metrics successful", res.Message)
	})
	t.Run("dry-run metric never decides", func(t *testing.T) {
		res := run(t, health.Analysis{Metrics: []health.Metric{
			{Name: "dry", Evaluator: healthtest.NewScripted(f), DryRun: true},
			{Name: "real", Evaluator: healthtest.NewScripted(s, s), Interval: time.Second, Count: 2},
		}})
		assert.Equal(t, health.Successful, res.Phase)
		dry := res.Metric("dry")
		assert.Equal(t, health.Failed, dry.Phase, "dry-run phase is recorded")
		assert.True(t, dry.DryRun)
	})
	t.Run("only dry-run metrics", func(t *testing.T) {
		res := run(t, health.Analysis{Metrics: []health.Metric{
			{Name: "dry", Evaluator: healthtest.NewScripted(f), DryRun: true},
		}})
		assert.Equal(t, health.Successful, res.Phase)
		assert.Contains(t, res.Message, "only dry-run")
	})
	t.Run("duration ends an unbounded metric successfully", func(t *testing.T) {
		ev := healthtest.NewScripted(s)
		res := run(t, health.Analysis{Duration: 10 * time.Minute, Metrics: []health.Metric{
			{Name: "bg", Evaluator: ev, Interval: time.Minute},
		}})
		assert.Equal(t, health.Successful, res.Phase)
		assert.Equal(t, 10, ev.Calls(), "measured at 0..9 minutes")
		assert.Contains(t, res.Metric("bg").Message, "analysis duration reached")
	})
	t.Run("a background metric whose every measurement errored ends Error", func(t *testing.T) {
		ev := healthtest.NewScripted(e)
		res := run(t, health.Analysis{Duration: 10 * time.Minute, Metrics: []health.Metric{
			{Name: "bg", Evaluator: ev, Interval: time.Minute, ConsecutiveErrorLimit: health.Limit(1000)},
		}})
		assert.Equal(t, health.Error, res.Phase, res.Message)
		mr := res.Metric("bg")
		assert.Equal(t, health.Error, mr.Phase)
		assert.Equal(t, 60, ev.Calls(), "retried every 10s for 10 minutes")
		assert.Zero(t, mr.Count)
		assert.Contains(t, mr.Message, "analysis duration reached without a successful measurement")
	})
	t.Run("a background metric with only no data ends Inconclusive", func(t *testing.T) {
		res := run(t, health.Analysis{Duration: 10 * time.Minute, Metrics: []health.Metric{
			{Name: "bg", Evaluator: healthtest.NewScripted(healthtest.NoData()), Interval: time.Minute, InconclusiveLimit: -1},
		}})
		assert.Equal(t, health.Inconclusive, res.Phase, res.Message)
	})
	t.Run("a background metric never measured ends Inconclusive", func(t *testing.T) {
		res := run(t, health.Analysis{Duration: time.Minute, Metrics: []health.Metric{
			{Name: "bg", Evaluator: healthtest.NewScripted(s), Interval: time.Minute, InitialDelay: time.Hour},
		}})
		assert.Equal(t, health.Inconclusive, res.Phase, res.Message)
		assert.Contains(t, res.Message, "before the first measurement")
	})
	t.Run("duration before a count is reached is inconclusive", func(t *testing.T) {
		res := run(t, health.Analysis{Duration: 150 * time.Second, Metrics: []health.Metric{
			{Name: "m", Evaluator: healthtest.NewScripted(s), Interval: time.Minute, Count: 5},
		}})
		assert.Equal(t, health.Inconclusive, res.Phase)
	})
}

func TestRunCancel(t *testing.T) {
	r, err := health.NewRunner() // real clock: the evaluator blocks, not the timer
	require.NoError(t, err)
	ev := healthtest.Values(1)
	ev.Block(true)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-ev.Entered()
		cancel()
	}()
	res, err := r.Run(ctx, health.Analysis{Metrics: []health.Metric{{Name: "m", Evaluator: ev, Interval: time.Hour, Count: 3}}})
	require.NoError(t, err)
	assert.Equal(t, health.Error, res.Phase)
	assert.ErrorIs(t, res.Err, health.ErrAnalysisCancelled)
	assert.ErrorIs(t, res.Err, context.Canceled)
	assert.Empty(t, res.Metric("m").Measurements, "a measurement cut short is not evidence")
}

// TestRunCancelStuckEvaluator checks that cancellation ends the run even
// when an evaluator ignores its context.
func TestRunCancelStuckEvaluator(t *testing.T) {
	r, err := health.NewRunner()
	require.NoError(t, err)
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	stuck := health.Func(func(context.Context) health.Measurement {
		close(entered)
		<-release // ignores ctx
		return healthtest.Success(1)
	})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-entered
		cancel()
	}()
	res, err := r.Run(ctx, health.Analysis{Metrics: []health.Metric{{Name: "m", Evaluator: stuck}}})
	require.NoError(t, err)
	assert.Equal(t, health.Error, res.Phase)
	assert.ErrorIs(t, res.Err, health.ErrAnalysisCancelled)
	assert.Empty(t, res.Metric("m").Measurements)
}

func TestRunCancelWhileWaiting(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A manual clock that nothing advances: the interval never passes, so
	// the cancellation lands exactly while the runner waits on it.
	c := clocktest.New(fixedNow)
	r, err := health.NewRunner(health.WithClock(c))
	require.NoError(t, err)
	go func() {
		if c.WaitForTimers(ctx, 1) == nil {
			cancel()
		}
	}()
	ev := healthtest.Values(1, 2)
	res, err := r.Run(ctx, health.Analysis{Metrics: []health.Metric{{Name: "m", Evaluator: ev, Interval: time.Hour, Count: 3}}})
	require.NoError(t, err)
	assert.Equal(t, health.Error, res.Phase)
	assert.ErrorIs(t, res.Err, context.Canceled)
	assert.Len(t, res.Metric("m").Measurements, 1, "the record so far is returned")
	assert.Equal(t, 1, ev.Calls())
}

func TestRunInvalid(t *testing.T) {
	r, _ := newRunner(t)
	ev := healthtest.Values(1)
	tests := []struct {
		name string
		a    health.Analysis
		want string
	}{
		{"no metrics", health.Analysis{}, "no metrics"},
		{"no name", health.Analysis{Metrics: []health.Metric{{Evaluator: ev}}}, "metric 0 has no name"},
		{"duplicate", health.Analysis{Metrics: []health.Metric{{Name: "a", Evaluator: ev}, {Name: "a", Evaluator: ev}}}, `"a" is defined twice`},
		{"no evaluator", health.Analysis{Metrics: []health.Metric{{Name: "a"}}}, `"a" has no evaluator`},
		{"negative interval", health.Analysis{Metrics: []health.Metric{{Name: "a", Evaluator: ev, Interval: -1}}}, "negative interval"},
		{"count without interval", health.Analysis{Metrics: []health.Metric{{Name: "a", Evaluator: ev, Count: 3}}}, "count 3 but no interval"},
		{"bad no-data phase", health.Analysis{Metrics: []health.Metric{{Name: "a", Evaluator: ev, NoData: health.Running}}}, "NoData phase"},
		{"no data as success", health.Analysis{Metrics: []health.Metric{{Name: "a", Evaluator: ev, NoData: health.Successful}}}, "would read missing data as a success"},
		{"negative error retry interval", health.Analysis{Metrics: []health.Metric{{Name: "a", Evaluator: ev, ErrorRetryInterval: -1}}}, "negative interval, delay, error retry interval or count"},
		{"negative duration", health.Analysis{Duration: -time.Second, Metrics: []health.Metric{{Name: "a", Evaluator: ev}}}, "negative duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := r.Run(context.Background(), tt.a)
			require.Error(t, err)
			assert.ErrorIs(t, err, health.ErrInvalidAnalysis)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	assert.Zero(t, ev.Calls())
}

func TestRunnerMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	r, _ := newRunner(t, health.WithRegisterer(reg))
	_, err := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{
		{Name: "m", Evaluator: healthtest.Values(1, 2, 9), Interval: time.Second, Count: 3, SuccessCondition: health.Below(5), FailureLimit: 1},
	}})
	require.NoError(t, err)
	want := `
# HELP flightdeck_analysis_measurements_total Measurements taken by analysis runs, by measurement phase.
# TYPE flightdeck_analysis_measurements_total counter
flightdeck_analysis_measurements_total{phase="Failed"} 1
flightdeck_analysis_measurements_total{phase="Successful"} 2
# HELP flightdeck_analysis_runs_total Analysis runs finished, by run phase.
# TYPE flightdeck_analysis_runs_total counter
flightdeck_analysis_runs_total{phase="Successful"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want)))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)

	_, err = health.NewRunner(health.WithRegisterer(reg))
	assert.Error(t, err, "registering twice is reported")
}
