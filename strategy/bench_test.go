package strategy_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

// BenchmarkRunnerStep measures the runner's own cost per step on a
// 50-app repository with the fake clock. Each iteration of "step" rolls
// a new release out through a canary of 19 weights and its finish (21
// commits), without analyses; it reports per commit the time in
// Repository.Apply calls that committed (ms/commit: edit, render check,
// compare-and-swap, push), in the syncer (ms/sync+wait: the sync of that
// commit through the fake Argo CD, which fetches and renders it and
// applies it to the simulated cluster, and gitops.WaitFor on it), the
// rest (ms/other: reading the record back, the runner's own work) and
// the whole (ms/step). Beside it, on the same repository and in the same
// run: "deploy+sync", a gitops.DeployRelease of one image bump to another
// app followed by the same sync and wait of its own Argo CD application
// (the floor of one commit and its sync), and "record", a commit of one
// file outside any overlay (a commit and push alone).
//
// Run it with -benchtime=10x and -benchtime=100x: the figures must not
// grow with the number of runs.
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
	wait := env.Options()
	const other = "app00"
	otherSync := other + "-" + strategytest.Env
	if err := env.Server.AddApp(ctx, argocdtest.App{Name: otherSync, RepoURL: gitopstest.FileURL(env.Dir), Path: strategytest.Overlay(other, 2).Dir}); err != nil {
		b.Fatal(err)
	}

	next := 1
	b.Run("step", func(b *testing.B) {
		repo := &timedRepo{Repository: env.Repo}
		syncer := &timedSyncer{Syncer: env.Argo}
		r, err := strategy.New(repo, syncer, plan, target, wait...)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			next++
			if _, err := r.Run(ctx, env.Release(next)); err != nil {
				b.Fatal(err)
			}
		}
		total := time.Since(start)
		b.StopTimer()
		commits, commitTime := repo.commits()
		syncs, reads, readCalls := syncer.total()
		syncTime := syncs + reads
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(commits) }
		b.ReportMetric(per(total), "ms/step")
		b.ReportMetric(per(commitTime), "ms/commit")
		b.ReportMetric(per(syncTime), "ms/sync+wait")
		b.ReportMetric(per(total-commitTime-syncTime), "ms/other")
		b.ReportMetric(0, "ns/op")
		b.Logf("%d commits in %d runs: %.1f ms per step (commit %.1f ms, sync and wait %.1f ms: the sync request %.1f ms, %.1f status reads %.1f ms; other %.1f ms)",
			commits, b.N, per(total), per(commitTime), per(syncTime), per(syncs), float64(readCalls)/float64(commits), per(reads), per(total-commitTime-syncTime))
	})

	b.Run("deploy+sync", func(b *testing.B) {
		syncer := &timedSyncer{Syncer: env.Argo}
		var commitTime time.Duration
		start := time.Now()
		for range b.N {
			t0 := time.Now()
			next++
			d := gitops.DeployRequest{Target: gitops.Target{App: other, Environment: envOf(strategytest.Env)}, Release: strategytest.Release(other, next)}
			res, err := gitops.DeployRelease(ctx, env.Repo, d)
			if err != nil {
				b.Fatal(err)
			}
			commitTime += time.Since(t0)
			if err := syncer.Sync(ctx, gitops.SyncRequest{App: otherSync, Revision: res.Commit.String()}); err != nil {
				b.Fatal(err)
			}
			w := gitops.WaitOptions{App: otherSync, Revision: res.Commit.String(), Clock: env.Clock, PollInterval: time.Second, StableFor: 2 * time.Second}
			if _, err := gitops.WaitFor(ctx, syncer, w); err != nil {
				b.Fatal(err)
			}
		}
		total := time.Since(start)
		syncs, reads, readCalls := syncer.total()
		per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
		b.ReportMetric(per(total), "ms/step")
		b.ReportMetric(per(commitTime), "ms/commit")
		b.ReportMetric(per(syncs+reads), "ms/sync+wait")
		b.ReportMetric(0, "ns/op")
		b.Logf("%d deploys: %.1f ms each (commit %.1f ms, sync and wait %.1f ms: the sync request %.1f ms, %.1f status reads %.1f ms)",
			b.N, per(total), per(commitTime), per(syncs+reads), per(syncs), float64(readCalls)/float64(b.N), per(reads))
	})

	b.Run("record", func(b *testing.B) {
		start := time.Now()
		for range b.N {
			next++
			w := gitops.WriteFile{Path: ".flightdeck/bench.json", Data: fmt.Appendf(nil, "%d\n", next)}
			if _, err := env.Repo.Apply(ctx, gitops.Change{Message: "bench", Edits: []gitops.Edit{w}}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/commit")
		b.ReportMetric(0, "ns/op")
	})
}

// timedRepo times the Apply calls that commit.
type timedRepo struct {
	strategy.Repository
	mu   sync.Mutex
	n    int
	took time.Duration
}

func (r *timedRepo) Apply(ctx context.Context, ch gitops.Change) (gitops.Result, error) {
	start := time.Now()
	res, err := r.Repository.Apply(ctx, ch)
	if err == nil && res.Changed {
		r.mu.Lock()
		r.n++
		r.took += time.Since(start)
		r.mu.Unlock()
	}
	return res, err
}

func (r *timedRepo) commits() (int, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n, r.took
}

// timedSyncer times every call of the syncer: the syncs and the reads of
// gitops.WaitFor.
type timedSyncer struct {
	gitops.Syncer
	mu                   sync.Mutex
	syncs, reads         time.Duration
	syncCalls, readCalls int
}

func (s *timedSyncer) Sync(ctx context.Context, req gitops.SyncRequest) error {
	defer s.add(time.Now(), &s.syncs, &s.syncCalls)
	return s.Syncer.Sync(ctx, req)
}

func (s *timedSyncer) AppStatus(ctx context.Context, app string) (gitops.AppStatus, error) {
	defer s.add(time.Now(), &s.reads, &s.readCalls)
	return s.Syncer.AppStatus(ctx, app)
}

// Refresh is the optional gitops.Refresher of the syncer, which WaitFor
// uses.
func (s *timedSyncer) Refresh(ctx context.Context, app string) error {
	defer s.add(time.Now(), &s.reads, &s.readCalls)
	return s.Syncer.(gitops.Refresher).Refresh(ctx, app)
}

func (s *timedSyncer) add(start time.Time, took *time.Duration, calls *int) {
	s.mu.Lock()
	*took += time.Since(start)
	*calls++
	s.mu.Unlock()
}

// total returns the time in syncs, in reads, and the number of reads.
func (s *timedSyncer) total() (syncs, reads time.Duration, readCalls int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.syncs, s.reads, s.readCalls
}
