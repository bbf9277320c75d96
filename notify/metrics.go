package notify

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Values of the "result" label of flightdeck_notifications_total.
const (
	resultDelivered = "delivered"
	resultFailed    = "failed"
	resultDropped   = "dropped"
)

type metrics struct{ total *prometheus.CounterVec }

// newMetrics registers the fan-out counter on reg (nil: no metrics) and
// starts every target's series at zero.
func newMetrics(reg prometheus.Registerer, targets []string) (*metrics, error) {
	if reg == nil {
		return &metrics{}, nil
	}
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "flightdeck_notifications_total",
		Help: "Notifications handled by a fan-out, by target and result (delivered, failed, dropped).",
	}, []string{"target", "result"})
	if err := reg.Register(total); err != nil {
		var are prometheus.AlreadyRegisteredError
		existing, ok := (*prometheus.CounterVec)(nil), false
		if errors.As(err, &are) {
			existing, ok = are.ExistingCollector.(*prometheus.CounterVec)
		}
		if !ok {
			return nil, fmt.Errorf("notify: register metrics: %w", err)
		}
		total = existing
	}
	for _, t := range targets {
		for _, r := range []string{resultDelivered, resultFailed, resultDropped} {
			total.WithLabelValues(t, r)
		}
	}
	return &metrics{total: total}, nil
}

func (m *metrics) inc(target, result string) {
	if m.total != nil {
		m.total.WithLabelValues(target, result).Inc()
	}
}
