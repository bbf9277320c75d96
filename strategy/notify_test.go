package strategy_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

func TestNotifyObserver(t *testing.T) {
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	rel, stable := strategytest.Release("shop", 2), strategytest.Release("shop", 1)
	base := strategy.Event{Time: at, App: "shop", Environment: "staging", Strategy: strategy.KindCanary,
		Release: rel, Stable: stable, Steps: 4, Desired: strategy.Desired{Weight: 10}}
	ev := func(kind strategy.EventKind, step int, text, commit string, fn func(*strategy.Event)) strategy.Event {
		e := base
		e.Kind, e.Step, e.StepText, e.Commit = kind, step, text, commit
		if fn != nil {
			fn(&e)
		}
		return e
	}
	events := []strategy.Event{
		ev(strategy.EventStarted, 0, "setWeight 10%", "", nil),
		ev(strategy.EventStep, 0, "setWeight 10%", "c1", nil),
		ev(strategy.EventSynced, 0, "setWeight 10%", "c1", nil),
		ev(strategy.EventAnalysis, 1, "analysis errors", "c2", func(e *strategy.Event) {
			e.Analysis = &health.RunResult{Phase: health.Successful, Message: "all 1 metrics successful"}
		}),
		ev(strategy.EventAnalysis, 3, "analysis errors", "c4", func(e *strategy.Event) {
			e.Analysis = &health.RunResult{Phase: health.Failed}
		}),
		ev(strategy.EventAborted, 3, "analysis errors", "c5", func(e *strategy.Event) { e.Message = "analysis errors Failed" }),
		ev(strategy.EventSynced, 3, "analysis errors", "c5", func(e *strategy.Event) { e.Phase = strategy.PhaseAborted }),
		ev(strategy.EventCompleted, 4, "", "c6", func(e *strategy.Event) { e.Desired.Weight = 100 }),
	}
	var rec notifytest.Recorder
	obs := strategy.NotifyObserver(&rec, notify.Source{Links: []notify.Link{{Title: "Argo CD", URL: "https://argocd.example.com/applications/shop-staging"}}})
	for _, e := range events {
		obs.Observe(e)
	}
	got := rec.Events()
	require.Len(t, got, 4, "started, step commits, failed analyses and syncs after the abort are not reported")
	kinds := []notify.Kind{notify.StepCompleted, notify.StepCompleted, notify.Aborted, notify.Deployed}
	for i, e := range got {
		assert.Equal(t, kinds[i], e.Kind, "event %d", i)
		assert.Equal(t, "shop", e.App)
		assert.Equal(t, "staging", e.Environment)
		assert.Equal(t, rel.Digest, e.Release.Digest)
		assert.Equal(t, "strategy", e.Actor)
		assert.Equal(t, at, e.Time)
		assert.Equal(t, "Argo CD", e.Links[0].Title)
		assert.NoError(t, e.Validate())
	}
	assert.Equal(t, "1/4 setWeight 10%", got[0].Details["step"])
	assert.Equal(t, "c1", got[0].Details["commit"])
	assert.Equal(t, stable.Ref(), got[0].Details["stable"])
	assert.Contains(t, got[1].Summary, "step 2/4 analysis errors passed (all 1 metrics successful)")
	assert.Contains(t, got[2].Summary, "shop 2.0.0 canary in staging aborted at step 4/4: analysis errors Failed")
	assert.Equal(t, "100", got[3].Details["weight"])

	// The same event observed again, by this or another process, has the
	// same idempotency key; another step has another.
	obs.Observe(events[2])
	again := rec.Events()
	require.Len(t, again, 5)
	assert.Equal(t, got[0].Key(), again[4].Key())
	assert.NotEqual(t, got[0].Key(), got[1].Key())
}

// A notifier that fails or panics never stops the rollout's observer.
func TestNotifyObserverSurvivesNotifier(t *testing.T) {
	e := strategy.Event{Kind: strategy.EventAborted, App: "shop", Environment: "prod", Release: strategytest.Release("shop", 3), Steps: 2}
	var rec notifytest.Recorder
	rec.FailNext(1, nil)
	strategy.NotifyObserver(&rec, notify.Source{}).Observe(e)
	assert.Equal(t, 1, rec.Calls())
	assert.Empty(t, rec.Events())
	panics := notify.NotifierFunc(func(context.Context, notify.Event) error { panic("receiver bug") })
	assert.NotPanics(t, func() { strategy.NotifyObserver(panics, notify.Source{}).Observe(e) })
}
