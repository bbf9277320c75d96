package promote_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/promote"
)

// A release staging runs is planned for prod, explained while a freeze
// is on, and promoted when it is over, on the in-memory GitOps
// repository of package gitopstest.
func ExamplePromoter() {
	ctx := context.Background()
	clk := clocktest.NewAuto(time.Date(2026, 3, 6, 17, 0, 0, 0, time.UTC)) // a Friday
	repo, err := gitopstest.NewFake(gitopstest.KustomizeLayout("shop"), gitopstest.WithClock(clk))
	if err != nil {
		fmt.Println(err)
		return
	}
	rel := flightdeck.Release{App: "shop", Image: gitopstest.Image("shop"), Digest: fmt.Sprintf("sha256:%064x", 2), Tag: "1.2.0"}
	staging := gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "staging"}}
	if _, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: staging, Release: rel}); err != nil {
		fmt.Println(err)
		return
	}

	ladder := promote.DefaultLadder()
	ladder[2].Policies = append(ladder[2].Policies, promote.Windows{Deny: []promote.Window{{
		Name: "weekend freeze", Schedule: "0 16 * * FRI", Duration: 64 * time.Hour}}})
	p, err := promote.New(repo, ladder, promote.WithClock(clk))
	if err != nil {
		fmt.Println(err)
		return
	}
	pl, err := p.Plan(ctx, "shop", "prod")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("plan %s: %s %s → %s\n", pl.Hash[:19], pl.App, pl.From, pl.To)
	image := func(manifests []byte) string {
		for _, l := range strings.Split(string(manifests), "\n") {
			if _, img, ok := strings.Cut(l, "image: "); ok {
				return img
			}
		}
		return ""
	}
	fmt.Println("  prod runs  ", image(pl.Before))
	fmt.Println("  and will run", image(pl.After))
	req := promote.Request{Actor: "ann@example.com", Reason: "checkout fix"}
	ex, err := p.Explain(ctx, pl, req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(ex)

	clk.Advance(ex.NotBefore.Sub(clk.Now()))
	out, err := p.Promote(ctx, req, pl)
	if err != nil {
		fmt.Println(err)
		return
	}
	cur, err := gitops.CurrentRelease(ctx, repo, gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "prod"}}, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("promoted:", out[0].Result.Changed, "prod runs", cur.Release.Tag, "since", clk.Now().Format("Mon 15:04 MST"))
	// Output:
	// plan sha256:309f505e3f42: shop staging → prod
	//   prod runs   registry.example.com/team/shop:1.0.0
	//   and will run registry.example.com/team/shop@sha256:0000000000000000000000000000000000000000000000000000000000000002
	// promote shop from staging to prod: blocked
	//   manual: allowed: promoted by hand by ann@example.com
	//   windows: blocked: deny window "weekend freeze" is open until 2026-03-09T08:00:00Z
	//   may go at 2026-03-09T08:00:00Z
	// promoted: true prod runs 1.2.0 since Mon 08:00 UTC
}
