package gitops

import "github.com/prometheus/client_golang/prometheus"

// Values of the result label of the apply metrics.
const (
	resultCommitted = "committed"
	resultUnchanged = "unchanged"
	resultDryRun    = "dry_run"
	resultError     = "error"
)

type metrics struct {
	applies   *prometheus.CounterVec
	conflicts prometheus.Counter
	duration  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		applies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_gitops_apply_total",
			Help: "Changes applied to a GitOps repository, by result.",
		}, []string{"result"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "flightdeck_gitops_push_conflicts_total",
			Help: "Pushes rejected because the remote branch moved; each is replayed on the new head.",
		}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flightdeck_gitops_apply_duration_seconds",
			Help:    "Time to apply a change: fetch, edit, render, commit and push, retries included.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"result"}),
	}
	for _, r := range []string{resultCommitted, resultUnchanged, resultDryRun, resultError} {
		m.applies.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.applies, m.conflicts, m.duration)
	}
	return m
}
