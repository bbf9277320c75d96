package health_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

func TestCanaryJudgeFromPrometheus(t *testing.T) {
	fake := healthtest.NewPrometheus()
	url := fake.Serve(t)
	var base, canary []healthtest.Point
	for i := range 30 {
		at := fixedNow.Add(-time.Duration(30-i) * 10 * time.Second)
		base = append(base, healthtest.Point{T: at, V: 0.100 + float64(i%3)*0.001})
		canary = append(canary, healthtest.Point{T: at, V: 0.180 + float64(i%3)*0.001})
	}
	fake.AddSeries(`latency{track="stable"}`, nil, base...)
	fake.AddSeries(`latency{track="canary"}`, nil, canary...)
	fake.AddSeries(`cpu{track="stable"}`, nil, base...)
	fake.AddSeries(`cpu{track="canary"}`, nil, base...)

	q := func(s string) *health.PrometheusQuery { return newQuery(t, url, s) }
	cj, err := health.NewCanaryJudge([]health.CanaryQuery{
		{Metric: health.CanaryMetric{Name: "latency", Direction: health.Increase, Critical: true}, Baseline: q(`latency{track="stable"}`), Canary: q(`latency{track="canary"}`)},
		{Metric: health.CanaryMetric{Name: "cpu"}, Baseline: q(`cpu{track="stable"}`), Canary: q(`cpu{track="canary"}`)},
	}, 5*time.Minute, 10*time.Second, health.JudgeConfig{}, health.WithClock(fixedClock()))
	require.NoError(t, err)
	m := cj.Evaluate(context.Background())
	assert.Equal(t, health.Failed, m.Phase, m.Message)
	assert.Equal(t, 0.0, m.Value)
	assert.InDelta(t, 1.79, m.Values["latency"], 0.01)
	assert.Contains(t, m.Message, "critical metric failed: latency High")

	fake.FailWith(`cpu{track="canary"}`, 500, "server_error", "down")
	m = cj.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorContains(t, m.Err, "canary of cpu")

	_, err = health.NewCanaryJudge(nil, 0, time.Second, health.JudgeConfig{})
	assert.ErrorIs(t, err, health.ErrInvalidJudgement)
	_, err = health.NewCanaryJudge([]health.CanaryQuery{{Metric: health.CanaryMetric{Name: "x"}}}, time.Minute, time.Second, health.JudgeConfig{})
	assert.ErrorContains(t, err, `"x" needs a baseline and a canary source`)
}

func TestErrorSplit(t *testing.T) {
	st, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: 0.1})
	require.NoError(t, err)
	canary := healthtest.Values(10, 10, 12, 20)
	stable := healthtest.Values(500, 500, 510, 520)
	es, err := health.NewErrorSplit(st, canary, stable, health.WithClock(fixedClock()))
	require.NoError(t, err)

	m := es.Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase)
	assert.Equal(t, fixedNow, m.Time, "stamped by the injected clock")
	assert.Contains(t, m.Message, "starting point")
	m = es.Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase, "zero new errors keep it running, never failing")
	assert.Contains(t, m.Message, "no evidence of harm yet, +0 canary, +0 stable")
	m = es.Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase)
	m = es.Evaluate(context.Background())
	assert.Equal(t, health.Failed, m.Phase, "10 of 20 new errors from 10%% of traffic: %s", m.Message)
	assert.Equal(t, "error split: canary worse (10 canary vs 20 stable errors, the canary serving 10% of the traffic)", m.Message)
	assert.Equal(t, 10.0, m.Values["canary_errors"])
	assert.Equal(t, 20.0, m.Values["stable_errors"])

	broken, _ := health.NewErrorSplit(st, healthtest.NewScripted(healthtest.Err(errors.New("refused"))), stable)
	m = broken.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorContains(t, m.Err, "canary errors: refused")
	empty, _ := health.NewErrorSplit(st, canary, healthtest.NewScripted())
	assert.Equal(t, health.Inconclusive, empty.Evaluate(context.Background()).Phase)

	_, err = health.NewErrorSplit(nil, canary, stable)
	assert.ErrorIs(t, err, health.ErrInvalidSequential)
}

func TestErrorSplitCounterReset(t *testing.T) {
	st, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: 0.5})
	require.NoError(t, err)
	es, err := health.NewErrorSplit(st, healthtest.Values(100, 3), healthtest.Values(100, 104))
	require.NoError(t, err)
	es.Evaluate(context.Background())
	m := es.Evaluate(context.Background())
	assert.Equal(t, 3.0, m.Values["canary_errors"], "a reset counts the new value")
	assert.Equal(t, 4.0, m.Values["stable_errors"])
}

