package rollbacktest

import (
	"fmt"
	"math"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// Names of the signals a [SimRecorder] records.
const (
	SignalLatency = "latency-p95"
	SignalErrors  = "error-rate"
	SignalCPU     = "cpu-per-request"
)

// SimRecorder samples the metrics a sim.Cluster exports for one
// Deployment, step by step, into three series: the p95 request latency
// of the step (histogram_quantile over the step's bucket increases, as
// Prometheus interpolates it), its error rate (5xx over all requests)
// and its CPU seconds per request (container CPU over requests, across
// the Deployment's pods). A step without requests records no sample.
// Counter resets (pods that went away) are handled as Prometheus' rate
// does. It is safe for concurrent use.
type SimRecorder struct {
	cluster               *sim.Cluster
	namespace, deployment string
	step                  time.Duration

	mu                   sync.Mutex
	prev                 *snapshot
	latency, errors, cpu Series
}

// NewSimRecorder returns a recorder of Deployment namespace/deployment
// in c, sampled every step.
func NewSimRecorder(c *sim.Cluster, namespace, deployment string, step time.Duration) *SimRecorder {
	return &SimRecorder{cluster: c, namespace: namespace, deployment: deployment, step: step}
}

// Advance moves clk forward by d in steps of the recorder's step,
// recording after each; it returns the first error.
func (r *SimRecorder) Advance(clk *clocktest.Clock, d time.Duration) error {
	for end := clk.Now().Add(d); clk.Now().Before(end); {
		s := min(r.step, end.Sub(clk.Now()))
		clk.Advance(s)
		if err := r.Record(clk.Now()); err != nil {
			return err
		}
	}
	return nil
}

// Record scrapes the cluster now and records the step since the last
// Record at time now (the first Record only sets the starting point).
func (r *SimRecorder) Record(now time.Time) error {
	snap, err := r.scrape()
	if err != nil {
		return err
	}
	r.mu.Lock()
	prev := r.prev
	r.prev = snap
	r.mu.Unlock()
	if prev == nil {
		return nil
	}
	var reqs, errs float64
	buckets := map[float64]float64{}
	for id, v := range snap.requests {
		d := increase(prev.requests[id], v)
		reqs += d
		if id.code >= 500 {
			errs += d
		}
	}
	for id, h := range snap.buckets {
		p := prev.buckets[id]
		for ub, v := range h {
			buckets[ub] += increase(p[ub], v)
		}
	}
	var cpu float64
	for pod, v := range snap.cpu {
		cpu += increase(prev.cpu[pod], v)
	}
	if reqs <= 0 {
		return nil
	}
	r.latency.Add(now, quantile(0.95, buckets, reqs))
	r.errors.Add(now, errs/reqs)
	r.cpu.Add(now, cpu/reqs)
	return nil
}

// increase is the increase of a counter from prev to cur, a reset (cur
// below prev) counting cur.
func increase(prev, cur float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}

// quantile is Prometheus' histogram_quantile over cumulative bucket
// counts by upper bound (without +Inf) and the total count.
func quantile(q float64, cum map[float64]float64, total float64) float64 {
	bounds := make([]float64, 0, len(cum))
	for ub := range cum {
		if !math.IsInf(ub, 1) {
			bounds = append(bounds, ub)
		}
	}
	sort.Float64s(bounds)
	rank := q * total
	lower, below := 0.0, 0.0
	for _, ub := range bounds {
		if c := cum[ub]; c >= rank {
			if c == below {
				return ub
			}
			return lower + (ub-lower)*(rank-below)/(c-below)
		}
		lower, below = ub, cum[ub]
	}
	if len(bounds) == 0 {
		return math.NaN()
	}
	return bounds[len(bounds)-1] // in the +Inf bucket: the highest finite bound
}

// Latency, Errors and CPU return the recorded series.
func (r *SimRecorder) Latency() *Series { return &r.latency }

// Errors returns the error-rate series.
func (r *SimRecorder) Errors() *Series { return &r.errors }

// CPU returns the CPU-per-request series.
func (r *SimRecorder) CPU() *Series { return &r.cpu }

// Signals returns the three signals of a degradation check over the
// recorded series, each with the PromQL query a real cluster would
// answer it with. Latency may rise by allowedLatency (a ratio, for
// example 1.2) before a significant rise counts; zero means no gate.
func (r *SimRecorder) Signals(allowedLatency float64) []rollback.Signal {
	sel := fmt.Sprintf(`namespace=%q,deployment=%q`, r.namespace, r.deployment)
	w := model.Duration(r.step).String()
	return []rollback.Signal{
		{Name: SignalLatency, Source: &r.latency, AllowedIncrease: allowedLatency,
			Query: fmt.Sprintf(`histogram_quantile(0.95, sum by (le) (rate(flightdeck_sim_request_duration_seconds_bucket{%s}[%s])))`, sel, w)},
		{Name: SignalErrors, Source: &r.errors,
			Query: fmt.Sprintf(`sum(rate(flightdeck_sim_requests_total{%s,code=~"5.."}[%s])) / sum(rate(flightdeck_sim_requests_total{%s}[%s]))`, sel, w, sel, w)},
		{Name: SignalCPU, Source: &r.cpu,
			Query: fmt.Sprintf(`sum(rate(container_cpu_usage_seconds_total{namespace=%q,pod=~"%s-.*"}[%s])) / sum(rate(flightdeck_sim_requests_total{%s}[%s]))`, r.namespace, r.deployment, w, sel, w)},
	}
}

var _ health.SampleSource = (*Series)(nil)

type seriesID struct {
	hash string
	code int
}

type snapshot struct {
	requests map[seriesID]float64
	buckets  map[seriesID]map[float64]float64
	cpu      map[string]float64
}

func (r *SimRecorder) scrape() (*snapshot, error) {
	rec := httptest.NewRecorder()
	r.cluster.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		return nil, fmt.Errorf("rollbacktest: scrape: HTTP %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		return nil, fmt.Errorf("rollbacktest: scrape: %w", err)
	}
	s := &snapshot{requests: map[seriesID]float64{}, buckets: map[seriesID]map[float64]float64{}, cpu: map[string]float64{}}
	mine := func(m *dto.Metric) (seriesID, bool) {
		l := labels(m)
		if l["namespace"] != r.namespace || l["deployment"] != r.deployment {
			return seriesID{}, false
		}
		var code int
		fmt.Sscan(l["code"], &code)
		return seriesID{l["pod_template_hash"], code}, true
	}
	if f := fams["flightdeck_sim_requests_total"]; f != nil {
		for _, m := range f.Metric {
			if id, ok := mine(m); ok {
				s.requests[id] = m.GetCounter().GetValue()
			}
		}
	}
	if f := fams["flightdeck_sim_request_duration_seconds"]; f != nil {
		for _, m := range f.Metric {
			if id, ok := mine(m); ok {
				h := map[float64]float64{}
				for _, b := range m.GetHistogram().GetBucket() {
					h[b.GetUpperBound()] = float64(b.GetCumulativeCount())
				}
				s.buckets[id] = h
			}
		}
	}
	// A pod's name is "<deployment>-<pod-template-hash>-<suffix>"; only
	// the hashes the Deployment served from are its.
	prefixes := map[string]bool{}
	for id := range s.requests {
		prefixes[r.deployment+"-"+id.hash+"-"] = true
	}
	if f := fams["container_cpu_usage_seconds_total"]; f != nil {
		for _, m := range f.Metric {
			l := labels(m)
			pod := l["pod"]
			if l["namespace"] != r.namespace {
				continue
			}
			for p := range prefixes {
				if strings.HasPrefix(pod, p) {
					s.cpu[pod+"/"+l["container"]] = m.GetCounter().GetValue()
					break
				}
			}
		}
	}
	return s, nil
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
