package strategy_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

const (
	app     = "shop"
	env     = strategytest.Env
	syncApp = "shop-prod"
)

// harness is a GitOps repository on disk, the fake Argo CD rendering it
// into a simulated cluster, and one auto-advancing clock for all of them.
type harness struct {
	t       *testing.T
	ctx     context.Context
	clk     *clocktest.Clock
	dir     string
	repo    *gitops.Repo
	srv     *argocdtest.Server
	argo    *argocd.Client
	cluster *sim.Cluster
	ov      strategy.Overlay
	ns      string
	v1, v2  flightdeck.Release
	events  *eventLog
}

// newHarness starts the harness with replicas pods of release 1 of the
// app synced; behaviours give the pods of release 1 and 2 theirs.
func newHarness(t *testing.T, replicas int32, behaviors ...sim.Behavior) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	clk := clocktest.NewAuto(time.Time{})
	dir := gitopstest.NewBareRepo(t, strategytest.Layout(replicas, app))
	repo, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(t.TempDir(), "cache")))
	require.NoError(t, err)
	srv, err := argocdtest.New(argocdtest.WithClock(clk))
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	ov := strategytest.Overlay(app, replicas)
	require.NoError(t, srv.AddApp(ctx, argocdtest.App{Name: syncApp, RepoURL: gitopstest.FileURL(dir), Path: ov.Dir}))
	argo, err := srv.Client(argocd.WithClock(clk))
	require.NoError(t, err)
	h := &harness{t: t, ctx: ctx, clk: clk, dir: dir, repo: repo, srv: srv, argo: argo, cluster: srv.Cluster(), ov: ov,
		ns: strategytest.Namespace(app), v1: strategytest.Release(app, 1), v2: strategytest.Release(app, 2), events: &eventLog{}}
	h.v2.SourceRepo, h.v2.Revision = "https://git.example.com/shop", strings.Repeat("ab", 20)
	for i, b := range behaviors {
		h.behave(strategytest.Release(app, i+1), b)
	}
	h.sync("")
	return h
}

// sync syncs the app to revision (empty: the branch head) and waits for
// it to be healthy.
func (h *harness) sync(revision string) {
	h.t.Helper()
	require.NoError(h.t, h.argo.Sync(h.ctx, gitops.SyncRequest{App: syncApp, Revision: revision}))
	_, err := gitops.WaitFor(h.ctx, h.argo, gitops.WaitOptions{App: syncApp, Revision: revision, Clock: h.clk, PollInterval: time.Second, StableFor: -1})
	require.NoError(h.t, err)
}

// prepare writes the target's manifests and syncs them.
func (h *harness) prepare(target strategy.Target) {
	h.t.Helper()
	res, err := strategy.PrepareOverlay(h.ctx, h.repo, target, strategy.PrepareRequest{App: app, Environment: env})
	require.NoError(h.t, err)
	h.sync(res.Commit.String())
}

// behave sets how the pods of a release behave.
func (h *harness) behave(rel flightdeck.Release, b sim.Behavior) {
	h.t.Helper()
	require.NoError(h.t, h.cluster.SetBehavior(rel.Ref(), b))
}

// load sends rps requests per second of cluster time to a Service or an
// HTTPRoute.
func (h *harness) load(kind, name string, rps float64) {
	h.t.Helper()
	ref := sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: h.ns, Name: name}
	if kind == "HTTPRoute" {
		ref = sim.Ref{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute", Namespace: h.ns, Name: name}
	}
	require.NoError(h.t, h.cluster.SetLoad(ref, rps))
}

// runner returns a runner of plan on the harness, observing into
// h.events.
func (h *harness) runner(plan strategy.Plan, target strategy.Target, opts ...strategy.Option) *strategy.Runner {
	h.t.Helper()
	base := []strategy.Option{
		strategy.WithClock(h.clk), strategy.WithSyncApp(syncApp), strategy.WithObserver(h.events),
		strategy.WithWait(gitops.WaitOptions{PollInterval: time.Second, StableFor: 2 * time.Second, Timeout: -1}),
		strategy.WithControlPoll(5 * time.Second),
	}
	r, err := strategy.New(h.repo, h.argo, plan, target, append(base, opts...)...)
	require.NoError(h.t, err)
	return r
}

