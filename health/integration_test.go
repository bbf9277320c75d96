//go:build integration

package health_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/health"
)

// syncBuffer collects a child process's output safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startPrometheus runs Debian's /usr/bin/prometheus on a loopback port
// with a temporary config and storage, scraping target every second, and
// stops it when the test ends. It returns the server's URL.
func startPrometheus(t *testing.T, target string) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	require.NoError(t, err, "the prometheus package must be installed (.ci/run installs it)")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: app
    static_configs:
      - targets: [%q]
        labels: {track: stable}
  - job_name: app-canary
    static_configs:
      - targets: [%q]
        labels: {track: canary}
`, target, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(cfg), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	return "http://" + addr
}

// waitFor evaluates e on a ticker until it is Successful, failing the test
// at the deadline. Prometheus needs a few seconds for its first scrape.
func waitFor(t *testing.T, e health.Evaluator, within time.Duration) health.Measurement {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last health.Measurement
	for {
		last = e.Evaluate(ctx)
		if last.Phase == health.Successful {
			return last
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no successful measurement within %s; last: %s %s", within, last.Phase, last.Message)
		case <-tick.C:
		}
	}
}

func TestIntegrationPrometheus(t *testing.T) {
	reg := prometheus.NewRegistry()
	depth := prometheus.NewGauge(prometheus.GaugeOpts{Name: "app_queue_depth", Help: "Items waiting."})
	reqs := prometheus.NewCounter(prometheus.CounterOpts{Name: "app_requests_total", Help: "Requests served."})
	reg.MustRegister(depth, reqs)
	depth.Set(7)
	reqs.Add(100)
	app := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer app.Close()
	u, err := url.Parse(app.URL)
	require.NoError(t, err)

	prom := startPrometheus(t, u.Host)

	up, err := health.NewPrometheusQuery(prom, `up{job="app"}`)
	require.NoError(t, err)
	m := waitFor(t, up, 60*time.Second)
	assert.Equal(t, 1.0, m.Value)

	query := func(q string, opts ...health.Option) health.Measurement {
		t.Helper()
		pq, err := health.NewPrometheusQuery(prom, q, opts...)
		require.NoError(t, err)
		return pq.Evaluate(context.Background())
	}

	t.Run("vector with one series", func(t *testing.T) {
		m := waitFor(t, mustQuery(t, prom, `app_queue_depth{job="app"}`), 30*time.Second)
		assert.Equal(t, 7.0, m.Value)
	})
	t.Run("scalar", func(t *testing.T) {
		m := query(`scalar(sum(app_requests_total{job="app"}))`)
		assert.Equal(t, health.Successful, m.Phase, m.Message)
		assert.Equal(t, 100.0, m.Value)
	})
	t.Run("empty result is no data", func(t *testing.T) {
		m := query(`app_queue_depth{job="nope"}`)
		assert.Equal(t, health.Inconclusive, m.Phase)
		assert.Contains(t, m.Message, "no data")
	})
	t.Run("NaN is no data", func(t *testing.T) {
		m := query(`scalar(vector(0)/0)`)
		assert.Equal(t, health.Inconclusive, m.Phase, m.Message)
	})
	t.Run("multi-series is an error unless allowed", func(t *testing.T) {
		waitFor(t, mustQuery(t, prom, `count(up == 1) == 2`), 30*time.Second)
		m := query(`app_queue_depth`)
		assert.Equal(t, health.Error, m.Phase)
		assert.ErrorIs(t, m.Err, health.ErrMultipleSeries)
		m = query(`app_queue_depth`, health.WithMultiSeries())
		assert.Equal(t, health.Successful, m.Phase)
		assert.Len(t, m.Values, 2)
	})
	t.Run("non-numeric result is an error", func(t *testing.T) {
		m := query(`"a string"`)
		assert.Equal(t, health.Error, m.Phase)
	})
	t.Run("bad PromQL is an error", func(t *testing.T) {
		m := query(`sum(`)
		assert.Equal(t, health.Error, m.Phase)
		assert.ErrorContains(t, m.Err, "parse error")
	})
	t.Run("range", func(t *testing.T) {
		pq := mustQuery(t, prom, `app_queue_depth{job="app"}`)
		now := time.Now()
		vals, err := pq.Range(context.Background(), now.Add(-time.Minute), now, time.Second)
		require.NoError(t, err)
		require.NotEmpty(t, vals)
		for _, v := range vals {
			assert.Equal(t, 7.0, v)
		}
	})
	t.Run("analysis run", func(t *testing.T) {
		r, err := health.NewRunner()
		require.NoError(t, err)
		res, err := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{{
			Name: "queue", Evaluator: mustQuery(t, prom, `app_queue_depth{job="app"}`),
			Interval: 500 * time.Millisecond, Count: 2, SuccessCondition: health.Below(10),
		}}})
		require.NoError(t, err)
		assert.Equal(t, health.Successful, res.Phase, res.Message)
		assert.Len(t, res.Metric("queue").Measurements, 2)
	})
}

func mustQuery(t *testing.T, prom, q string) *health.PrometheusQuery {
	t.Helper()
	pq, err := health.NewPrometheusQuery(prom, q)
	require.NoError(t, err)
	return pq
}
