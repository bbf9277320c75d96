package health_test

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// serve starts a server answering every request with status and body.
func serve(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func mustProbe(t *testing.T, url string, spec health.ProbeSpec) *health.HTTPProbe {
	t.Helper()
	p, err := health.NewHTTPProbe(url, spec, health.WithTimeout(5*time.Second))
	require.NoError(t, err)
	return p
}

func mustScrape(t *testing.T, url string, spec health.ScrapeSpec) *health.Scrape {
	t.Helper()
	s, err := health.NewScrape(url, spec, health.WithTimeout(5*time.Second))
	require.NoError(t, err)
	return s
}

func mustErrorSplit(t *testing.T, canary, stable health.Evaluator) *health.ErrorSplit {
	t.Helper()
	st, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: 0.5})
	require.NoError(t, err)
	es, err := health.NewErrorSplit(st, canary, stable, health.WithClock(fixedClock()))
	require.NoError(t, err)
	return es
}

func objects(objs ...map[string]any) *health.WorstStatus {
	return &health.WorstStatus{Objects: func(context.Context) ([]map[string]any, error) { return objs, nil }}
}

var (
	degradedDeployment = map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "generation": 2},
		"spec":     map[string]any{"replicas": 2},
		"status": map[string]any{"observedGeneration": 2, "conditions": []any{map[string]any{
			"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
			"message": `ReplicaSet "web-1" has timed out progressing.`,
		}}},
	}
	boundClaim = map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": map[string]any{"name": "data"}, "status": map[string]any{"phase": "Bound"}}
)

