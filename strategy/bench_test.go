package strategy_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

// BenchmarkRunnerStep measures the runner's own cost per step on a
// 50-app repository with the fake clock: the commit (fetch, edit, render
// check, compare-and-swap, push), the sync through the fake Argo CD
// (which fetches and renders the revision and applies it to the
// simulated cluster) and the wait for that revision to be healthy. Each
// iteration rolls a new release out through a canary of 20 weights and
// its finish, without analyses. Beside it, on the same repository and in
// the same run: "deploy", a gitops.DeployRelease of one image bump to
// another app (a commit with its render check), and "record", a commit
// of one file outside any overlay (a commit and push alone).
func BenchmarkRunnerStep(b *testing.B) {
	ctx := context.Background()
	env, err := strategytest.NewEnvironment(ctx, strategytest.EnvironmentConfig{Dir: b.TempDir(), Replicas: 2, OtherApps: 49})
	if err != nil {
		b.Fatal(err)
	}
	defer env.Close()
	target, err := strategy.NewRouteTarget(env.Overlay, shopRoute, "gateway")
	if err != nil {
		b.Fatal(err)
	}
	if err := env.Prepare(ctx, target); err != nil {
		b.Fatal(err)
	}
	var steps []strategy.Step
	for w := int32(5); w < 100; w += 5 {
		steps = append(steps, strategy.SetWeight(w))
	}
	plan, err := strategy.Canary{Steps: steps, TrafficRouting: &shopRoute}.Compile(env.App, strategytest.Env)
	if err != nil {
		b.Fatal(err)
	}

	next := 1
	b.Run("step", func(b *testing.B) {
		var mu sync.Mutex
		var commits int
		var commitTime, syncTime time.Duration
		last := time.Now()
		timer := strategy.ObserverFunc(func(e strategy.Event) {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			switch e.Kind {
			case strategy.EventStep, strategy.EventAborted:
				commits++
				commitTime += now.Sub(last)
			case strategy.EventSynced:
				syncTime += now.Sub(last)
			}
			last = now
		})
		r, err := strategy.New(env.Repo, env.Argo, plan, target, append(env.Options(), strategy.WithObserver(timer))...)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			mu.Lock()
			last = time.Now()
			mu.Unlock()
			next++
			if _, err := r.Run(ctx, env.Release(next)); err != nil {
				b.Fatal(err)
			}
		}
		total := time.Since(start)
		b.StopTimer()
		mu.Lock()
		defer mu.Unlock()
		per := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(commits) }
		b.ReportMetric(per(total), "ms/step")
		b.ReportMetric(per(commitTime), "commit-ms/step")
		b.ReportMetric(per(syncTime), "sync+wait-ms/step")
		b.ReportMetric(0, "ns/op")
		b.Logf("%d commits in %d runs: %.1f ms per step (commit %.1f ms, sync and wait %.1f ms)", commits, b.N, per(total), per(commitTime), per(syncTime))
	})

	b.Run("record", func(b *testing.B) {
		for i := range b.N {
			w := gitops.WriteFile{Path: ".flightdeck/bench.json", Data: fmt.Appendf(nil, "%d\n", i)}
			if _, err := env.Repo.Apply(ctx, gitops.Change{Message: "bench", Edits: []gitops.Edit{w}}); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("deploy", func(b *testing.B) {
		for i := range b.N {
			rel := strategytest.Release(fmt.Sprintf("app%02d", i%49), 1000+i)
			d := gitops.DeployRequest{Target: gitops.Target{App: rel.App, Environment: envOf(strategytest.Env)}, Release: rel}
			if _, err := gitops.DeployRelease(ctx, env.Repo, d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
