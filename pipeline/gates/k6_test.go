package gates_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
)

func k6File(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "k6", name))
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

func TestParseK6SummaryExport(t *testing.T) {
	m, err := gates.ParseK6Summary(k6File(t, "checkout-pass.json"), "checkout")
	require.NoError(t, err)
	assert.Equal(t, "checkout", m.Name)
	assert.Equal(t, 6000, m.Samples)
	assert.Equal(t, 88514*time.Microsecond, m.P95Latency, "p(95) is in milliseconds")
	assert.Equal(t, 36420*time.Microsecond, m.Latency, "med")
	assert.InDelta(t, 0.002, m.ErrorRate, 1e-12)
	assert.InDelta(t, 99.99, m.Throughput, 1e-9)
	assert.Equal(t, 611.9, m.Metrics["http_req_duration.max"])
	assert.Equal(t, 41.27, m.Metrics["http_req_duration.avg"])
	assert.Equal(t, 1089.9, m.Metrics["iteration_duration.p(95)"])
	assert.Equal(t, 88.2, m.Metrics["http_req_duration{expected_response:true}.p(95)"])
	assert.Equal(t, 12.0, m.Metrics["http_req_failed.passes"], "k6 counts failed requests as the rate's passes")
	assert.NotContains(t, m.Metrics, "http_req_duration.thresholds")

	err = gates.Check([]gates.Measurement{m}, gates.Budget{MaxP95Latency: 500 * time.Millisecond, MaxErrorRate: 0.01, MinThroughput: 50,
		MaxMetric: map[string]float64{"http_req_duration.max": 1000}})
	assert.NoError(t, err)
}

func TestParseK6HandleSummaryLayout(t *testing.T) {
	m, err := gates.ParseK6Summary(k6File(t, "handle-summary.json"), "")
	require.NoError(t, err)
	assert.Equal(t, "k6", m.Name)
	assert.Equal(t, 88514*time.Microsecond, m.P95Latency)
	assert.InDelta(t, 0.002, m.ErrorRate, 1e-12, "a rate's \"rate\" in the values layout")
	assert.InDelta(t, 99.99, m.Throughput, 1e-9)
	assert.Equal(t, 6000, m.Samples)
}

func TestK6BudgetRefusalNamesMetricBudgetAndValue(t *testing.T) {
	m, err := gates.ParseK6Summary(k6File(t, "checkout-slow.json"), "checkout")
	require.NoError(t, err)
	err = gates.Check([]gates.Measurement{m}, gates.Budget{
		MaxP95Latency: 500 * time.Millisecond, MaxErrorRate: 0.01, MinThroughput: 50,
		MaxMetric: map[string]float64{"http_req_duration.max": 2000},
	})
	require.ErrorIs(t, err, gates.ErrBudgetExceeded)
	var be *gates.BudgetError
	require.ErrorAs(t, err, &be)
	require.Len(t, be.Violations, 4)
	assert.Equal(t, gates.Violation{Measurement: "checkout", Limit: "p95 latency (k6 http_req_duration p(95))", Want: "≤ 500ms", Got: "812.375ms"}, be.Violations[0])
	assert.Equal(t, gates.Violation{Measurement: "checkout", Limit: "throughput (k6 http_reqs rate)", Want: "≥ 50/s", Got: "30/s"}, be.Violations[1])
	assert.Equal(t, gates.Violation{Measurement: "checkout", Limit: "error rate (k6 http_req_failed rate)", Want: "≤ 0.01", Got: "0.02"}, be.Violations[2])
	assert.Equal(t, gates.Violation{Measurement: "checkout", Limit: "http_req_duration.max", Want: "≤ 2000", Got: "2950.1"}, be.Violations[3])
	assert.Contains(t, err.Error(), "checkout: p95 latency (k6 http_req_duration p(95)) 812.375ms, budget ≤ 500ms")
}

