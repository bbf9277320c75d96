package health_test

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixedClock returns a clock that stays at fixedNow.
func fixedClock() *clocktest.Clock { return clocktest.New(fixedNow) }

func newQuery(t *testing.T, url, q string, opts ...health.Option) *health.PrometheusQuery {
	t.Helper()
	pq, err := health.NewPrometheusQuery(url, q, append([]health.Option{health.WithClock(fixedClock())}, opts...)...)
	require.NoError(t, err)
	return pq
}

func TestPrometheusQueryValues(t *testing.T) {
	fake := healthtest.NewPrometheus()
	url := fake.Serve(t)
	fake.SetScalar("scalar(up)", 0.25)
	fake.SetVector("rate5m", healthtest.Sample{Labels: map[string]string{"app": "web"}, Value: 0.013})

	m := newQuery(t, url, "scalar(up)").Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase)
	assert.Equal(t, 0.25, m.Value)
	assert.Equal(t, fixedNow, m.Time)

	m = newQuery(t, url, "rate5m").Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase)
	assert.Equal(t, 0.013, m.Value)
	assert.Contains(t, m.Message, `app="web"`)

	calls := fake.Calls()
	require.Len(t, calls, 2)
	assert.Equal(t, "/api/v1/query", calls[0].Path)
	assert.Equal(t, "scalar(up)", calls[0].Query)
	assert.Equal(t, "1772366400", calls[0].Time, "query is evaluated at the clock's time")
}

func TestPrometheusQueryWarnings(t *testing.T) {
	fake := healthtest.NewPrometheus()
	url := fake.Serve(t)
	fake.RawBody("partial", `{"status":"success","data":{"resultType":"scalar","result":[1772366400,"0.5"]},"warnings":["partial response from store-1"]}`)
	m := newQuery(t, url, "partial").Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase, "a warning does not withhold the value")
	assert.Equal(t, 0.5, m.Value)
	assert.Contains(t, m.Message, "warnings: partial response from store-1", "the warning is in the record")
}

func TestPrometheusQueryNoData(t *testing.T) {
	fake := healthtest.NewPrometheus()
	url := fake.Serve(t)
	fake.SetVector("empty")
	fake.SetScalar("nan", math.NaN())
	fake.SetVector("nanvec", healthtest.Sample{Value: math.NaN()})
	for _, q := range []string{"empty", "nan", "nanvec", "never_programmed"} {
		t.Run(q, func(t *testing.T) {
			m := newQuery(t, url, q).Evaluate(context.Background())
			assert.Equal(t, health.Inconclusive, m.Phase)
			assert.True(t, math.IsNaN(m.Value))
			assert.Contains(t, m.Message, "no data")
			assert.NoError(t, m.Err)
		})
	}
}

func TestPrometheusQueryMultiSeries(t *testing.T) {
	fake := healthtest.NewPrometheus()
	url := fake.Serve(t)
	fake.SetVector("by_pod",
		healthtest.Sample{Labels: map[string]string{"pod": "a"}, Value: 1},
		healthtest.Sample{Labels: map[string]string{"pod": "b"}, Value: 3})

	m := newQuery(t, url, "by_pod").Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorIs(t, m.Err, health.ErrMultipleSeries)
	var qe *health.QueryError
	require.ErrorAs(t, m.Err, &qe)
	assert.Equal(t, "by_pod", qe.Query)

	m = newQuery(t, url, "by_pod", health.WithMultiSeries()).Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase)
	assert.Equal(t, 3.0, m.Value, "largest series")
	assert.Equal(t, map[string]float64{`{pod="a"}`: 1, `{pod="b"}`: 3}, m.Values)
}

