package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the engine's Prometheus collectors. A nil *metrics records
// nothing.
type metrics struct {
	duration *prometheus.HistogramVec
	attempts *prometheus.CounterVec
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

func (m *metrics) attempt(stage, result string) {
	if m == nil {
		return
	}
	m.attempts.WithLabelValues(stage, result).Inc()
}

func (m *metrics) step(stage, result string, d time.Duration) {
	if m == nil {
		return
	}
	m.duration.WithLabelValues(stage, result).Observe(d.Seconds())
}
