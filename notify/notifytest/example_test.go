package notifytest_test

import (
	"context"
	"fmt"

	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
)

// A recorder that fails once, as a flaky chat server would.
func ExampleRecorder() {
	var rec notifytest.Recorder
	rec.FailNext(1, nil)
	ctx := context.Background()
	e := notify.Event{Kind: notify.Promoted, App: "checkout", Environment: "prod"}
	fmt.Println(rec.Notify(ctx, e))
	fmt.Println(rec.Notify(ctx, e))
	fmt.Println(rec.Calls(), len(rec.Events()))
	// Output:
	// notifytest: injected failure
	// <nil>
	// 2 1
}

// A receiver takes a webhook delivery and checks its signature.
func ExampleReceiver() {
	secret := []byte("32 bytes of shared secret, rand!")
	rcv := notifytest.NewReceiver(secret)
	defer rcv.Close()
	wh, err := notify.NewWebhook(rcv.URL, secret)
	if err != nil {
		fmt.Println(err)
		return
	}
	err = wh.Notify(context.Background(), notify.Event{Kind: notify.ApprovalRequested, App: "checkout", Environment: "prod",
		Summary: "promotion of checkout v1.4.2 to prod needs 2 approvals"})
	fmt.Println(err)
	for _, d := range rcv.Accepted() {
		fmt.Println(d.Event.Kind, d.Event.Summary, d.VerifyErr)
	}
	// Output:
	// <nil>
	// on-approval-requested promotion of checkout v1.4.2 to prod needs 2 approvals <nil>
}
