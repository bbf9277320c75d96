package rollback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// EventKind says what an [Event] reports.
type EventKind string

// Event kinds, in the order a rollback emits them.
const (
	// EventVerdict: a verification or a comparison reached its verdict.
	EventVerdict EventKind = "verdict"
	// EventTrigger: a rollback was asked for, by a trigger or a person.
	EventTrigger EventKind = "trigger"
	// EventDecision: what the request came to ([Decision]).
	EventDecision EventKind = "decision"
	// EventResult: the environment recovered, or did not (Err).
	EventResult EventKind = "result"
	// EventHold: a hold was placed or lifted, or a quarantine cleared.
	EventHold EventKind = "hold"
)

// Event is one thing a [Controller] did or decided, for an [Observer].
type Event struct {
	Kind EventKind
	// Time is the Controller's clock's.
	Time time.Time
	// Target is the app and environment.
	Target gitops.Target
	// Trigger and Decision, where they apply.
	Trigger  Trigger
	Decision Decision
	// Verdict is a verification's verdict, or "degraded"/"not degraded"
	// for a comparison.
	Verdict string
	// Release is the release concerned: the deploy's a verdict judged, or
	// the release a rollback rolled back from (zero where none is known).
	Release flightdeck.Release
	// Outcome is the rollback's outcome so far, for decision and result
	// events; nil for the others.
	Outcome *Outcome
	// Commit is the commit made or found, if any.
	Commit string
	// Message says more, in words.
	Message string
	// Err is the error, if the step failed.
	Err error
}

// String returns a one-line description: "<kind> <app> in <env>: ...".
func (e Event) String() string {
	s := fmt.Sprintf("%s %s", e.Kind, e.Target)
	for _, part := range []string{string(e.Trigger), e.Verdict, string(e.Decision), e.Message} {
		if part != "" {
			s += ": " + part
		}
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Observer receives every event of a [Controller], synchronously, in
// order; it must be quick and safe for concurrent use.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f(ctx, e).
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

var _ Observer = ObserverFunc(nil)

func (c *Controller) emit(ctx context.Context, e Event) {
	e.Time = c.now()
	if e.Err != nil {
		c.o.logger.WarnContext(ctx, e.String())
	} else {
		c.o.logger.InfoContext(ctx, e.String())
	}
	if c.o.observer != nil {
		c.o.observer.Observe(ctx, e)
	}
}

type metrics struct {
	triggers      *prometheus.CounterVec
	decisions     *prometheus.CounterVec
	verifications *prometheus.CounterVec
	duration      *prometheus.HistogramVec
}

// durationBuckets span a rollback commit (tens of milliseconds) to a
// slow recovery (minutes).
var durationBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		triggers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_rollback_triggers_total",
			Help: "Rollbacks asked for, by trigger (verification, degradation, manual).",
		}, []string{"trigger"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_rollback_decisions_total",
			Help: "What rollback requests came to, by trigger and decision.",
		}, []string{"trigger", "decision"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "flightdeck_rollback_verifications_total",
			Help: "Post-deploy verifications recorded, by verdict.",
		}, []string{"verdict"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flightdeck_rollback_duration_seconds",
			Help:    "Time from a rollback request to its commit pushed (stage commit) and to the environment Synced and Healthy (stage recovered).",
			Buckets: durationBuckets,
		}, []string{"trigger", "stage"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.triggers, m.decisions, m.verifications, m.duration} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("rollback: registering metrics: %w", err)
	}
	return m, nil
}