func TestParseK6SummaryBadInput(t *testing.T) {
	for name, doc := range map[string]string{
		"not json":          `{"metrics":`,
		"no metrics":        `{"root_group": {}}`,
		"no http metrics":   `{"metrics": {"iterations": {"count": 1, "rate": 1}}}`,
		"no p95":            `{"metrics": {"http_req_duration": {"avg": 1, "med": 1}, "http_req_failed": {"value": 0}, "http_reqs": {"count": 1, "rate": 1}}}`,
		"no failed rate":    `{"metrics": {"http_req_duration": {"med": 1, "p(95)": 2}, "http_reqs": {"count": 1, "rate": 1}}}`,
		"rate above one":    `{"metrics": {"http_req_duration": {"med": 1, "p(95)": 2}, "http_req_failed": {"value": 3}, "http_reqs": {"count": 1, "rate": 1}}}`,
		"negative duration": `{"metrics": {"http_req_duration": {"med": 1, "p(95)": -2}, "http_req_failed": {"value": 0}, "http_reqs": {"count": 1, "rate": 1}}}`,
		"stat not a number": `{"metrics": {"http_req_duration": {"med": "fast", "p(95)": 2}}}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := gates.ParseK6Summary(strings.NewReader(doc), "load")
			require.ErrorIs(t, err, gates.ErrInvalidInput)
			assert.Contains(t, err.Error(), "k6 summary load")
		})
	}
	_, err := gates.ParseK6Summary(strings.NewReader(`{"metrics": {"http_req_duration": {"avg": 1, "med": 1}, "http_req_failed": {"value": 0}, "http_reqs": {"count": 1, "rate": 1}}}`), "load")
	assert.ErrorContains(t, err, `http_req_duration has no "p(95)" (add it to --summary-trend-stats)`)
}

func TestParseK6SummaryWithoutNameSaysK6Once(t *testing.T) {
	_, err := gates.ParseK6Summary(strings.NewReader(`{"root_group": {}}`), "")
	require.ErrorIs(t, err, gates.ErrInvalidInput)
	assert.EqualError(t, err, `invalid performance input: k6 summary: no "metrics" object (is this k6's --summary-export output?)`)

	_, err = gates.ParseK6Summary(strings.NewReader(`{"metrics": {"iterations": {"count": 1, "rate": 1}}}`), "checkout")
	assert.EqualError(t, err, "invalid performance input: k6 summary checkout: no http_req_duration metric (the run made no HTTP request?)")
}

func TestK6SummaryFileGate(t *testing.T) {
	ctx := context.Background()
	key := pipeline.NewKey[[]gates.Measurement]("perf.k6")
	pass := gates.NewPerfGate("load", gates.K6SummaryFile(filepath.Join("testdata", "k6", "checkout-pass.json"), "checkout"),
		gates.Budget{MaxP95Latency: 500 * time.Millisecond, MaxErrorRate: 0.01, MinThroughput: 50}).WithResult(key)
	st := pipeline.NewState()
	require.NoError(t, pass.Run(ctx, st))
	ms, err := key.Get(st)
	require.NoError(t, err)
	require.Len(t, ms, 1)
	assert.Equal(t, "checkout", ms[0].Name)

	slow := gates.NewPerfGate("load", gates.K6SummaryFile(filepath.Join("testdata", "k6", "checkout-slow.json"), "checkout"),
		gates.Budget{MaxP95Latency: 500 * time.Millisecond})
	err = slow.Run(ctx, pipeline.NewState())
	require.ErrorIs(t, err, gates.ErrBudgetExceeded)
	assert.True(t, pipeline.IsPermanent(err))
	assert.Contains(t, err.Error(), "gate load: performance budget exceeded: checkout: p95 latency (k6 http_req_duration p(95)) 812.375ms, budget ≤ 500ms")

	missing := gates.NewPerfGate("load", gates.K6SummaryFile(filepath.Join(t.TempDir(), "none.json"), ""), gates.Budget{})
	err = missing.Run(ctx, pipeline.NewState())
	require.ErrorIs(t, err, os.ErrNotExist)
	assert.False(t, pipeline.IsPermanent(err), "a missing file may appear on a retry")

	bad := filepath.Join(t.TempDir(), "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"metrics": {}}`), 0o644))
	err = gates.NewPerfGate("load", gates.K6SummaryFile(bad, ""), gates.Budget{}).Run(ctx, pipeline.NewState())
	require.ErrorIs(t, err, gates.ErrInvalidInput)
	assert.True(t, pipeline.IsPermanent(err))
}