// TestEveryEvaluatorFailSafe runs the fail-safe conformance suite on
// every evaluator of the package, each broken in every way it can be:
// none may report Successful, and no analysis of it may be Successful
// under any condition.
func TestEveryEvaluatorFailSafe(t *testing.T) {
	fake := healthtest.NewPrometheus()
	promURL := fake.Serve(t)
	fake.FailWith("broken", 500, "server_error", "out of memory")
	fake.SetVector("empty")
	fake.SetScalar("nan", math.NaN())
	fake.SetString("text", "hello")
	fake.SetVector("two", healthtest.Sample{Labels: map[string]string{"a": "1"}, Value: 1}, healthtest.Sample{Labels: map[string]string{"a": "2"}, Value: 2})
	fake.SetVector("two NaN", healthtest.Sample{Labels: map[string]string{"a": "1"}, Value: math.NaN()}, healthtest.Sample{Labels: map[string]string{"a": "2"}, Value: math.NaN()})
	fake.RawBody("garbage", "not json")
	start := fixedNow.Add(-5 * time.Minute)
	var points []healthtest.Point
	for i := range 30 {
		points = append(points, healthtest.Point{T: start.Add(time.Duration(i) * 10 * time.Second), V: 1})
	}
	fake.AddSeries("samples", nil, points...)
	fake.SetVector("no samples")
	var infinite []healthtest.Point
	for _, p := range points {
		infinite = append(infinite, healthtest.Point{T: p.T, V: math.Inf(1)})
	}
	fake.AddSeries("infinite", nil, infinite...)
	query := func(t *testing.T, q string, opts ...health.Option) *health.PrometheusQuery {
		return newQuery(t, promURL, q, append([]health.Option{health.WithTimeout(5 * time.Second)}, opts...)...)
	}
	judge := func(t *testing.T, baseline, canary health.SampleSource) health.Evaluator {
		cj, err := health.NewCanaryJudge([]health.CanaryQuery{{Metric: health.CanaryMetric{Name: "latency"}, Baseline: baseline, Canary: canary}},
			5*time.Minute, 10*time.Second, health.JudgeConfig{}, health.WithClock(fixedClock()))
		require.NoError(t, err)
		return cj
	}
	bad := func(m health.Measurement) health.Evaluator { return healthtest.NewScripted(m) }
	down := "http://" + closedAddr(t)

	tests := map[string]func(t *testing.T) health.Evaluator{
		"HTTPProbe/refused": func(t *testing.T) health.Evaluator { return mustProbe(t, down+"/healthz", health.ProbeSpec{}) },
		"HTTPProbe/500":     func(t *testing.T) health.Evaluator { return mustProbe(t, serve(t, 500, "boom"), health.ProbeSpec{}) },
		"HTTPProbe/JSON field DOWN": func(t *testing.T) health.Evaluator {
			return mustProbe(t, serve(t, 200, `{"status":"DOWN"}`), health.ProbeSpec{JSONField: "status"})
		},
		"HTTPProbe/not JSON": func(t *testing.T) health.Evaluator {
			return mustProbe(t, serve(t, 200, `<html>`), health.ProbeSpec{JSONField: "status"})
		},

		"PrometheusQuery/refused":    func(t *testing.T) health.Evaluator { return newQuery(t, down, "up") },
		"PrometheusQuery/500":        func(t *testing.T) health.Evaluator { return query(t, "broken") },
		"PrometheusQuery/empty":      func(t *testing.T) health.Evaluator { return query(t, "empty") },
		"PrometheusQuery/NaN":        func(t *testing.T) health.Evaluator { return query(t, "nan") },
		"PrometheusQuery/string":     func(t *testing.T) health.Evaluator { return query(t, "text") },
		"PrometheusQuery/two series": func(t *testing.T) health.Evaluator { return query(t, "two") },
		"PrometheusQuery/all NaN":    func(t *testing.T) health.Evaluator { return query(t, "two NaN", health.WithMultiSeries()) },
		"PrometheusQuery/not JSON":   func(t *testing.T) health.Evaluator { return query(t, "garbage") },
		"PrometheusQuery/HTML 502": func(t *testing.T) health.Evaluator {
			return newQuery(t, serve(t, 502, "<html>bad gateway</html>"), "up")
		},
		"Scrape/refused": func(t *testing.T) health.Evaluator {
			return mustScrape(t, down+"/metrics", health.ScrapeSpec{Metric: "up"})
		},
		"Scrape/500": func(t *testing.T) health.Evaluator {
			return mustScrape(t, serve(t, 500, ""), health.ScrapeSpec{Metric: "up"})
		},
		"Scrape/malformed": func(t *testing.T) health.Evaluator {
			return mustScrape(t, serve(t, 200, "up{ 1\n"), health.ScrapeSpec{Metric: "up"})
		},
		"Scrape/no series": func(t *testing.T) health.Evaluator {
			return mustScrape(t, serve(t, 200, "other 1\n"), health.ScrapeSpec{Metric: "up"})
		},
		"Scrape/NaN": func(t *testing.T) health.Evaluator {
			return mustScrape(t, serve(t, 200, "up NaN\n"), health.ScrapeSpec{Metric: "up"})
		},
		"Scrape/rate of +Inf counter": func(t *testing.T) health.Evaluator {
			return mustScrape(t, serve(t, 200, "c +Inf\n"), health.ScrapeSpec{Metric: "c", Rate: true})
		},
		"Scrape/rate of -Inf counter": func(t *testing.T) health.Evaluator {
			return mustScrape(t, serve(t, 200, "c -Inf\n"), health.ScrapeSpec{Metric: "c", Rate: true})
		},
		"Scrape/rate of NaN counter": func(t *testing.T) health.Evaluator {
			return mustScrape(t, serve(t, 200, "c NaN\n"), health.ScrapeSpec{Metric: "c", Rate: true})
		},

		"CanaryJudge/baseline down":    func(t *testing.T) health.Evaluator { return judge(t, query(t, "broken"), query(t, "samples")) },
		"CanaryJudge/canary down":      func(t *testing.T) health.Evaluator { return judge(t, query(t, "samples"), newQuery(t, down, "x")) },
		"CanaryJudge/no samples":       func(t *testing.T) health.Evaluator { return judge(t, query(t, "no samples"), query(t, "no samples")) },
		"CanaryJudge/infinite samples": func(t *testing.T) health.Evaluator { return judge(t, query(t, "infinite"), query(t, "infinite")) },
		"CanaryJudge/infinite canary":  func(t *testing.T) health.Evaluator { return judge(t, query(t, "samples"), query(t, "infinite")) },
		"CanaryJudge/two series":       func(t *testing.T) health.Evaluator { return judge(t, query(t, "samples"), query(t, "two")) },

		"ErrorSplit/canary errors": func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, bad(healthtest.Err(errBoom)), healthtest.Values(1))
		},
		"ErrorSplit/stable no data": func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, healthtest.Values(1), bad(healthtest.NoData()))
		},
		"ErrorSplit/NaN counter": func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, healthtest.Values(math.NaN()), healthtest.Values(1))
		},
		"ErrorSplit/+Inf counter": func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, healthtest.Values(math.Inf(1)), healthtest.Values(1))
		},
		"ErrorSplit/-Inf counter": func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, healthtest.Values(1), healthtest.Values(math.Inf(-1)))
		},
		"ErrorSplit/negative counter": func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, healthtest.Values(-3), healthtest.Values(1))
		},
		"ErrorSplit/counter too large": func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, healthtest.Values(1e300), healthtest.Values(1))
		},
		"ErrorSplit/counter judged failed": func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, bad(healthtest.Failure(3)), healthtest.Values(1))
		},
		"ErrorSplit/scrape of +Inf": func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, mustScrape(t, serve(t, 200, "errors_total +Inf\n"), health.ScrapeSpec{Metric: "errors_total"}), healthtest.Values(1))
		},

		"WorstStatus/no objects": func(t *testing.T) health.Evaluator { return objects() },
		"WorstStatus/degraded":   func(t *testing.T) health.Evaluator { return objects(boundClaim, degradedDeployment) },
		"WorstStatus/unknown": func(t *testing.T) health.Evaluator {
			return objects(map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "d"}})
		},
		"WorstStatus/malformed": func(t *testing.T) health.Evaluator { return objects(map[string]any{"kind": "Pod"}) },
		"WorstStatus/listing fails": func(t *testing.T) health.Evaluator {
			return &health.WorstStatus{Objects: func(context.Context) ([]map[string]any, error) { return nil, errors.New("forbidden") }}
		},
		"WorstStatus/no source": func(t *testing.T) health.Evaluator { return &health.WorstStatus{} },

		"AllOf/nothing": func(t *testing.T) health.Evaluator { return health.AllOf() },
		"AllOf/one broken": func(t *testing.T) health.Evaluator {
			return health.AllOf(named("ok", healthtest.Success(1)), health.Named{Name: "objects", Evaluator: objects()})
		},
		"AllOf/success without a value": func(t *testing.T) health.Evaluator {
			return health.AllOf(named("hollow", health.Measurement{Value: math.NaN(), Phase: health.Successful}))
		},
		"AnyOf/nothing": func(t *testing.T) health.Evaluator { return health.AnyOf() },
		"AnyOf/all broken": func(t *testing.T) health.Evaluator {
			return health.AnyOf(named("err", healthtest.Err(errBoom)), named("none", healthtest.NoData()),
				named("odd", health.Measurement{Value: 1, Phase: "Healthy"}))
		},

		"Scripted/error":   func(t *testing.T) health.Evaluator { return bad(healthtest.Err(errBoom)) },
		"Scripted/no data": func(t *testing.T) health.Evaluator { return bad(healthtest.NoData()) },
		"Scripted/empty":   func(t *testing.T) health.Evaluator { return healthtest.NewScripted() },
		"Scripted/failure": func(t *testing.T) health.Evaluator { return bad(healthtest.Failure(1)) },
		"Scripted/fault":   func(t *testing.T) health.Evaluator { s := healthtest.Values(1); s.FailWith(errBoom); return s },
	}
	for name, newBroken := range tests {
		t.Run(name, func(t *testing.T) {
			healthtest.TestEvaluatorFailSafe(t, newBroken)
		})
	}
}

