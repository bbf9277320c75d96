package rollback_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/rollback/rollbacktest"
)

func shopRelease(n int) flightdeck.Release {
	return flightdeck.Release{App: "shop", Image: gitopstest.Image("shop"), Digest: fmt.Sprintf("sha256:%064x", n), Tag: fmt.Sprintf("1.%d.0", n)}
}

// Example verifies two deploys on an in-memory repository: the first
// passes and becomes the last-known-good, the second fails and is rolled
// back to it, which holds the environment until the hold is lifted.
func Example() {
	ctx := context.Background()
	clk := clocktest.NewAuto(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	repo, _ := gitopstest.NewFake(gitopstest.KustomizeLayout("shop"), gitopstest.WithClock(clk))
	ctl, _ := rollback.New(repo, rollback.WithClock(clk))
	prod := gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "prod"}}
	errorRate := func(values ...float64) health.Analysis {
		return health.Analysis{Metrics: []health.Metric{{Name: "error-rate", Evaluator: healthtest.Values(values...),
			Interval: time.Minute, Count: len(values), FailureCondition: health.Above(0.01)}}}
	}

	good, _ := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(1)})
	v, _ := ctl.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: errorRate(0.001, 0.002)})
	fmt.Println("1.1.0:", v.Verdict)

	gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(2)})
	v, _ = ctl.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: errorRate(0.002, 0.09)})
	fmt.Println("1.2.0:", v.Verdict, "→", v.Rollback.Decision, "to the last-known-good:", v.Rollback.Restored.Commit == good.Commit)
	cur, _ := gitops.CurrentRelease(ctx, repo, prod, "")
	fmt.Println("prod runs", cur.Release.Tag)

	_, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(3)})
	fmt.Println("deploy 1.3.0 held:", errors.Is(err, gitops.ErrHeld))
	ctl.Lift(ctx, rollback.HoldRequest{Target: prod, By: "jo", Reason: "fixed"})
	_, err = gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(3)})
	fmt.Println("after the lift:", err)
	// Output:
	// 1.1.0: verified
	// 1.2.0: failed → rolled_back to the last-known-good: true
	// prod runs 1.1.0
	// deploy 1.3.0 held: true
	// after the lift: <nil>
}

// ExampleController_CheckDegradation compares the p95 latency of a new
// release with the previous one's over matching ten-minute windows.
func ExampleController_CheckDegradation() {
	ctx := context.Background()
	t0 := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	clk := clocktest.NewAuto(t0)
	repo, _ := gitopstest.NewFake(gitopstest.KustomizeLayout("shop"), gitopstest.WithClock(clk))
	ctl, _ := rollback.New(repo, rollback.WithClock(clk))
	prod := gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "prod"}}
	gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(1)})
	ctl.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: health.Analysis{Metrics: []health.Metric{{Name: "up", Evaluator: healthtest.Values(1)}}}})
	gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(2)})

	// p95 latency per minute: 200ms or so before the deploy, 300ms after.
	since := t0.Add(30 * time.Minute)
	var p95 rollbacktest.Series
	for i := range 10 {
		jitter := float64(i%3) * 0.004
		p95.Add(since.Add(time.Duration(i-9)*time.Minute), 0.200+jitter)
		p95.Add(since.Add(time.Duration(i+1)*time.Minute), 0.300+jitter)
	}
	cmp, _ := ctl.CheckDegradation(ctx, rollback.DegradationRequest{Target: prod, Since: since,
		Signals: []rollback.Signal{{Name: "latency-p95", Source: &p95, AllowedIncrease: 1.2}}})
	v := cmp.Judgement.Metrics[0]
	fmt.Printf("%s %s, ratio %.2f\n", v.Name, v.Classification, v.Ratio)
	fmt.Println("degraded:", cmp.Degraded, "→", cmp.Rollback.Decision)
	// Output:
	// latency-p95 High, ratio 1.49
	// degraded: true → rolled_back
}

// ExampleController_Rollback rolls an environment back by hand to a
// deploy named by its commit, with a reason.
func ExampleController_Rollback() {
	ctx := context.Background()
	clk := clocktest.NewAuto(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	repo, _ := gitopstest.NewFake(gitopstest.KustomizeLayout("shop"), gitopstest.WithClock(clk))
	ctl, _ := rollback.New(repo, rollback.WithClock(clk))
	prod := gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "prod"}}
	first, _ := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(1)})
	gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(2)})
	gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(3)})

	out, err := ctl.Rollback(ctx, rollback.Request{Target: prod, To: first.Commit.String()[:12], By: "jo", Reason: "1.3.0 and 1.2.0 lose carts"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out.Decision, "from", out.From.Tag, "to", out.Release.Tag)
	fmt.Println(out.Hold)
	// Output:
	// rolled_back from 1.3.0 to 1.1.0
	// shop in prod is on hold since 2026-06-01T09:00:00Z by jo: 1.3.0 and 1.2.0 lose carts (rolled back from registry.example.com/team/shop@sha256:0000000000000000000000000000000000000000000000000000000000000003)
}

// NotifyObserver tells stakeholders what the Controller found and did;
// here a recorder stands in for a notify.Fanout of webhooks and Slack.
func ExampleNotifyObserver() {
	ctx := context.Background()
	clk := clocktest.NewAuto(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	repo, _ := gitopstest.NewFake(gitopstest.KustomizeLayout("shop"), gitopstest.WithClock(clk))
	var heard notifytest.Recorder
	ctl, _ := rollback.New(repo, rollback.WithClock(clk), rollback.WithActor("rollback-bot"),
		rollback.WithObserver(rollback.NotifyObserver(&heard, notify.Source{})))
	prod := gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "prod"}}
	errorRate := func(values ...float64) health.Analysis {
		return health.Analysis{Metrics: []health.Metric{{Name: "error-rate", Evaluator: healthtest.Values(values...),
			Interval: time.Minute, Count: len(values), FailureCondition: health.Above(0.01)}}}
	}
	gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(1)})
	ctl.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: errorRate(0.001, 0.002)})
	gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(2)})
	ctl.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: errorRate(0.002, 0.09)})

	for _, e := range heard.Events() {
		fmt.Println(e.Kind, e.Release.Tag, e.Actor)
	}
	// Output:
	// on-deployed 1.1.0 rollback
	// on-health-degraded 1.2.0 rollback
	// on-rolled-back 1.2.0 rollback-bot
}
