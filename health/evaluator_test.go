package health_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

func named(name string, m health.Measurement) health.Named {
	return health.Named{Name: name, Evaluator: healthtest.NewScripted(m)}
}

func TestAllOfAnyOf(t *testing.T) {
	s, f, n, e := healthtest.Success(1), healthtest.Failure(2), healthtest.NoData(), healthtest.Err(errBoom)
	tests := []struct {
		name     string
		children []health.Measurement
		all, any health.Phase
	}{
		{"all successful", []health.Measurement{s, s}, health.Successful, health.Successful},
		{"one failed", []health.Measurement{s, f}, health.Failed, health.Successful},
		{"one no data", []health.Measurement{s, n}, health.Inconclusive, health.Successful},
		{"error and failure", []health.Measurement{e, f}, health.Failed, health.Error},
		{"no data and error", []health.Measurement{n, e}, health.Error, health.Inconclusive},
		{"all failed", []health.Measurement{f, f}, health.Failed, health.Failed},
		{"none", nil, health.Inconclusive, health.Inconclusive},
		{"a success without a value is no data", []health.Measurement{s, {Value: math.NaN(), Phase: health.Successful}}, health.Inconclusive, health.Successful},
		{"only successes without a value", []health.Measurement{{Value: math.NaN(), Phase: health.Successful}}, health.Inconclusive, health.Inconclusive},
		{"an unknown phase is an error", []health.Measurement{s, {Value: 1, Phase: "Healthy", Message: "healthy"}}, health.Error, health.Successful},
		{"only unknown phases", []health.Measurement{{Value: 1, Phase: "Healthy"}}, health.Error, health.Error},
		{"running is not decided", []health.Measurement{{Value: 1, Phase: health.Running}, f}, health.Failed, health.Running},
		{"an error without a cause still is one", []health.Measurement{s, {Value: math.NaN(), Phase: health.Error, Message: "broken"}}, health.Error, health.Successful},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var kids []health.Named
			for i, m := range tt.children {
				kids = append(kids, named(string(rune('a'+i)), m))
			}
			all := health.AllOf(kids...).Evaluate(context.Background())
			assert.Equal(t, tt.all, all.Phase, "all of")
			anyOf := health.AnyOf(kids...).Evaluate(context.Background())
			assert.Equal(t, tt.any, anyOf.Phase, "any of")
			assert.Len(t, all.Values, len(tt.children))
			if all.Phase == health.Error {
				assert.Error(t, all.Err)
				if slices.ContainsFunc(tt.children, func(m health.Measurement) bool { return m.Err == errBoom }) {
					assert.ErrorIs(t, all.Err, errBoom)
				}
			}
			if anyOf.Phase == health.Error {
				assert.Error(t, anyOf.Err)
			}
		})
	}
}

func TestCombinatorsTime(t *testing.T) {
	early, late := healthtest.Success(1), healthtest.Success(2)
	early.Time, late.Time = fixedNow, fixedNow.Add(time.Second)
	m := health.AllOf(named("a", early), named("b", late)).Evaluate(context.Background())
	assert.Equal(t, fixedNow.Add(time.Second), m.Time, "dated by the latest child")
}

func TestAllOfValuesAndMessage(t *testing.T) {
	m := health.AllOf(named("errors", healthtest.Success(0.01)), named("latency", healthtest.Failure(0.9))).Evaluate(context.Background())
	assert.Equal(t, map[string]float64{"errors": 0.01, "latency": 0.9}, m.Values)
	assert.Equal(t, "all of (errors: Successful, latency: Failed)", m.Message)
}

func TestWorsePhase(t *testing.T) {
	order := []health.Phase{health.Successful, health.Running, health.Inconclusive, health.Error, health.Failed}
	for i, a := range order {
		for j, b := range order {
			want := a
			if j > i {
				want = b
			}
			assert.Equal(t, want, health.WorsePhase(a, b), "%s vs %s", a, b)
		}
	}
}