// deployment returns the replicas and the images of Deployment name as
// the cluster has it.
func (h *harness) deployment(name string) (int, []string) {
	h.t.Helper()
	obj, err := h.cluster.Get(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: h.ns, Name: name})
	require.NoError(h.t, err)
	spec, _ := obj["spec"].(map[string]any)
	n, _ := spec["replicas"].(int64)
	tmpl, _ := spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	cs, _ := pod["containers"].([]any)
	var imgs []string
	for _, c := range cs {
		imgs = append(imgs, fmt.Sprint(c.(map[string]any)["image"]))
	}
	return int(n), imgs
}

// rolloutCommits returns the rollout commits of the repository, oldest
// first, with their trailers.
func (h *harness) rolloutCommits() []commit {
	h.t.Helper()
	var out []commit
	log := gitopstest.Log(h.t, h.dir)
	for i := len(log) - 1; i >= 0; i-- {
		c := log[i]
		tr, err := gitops.ParseTrailers(c.Message)
		if err != nil || !strings.HasPrefix(string(tr.Action), "rollout-") {
			continue
		}
		out = append(out, commit{c: c, tr: tr})
	}
	return out
}

type commit struct {
	c  *object.Commit
	tr gitops.Trailers
}

func (c commit) extra(key string) string { v, _ := c.tr.Extra.Get(key); return v }

// readFile reads a file at the head of the bare repository.
func (h *harness) readFile(path string) string {
	h.t.Helper()
	return gitopstest.ReadFile(h.t, h.dir, path)
}

// errorTemplate is the sequential error judge between the new and the
// stable release's Deployments, reading the cluster's request counters.
func (h *harness) errorTemplate(canary, stable string) strategy.Template {
	return strategy.TemplateFunc(func(ctx context.Context, in strategy.AnalysisInput) (health.Analysis, error) {
		share := float64(in.Desired.Weight) / 100
		if share <= 0 || share >= 1 {
			share = 0.5
		}
		test, err := health.NewSequentialTest(health.SequentialConfig{CanaryShare: share})
		if err != nil {
			return health.Analysis{}, err
		}
		split, err := health.NewErrorSplit(test, h.failures(canary), h.failures(stable), health.WithClock(h.clk))
		if err != nil {
			return health.Analysis{}, err
		}
		return health.Analysis{Metrics: []health.Metric{{Name: "errors", Evaluator: split, Interval: 30 * time.Second, Count: 10}}}, nil
	})
}

// failures counts the failed requests of Deployment name.
func (h *harness) failures(name string) health.Evaluator {
	return health.Func(func(ctx context.Context) health.Measurement {
		_, failed, err := h.cluster.Requests(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: h.ns, Name: name})
		if err != nil {
			return health.Measurement{Time: h.clk.Now(), Phase: health.Error, Err: err, Message: err.Error()}
		}
		return health.Measurement{Time: h.clk.Now(), Value: failed, Phase: health.Successful}
	})
}

// fixed is a template whose analysis measures phase once.
func fixed(phase health.Phase) strategy.Template {
	return strategy.TemplateFunc(func(ctx context.Context, in strategy.AnalysisInput) (health.Analysis, error) {
		return health.Analysis{Metrics: []health.Metric{{Name: "fixed", Evaluator: health.Func(func(ctx context.Context) health.Measurement {
			m := health.Measurement{Time: time.Now(), Phase: phase, Value: 1, Message: "fixed " + string(phase)}
			if phase == health.Error {
				m.Err = fmt.Errorf("fixed error")
			}
			return m
		})}}}, nil
	})
}

// eventLog records a run's events.
type eventLog struct {
	mu     sync.Mutex
	events []strategy.Event
	hooks  []func(strategy.Event)
}

func (l *eventLog) Observe(e strategy.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	hooks := slices.Clone(l.hooks)
	l.mu.Unlock()
	for _, h := range hooks {
		h(e)
	}
}

func (l *eventLog) on(fn func(strategy.Event)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hooks = append(l.hooks, fn)
}

func (l *eventLog) kinds() []strategy.EventKind {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []strategy.EventKind
	for _, e := range l.events {
		out = append(out, e.Kind)
	}
	return out
}

func (l *eventLog) of(kind strategy.EventKind) []strategy.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []strategy.Event
	for _, e := range l.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}
