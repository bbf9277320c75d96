package rollback_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/rollback"
)

// BenchmarkRollbackCommit measures the time from a failed verdict to the
// rollback commit pushed (decide on the head, find the last-known-good,
// restore the overlay, hold and quarantine, render check, push) on a
// 1000-app repository over file:// with a warm cache. Each iteration
// rolls back another app (the setup of its verified and bad deploys is
// not timed). Beside it, "deploy" times a plain image bump on the same
// Repo in the same run: the floor of any commit there.
func BenchmarkRollbackCommit(b *testing.B) {
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("app%04d", i)
	}
	dir := gitopstest.NewBareRepo(b, gitopstest.KustomizeLayout(names...))
	repo, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(b.TempDir(), "cache")))
	if err != nil {
		b.Fatal(err)
	}
	ctl, err := rollback.New(repo)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	pass := health.Analysis{Metrics: []health.Metric{{Name: "up", Evaluator: health.Func(func(context.Context) health.Measurement {
		return health.Measurement{Time: time.Now(), Value: 1, Phase: health.Successful}
	})}}}
	bad := map[string]gitops.Result{}
	seq := 1000
	setUp := func(i int) string {
		seq++
		app := names[(i*37+500)%len(names)]
		t := target(app, "prod")
		rel := release(app, 1)
		if _, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: t, Release: rel,
			Override: gitops.Override{Hold: true, Reason: "benchmark setup"}}); err != nil {
			b.Fatal(err)
		}
		if _, err := ctl.Verify(ctx, rollback.VerifyRequest{Target: t, Analysis: pass}); err != nil {
			b.Fatal(err)
		}
		res, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: t, Release: release(app, seq),
			Override: gitops.Override{Hold: true, Reason: "benchmark setup"}})
		if err != nil {
			b.Fatal(err)
		}
		bad[app] = res
		return app
	}
	rollBack := func(app string) {
		out, err := ctl.Rollback(ctx, rollback.Request{Target: target(app, "prod"), Trigger: rollback.TriggerVerification,
			Reverts: bad[app].Commit.String(), Reason: "verification failed"})
		if err != nil || out.Decision != rollback.RolledBack {
			b.Fatal(out.Decision, err)
		}
	}
	// Warm up: the first render of a process and the first check of a
	// Repo pay one-time costs.
	rollBack(setUp(-1))
	b.Run("rollback", func(b *testing.B) {
		for i := range b.N {
			b.StopTimer()
			app := setUp(i)
			b.StartTimer()
			rollBack(app)
		}
	})
	// The floor, in the same run: an image bump of one app on the same
	// Repo (fetch, edit, render check, commit, push).
	b.Run("deploy", func(b *testing.B) {
		for i := range b.N {
			app := names[(i*37+500)%len(names)]
			seq++
			if _, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: target(app, "prod"), Release: release(app, seq),
				Override: gitops.Override{Hold: true, Quarantine: true, Reason: "benchmark"}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