// TestEveryEvaluatorConformance runs the contract suite on every
// evaluator of the package with a target that is up.
func TestEveryEvaluatorConformance(t *testing.T) {
	fake := healthtest.NewPrometheus()
	promURL := fake.Serve(t)
	fake.SetScalar("one", 1)
	fake.AddSeries("samples", nil, healthtest.Point{T: fixedNow.Add(-time.Minute), V: 1}, healthtest.Point{T: fixedNow, V: 2})
	tests := map[string]func(t *testing.T) health.Evaluator{
		"HTTPProbe": func(t *testing.T) health.Evaluator { return mustProbe(t, serve(t, 200, "ok"), health.ProbeSpec{}) },
		"PrometheusQuery": func(t *testing.T) health.Evaluator {
			return newQuery(t, promURL, "one")
		},
		"Scrape": func(t *testing.T) health.Evaluator {
			return mustScrape(t, serve(t, 200, "up 1\n"), health.ScrapeSpec{Metric: "up"})
		},
		"Scrape/rate": func(t *testing.T) health.Evaluator {
			return mustScrape(t, serve(t, 200, "c 1\n"), health.ScrapeSpec{Metric: "c", Rate: true})
		},
		"CanaryJudge": func(t *testing.T) health.Evaluator {
			cj, err := health.NewCanaryJudge([]health.CanaryQuery{{Metric: health.CanaryMetric{Name: "a"}, Baseline: newQuery(t, promURL, "samples"), Canary: newQuery(t, promURL, "samples")}},
				5*time.Minute, 10*time.Second, health.JudgeConfig{}, health.WithClock(fixedClock()))
			require.NoError(t, err)
			return cj
		},
		"ErrorSplit": func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, healthtest.Values(1, 2, 3), healthtest.Values(1, 2, 3))
		},
		"WorstStatus": func(t *testing.T) health.Evaluator { return objects(boundClaim) },
		"AllOf": func(t *testing.T) health.Evaluator {
			return health.AllOf(named("a", healthtest.Success(1)), named("b", healthtest.NoData()))
		},
		"AnyOf": func(t *testing.T) health.Evaluator {
			return health.AnyOf(named("a", healthtest.Failure(1)), named("b", healthtest.Success(2)))
		},
		"Scripted": func(t *testing.T) health.Evaluator { return healthtest.Values(1, 2) },
	}
	for name, newEvaluator := range tests {
		t.Run(name, func(t *testing.T) { healthtest.TestEvaluator(t, newEvaluator) })
	}
}