func TestPrometheusQueryBadInputs(t *testing.T) {
	fake := healthtest.NewPrometheus()
	url := fake.Serve(t)
	fake.SetString("str", "hello")
	fake.FailWith("boom", http.StatusInternalServerError, "server_error", "storage exploded")
	fake.FailWith("bad", http.StatusBadRequest, "bad_data", "parse error at char 3")
	fake.RawBody("garbled", `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"abc"]}]}}`)
	fake.RawBody("notjson", `<html>proxy error</html>`)
	fake.Hang("slow")
	fake.RawBody("matrix", `{"status":"success","data":{"resultType":"matrix","result":[]}}`)

	tests := []struct {
		query string
		opts  []health.Option
		want  string
		is    error
	}{
		{query: "str", want: "string"},
		{query: "boom", want: "storage exploded"},
		{query: "matrix", want: "unexpected query result: matrix", is: health.ErrUnexpectedResult},
		{query: "bad", want: "parse error"},
		{query: "garbled", want: "abc"},
		{query: "notjson", want: "prometheus query"},
		{query: "slow", opts: []health.Option{health.WithTimeout(50 * time.Millisecond)}, is: context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			m := newQuery(t, url, tt.query, tt.opts...).Evaluate(context.Background())
			assert.Equal(t, health.Error, m.Phase)
			require.Error(t, m.Err)
			assert.Contains(t, m.Err.Error(), tt.want)
			assert.Contains(t, m.Err.Error(), tt.query)
			if tt.is != nil {
				assert.ErrorIs(t, m.Err, tt.is)
			}
			assert.True(t, math.IsNaN(m.Value))
		})
	}

	t.Run("500 is a server_error", func(t *testing.T) {
		m := newQuery(t, url, "boom").Evaluate(context.Background())
		var apiErr *v1.Error
		require.ErrorAs(t, m.Err, &apiErr)
		assert.Equal(t, v1.ErrServer, apiErr.Type)
	})
}

func TestPrometheusQueryUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more

	m := newQuery(t, "http://user:s3cret@"+addr, "up").Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	require.Error(t, m.Err)
	assert.Contains(t, m.Err.Error(), "connection refused")
	assert.NotContains(t, m.Err.Error(), "s3cret", "credentials never appear in errors")
	assert.NotContains(t, m.Message, "s3cret")
}

func TestNewPrometheusQueryRejects(t *testing.T) {
	for _, tt := range []struct{ addr, query, want string }{
		{"localhost:9090", "up", "absolute http(s) URL"},
		{"ftp://x", "up", "absolute http(s) URL"},
		{"http://u:pw@h:1", " ", "query is empty"},
	} {
		_, err := health.NewPrometheusQuery(tt.addr, tt.query)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
		assert.NotContains(t, err.Error(), "pw")
	}
}

func TestPrometheusQueryRange(t *testing.T) {
	fake := healthtest.NewPrometheus()
	url := fake.Serve(t)
	base := fixedNow.Add(-time.Minute)
	fake.AddSeries("latency", map[string]string{"track": "canary"},
		healthtest.Point{T: base.Add(20 * time.Second), V: 3},
		healthtest.Point{T: base, V: 1},
		healthtest.Point{T: base.Add(10 * time.Second), V: math.NaN()},
		healthtest.Point{T: base.Add(-time.Hour), V: 99})

	q := newQuery(t, url, "latency")
	vals, err := q.Range(context.Background(), base, fixedNow, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 3}, vals, "in time order, NaN dropped, outside range excluded")

	// An instant query over programmed series takes the latest point.
	m := q.Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase)
	assert.Equal(t, 3.0, m.Value)

	_, err = q.Range(context.Background(), fixedNow, base, time.Second)
	assert.ErrorContains(t, err, "invalid range")

	fake.AddSeries("latency", map[string]string{"track": "stable"}, healthtest.Point{T: base, V: 2})
	_, err = q.Range(context.Background(), base, fixedNow, 10*time.Second)
	assert.ErrorIs(t, err, health.ErrMultipleSeries)

	fake.FailWith("latency", 503, "unavailable", "overloaded")
	_, err = q.Range(context.Background(), base, fixedNow, 10*time.Second)
	var qe *health.QueryError
	require.ErrorAs(t, err, &qe)
	assert.True(t, strings.Contains(err.Error(), "overloaded"), err.Error())
	assert.False(t, errors.Is(err, health.ErrMultipleSeries))
}

func TestPrometheusQueryConformance(t *testing.T) {
	fake := healthtest.NewPrometheus()
	fake.SetScalar("vector(1)", 1)
	url := fake.Serve(t)
	healthtest.TestEvaluator(t, func(t *testing.T) health.Evaluator {
		return newQuery(t, url, "vector(1)")
	})
}
