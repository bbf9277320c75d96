package health_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

// textServer serves whatever body is current.
type textServer struct {
	mu     sync.Mutex
	body   string
	status int
}

func (s *textServer) set(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.body = status, body
}

func (s *textServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.WriteHeader(s.status)
	_, _ = w.Write([]byte(s.body))
}

func TestScrapeRealRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total", Help: "Requests."}, []string{"code"})
	lat := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Help: "Latency."})
	temp := prometheus.NewGauge(prometheus.GaugeOpts{Name: "queue_depth", Help: "Depth."})
	reg.MustRegister(reqs, lat, temp)
	reqs.WithLabelValues("200").Add(90)
	reqs.WithLabelValues("500").Add(10)
	lat.Observe(0.2)
	lat.Observe(0.4)
	temp.Set(7)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	tests := []struct {
		spec health.ScrapeSpec
		want float64
	}{
		{health.ScrapeSpec{Metric: "http_requests_total"}, 100},
		{health.ScrapeSpec{Metric: "http_requests_total", Labels: map[string]string{"code": "500"}}, 10},
		{health.ScrapeSpec{Metric: "http_request_duration_seconds_count"}, 2},
		{health.ScrapeSpec{Metric: "http_request_duration_seconds_sum"}, 0.6000000000000001},
		{health.ScrapeSpec{Metric: "queue_depth"}, 7},
	}
	for _, tt := range tests {
		s, err := health.NewScrape(srv.URL+"/metrics", tt.spec)
		require.NoError(t, err)
		m := s.Evaluate(context.Background())
		assert.Equal(t, health.Successful, m.Phase, m.Message)
		assert.InDelta(t, tt.want, m.Value, 1e-9, tt.spec.Metric)
	}
}

func TestScrapeRate(t *testing.T) {
	ts := &textServer{}
	ts.set(200, "# TYPE errors_total counter\nerrors_total 100\n")
	srv := httptest.NewServer(ts)
	defer srv.Close()
	c := clocktest.New(fixedNow)
	s, err := health.NewScrape(srv.URL, health.ScrapeSpec{Metric: "errors_total", Rate: true}, health.WithClock(c))
	require.NoError(t, err)

	m := s.Evaluate(context.Background())
	assert.Equal(t, health.Inconclusive, m.Phase, "a rate needs two scrapes")
	assert.Contains(t, m.Message, "first scrape")

	c.Advance(10 * time.Second)
	ts.set(200, "# TYPE errors_total counter\nerrors_total 150\n")
	m = s.Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase)
	assert.Equal(t, 5.0, m.Value)

	c.Advance(10 * time.Second)
	ts.set(200, "# TYPE errors_total counter\nerrors_total 20\n") // the process restarted
	m = s.Evaluate(context.Background())
	assert.Equal(t, 2.0, m.Value, "a counter reset counts the new value as the increase")
}

// TestScrapeRateConcurrent checks that concurrent rate scrapes compare
// readings in the order they were taken: the counter rises by one per
// request and the clock by one second per reading, so every rate is
// exactly 1/s, and an out-of-order pair never passes for a counter reset.
func TestScrapeRateConcurrent(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "# TYPE errors_total counter\nerrors_total %d\n", 1000+served.Add(1))
	}))
	defer srv.Close()
	var ticks atomic.Int64
	now := func() time.Time { return fixedNow.Add(time.Duration(ticks.Add(1)) * time.Second) }
	s, err := health.NewScrape(srv.URL, health.ScrapeSpec{Metric: "errors_total", Rate: true}, health.WithClock(clock.Func(now)))
	require.NoError(t, err)

	const goroutines, calls = 8, 20
	ms := make([]health.Measurement, goroutines*calls)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				ms[g*calls+i] = s.Evaluate(context.Background())
			}
		}()
	}
	wg.Wait()
	first := 0
	for _, m := range ms {
		if m.Phase == health.Inconclusive {
			first++
			continue
		}
		require.Equal(t, health.Successful, m.Phase, m.Message)
		assert.Equal(t, 1.0, m.Value, m.Message)
	}
	assert.Equal(t, 1, first, "only the first scrape has no rate")
}