// TestReportedFailSafeCases are the cases reported against the package:
// each once read as a success.
func TestReportedFailSafeCases(t *testing.T) {
	down := "http://" + closedAddr(t)
	r, _ := newRunner(t)
	measure := func(t *testing.T, m health.Metric, d time.Duration) health.RunResult {
		t.Helper()
		m.Name = "m"
		res, err := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{m}, Duration: d})
		require.NoError(t, err)
		return res
	}
	t.Run("a probe without a response under AtLeast(500)", func(t *testing.T) {
		res := measure(t, health.Metric{Evaluator: mustProbe(t, down, health.ProbeSpec{FailureThreshold: 1}), FailureCondition: health.AtLeast(500)}, 0)
		assert.Equal(t, health.Failed, res.Phase, res.Message)
	})
	t.Run("a Degraded Deployment under any failure condition", func(t *testing.T) {
		for _, fc := range failureConditions {
			res := measure(t, health.Metric{Evaluator: objects(degradedDeployment), FailureCondition: fc.cond}, 0)
			assert.Equal(t, health.Failed, res.Phase, "%s: %s", fc.name, res.Message)
			assert.Contains(t, res.Message, "exceeded its progress deadline")
		}
	})
	t.Run("a WorstStatus over zero objects, alone and inside AllOf", func(t *testing.T) {
		res := measure(t, health.Metric{Evaluator: objects()}, 0)
		assert.Equal(t, health.Inconclusive, res.Phase, res.Message)
		res = measure(t, health.Metric{Evaluator: health.AllOf(health.Named{Name: "objects", Evaluator: objects()})}, 0)
		assert.Equal(t, health.Inconclusive, res.Phase, res.Message)
	})
	t.Run("a metric whose only measurement errored", func(t *testing.T) {
		res := measure(t, health.Metric{Evaluator: healthtest.NewScripted(healthtest.Err(errBoom))}, 0)
		assert.Equal(t, health.Error, res.Phase, res.Message)
		assert.Zero(t, res.Metric("m").Count)
	})
	t.Run("count 2: two errors then a failure", func(t *testing.T) {
		e := healthtest.Err(errBoom)
		res := measure(t, health.Metric{Evaluator: healthtest.NewScripted(e, e, healthtest.Failure(1)), Interval: time.Minute, Count: 2}, 0)
		assert.Equal(t, health.Failed, res.Phase, res.Message)
	})
	t.Run("a background metric whose every measurement errored", func(t *testing.T) {
		res := measure(t, health.Metric{Evaluator: mustProbe(t, down, health.ProbeSpec{FailureThreshold: 1000}), Interval: time.Minute,
			ConsecutiveErrorLimit: health.Limit(1000)}, 5*time.Minute)
		assert.Equal(t, health.Error, res.Phase, res.Message)
	})
	t.Run("a rate from infinite counters", func(t *testing.T) {
		s := mustScrape(t, serve(t, 200, "c +Inf\n"), health.ScrapeSpec{Metric: "c", Rate: true})
		res := measure(t, health.Metric{Evaluator: s, Interval: time.Minute, Count: 3, InconclusiveLimit: 5}, 0)
		assert.Equal(t, health.Inconclusive, res.Phase, res.Message)
	})
	t.Run("an infinite error-split increment", func(t *testing.T) {
		es := mustErrorSplit(t, healthtest.Values(1, math.Inf(1)), healthtest.Values(1, 2))
		assert.Equal(t, health.Successful, es.Evaluate(context.Background()).Phase, "the starting point")
		m := es.Evaluate(context.Background())
		assert.Equal(t, health.Error, m.Phase, m.Message)
		assert.ErrorIs(t, m.Err, health.ErrBadCounter)
	})
	t.Run("an error-split increment that overflows the totals", func(t *testing.T) {
		// A counter at 2^53, then reset: the totals would pass 2^53.
		es := mustErrorSplit(t, healthtest.Values(0, 1<<53, 10), healthtest.Values(0, 1<<53, 10))
		for range 2 {
			require.NotEqual(t, health.Error, es.Evaluate(context.Background()).Phase)
		}
		m := es.Evaluate(context.Background())
		assert.Equal(t, health.Error, m.Phase, m.Message)
		assert.ErrorIs(t, m.Err, health.ErrBadCounter)
		assert.Contains(t, m.Err.Error(), "overflow")
	})
}