func TestWorstStatus(t *testing.T) {
	healthy := map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "a"}, "status": map[string]any{"phase": "Bound"}}
	pending := map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "b"}, "status": map[string]any{"phase": "Pending"}}
	lost := map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "c"}, "status": map[string]any{"phase": "Lost"}}
	unknown := map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "d"}}
	bad := map[string]any{"apiVersion": "v1"}
	src := func(objs ...map[string]any) *health.WorstStatus {
		return &health.WorstStatus{Objects: func(context.Context) ([]map[string]any, error) { return objs, nil }}
	}
	tests := []struct {
		name string
		ws   *health.WorstStatus
		want health.Phase
	}{
		{"healthy", src(healthy, healthy), health.Successful},
		{"progressing is not decided", src(healthy, pending), health.Inconclusive},
		{"degraded fails", src(healthy, pending, lost), health.Failed},
		{"unknown is an error", src(healthy, unknown), health.Error},
		{"malformed is an error", src(healthy, bad), health.Error},
		{"listing fails", &health.WorstStatus{Objects: func(context.Context) ([]map[string]any, error) { return nil, errors.New("forbidden") }}, health.Error},
		{"no source", &health.WorstStatus{}, health.Error},
		{"no objects is no data", src(), health.Inconclusive},
		{"a nil list is no data", &health.WorstStatus{Objects: func(context.Context) ([]map[string]any, error) { return nil, nil }}, health.Inconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.ws.Evaluate(context.Background())
			assert.Equal(t, tt.want, m.Phase, m.Message)
			if tt.want == health.Error {
				assert.Error(t, m.Err)
			}
		})
	}
	m := src(healthy, pending, lost).Evaluate(context.Background())
	assert.Equal(t, map[string]float64{"Healthy": 1, "Progressing": 1, "Degraded": 1}, m.Values)
	assert.Equal(t, "worst status of 3 objects Degraded", m.Message)

	m = src().Evaluate(context.Background())
	assert.ErrorIs(t, m.Err, nil)
	assert.Contains(t, m.Message, health.ErrNoData.Error())
	all := health.AllOf(health.Named{Name: "objects", Evaluator: src()}, named("probe", healthtest.Success(200))).Evaluate(context.Background())
	assert.Equal(t, health.Inconclusive, all.Phase, "an AllOf over a WorstStatus of nothing is no data: %s", all.Message)

	c := clocktest.New(fixedNow)
	ws := src(healthy)
	ws.Clock = c
	assert.Equal(t, fixedNow, ws.Evaluate(context.Background()).Time, "stamped by its clock")

	healthtest.TestEvaluator(t, func(t *testing.T) health.Evaluator { return src(healthy, pending) })

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m = src(healthy).Evaluate(ctx)
	require.Equal(t, health.Error, m.Phase)
	assert.ErrorIs(t, m.Err, context.Canceled)
}

func TestFuncAdapter(t *testing.T) {
	var got context.Context
	f := health.Func(func(ctx context.Context) health.Measurement {
		got = ctx
		return healthtest.Success(3)
	})
	ctx := context.WithValue(context.Background(), struct{}{}, 1)
	m := f.Evaluate(ctx)
	assert.Equal(t, 3.0, m.Value)
	assert.Equal(t, ctx, got)
}

func TestCombinatorsConformance(t *testing.T) {
	kids := func() []health.Named {
		return []health.Named{
			{Name: "errors", Evaluator: healthtest.Values(0.01, 0.02)},
			{Name: "latency", Evaluator: healthtest.NewScripted(healthtest.NoData(), healthtest.Success(0.3))},
		}
	}
	t.Run("AllOf", func(t *testing.T) {
		healthtest.TestEvaluator(t, func(t *testing.T) health.Evaluator { return health.AllOf(kids()...) })
	})
	t.Run("AnyOf", func(t *testing.T) {
		healthtest.TestEvaluator(t, func(t *testing.T) health.Evaluator { return health.AnyOf(kids()...) })
	})
}