func TestScrapeBadInputs(t *testing.T) {
	ts := &textServer{}
	srv := httptest.NewServer(ts)
	defer srv.Close()
	s, err := health.NewScrape(srv.URL, health.ScrapeSpec{Metric: "up"})
	require.NoError(t, err)

	ts.set(200, "up{job=\"x\" 1\n")
	m := s.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorIs(t, m.Err, health.ErrExposition)
	assert.Contains(t, m.Err.Error(), srv.URL)

	ts.set(200, "up not-a-number\n")
	m = s.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorIs(t, m.Err, health.ErrExposition)

	ts.set(500, "oops")
	m = s.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorContains(t, m.Err, "HTTP status 500")

	ts.set(200, "other 1\n")
	m = s.Evaluate(context.Background())
	assert.Equal(t, health.Inconclusive, m.Phase)
	assert.Contains(t, m.Message, "no matching series")

	ts.set(200, "up NaN\n")
	m = s.Evaluate(context.Background())
	assert.Equal(t, health.Inconclusive, m.Phase)

	srv.Close()
	m = s.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase, "unreachable")
	assert.ErrorContains(t, m.Err, "connection refused")

	_, err = health.NewScrape("http://u:pw@host:1/metrics", health.ScrapeSpec{})
	assert.ErrorContains(t, err, "no metric selected")
	assert.NotContains(t, err.Error(), "pw")
	_, err = health.NewScrape("/metrics", health.ScrapeSpec{Metric: "up"})
	assert.ErrorContains(t, err, "absolute http(s) URL")
}

func TestScrapeTimeoutAndCredentials(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	s, err := health.NewScrape(hang.URL, health.ScrapeSpec{Metric: "up"}, health.WithTimeout(20*time.Millisecond))
	require.NoError(t, err)
	m := s.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase, "a timeout is an error, never healthy")
	assert.ErrorIs(t, m.Err, context.DeadlineExceeded)
	assert.Contains(t, m.Err.Error(), hang.URL, "the error names the endpoint")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there any more
	s, err = health.NewScrape("http://scraper:s3cret@"+addr+"/metrics", health.ScrapeSpec{Metric: "up"})
	require.NoError(t, err)
	m = s.Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorContains(t, m.Err, "connection refused")
	assert.Contains(t, m.Err.Error(), addr)
	assert.NotContains(t, m.Err.Error(), "s3cret", "credentials never appear in errors")
	assert.NotContains(t, m.Message, "s3cret")
}

func TestScrapeConformance(t *testing.T) {
	ts := &textServer{}
	ts.set(200, "up 1\n")
	srv := httptest.NewServer(ts)
	defer srv.Close()
	healthtest.TestEvaluator(t, func(t *testing.T) health.Evaluator {
		s, err := health.NewScrape(srv.URL, health.ScrapeSpec{Metric: "up"})
		require.NoError(t, err)
		return s
	})
}

func TestUtilisationQuery(t *testing.T) {
	q, err := health.UtilisationQuery(health.Workload{Namespace: "shop", Pod: "web-7d9f.*"}, health.CPU, health.Requests, 2*time.Minute)
	require.NoError(t, err)
	assert.Equal(t,
		`sum(rate(container_cpu_usage_seconds_total{namespace="shop",pod=~"web-7d9f.*",container!="",container!="POD"}[120s]))`+
			` / sum(kube_pod_container_resource_requests{namespace="shop",pod=~"web-7d9f.*",container!="",container!="POD",resource="cpu"})`, q)

	q, err = health.UtilisationQuery(health.Workload{Namespace: "shop", Container: `we"ird`}, health.Memory, health.Limits, 0)
	require.NoError(t, err)
	assert.Equal(t,
		`sum(container_memory_working_set_bytes{namespace="shop",pod=~".*",container="we\"ird"})`+
			` / sum(kube_pod_container_resource_limits{namespace="shop",pod=~".*",container="we\"ird",resource="memory"})`, q)

	q, err = health.RestartsQuery(health.Workload{Namespace: "shop", Pod: "web.*"}, 0)
	require.NoError(t, err)
	assert.Equal(t, `sum(increase(kube_pod_container_status_restarts_total{namespace="shop",pod=~"web.*",container!="",container!="POD"}[300s]))`, q)

	_, err = health.UtilisationQuery(health.Workload{}, health.CPU, health.Requests, 0)
	assert.ErrorContains(t, err, "namespace is required")
	_, err = health.UtilisationQuery(health.Workload{Namespace: "a"}, "gpu", health.Requests, 0)
	assert.ErrorContains(t, err, `unknown resource "gpu"`)
	_, err = health.UtilisationQuery(health.Workload{Namespace: "a"}, health.CPU, "quota", 0)
	assert.ErrorContains(t, err, `unknown base "quota"`)
	_, err = health.RestartsQuery(health.Workload{}, 0)
	assert.ErrorContains(t, err, "namespace is required")
}

func TestUtilisationQueryAgainstFakePrometheus(t *testing.T) {
	q, err := health.UtilisationQuery(health.Workload{Namespace: "shop", Pod: "web.*"}, health.Memory, health.Requests, 0)
	require.NoError(t, err)
	fake := healthtest.NewPrometheus()
	fake.SetVector(q, healthtest.Sample{Value: 0.92})
	pq := newQuery(t, fake.Serve(t), q)
	r, _ := newRunner(t)
	res, err := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{
		{Name: "memory", Evaluator: pq, FailureCondition: health.Above(0.9)},
	}})
	require.NoError(t, err)
	assert.Equal(t, health.Failed, res.Phase)
	assert.Equal(t, 0.92, res.Metric("memory").Measurements[0].Value)
}
