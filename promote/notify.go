package promote

import (
	"context"
	"fmt"
	"strings"

	"github.com/flightdeck-dev/flightdeck/notify"
)

// NotifyObserver returns an observer for [WithObserver] that tells
// stakeholders about promotions through n:
//
//   - a promotion blocked by approvals still missing as
//     [notify.ApprovalRequested] ("approvals: 1 of 2 ..." in the
//     summary), and blocked by any other policy (a hold, a window, a soak,
//     a scan) as [notify.BlockedByPolicy], naming each policy and why;
//     a promotion blocked by both is reported as both;
//   - an approval recorded as [notify.ApprovalGranted], the approver as
//     the actor;
//   - a promotion pushed (by hand, or a commit to main reaching the first
//     environment) as [notify.Promoted], with the plan's source commits
//     as release notes.
//
// Plans are not reported. Each event's ID is the plan hash (or the
// promotion's commit) with what it says, so the same refusal or approval
// reported twice has one idempotency key. The observer runs inside the
// Promoter's calls and waits for n.Notify: give it a [notify.Fanout],
// whose Notify only queues; a failing notifier is logged through
// src.Logger and the promotion goes on.
func NotifyObserver(n notify.Notifier, src notify.Source) func(Event) {
	return func(e Event) {
		for _, ne := range notifyEvents(e) {
			src.Send(context.Background(), n, "promote", ne)
		}
	}
}

func notifyEvents(e Event) []notify.Event {
	base := notify.Event{App: e.App, Environment: e.To, Release: e.Release, Time: e.Time, Actor: e.Actor,
		Details: map[string]string{}}
	if e.From != "" {
		base.Details["from"] = e.From
	}
	if e.PlanHash != "" {
		base.Details["plan"] = e.PlanHash
	}
	if e.Commit != "" {
		base.Details["commit"] = e.Commit
	}
	what := fmt.Sprintf("%s %s", e.App, notify.Version(e.Release))
	id := func(parts ...string) string {
		return strings.Join(append([]string{"promote", e.App, e.To}, parts...), "/")
	}
	switch e.Kind {
	case EventBlocked:
		var approvals, others []string
		for _, v := range e.Verdicts {
			switch {
			case v.Allowed:
			case v.Policy == Approvals{}.Name():
				approvals = append(approvals, v.Reason)
			default:
				others = append(others, v.Policy+": "+v.Reason)
			}
		}
		var out []notify.Event
		if len(approvals) > 0 {
			ne := base
			ne.Kind = notify.ApprovalRequested
			ne.Summary = fmt.Sprintf("%s to %s waits for approvals: %s", what, e.To, strings.Join(approvals, "; "))
			ne.ID = id(e.PlanHash, strings.Join(approvals, "; "))
			out = append(out, ne)
		}
		if len(others) > 0 {
			ne := base
			ne.Kind = notify.BlockedByPolicy
			ne.Summary = fmt.Sprintf("%s to %s blocked by %s", what, e.To, strings.Join(others, "; "))
			ne.ID = id(e.PlanHash, strings.Join(others, "; "))
			out = append(out, ne)
		}
		return out
	case EventApproved:
		ne := base
		ne.Kind, ne.Actor = notify.ApprovalGranted, e.Approver
		ne.Summary = fmt.Sprintf("%s approved %s to %s", e.Approver, what, e.To)
		ne.ID = id(e.PlanHash, e.Approver)
		return []notify.Event{ne}
	case EventPromoted:
		ne := base
		ne.Kind = notify.Promoted
		if e.From != "" {
			ne.Summary = fmt.Sprintf("%s promoted from %s to %s", what, e.From, e.To)
		} else {
			ne.Summary = fmt.Sprintf("%s delivered to %s", what, e.To)
		}
		ne.ReleaseNotes = releaseNotes(e.Commits)
		ne.ID = id(e.Commit)
		return []notify.Event{ne}
	}
	return nil
}

// releaseNotes lists source commits one a line: "abcdef1 subject (author)".
func releaseNotes(cs []SourceCommit) string {
	var b strings.Builder
	for _, c := range cs {
		h := c.Hash
		if len(h) > 7 {
			h = h[:7]
		}
		fmt.Fprintf(&b, "%s %s (%s)\n", h, c.Subject, c.Author)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
