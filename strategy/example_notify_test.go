package strategy_test

import (
	"fmt"
	"time"

	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

// NotifyObserver turns a run's events into stakeholder notifications;
// give it to the Runner with strategy.WithObserver. Here the events of a
// canary aborted at its analysis are fed to it by hand, and a recorder
// stands in for a notify.Fanout of webhooks and Slack.
func ExampleNotifyObserver() {
	var heard notifytest.Recorder
	obs := strategy.NotifyObserver(&heard, notify.Source{})

	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	ev := func(kind strategy.EventKind, step int, text string) strategy.Event {
		return strategy.Event{Kind: kind, Time: at, App: "shop", Environment: "staging", Strategy: strategy.KindCanary,
			Release: strategytest.Release("shop", 2), Stable: strategytest.Release("shop", 1),
			Step: step, Steps: 3, StepText: text, Commit: fmt.Sprintf("c%d", step), Desired: strategy.Desired{Weight: 20}}
	}
	synced := ev(strategy.EventSynced, 0, "setWeight 20%")
	failed := ev(strategy.EventAnalysis, 1, "analysis errors")
	failed.Analysis = &health.RunResult{Phase: health.Failed}
	aborted := ev(strategy.EventAborted, 1, "analysis errors")
	aborted.Message = "analysis errors Failed"
	for _, e := range []strategy.Event{synced, failed, aborted} {
		obs.Observe(e)
	}

	for _, e := range heard.Events() {
		fmt.Println(e.Kind, "|", e.Summary)
	}
	// Output:
	// on-rollout-step-completed | shop 2.0.0 canary in staging: step 1/3 setWeight 20% done, weight 20%
	// on-rollout-aborted | shop 2.0.0 canary in staging aborted at step 2/3: analysis errors Failed; all traffic back on the stable release
}
