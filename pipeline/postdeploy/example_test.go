package postdeploy_test

import (
	"context"
	"fmt"
	"strings"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/gitops/syncertest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/deploy"
	"github.com/flightdeck-dev/flightdeck/pipeline/postdeploy"
)

// A smoke suite run against staging once Argo CD (here the fake syncer)
// reports the deploy Synced and Healthy; its result is committed to the
// GitOps repository with the release, where promotion policies read it.
func ExampleNew() {
	ctx := context.Background()
	clk := clocktest.NewAuto(t0)
	repo, _ := gitopstest.NewFake(gitopstest.KustomizeLayout("shop"), gitopstest.WithClock(clk))
	rel := flightdeck.Release{App: "shop", Image: gitopstest.Image("shop"), Digest: "sha256:" + strings.Repeat("ab", 32)}
	res, _ := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{
		Target: gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "staging"}}, Release: rel})

	argo := syncertest.New(clk)
	argo.Set(gitops.AppStatus{App: "shop-staging"})
	_ = argo.Sync(ctx, gitops.SyncRequest{App: "shop-staging", Revision: res.Commit.String()})

	// A real suite is postdeploy.GoTest(gotest.Spec{Tags: []string{"smoke"}, …})
	// or postdeploy.Command(command.Spec{…}); this one checks what it is handed.
	suite := postdeploy.RunnerFunc(func(_ context.Context, env []string) (postdeploy.Outcome, error) {
		for _, kv := range env {
			if strings.HasPrefix(kv, "FLIGHTDECK_ENDPOINT_") || strings.HasPrefix(kv, "FLIGHTDECK_ENV=") {
				fmt.Println(kv)
			}
		}
		return postdeploy.Outcome{Tests: []postdeploy.Test{{Name: "TestCheckout", Status: postdeploy.StatusPass, Seconds: 0.4}}}, nil
	})
	stage := postdeploy.New(repo, postdeploy.Spec{
		Suite:     "smoke",
		Tests:     suite,
		Endpoints: map[string]string{"api": "https://shop.staging.example.com"},
	}, postdeploy.WithSyncer(argo, gitops.WaitOptions{StableFor: -1}), postdeploy.WithClock(clk))

	st := pipeline.NewState()
	deploy.Deployed.Put(st, deploy.Deployment{Release: rel, Environment: "staging", Commit: res.Commit.String()})
	fmt.Println(stage.Run(ctx, st))

	entries, _ := repo.History(ctx, gitops.HistoryQuery{Actions: []gitops.Action{gitops.ActionTest}})
	v, _ := entries[0].Trailers.Extra.Get(gitops.TrailerTests)
	fmt.Println(entries[0].Subject)
	fmt.Println(gitops.TrailerTests+":", v)
	// Output:
	// FLIGHTDECK_ENV=staging
	// FLIGHTDECK_ENDPOINT_API=https://shop.staging.example.com
	// <nil>
	// test shop in staging: smoke passed: 1 passed, 0 failed, 0 skipped in 0s
	// Flightdeck-Tests: smoke=passed
}
