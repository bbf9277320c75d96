package strategy

import (
	"context"
	"fmt"
	"strconv"

	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/notify"
)

// NotifyObserver returns an [Observer] that tells stakeholders about a
// run through n:
//
//   - a step that finished: its commit synced and healthy (not after an
//     abort), or its analysis Successful, as [notify.StepCompleted] (Argo Rollouts'
//     on-rollout-step-completed), with the step, weight and commit in
//     Details;
//   - an abort as [notify.Aborted] (on-rollout-aborted), the reason in
//     the summary;
//   - the new release become the stable one as [notify.Deployed]
//     (on-deployed): synced and healthy at full weight.
//
// Other events (prepared, started, paused, conflicts) are not reported.
// Each event's ID is the run's commit and step, so the same step reported
// by two processes has one idempotency key. The observer runs on the
// runner's goroutine and waits for n.Notify: give it a [notify.Fanout],
// whose Notify only queues, so that a slow receiver never slows the
// rollout; a failing notifier is logged through src.Logger and the run
// goes on.
func NotifyObserver(n notify.Notifier, src notify.Source) Observer {
	return ObserverFunc(func(e Event) {
		ne, ok := notifyEvent(e)
		if ok {
			src.Send(context.Background(), n, "strategy", ne)
		}
	})
}

func notifyEvent(e Event) (notify.Event, bool) {
	ne := notify.Event{
		App: e.App, Environment: e.Environment, Release: e.Release, Time: e.Time,
		Details: map[string]string{"strategy": string(e.Strategy), "weight": strconv.Itoa(int(e.Desired.Weight))},
	}
	if e.Commit != "" {
		ne.Details["commit"] = e.Commit
	}
	if e.Stable.Digest != "" {
		ne.Details["stable"] = e.Stable.Ref()
	}
	step := ""
	if e.Step < e.Steps {
		step = fmt.Sprintf("%d/%d", e.Step+1, e.Steps)
		ne.Details["step"] = step + " " + e.StepText
	}
	what := fmt.Sprintf("%s %s %s in %s", e.App, notify.Version(e.Release), e.Strategy, e.Environment)
	switch e.Kind {
	case EventSynced:
		if e.Phase == PhaseAborted {
			// The stable release back in place, not a step done.
			return notify.Event{}, false
		}
		ne.Kind = notify.StepCompleted
		ne.Summary = fmt.Sprintf("%s: step %s %s done, weight %d%%", what, step, e.StepText, e.Desired.Weight)
	case EventAnalysis:
		if e.Analysis == nil || e.Analysis.Phase != health.Successful {
			return notify.Event{}, false
		}
		ne.Kind = notify.StepCompleted
		ne.Summary = fmt.Sprintf("%s: step %s %s passed", what, step, e.StepText)
		if e.Analysis.Message != "" {
			ne.Summary += " (" + e.Analysis.Message + ")"
		}
	case EventAborted:
		ne.Kind = notify.Aborted
		ne.Summary = fmt.Sprintf("%s aborted at step %s: %s; all traffic back on the stable release", what, step, e.Message)
	case EventCompleted:
		ne.Kind = notify.Deployed
		ne.Summary = fmt.Sprintf("%s completed: the new release is the stable one", what)
		step = "completed"
	default:
		return notify.Event{}, false
	}
	ne.ID = fmt.Sprintf("strategy/%s/%s/%s/%s", e.App, e.Environment, e.Commit, step)
	return ne, true
}
