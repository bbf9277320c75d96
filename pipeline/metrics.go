package pipeline

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus collectors. A nil *metrics records
// nothing.
type metrics struct {
	duration *prometheus.HistogramVec
	attempts *prometheus.CounterVec
	// steps caches each step name's children (*stepMetrics) so that an
	// event costs one map load instead of a label lookup per collector.
	// It holds no more entries than the vectors hold series.
	steps sync.Map
}

// Results of attempts and of steps, in the order of the cached children.
var (
	attemptResults = [...]string{"succeeded", "failed", "timeout", "canceled"}
	stepResults    = [...]string{string(Succeeded), string(Failed), string(Canceled)}
)

// stepMetrics holds one step name's metric children, each resolved on
// first use so that no series is exported before it is observed.
type stepMetrics struct {
	m        *metrics
	name     string
	attempts [len(attemptResults)]atomic.Pointer[prometheus.Counter]
	duration [len(stepResults)]atomic.Pointer[prometheus.Observer]
}

// forStep returns the children cache of the step called name, or nil when
// m is nil.
func (m *metrics) forStep(name string) *stepMetrics {
	if m == nil {
		return nil
	}
	if sm, ok := m.steps.Load(name); ok {
		return sm.(*stepMetrics)
	}
	sm, _ := m.steps.LoadOrStore(name, &stepMetrics{m: m, name: name})
	return sm.(*stepMetrics)
}

// graphMetrics is the children cache of one graph's nodes under one set of
// collectors: steps[i] belongs to node i.
type graphMetrics struct {
	attempts *prometheus.CounterVec
	steps    []*stepMetrics
}

// forGraph returns the children caches of g's nodes, indexed like g.nodes,
// or nil when m is nil. The slice is kept on g, so a graph run many times
// by engines sharing collectors resolves each step name once.
func (m *metrics) forGraph(g *Graph) []*stepMetrics {
	if m == nil {
		return nil
	}
	if gm := g.metrics.Load(); gm != nil && gm.attempts == m.attempts {
		return gm.steps
	}
	steps := make([]*stepMetrics, len(g.nodes))
	for i, n := range g.nodes {
		steps[i] = m.forStep(n.name)
	}
	g.metrics.Store(&graphMetrics{attempts: m.attempts, steps: steps})
	return steps
}

// attempt counts one attempt with the given result (one of attemptResults).
func (sm *stepMetrics) attempt(result string) {
	if sm == nil {
		return
	}
	for i, r := range attemptResults {
		if r == result {
			c := sm.attempts[i].Load()
			if c == nil {
				v := sm.m.attempts.WithLabelValues(sm.name, result)
				c = &v
				sm.attempts[i].Store(c)
			}
			(*c).Inc()
			return
		}
	}
	sm.m.attempts.WithLabelValues(sm.name, result).Inc()
}

// step observes a finished step's duration under its final result.
func (sm *stepMetrics) step(result string, d time.Duration) {
	if sm == nil {
		return
	}
	for i, r := range stepResults {
		if r == result {
			o := sm.duration[i].Load()
			if o == nil {
				v := sm.m.duration.WithLabelValues(sm.name, result)
				o = &v
				sm.duration[i].Store(o)
			}
			(*o).Observe(d.Seconds())
			return
		}
	}
	sm.m.duration.WithLabelValues(sm.name, result).Observe(d.Seconds())
}

// stageBuckets span quick checks to long builds, in seconds.
var stageBuckets = []float64{0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flightdeck_stage_duration_seconds",
			Help:    "Duration of pipeline steps from first attempt to end, retries included, by step and final result (succeeded, failed, canceled).",
			Buckets: stageBuckets,
		}, []string{"stage", "result"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_stage_attempts_total",
			Help: "Attempts of pipeline steps, by step and attempt result (succeeded, failed, timeout, canceled).",
		}, []string{"stage", "result"}),
	}
	var err error
	m.duration, err = register(reg, m.duration)
	if err != nil {
		return nil, err
	}
	m.attempts, err = register(reg, m.attempts)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// the same description.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		var zero C
		return zero, fmt.Errorf("pipeline: register metrics: %w", err)
	}
	return c, nil
}
