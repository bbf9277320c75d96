package strategy_test

import (
	"context"
	"fmt"
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

// harness is a strategytest.Environment on the auto-advancing clock,
// with the test's helpers.
type harness struct {
	t       *testing.T
	ctx     context.Context
	env     *strategytest.Environment
	clk     *clocktest.Clock
	dir     string
	repo    *gitops.Repo
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
	return newHarnessAt(t, 0, replicas, behaviors...)
}

// newHarnessAt is newHarness on a clock speed times faster than real
// time (strategytest.EnvironmentConfig.Speed; 0 is the auto clock).
func newHarnessAt(t *testing.T, speed float64, replicas int32, behaviors ...sim.Behavior) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	bs := map[int]sim.Behavior{}
	for i, b := range behaviors {
		bs[i+1] = b
	}
	env, err := strategytest.NewEnvironment(ctx, strategytest.EnvironmentConfig{Dir: t.TempDir(), App: app, Replicas: replicas, Behaviors: bs, Speed: speed})
	require.NoError(t, err)
	t.Cleanup(env.Close)
	h := &harness{t: t, ctx: ctx, env: env, clk: env.Clock, dir: env.Dir, repo: env.Repo, argo: env.Argo, cluster: env.Cluster, ov: env.Overlay,
		ns: env.Namespace, v1: env.Release(1), v2: env.Release(2), events: &eventLog{}}
	h.v2.SourceRepo, h.v2.Revision = "https://git.example.com/shop", strings.Repeat("ab", 20)
	return h
}

// prepare writes the target's manifests and syncs them.
func (h *harness) prepare(target strategy.Target) {
	h.t.Helper()
	require.NoError(h.t, h.env.Prepare(h.ctx, target))
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
	require.NoError(h.t, h.cluster.SetLoad(h.env.Ref(kind, name), rps))
}

// runner returns a runner of plan on the harness, observing into
// h.events.
func (h *harness) runner(plan strategy.Plan, target strategy.Target, opts ...strategy.Option) *strategy.Runner {
	h.t.Helper()
	base := append(h.env.Options(), strategy.WithObserver(h.events))
	r, err := strategy.New(h.repo, h.argo, plan, target, append(base, opts...)...)
	require.NoError(h.t, err)
	return r
}

// deployment returns the replicas and the images of Deployment name as
// the cluster has it.
func (h *harness) deployment(name string) (int, []string) {
	h.t.Helper()
	obj, err := h.cluster.Get(h.env.Ref("Deployment", name))
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
		if err != nil || tr.Action != strategy.ActionStep && tr.Action != strategy.ActionAbort && !strings.HasPrefix(string(tr.Action), "rollout-") {
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

func envOf(name string) flightdeck.Environment { return flightdeck.Environment{Name: name} }
