package promote_test

import (
	"fmt"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
	"github.com/flightdeck-dev/flightdeck/promote"
)

// NotifyObserver, given to promote.WithObserver, tells stakeholders
// that a promotion waits for approvals, who approved, and that it went
// out. Here the Promoter's events are fed to it by hand, and a recorder
// stands in for a notify.Fanout of webhooks and Slack.
func ExampleNotifyObserver() {
	var heard notifytest.Recorder
	obs := promote.NotifyObserver(&heard, notify.Source{})

	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	base := promote.Event{Time: at, App: "shop", From: "staging", To: "prod", PlanHash: "sha256:0c1d",
		Release: flightdeck.Release{App: "shop", Tag: "1.2.0", Digest: "sha256:" + fmt.Sprintf("%064d", 12)}}
	blocked, approved, promoted := base, base, base
	blocked.Kind, blocked.Actor = promote.EventBlocked, "ann"
	blocked.Verdicts = []promote.Verdict{{Policy: "approvals", Reason: "approvals 1 of 2 from group:sre (alice)"}}
	approved.Kind, approved.Approver = promote.EventApproved, "bob"
	promoted.Kind, promoted.Actor, promoted.Commit = promote.EventPromoted, "ann", "5e1f"
	for _, e := range []promote.Event{blocked, approved, promoted} {
		obs(e)
	}

	for _, e := range heard.Events() {
		fmt.Println(e.Kind, "|", e.Actor, "|", e.Summary)
	}
	// Output:
	// on-approval-requested | ann | shop 1.2.0 to prod waits for approvals: approvals 1 of 2 from group:sre (alice)
	// on-approval-granted | bob | bob approved shop 1.2.0 to prod
	// on-promoted | ann | shop 1.2.0 promoted from staging to prod
}