// TestErrorSplitConcurrentReadings checks that concurrent Evaluate calls
// see the counters in one order: a reading older than the last one
// observed must not pass for a counter reset (which would count the whole
// counter as new errors and could fail a healthy canary).
func TestErrorSplitConcurrentReadings(t *testing.T) {
	st, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: 0.5, Beta: 1e-300})
	require.NoError(t, err)
	counter := func() health.Evaluator {
		var n atomic.Int64
		n.Store(1000)
		return health.Func(func(context.Context) health.Measurement {
			return healthtest.Success(float64(n.Add(1)))
		})
	}
	es, err := health.NewErrorSplit(st, counter(), counter())
	require.NoError(t, err)
	const goroutines, calls = 8, 50
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				es.Evaluate(context.Background())
			}
		}()
	}
	wg.Wait()
	s := st.State()
	assert.Equal(t, health.Running, s.Phase)
	// Each counter rose by one per reading; the first reading is the
	// starting point.
	assert.Equal(t, goroutines*calls-1, s.CanaryErrors)
	assert.Equal(t, goroutines*calls-1, s.StableErrors)
}

func TestCanaryEvaluatorsConformance(t *testing.T) {
	t.Run("ErrorSplit", func(t *testing.T) {
		healthtest.TestEvaluator(t, func(t *testing.T) health.Evaluator {
			st, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: 0.5})
			require.NoError(t, err)
			es, err := health.NewErrorSplit(st, healthtest.Values(1, 2, 3), healthtest.Values(1, 2, 3))
			require.NoError(t, err)
			return es
		})
	})
	t.Run("CanaryJudge", func(t *testing.T) {
		fake := healthtest.NewPrometheus()
		url := fake.Serve(t)
		fake.AddSeries("a", nil, healthtest.Point{T: fixedNow.Add(-time.Minute), V: 1}, healthtest.Point{T: fixedNow, V: 2})
		healthtest.TestEvaluator(t, func(t *testing.T) health.Evaluator {
			cj, err := health.NewCanaryJudge([]health.CanaryQuery{{Metric: health.CanaryMetric{Name: "a"}, Baseline: newQuery(t, url, "a"), Canary: newQuery(t, url, "a")}},
				5*time.Minute, 10*time.Second, health.JudgeConfig{}, health.WithClock(fixedClock()))
			require.NoError(t, err)
			return cj
		})
	})
}

// TestErrorSplitOfOneReading reads both counters from one measurement:
// the same decisions as two counters, and a reading without a track has
// no data.
func TestErrorSplitOfOneReading(t *testing.T) {
	st, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: 0.1})
	require.NoError(t, err)
	pairs := [][2]float64{{10, 500}, {10, 500}, {12, 510}, {20, 520}}
	var i atomic.Int64
	both := health.Func(func(context.Context) health.Measurement {
		p := pairs[min(int(i.Add(1))-1, len(pairs)-1)]
		m := healthtest.Success(p[0])
		m.Values = map[string]float64{health.CanaryErrorsKey: p[0], health.StableErrorsKey: p[1]}
		return m
	})
	es, err := health.NewErrorSplitOf(st, both, health.WithClock(fixedClock()))
	require.NoError(t, err)
	for range 3 {
		assert.Equal(t, health.Successful, es.Evaluate(context.Background()).Phase)
	}
	m := es.Evaluate(context.Background())
	assert.Equal(t, health.Failed, m.Phase, m.Message)
	assert.Equal(t, "error split: canary worse (10 canary vs 20 stable errors, the canary serving 10% of the traffic)", m.Message)

	st2, _ := health.NewSequentialTest(health.SequentialConfig{CanaryShare: 0.1})
	half, err := health.NewErrorSplitOf(st2, health.Func(func(context.Context) health.Measurement {
		m := healthtest.Success(1)
		m.Values = map[string]float64{health.CanaryErrorsKey: 1}
		return m
	}))
	require.NoError(t, err)
	assert.Equal(t, health.Inconclusive, half.Evaluate(context.Background()).Phase, "no stable count: no data")
	broken, _ := health.NewErrorSplitOf(st2, healthtest.NewScripted(healthtest.Err(errors.New("refused"))))
	assert.ErrorContains(t, broken.Evaluate(context.Background()).Err, "canary errors: refused")
	_, err = health.NewErrorSplitOf(st2, nil)
	assert.ErrorIs(t, err, health.ErrInvalidSequential)
}
