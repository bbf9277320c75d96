package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
)

func ExampleKinds() {
	for _, k := range notify.Kinds() {
		fmt.Printf("%-26s %-19s %s\n", k, k.Title(), k.Severity())
	}
	// Output:
	// on-committed               Committed           info
	// on-sync-succeeded          Sync succeeded      info
	// on-sync-failed             Sync failed         critical
	// on-deployed                Deployed            info
	// on-health-degraded         Degraded            critical
	// on-rollout-step-completed  Step completed      info
	// on-rollout-aborted         Rollout aborted     warning
	// on-rolled-back             Rolled back         warning
	// on-approval-requested      Approval requested  info
	// on-approval-granted        Approval granted    info
	// on-blocked-by-policy       Blocked by policy   warning
	// on-promoted                Promoted            info
}

// A signed webhook delivery that the receiver first refuses with a 503:
// the retry carries the same idempotency key and a fresh signature.
func ExampleWebhook() {
	secret := []byte("32 bytes of shared secret, rand!")
	clk := clocktest.NewAuto(time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC))
	rcv := notifytest.NewReceiver(secret, notifytest.WithClock(clk))
	defer rcv.Close()
	rcv.FailNext(1, http.StatusServiceUnavailable)

	wh, err := notify.NewWebhook(rcv.URL+"/flightdeck", secret,
		notify.WithClock(clk), notify.WithRetry(notify.Retry{Jitter: -1}))
	if err != nil {
		fmt.Println(err)
		return
	}
	err = wh.Notify(context.Background(), notify.Event{
		Kind: notify.Deployed, App: "checkout", Environment: "prod", Actor: "pipeline",
		Summary: "checkout v1.4.2 is Synced and Healthy in prod",
	})
	fmt.Println("notify:", err)
	for _, d := range rcv.Deliveries() {
		fmt.Println(d.Status, d.Event.Kind, d.Event.App, "signature ok:", d.VerifyErr == nil, "same key:", d.Key == d.Event.Key())
	}
	fmt.Println("waited", clk.Waits())
	// Output:
	// notify: <nil>
	// 503 on-deployed checkout signature ok: true same key: true
	// 200 on-deployed checkout signature ok: true same key: true
	// waited [1s]
}

// A receiver checks the signature header before it trusts a body.
func ExampleVerify() {
	secret := []byte("32 bytes of shared secret, rand!")
	sent := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	body := []byte(`{"kind":"on-deployed","app":"checkout"}`)
	header := notify.Sign(secret, sent, body)
	fmt.Println(header[:len("t=1772447400,v1=")] + "…")

	now := sent.Add(30 * time.Second)
	fmt.Println(notify.Verify(secret, header, body, 5*time.Minute, now))
	fmt.Println(notify.Verify(secret, header, []byte(`{"kind":"on-deployed","app":"payments"}`), 5*time.Minute, now))
	fmt.Println(notify.Verify(secret, header, body, 5*time.Minute, sent.Add(time.Hour)))
	// Output:
	// t=1772447400,v1=…
	// <nil>
	// notify: verify signature: signature does not match
	// notify: verify signature: signature timestamp outside tolerance: signed at 2026-03-02T10:30:00Z, 1h0m0s from now, tolerance 5m0s
}

// A deployment hands its events to a fan-out and moves on; each target
// gets what its filter selects.
func ExampleFanout() {
	audit, pager := &notifytest.Recorder{}, &notifytest.Recorder{}
	f, err := notify.NewFanout([]notify.Target{
		{Name: "audit", Notifier: audit},
		{Name: "pager", Notifier: pager, Filter: notify.Filter{Environments: []string{flightdeck.Prod}, MinSeverity: notify.Warning}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	_ = f.Notify(ctx, notify.Event{Kind: notify.StepCompleted, App: "checkout", Environment: "prod", Summary: "canary at 25%"})
	_ = f.Notify(ctx, notify.Event{Kind: notify.Aborted, App: "checkout", Environment: "prod", Summary: "canary aborted: error rate 4.1% > 1%"})
	_ = f.Notify(ctx, notify.Event{Kind: notify.RolledBack, App: "checkout", Environment: "staging", Summary: "staging restored"})
	if err := f.Close(ctx); err != nil {
		fmt.Println(err)
	}
	for _, e := range pager.Events() {
		fmt.Println("pager:", e.Kind, e.Summary)
	}
	for _, s := range f.Stats() {
		fmt.Printf("%s: delivered %d, failed %d, dropped %d\n", s.Name, s.Delivered, s.Failed, s.Dropped)
	}
	// Output:
	// pager: on-rollout-aborted canary aborted: error rate 4.1% > 1%
	// audit: delivered 3, failed 0, dropped 0
	// pager: delivered 1, failed 0, dropped 0
}

func ExampleSlackPayload() {
	b, err := notify.SlackPayload(notify.Event{
		Kind: notify.RolledBack, App: "checkout", Environment: "prod", Actor: "rollback",
		Summary: "prod restored to v1.4.1 and held: error rate above baseline",
		Links:   []notify.Link{{Title: "Argo CD", URL: "https://argocd.example.com/applications/checkout-prod"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var m struct {
		Text   string
		Blocks []struct{ Type string }
	}
	_ = json.Unmarshal(b, &m)
	fmt.Println(m.Text)
	for _, bl := range m.Blocks {
		fmt.Print(bl.Type, " ")
	}
	fmt.Println()
	// Output:
	// :rewind: Rolled back: checkout in prod — prod restored to v1.4.1 and held: error rate above baseline
	// header section section section context
}
