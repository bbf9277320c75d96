package rollback

import (
	"context"
	"fmt"

	"github.com/flightdeck-dev/flightdeck/notify"
)

// NotifyObserver returns an [Observer] that tells stakeholders what a
// Controller found and did, through n:
//
//   - a verification that passed as [notify.Deployed] (on-deployed: the
//     deploy is Synced, Healthy and its analysis Successful);
//   - a verification that failed, or a comparison that found the new
//     release degraded, as [notify.Degraded] (on-health-degraded), the
//     evidence's summary in the event's;
//   - a rollback pushed and recovered as [notify.RolledBack]
//     (on-rolled-back): the release rolled back from, the release and
//     commit restored, the rollback commit, the hold placed and the
//     digest quarantined in Details;
//   - a rollback pushed whose sync then failed as [notify.SyncFailed]
//     (on-sync-failed).
//
// Triggers, decisions, inconclusive verdicts and hand-made holds are not
// reported. Each event's ID is the commit it is about, so the same
// verdict or rollback reported twice has one idempotency key. The
// observer runs inside the Controller's calls and waits for n.Notify:
// give it a [notify.Fanout], whose Notify only queues, so that a slow
// receiver never delays a recovery; a failing notifier is logged through
// src.Logger and the rollback goes on.
func NotifyObserver(n notify.Notifier, src notify.Source) Observer {
	return ObserverFunc(func(ctx context.Context, e Event) {
		if ne, ok := notifyEvent(e); ok {
			src.Send(context.WithoutCancel(ctx), n, "rollback", ne)
		}
	})
}

func notifyEvent(e Event) (notify.Event, bool) {
	ne := notify.Event{
		App: e.Target.App, Environment: e.Target.Environment.Name, Release: e.Release, Time: e.Time,
		Details: map[string]string{"trigger": string(e.Trigger)},
	}
	if e.Commit != "" {
		ne.Details["commit"] = e.Commit
	}
	what := fmt.Sprintf("%s %s in %s", e.Target.App, notify.Version(e.Release), e.Target.Environment.Name)
	switch {
	case e.Kind == EventVerdict && e.Trigger == TriggerVerification && e.Verdict == Verified:
		ne.Kind = notify.Deployed
		ne.Summary = fmt.Sprintf("%s verified: %s", what, e.Message)
	case e.Kind == EventVerdict && (e.Verdict == Failed || e.Verdict == "degraded"):
		ne.Kind = notify.Degraded
		ne.Summary = fmt.Sprintf("%s %s: %s", what, e.Verdict, e.Message)
	case e.Kind == EventResult && e.Decision == RolledBack && e.Err == nil:
		ne.Kind = notify.RolledBack
		ne.Summary = fmt.Sprintf("%s rolled back: %s", what, e.Message)
		if o := e.Outcome; o != nil && o.Release.Digest != "" {
			ne.Summary = fmt.Sprintf("%s rolled back to %s: %s", what, notify.Version(o.Release), e.Message)
		}
		rolledBackDetails(ne.Details, e.Outcome)
	case e.Kind == EventResult && e.Decision == RolledBack:
		ne.Kind = notify.SyncFailed
		ne.Summary = fmt.Sprintf("%s rolled back in Git, but the environment did not recover: %v", what, e.Err)
		rolledBackDetails(ne.Details, e.Outcome)
	default:
		return notify.Event{}, false
	}
	if o := e.Outcome; o != nil && o.Hold != nil {
		ne.Actor = o.Hold.By
	}
	ne.ID = fmt.Sprintf("rollback/%s/%s/%s/%s", ne.App, ne.Environment, e.Kind, e.Commit)
	return ne, true
}

func rolledBackDetails(d map[string]string, o *Outcome) {
	if o == nil {
		return
	}
	if o.Release.Digest != "" {
		d["restored"] = o.Release.Ref()
	}
	if !o.Restored.Commit.IsZero() {
		d["restored commit"] = o.Restored.Commit.String()
	}
	if o.Hold != nil {
		d["hold"] = o.Hold.String()
	}
	if o.Quarantined != "" {
		d["quarantined"] = o.Quarantined
	}
	if o.Recovery != "" {
		d["recovery"] = o.Recovery
	}
}
