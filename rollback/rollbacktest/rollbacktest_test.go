package rollbacktest_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/rollback/rollbacktest"
	"github.com/flightdeck-dev/flightdeck/sim"
)

var t0 = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)

func TestSeriesAnswersRangesLikeQueryRange(t *testing.T) {
	var s rollbacktest.Series
	s.AddEvery(t0, time.Minute, 1, 2, math.NaN(), 4, 5)
	s.Add(t0.Add(-time.Minute), 0) // out of order
	ctx := context.Background()
	got, err := s.Range(ctx, t0.Add(time.Minute), t0.Add(3*time.Minute), time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []float64{2, 4}, got, "both ends included, NaN left out")
	got, err = s.Range(ctx, t0.Add(-time.Hour), t0, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, []float64{0, 1}, got)
	assert.Equal(t, 6, s.Len())
	assert.Equal(t, []rollbacktest.Window{{t0.Add(time.Minute), t0.Add(3 * time.Minute), time.Minute}, {t0.Add(-time.Hour), t0, time.Minute}}, s.Calls())

	boom := errors.New("prometheus down")
	s.FailWith(boom)
	_, err = s.Range(ctx, t0, t0.Add(time.Hour), time.Minute)
	assert.ErrorIs(t, err, boom)
	s.FailWith(nil)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = s.Range(cancelled, t0, t0.Add(time.Hour), time.Minute)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestObserverRecordsInOrder(t *testing.T) {
	var o rollbacktest.Observer
	o.Observe(context.Background(), rollback.Event{Kind: rollback.EventTrigger})
	o.Observe(context.Background(), rollback.Event{Kind: rollback.EventDecision, Decision: rollback.RolledBack})
	assert.Equal(t, []rollback.EventKind{rollback.EventTrigger, rollback.EventDecision}, o.Kinds())
	assert.Equal(t, []rollback.Decision{rollback.RolledBack}, o.Decisions())
	assert.Len(t, o.Events(), 2)
}

const manifests = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.example.com/web:IMAGE
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
spec:
  selector: {app: web}
  ports:
  - port: 80
`

func TestSimRecorderComputesTheSignalsOfEachStep(t *testing.T) {
	clk := clocktest.New(t0)
	c := sim.New(clk, sim.WithSeed(5))
	require.NoError(t, c.SetBehavior("registry.example.com/web:1", sim.Behavior{ErrorRate: 0.1, CPUPerRequest: 3 * time.Millisecond,
		Latency: sim.Latency{Median: 300 * time.Millisecond}}))
	require.NoError(t, c.SetBehavior("registry.example.com/web:2", sim.Behavior{CPUPerRequest: 6 * time.Millisecond,
		Latency: sim.Latency{Median: 700 * time.Millisecond}}))
	ctx := context.Background()
	_, err := c.Apply(ctx, []byte(replace(manifests, "IMAGE", "1")))
	require.NoError(t, err)
	clk.Advance(time.Minute)
	svc := sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: "shop", Name: "web"}
	require.NoError(t, c.SetLoad(svc, 100))

	rec := rollbacktest.NewSimRecorder(c, "shop", "web", 30*time.Second)
	require.NoError(t, rec.Record(clk.Now()))
	assert.Equal(t, 0, rec.Latency().Len(), "the first record sets the starting point")
	require.NoError(t, rec.Advance(clk, 2*time.Minute))
	require.Equal(t, 4, rec.Latency().Len())
	all := func(s *rollbacktest.Series) []float64 {
		v, err := s.Range(ctx, t0, clk.Now(), time.Second)
		require.NoError(t, err)
		return v
	}
	for _, v := range all(rec.Latency()) {
		// Every request takes 300ms: the p95 interpolates inside the
		// (0.25, 0.5] bucket as Prometheus does: 0.25 + 0.25*0.95.
		assert.InDelta(t, 0.4875, v, 1e-9)
	}
	for _, v := range all(rec.Errors()) {
		assert.InDelta(t, 0.1, v, 0.04)
	}
	for _, v := range all(rec.CPU()) {
		assert.InDelta(t, 0.003, v, 1e-9)
	}

	// A new release: once rolled out, its own figures.
	_, err = c.Apply(ctx, []byte(replace(manifests, "IMAGE", "2")))
	require.NoError(t, err)
	require.NoError(t, rec.Advance(clk, 2*time.Minute))
	lat := all(rec.Latency())
	assert.InDelta(t, 0.5+0.5*0.95, lat[len(lat)-1], 1e-9, "700ms is in the (0.5, 1] bucket")
	cpu := all(rec.CPU())
	assert.InDelta(t, 0.006, cpu[len(cpu)-1], 1e-9, "pods that went away do not count against the new ones")
	errs := all(rec.Errors())
	assert.Equal(t, 0.0, errs[len(errs)-1])

	// No traffic, no sample.
	require.NoError(t, c.SetLoad(svc, 0))
	n := rec.Latency().Len()
	require.NoError(t, rec.Advance(clk, time.Minute))
	assert.Equal(t, n, rec.Latency().Len())

	signals := rec.Signals(1.2)
	require.Len(t, signals, 3)
	assert.Equal(t, rollbacktest.SignalLatency, signals[0].Name)
	assert.Equal(t, 1.2, signals[0].AllowedIncrease)
	assert.Equal(t, `histogram_quantile(0.95, sum by (le) (rate(flightdeck_sim_request_duration_seconds_bucket{namespace="shop",deployment="web"}[30s])))`, signals[0].Query)
}

func replace(s, old, new string) string { return strings.ReplaceAll(s, old, new) }
