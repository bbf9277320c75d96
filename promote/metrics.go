package promote

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	plans      *prometheus.CounterVec
	promotions *prometheus.CounterVec
	blocked    *prometheus.CounterVec
	approvals  *prometheus.CounterVec
	duration   *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		plans: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "flightdeck", Subsystem: "promote",
			Name: "plans_total", Help: "Promotion plans computed, by target environment."}, []string{"environment"}),
		promotions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "flightdeck", Subsystem: "promote",
			Name: "promotions_total", Help: "Promotions attempted, by target environment and result (promoted, unchanged, blocked, drifted, error)."},
			[]string{"environment", "result"}),
		blocked: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "flightdeck", Subsystem: "promote",
			Name: "blocked_total", Help: "Promotions refused, by target environment and blocking policy."}, []string{"environment", "policy"}),
		approvals: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "flightdeck", Subsystem: "promote",
			Name: "approvals_total", Help: "Approvals stored, by target environment and decision."}, []string{"environment", "decision"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "flightdeck", Subsystem: "promote",
			Name: "duration_seconds", Help: "Time to promote one app, push included, by target environment.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12)}, []string{"environment"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.plans, m.promotions, m.blocked, m.approvals, m.duration} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