// TestErrorTexts checks every error the package's evaluators produce: it
// names the object (the URL without credentials, the query, the object),
// carries no credential, does not repeat its prefix, and is one line
// without surrounding white space.
func TestErrorTexts(t *testing.T) {
	fake := healthtest.NewPrometheus()
	fake.FailWith("broken", 500, "server_error", "out of memory\n")
	fake.FailWith("bad", 400, "bad_data", "parse error at char 4")
	fake.SetString("text", "hello")
	fake.SetVector("two", healthtest.Sample{Labels: map[string]string{"a": "1"}, Value: 1}, healthtest.Sample{Labels: map[string]string{"a": "2"}, Value: 2})
	promHost := strings.TrimPrefix(fake.Serve(t), "http://")
	downHost := closedAddr(t)
	html := strings.TrimPrefix(serve(t, 502, "<html>\n<body>bad gateway</body>\n</html>\n"), "http://")
	cred := func(host string) string { return "http://alice:s3cret@" + host }
	const token = "?token=t0ken"

	tests := []struct {
		name   string
		eval   func(t *testing.T) health.Evaluator
		prefix string   // said once, at the start
		names  []string // what the error must name
	}{
		{"probe refused", func(t *testing.T) health.Evaluator {
			return mustProbe(t, cred(downHost)+"/healthz"+token, health.ProbeSpec{FailureThreshold: 5})
		}, "http probe ", []string{downHost + "/healthz?token=…", "connection refused"}},
		{"query refused", func(t *testing.T) health.Evaluator { return newQuery(t, cred(downHost)+token, "up") },
			"prometheus query ", []string{downHost, `"up"`, "connection refused"}},
		{"query 500", func(t *testing.T) health.Evaluator { return newQuery(t, cred(promHost), "broken") },
			"prometheus query ", []string{promHost, `"broken"`, "server error", "out of memory"}},
		{"query 400", func(t *testing.T) health.Evaluator { return newQuery(t, cred(promHost), "bad") },
			"prometheus query ", []string{`"bad"`, "bad_data", "parse error at char 4"}},
		{"query HTML", func(t *testing.T) health.Evaluator { return newQuery(t, cred(html), "up") },
			"prometheus query ", []string{html, "502", "an HTML page"}},
		{"query string", func(t *testing.T) health.Evaluator { return newQuery(t, cred(promHost), "text") },
			"prometheus query ", []string{`"text"`, `unexpected value type "string"`}},
		{"query two series", func(t *testing.T) health.Evaluator { return newQuery(t, cred(promHost), "two") },
			"prometheus query ", []string{`"two"`, "2 series"}},
		{"scrape refused", func(t *testing.T) health.Evaluator {
			return mustScrape(t, cred(downHost)+"/metrics"+token, health.ScrapeSpec{Metric: "up"})
		}, "scrape ", []string{downHost + "/metrics?token=…", "connection refused"}},
		{"scrape 500", func(t *testing.T) health.Evaluator {
			return mustScrape(t, cred(strings.TrimPrefix(serve(t, 500, "oops\n"), "http://")), health.ScrapeSpec{Metric: "up"})
		}, "scrape ", []string{"HTTP status 500"}},
		{"scrape malformed", func(t *testing.T) health.Evaluator {
			return mustScrape(t, cred(strings.TrimPrefix(serve(t, 200, "up{ 1\n"), "http://")), health.ScrapeSpec{Metric: "up"})
		}, "scrape ", []string{health.ErrExposition.Error()}},
		{"error split of a refused scrape", func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, mustScrape(t, cred(downHost), health.ScrapeSpec{Metric: "errors_total"}), healthtest.Values(1))
		}, "error split: ", []string{"canary errors", "scrape http://" + downHost}},
		{"error split of an infinite counter", func(t *testing.T) health.Evaluator {
			return mustErrorSplit(t, healthtest.Values(1), healthtest.Values(math.Inf(1)))
		}, "error split: ", []string{"stable errors", "+Inf"}},
		{"canary judge of a failing query", func(t *testing.T) health.Evaluator {
			cj, err := health.NewCanaryJudge([]health.CanaryQuery{{Metric: health.CanaryMetric{Name: "latency"},
				Baseline: newQuery(t, cred(promHost), "broken"), Canary: newQuery(t, cred(promHost), "broken")}},
				5*time.Minute, 10*time.Second, health.JudgeConfig{}, health.WithClock(fixedClock()))
			require.NoError(t, err)
			return cj
		}, "canary judge: ", []string{"baseline of latency", `prometheus query "broken"`}},
		{"worst status of a malformed object", func(t *testing.T) health.Evaluator {
			return objects(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"}, "spec": map[string]any{"replicas": "two"}})
		}, "worst status: ", []string{"Deployment web", "spec.replicas"}},
		{"worst status of an unknown object", func(t *testing.T) health.Evaluator {
			return objects(map[string]any{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": map[string]any{"name": "data"}})
		}, "worst status ", []string{"Unknown"}},
		{"all of", func(t *testing.T) health.Evaluator {
			return health.AllOf(health.Named{Name: "probe", Evaluator: mustProbe(t, cred(downHost)+token, health.ProbeSpec{})})
		}, "probe: http probe ", []string{downHost}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.eval(t).Evaluate(context.Background())
			require.Equal(t, health.Error, m.Phase, m.Message)
			require.Error(t, m.Err)
			text := m.Err.Error()
			assert.True(t, strings.HasPrefix(text, tt.prefix), "%q does not start with %q", text, tt.prefix)
			assert.Equal(t, 1, strings.Count(text, strings.TrimSpace(tt.prefix)), "stutter in %q", text)
			for _, n := range tt.names {
				assert.Contains(t, text, n)
			}
			for _, text := range []string{m.Err.Error(), m.Message} {
				assert.NotContains(t, text, "s3cret", "a password in %q", text)
				assert.NotContains(t, text, "alice", "a user name in %q", text)
				assert.NotContains(t, text, "t0ken", "a query value in %q", text)
				assert.NotContains(t, text, "\n", "more than one line: %q", text)
				assert.Equal(t, strings.TrimSpace(text), text)
				parts := strings.Split(text, ": ")
				for i := 1; i < len(parts); i++ {
					assert.NotEqual(t, parts[i-1], parts[i], "repeated %q in %q", parts[i], text)
				}
			}
		})
	}
}
