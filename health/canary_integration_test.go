//go:build integration

package health_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// TestIntegrationCanaryErrorSplitPromQL runs the canary analysis of
// BenchmarkCanaryJudges (the sequential error judge read every interval)
// with PromQL against Debian's Prometheus, scraping every second the
// metrics endpoint of two simulated clusters serving real-time traffic: a
// bad canary (5× the stable 1% error rate) must be judged Failed, a good
// one (as good as stable) not.
func TestIntegrationCanaryErrorSplitPromQL(t *testing.T) {
	const rps = 1000 // 100 requests a second to the canary
	sc := canaryScenario{Weight: 10, StableErrorRate: 0.01}
	good, bad := sc, sc
	good.CanaryErrorRate, bad.CanaryErrorRate = sc.StableErrorRate, 5*sc.StableErrorRate

	// One cluster per canary, each with its own seed, served together on
	// one endpoint as a real cluster's exporters would serve them.
	ctx := context.Background()
	clusters := map[string]*sim.Cluster{}
	var gatherers prometheus.Gatherers
	for i, c := range []struct {
		namespace string
		sc        canaryScenario
	}{{"good", good}, {"bad", bad}} {
		reg := prometheus.NewPedanticRegistry()
		cl, err := newCanaryCluster(ctx, nil, c.namespace, c.sc, uint64(i+1), sim.WithRegisterer(reg))
		require.NoError(t, err)
		clusters[c.namespace] = cl
		gatherers = append(gatherers, reg)
	}
	app := httptest.NewServer(promhttp.HandlerFor(gatherers, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	defer app.Close()
	u, err := url.Parse(app.URL)
	require.NoError(t, err)
	prom := startPrometheus(t, u.Host)
	waitFor(t, mustQuery(t, prom, `up{job="app"} == 1`), 30*time.Second)

	errorsOf := func(namespace, deployment string) health.Evaluator {
		return mustQuery(t, prom, fmt.Sprintf(
			`sum(flightdeck_sim_requests_total{job="app",namespace=%q,deployment=%q,code=~"5.."}) or vector(0)`, namespace, deployment))
	}
	r, err := health.NewRunner()
	require.NoError(t, err)
	results := map[string]health.RunResult{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for ns, cl := range clusters {
		a, err := errorSplitAnalysis(float64(sc.Weight)/100, sequentialAlpha, time.Second, 12*time.Second,
			errorsOf(ns, "web-canary"), errorsOf(ns, "web"))
		require.NoError(t, err)
		require.NoError(t, cl.SetLoad(routeIn(ns), rps))
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.Run(ctx, a)
			assert.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			results[ns] = res
		}()
	}
	wg.Wait()

	last := func(res health.RunResult) health.Measurement {
		ms := res.Metric("error-split").Measurements
		require.NotEmpty(t, ms)
		return ms[len(ms)-1]
	}
	b := results["bad"]
	assert.Equal(t, health.Failed, b.Phase, b.Message)
	assert.Contains(t, last(b).Message, "canary worse")
	t.Logf("bad canary: %s after %s", last(b).Message, b.Finished.Sub(b.Started).Round(time.Millisecond))

	g := results["good"]
	assert.Equal(t, health.Successful, g.Phase, g.Message)
	assert.Greater(t, last(g).Values["stable_errors"], 50.0, "the judge saw the errors Prometheus scraped: %s", last(g).Message)
	assert.Greater(t, last(g).Values["canary_errors"], 0.0)
	t.Logf("good canary: %s", last(g).Message)
}
