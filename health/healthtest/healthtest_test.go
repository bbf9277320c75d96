package healthtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestScriptedReplaysThenRepeats(t *testing.T) {
	s := healthtest.Values(1, 2)
	s.SetClock(clocktest.New(t0))
	var got []float64
	for range 4 {
		m := s.Evaluate(context.Background())
		assert.Equal(t, t0, m.Time)
		got = append(got, m.Value)
	}
	assert.Equal(t, []float64{1, 2, 2, 2}, got)
	assert.Equal(t, 4, s.Calls())
	s.Push(healthtest.Failure(9))
	assert.Equal(t, health.Failed, s.Evaluate(context.Background()).Phase)
}

func TestScriptedEmptyAndFaults(t *testing.T) {
	s := healthtest.NewScripted()
	assert.Equal(t, health.Inconclusive, s.Evaluate(context.Background()).Phase)

	s = healthtest.Values(1, 2)
	boom := errors.New("boom")
	s.FailWith(boom)
	m := s.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorIs(t, m.Err, boom)
	s.FailWith(nil)
	assert.Equal(t, 1.0, s.Evaluate(context.Background()).Value, "a fault does not consume the script")
}

func TestScriptedBlockUntilCancelled(t *testing.T) {
	s := healthtest.Values(1)
	s.Block(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan health.Measurement)
	go func() { done <- s.Evaluate(ctx) }()
	<-s.Entered()
	cancel()
	m := <-done
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorIs(t, m.Err, context.Canceled)
}

func TestScriptedConformance(t *testing.T) {
	healthtest.TestEvaluator(t, func(t *testing.T) health.Evaluator { return healthtest.Values(1, 2, 3) })
}

func TestFakePrometheus(t *testing.T) {
	fake := healthtest.NewPrometheus()
	url := fake.Serve(t)
	query := func(q string) health.Measurement {
		pq, err := health.NewPrometheusQuery(url, q, health.WithClock(clocktest.New(t0)), health.WithTimeout(5*time.Second))
		require.NoError(t, err)
		return pq.Evaluate(context.Background())
	}

	fake.AddSeries("s", map[string]string{"a": "1"}, healthtest.Point{T: t0.Add(-time.Minute), V: 1}, healthtest.Point{T: t0, V: 2}, healthtest.Point{T: t0.Add(time.Minute), V: 3})
	assert.Equal(t, 2.0, query("s").Value, "latest point at or before the query time")

	fake.SetScalar("inf", math.Inf(1))
	assert.True(t, math.IsInf(query("inf").Value, 1))

	fake.FailWith("down", http.StatusServiceUnavailable, "unavailable", "restarting")
	m := query("down")
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorContains(t, m.Err, "restarting")
	fake.Heal("down")
	assert.Equal(t, health.Inconclusive, query("down").Phase, "healed, and never programmed: empty")

	calls := fake.Calls()
	require.Len(t, calls, 4)
	assert.Equal(t, healthtest.Call{Path: "/api/v1/query", Query: "s", Time: "1772366400"}, calls[0])
}

func TestFakePrometheusRange(t *testing.T) {
	fake := healthtest.NewPrometheus()
	url := fake.Serve(t)
	fake.AddSeries("s", nil, healthtest.Point{T: t0.Add(-2 * time.Minute), V: 1}, healthtest.Point{T: t0.Add(-time.Minute), V: 2}, healthtest.Point{T: t0, V: 3})
	pq, err := health.NewPrometheusQuery(url, "s", health.WithTimeout(5*time.Second))
	require.NoError(t, err)

	vals, err := pq.Range(context.Background(), t0.Add(-90*time.Second), t0, 30*time.Second)
	require.NoError(t, err)
	assert.Equal(t, []float64{2, 3}, vals, "the programmed points inside the range")
	calls := fake.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, healthtest.Call{Path: "/api/v1/query_range", Query: "s", Time: "1772366310", Step: "30"}, calls[0])

	// The client refuses a bad range itself, so ask the fake directly.
	for _, q := range []string{
		"query=s&start=100&end=200",          // no step
		"query=s&start=100&end=200&step=0",   // zero step
		"query=s&start=200&end=100&step=10",  // end before start
		"query=s&start=soon&end=200&step=10", // unparsable start
	} {
		resp, err := http.Get(url + "/api/v1/query_range?" + q)
		require.NoError(t, err)
		var body struct{ Status, ErrorType string }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		assert.Equal(t, "error", body.Status, q)
		assert.Equal(t, "bad_data", body.ErrorType, q)
	}
}

func TestFakePrometheusConcurrent(t *testing.T) {
	fake := healthtest.NewPrometheus()
	url := fake.Serve(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fake.SetScalar("q", float64(i))
			pq, err := health.NewPrometheusQuery(url, "q")
			if assert.NoError(t, err) {
				assert.Equal(t, health.Successful, pq.Evaluate(context.Background()).Phase)
			}
		}()
	}
	wg.Wait()
	assert.Len(t, fake.Calls(), 8)
}
