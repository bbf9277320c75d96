package strategy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

var ready = sim.Behavior{ReadyAfter: 5 * time.Second}

// control gives a command to the harness's run.
func (h *harness) control(cmd strategy.Command, reason string) (strategy.Status, error) {
	return strategy.Control(h.ctx, h.repo, strategy.ControlRequest{App: app, Environment: env, Command: cmd, Reason: reason, Clock: h.clk})
}

// onPaused runs fn in a goroutine of its own each time the run pauses.
func (h *harness) onPaused(fn func(e strategy.Event)) *sync.WaitGroup {
	var wg sync.WaitGroup
	h.events.on(func(e strategy.Event) {
		if e.Kind == strategy.EventPaused {
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(e)
			}()
		}
	})
	return &wg
}

func replicaTarget(t *testing.T, h *harness) *strategy.ReplicaTarget {
	t.Helper()
	target, err := strategy.NewReplicaTarget(h.ov)
	require.NoError(t, err)
	return target
}

func routeTarget(t *testing.T, h *harness) *strategy.RouteTarget {
	t.Helper()
	target, err := strategy.NewRouteTarget(h.ov, shopRoute, "gateway")
	require.NoError(t, err)
	return target
}

func compile(t *testing.T, spec strategy.Spec) strategy.Plan {
	t.Helper()
	plan, err := spec.Compile(app, env)
	require.NoError(t, err)
	return plan
}

func TestReplicaCanarySplitsTrafficByArgoRolloutsReplicaCounts(t *testing.T) {
	h := newHarness(t, 10, ready, ready)
	target := replicaTarget(t, h)
	plan := compile(t, strategy.Canary{Steps: []strategy.Step{
		strategy.SetWeight(10), strategy.SetWeight(25), strategy.PauseUntilPromoted(), strategy.SetWeight(50),
	}})
	var share float64
	wg := h.onPaused(func(e strategy.Event) {
		res, err := h.cluster.Send(h.ctx, h.env.Ref("Service", "shop"), 1100)
		if assert.NoError(t, err) {
			share = float64(res.Deployments[h.ns+"/shop-canary"]) / 1100
		}
		_, err = h.control(strategy.CommandPromote, "")
		assert.NoError(t, err)
	})
	st, err := h.runner(plan, target).Run(h.ctx, h.v2)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)

	type counts struct{ canary, stable int32 }
	var got []counts
	for _, e := range h.events.of(strategy.EventStep) {
		if strings.HasPrefix(e.StepText, "setWeight") {
			got = append(got, counts{e.Desired.Canary.Replicas, e.Desired.Stable.Replicas})
		}
	}
	// 10 replicas at 10% are 1 canary and 9 stable; at 25% with surge 3
	// and 8; at 50% 5 and 5; at 100% all canary.
	assert.Equal(t, []counts{{1, 9}, {3, 8}, {5, 5}, {10, 0}}, got)
	assert.InDelta(t, 3.0/11, share, 0.05, "the Service splits traffic by the replica ratio")
	n, imgs := h.deployment("shop")
	assert.Equal(t, 10, n)
	assert.Equal(t, []string{h.v2.Ref()}, imgs)
	n, _ = h.deployment("shop-canary")
	assert.Zero(t, n)
}

func TestBlueGreenFailedPostPromotionAnalysisSwitchesBack(t *testing.T) {
	h := newHarness(t, 3, ready, ready)
	target, err := strategy.NewBlueGreenTarget(h.ov, "shop", "shop-preview")
	require.NoError(t, err)
	plan := compile(t, strategy.BlueGreen{
		ActiveService: "shop", PreviewService: "shop-preview",
		PrePromotionAnalysis:  new(strategy.Templates("smoke")),
		PostPromotionAnalysis: new(strategy.Templates("errors")),
	})
	served := func(name string) map[string]int {
		res, err := h.cluster.Send(h.ctx, h.env.Ref("Service", name), 100)
		require.NoError(t, err)
		return res.Deployments
	}
	var preview, active map[string]int
	smoke := strategy.TemplateFunc(func(ctx context.Context, in strategy.AnalysisInput) (health.Analysis, error) {
		return health.Analysis{Metrics: []health.Metric{{Name: "smoke", Evaluator: health.Func(func(ctx context.Context) health.Measurement {
			preview = served("shop-preview")
			return health.Measurement{Time: h.clk.Now(), Value: 1, Phase: health.Successful}
		})}}}, nil
	})
	post := strategy.TemplateFunc(func(ctx context.Context, in strategy.AnalysisInput) (health.Analysis, error) {
		return health.Analysis{Metrics: []health.Metric{{Name: "errors", Evaluator: health.Func(func(ctx context.Context) health.Measurement {
			active = served("shop")
			return health.Measurement{Time: h.clk.Now(), Value: 0.2, Phase: health.Failed, Message: "error rate 20%"}
		})}}}, nil
	})
	r := h.runner(plan, target, strategy.WithTemplate("smoke", smoke), strategy.WithTemplate("errors", post))

	_, err = r.Run(h.ctx, h.v2)
	var aborted *strategy.AbortedError
	require.ErrorAs(t, err, &aborted)
	assert.Equal(t, "analysis errors", aborted.StepText)
	assert.Equal(t, map[string]int{h.ns + "/shop-green": 100}, preview, "the preview Service serves the new colour")
	assert.Equal(t, map[string]int{h.ns + "/shop-green": 100}, active, "after the switch the active Service serves the new colour")
	assert.Equal(t, map[string]int{h.ns + "/shop-blue": 100}, served("shop"), "switched back to the stable colour")

	// The switch and the switch back are one commit each, and change
	// nothing the pods run: the active Service's selector moves.
	commits := h.rolloutCommits()
	var sw, back commit
	for i, c := range commits {
		if strings.HasPrefix(c.c.Message, "rollout shop to prod: 3/5 switchActive") {
			sw = c
			require.Greater(t, i, 0)
		}
		if c.tr.Action == strategy.ActionAbort && back.c == nil {
			back = c
		}
	}
	require.NotNil(t, sw.c, "no switch commit")
	require.NotNil(t, back.c, "no switch-back commit")
	assertOnlySelectorMoved(t, h, sw)
	assertOnlySelectorMoved(t, h, back)
	n, _ := h.deployment("shop-green")
	assert.Zero(t, n, "the new colour is scaled down after abortScaleDownDelay")
	n, imgs := h.deployment("shop-blue")
	assert.Equal(t, 3, n)
	assert.Equal(t, []string{h.v1.Ref()}, imgs)
}

// assertOnlySelectorMoved checks that a commit changes, in the rendered
// overlay, only the active Service's selector and the template of the
// app's own Deployment, which has no pods.
func assertOnlySelectorMoved(t *testing.T, h *harness, c commit) {
	t.Helper()
	before, err := h.repo.Render(h.ctx, c.c.ParentHashes[0].String(), h.ov.Dir)
	require.NoError(t, err)
	after, err := h.repo.Render(h.ctx, c.c.Hash.String(), h.ov.Dir)
	require.NoError(t, err)
	docs := func(b []byte) map[string]string {
		out := map[string]string{}
		for _, d := range strings.Split(string(b), "\n---\n") {
			lines := strings.Split(d, "\n")
			kind, name := "", ""
			for _, l := range lines {
				if strings.HasPrefix(l, "kind: ") {
					kind = l
				}
				if strings.HasPrefix(l, "  name: ") && name == "" {
					name = l
				}
			}
			out[kind+name] = d
		}
		return out
	}
	b, a := docs(before), docs(after)
	var changed []string
	for k, v := range a {
		if b[k] != v {
			changed = append(changed, strings.TrimSpace(k))
		}
	}
	assert.ElementsMatch(t, []string{"kind: Deployment  name: shop", "kind: Service  name: shop"}, changed, "commit %s", c.c.Message)
	assert.Contains(t, a["kind: Deployment  name: shop"], "replicas: 0")
}

func TestRollingUpdateIsWatchedToTheEnd(t *testing.T) {
	h := newHarness(t, 3, ready, ready)
	target, err := strategy.NewRollingTarget(h.ov)
	require.NoError(t, err)
	st, err := h.runner(compile(t, strategy.Rolling{}), target).Run(h.ctx, h.v2)
	require.NoError(t, err)
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)
	_, imgs := h.deployment("shop")
	assert.Equal(t, []string{h.v2.Ref()}, imgs)
	synced := h.events.of(strategy.EventSynced)
	require.NotEmpty(t, synced)
	assert.GreaterOrEqual(t, synced[0].Took, 5*time.Second, "the wait lasted until the new pods were ready")
	last := h.rolloutCommits()
	assert.Equal(t, "Completed", last[len(last)-1].extra(strategy.TrailerPhase))
}

func TestRollingUpdateThatNeverBecomesHealthyIsRolledBack(t *testing.T) {
	h := newHarness(t, 3, ready, sim.Behavior{NeverReady: true})
	target, err := strategy.NewRollingTarget(h.ov)
	require.NoError(t, err)
	_, err = h.runner(compile(t, strategy.Rolling{}), target).Run(h.ctx, h.v2)
	var aborted *strategy.AbortedError
	require.ErrorAs(t, err, &aborted)
	assert.Contains(t, aborted.Reason, "did not become healthy")
	assert.Contains(t, h.readFile(h.ov.Dir+"/kustomization.yaml"), h.v1.Digest)
	_, imgs := h.deployment("shop")
	assert.Equal(t, []string{h.v1.Ref()}, imgs)
}

func TestInconclusiveAnalysisPausesUntilPromoted(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	target := routeTarget(t, h)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{
		strategy.SetWeight(20), strategy.Analyze("maybe"), strategy.SetWeight(50),
	}})
	wg := h.onPaused(func(e strategy.Event) {
		assert.Contains(t, e.Message, "analysis maybe Inconclusive")
		st, err := strategy.ReadStatus(h.ctx, h.repo, app, env)
		if assert.NoError(t, err) {
			assert.Equal(t, strategy.PhasePaused, st.Phase)
		}
		_, err = h.control(strategy.CommandPromote, "looked at the dashboards")
		assert.NoError(t, err)
	})
	st, err := h.runner(plan, target, strategy.WithTemplate("maybe", fixed(health.Inconclusive))).Run(h.ctx, h.v2)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)
	assert.Len(t, h.events.of(strategy.EventPaused), 1)
	assert.Len(t, h.events.of(strategy.EventPromoted), 1)
	var control commit
	for _, c := range h.rolloutCommits() {
		if c.tr.Action == strategy.ActionControl {
			control = c
		}
	}
	require.NotNil(t, control.c, "the command is a commit")
	assert.Equal(t, "promote", control.extra(strategy.TrailerCommand))
	assert.Equal(t, "looked at the dashboards", control.extra(gitops.TrailerReason))
}

func TestFailedOrErroredAnalysisAborts(t *testing.T) {
	for _, phase := range []health.Phase{health.Failed, health.Error} {
		t.Run(string(phase), func(t *testing.T) {
			h := newHarness(t, 4, ready, ready)
			plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(20), strategy.Analyze("check")}})
			_, err := h.runner(plan, routeTarget(t, h), strategy.WithTemplate("check", fixed(phase))).Run(h.ctx, h.v2)
			var aborted *strategy.AbortedError
			require.ErrorAs(t, err, &aborted)
			assert.Contains(t, aborted.Reason, "analysis check "+string(phase))
		})
	}
}

func TestPromotePassesOnePause(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{
		strategy.SetWeight(20), strategy.PauseUntilPromoted(), strategy.PauseUntilPromoted(), strategy.SetWeight(50),
	}})
	var pausedAt []int
	var mu sync.Mutex
	wg := h.onPaused(func(e strategy.Event) {
		mu.Lock()
		pausedAt = append(pausedAt, e.Step)
		mu.Unlock()
		_, err := h.control(strategy.CommandPromote, "")
		assert.NoError(t, err)
	})
	st, err := h.runner(plan, routeTarget(t, h)).Run(h.ctx, h.v2)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, []int{1, 2}, pausedAt, "each Promote passed one pause")
	assert.Equal(t, 2, st.Promotions)
	assert.Equal(t, 2, st.Promoted)
}

func TestTimedPauseEndsByItself(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{
		strategy.SetWeight(20), strategy.Pause(10 * time.Minute), strategy.SetWeight(50),
	}})
	_, err := h.runner(plan, routeTarget(t, h)).Run(h.ctx, h.v2)
	require.NoError(t, err)
	paused := h.events.of(strategy.EventPaused)
	require.Len(t, paused, 1)
	var next strategy.Event
	for _, e := range h.events.of(strategy.EventStep) {
		if e.StepText == "setWeight 50%" {
			next = e
		}
	}
	assert.GreaterOrEqual(t, next.Time.Sub(paused[0].Time), 10*time.Minute)
}

func TestPromoteFullSkipsEveryRemainingPauseAndAnalysis(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{
		strategy.SetWeight(10), strategy.PauseUntilPromoted(), strategy.Analyze("never"), strategy.SetWeight(50), strategy.PauseUntilPromoted(),
	}})
	wg := h.onPaused(func(e strategy.Event) {
		_, err := h.control(strategy.CommandPromoteFull, "")
		assert.NoError(t, err)
	})
	st, err := h.runner(plan, routeTarget(t, h), strategy.WithTemplate("never", fixed(health.Failed))).Run(h.ctx, h.v2)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)
	assert.True(t, st.FullyPromoted)
	assert.Empty(t, h.events.of(strategy.EventAnalysis))
	for _, e := range h.events.of(strategy.EventStep) {
		assert.NotEqual(t, "setWeight 50%", e.StepText, "a skipped step was committed")
	}
	_, imgs := h.deployment("shop")
	assert.Equal(t, []string{h.v2.Ref()}, imgs)
}

func TestAbortByHand(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(30), strategy.PauseUntilPromoted()}})
	wg := h.onPaused(func(e strategy.Event) {
		_, err := h.control(strategy.CommandAbort, "the payments team saw timeouts")
		assert.NoError(t, err)
	})
	st, err := h.runner(plan, routeTarget(t, h)).Run(h.ctx, h.v2)
	wg.Wait()
	var aborted *strategy.AbortedError
	require.ErrorAs(t, err, &aborted)
	assert.Equal(t, "by hand: the payments team saw timeouts", aborted.Reason)
	assert.Equal(t, int32(0), st.Desired.Weight)
}

func TestRetryRestartsAnAbortedRunAtStepZero(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(30), strategy.Analyze("check")}})
	var verdict atomic.Value
	verdict.Store(health.Failed)
	check := strategy.TemplateFunc(func(ctx context.Context, in strategy.AnalysisInput) (health.Analysis, error) {
		return fixed(verdict.Load().(health.Phase)).Analysis(ctx, in)
	})
	r := h.runner(plan, routeTarget(t, h), strategy.WithTemplate("check", check))
	_, err := r.Run(h.ctx, h.v2)
	require.ErrorIs(t, err, strategy.ErrAborted)
	_, err = r.Run(h.ctx, h.v2)
	require.ErrorIs(t, err, strategy.ErrAborted, "an aborted run stays aborted until retried")

	verdict.Store(health.Successful)
	st, err := h.control(strategy.CommandRetry, "fixed the flag")
	require.NoError(t, err)
	assert.Equal(t, 0, st.Step)
	assert.Equal(t, strategy.PhaseProgressing, st.Phase)
	st, err = r.Run(h.ctx, h.v2)
	require.NoError(t, err)
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)
	first := 0
	for _, c := range h.rolloutCommits() {
		if c.tr.Action == strategy.ActionStep && c.extra(gitops.TrailerStep) == "1/5" {
			first++
		}
	}
	assert.Equal(t, 2, first, "step 1 ran again after the retry")
}

func TestControlRefusesCommandsThatDoNotApply(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	_, err := h.control(strategy.CommandPromote, "")
	assert.ErrorIs(t, err, strategy.ErrNoRollout)
	_, err = h.runner(compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(50)}}), routeTarget(t, h)).Run(h.ctx, h.v2)
	require.NoError(t, err)
	for _, cmd := range []strategy.Command{strategy.CommandPromote, strategy.CommandPromoteFull, strategy.CommandAbort, strategy.CommandRetry, "dance"} {
		_, err = h.control(cmd, "")
		assert.ErrorIs(t, err, strategy.ErrCommand, "%s of a completed run", cmd)
	}
}

func TestANewProcessCarriesOnARunWithoutRepeatingAStep(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{
		strategy.SetWeight(10), strategy.Analyze("ok"), strategy.SetWeight(25), strategy.Analyze("ok"), strategy.SetWeight(50),
	}})
	ctx, die := context.WithCancel(h.ctx)
	h.events.on(func(e strategy.Event) {
		if e.Kind == strategy.EventStep && e.StepText == "setWeight 25%" {
			die() // the process ends right after this step's commit
		}
	})
	first := h.runner(plan, routeTarget(t, h), strategy.WithTemplate("ok", fixed(health.Successful)), strategy.WithID("first"))
	_, err := first.Run(ctx, h.v2)
	require.ErrorIs(t, err, context.Canceled)
	st, err := strategy.ReadStatus(h.ctx, h.repo, app, env)
	require.NoError(t, err)
	assert.Equal(t, 2, st.Step)
	assert.Equal(t, "first", st.Owner)

	second := h.runner(plan, routeTarget(t, h), strategy.WithTemplate("ok", fixed(health.Successful)), strategy.WithID("second"))
	st, err = second.Run(h.ctx, h.v2)
	require.NoError(t, err)
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)
	assert.Equal(t, "second", st.Owner)
	seen := map[string]int{}
	var seqs []string
	for _, c := range h.rolloutCommits() {
		if c.tr.Action == strategy.ActionStep {
			seen[c.c.Message]++
			seqs = append(seqs, c.extra(strategy.TrailerSeq))
		}
	}
	for msg, n := range seen {
		assert.Equal(t, 1, n, "%q committed %d times", msg, n)
	}
	for i, s := range seqs {
		assert.Equal(t, fmt.Sprint(i+1), s, "the record's sequence numbers follow each other")
	}
}

func TestTwoRunnersCannotBothAdvanceARun(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{
		strategy.SetWeight(10), strategy.Analyze("ok"), strategy.SetWeight(25), strategy.Analyze("ok"), strategy.SetWeight(50),
	}})
	h.prepare(routeTarget(t, h))
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		r := h.runner(plan, routeTarget(t, h), strategy.WithTemplate("ok", fixed(health.Successful)), strategy.WithID(fmt.Sprint("runner-", i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Run(h.ctx, h.v2)
		}()
	}
	wg.Wait()
	others := 0
	for _, err := range errs {
		if errors.Is(err, strategy.ErrOtherRunner) {
			others++
			continue
		}
		require.NoError(t, err)
	}
	st, err := strategy.ReadStatus(h.ctx, h.repo, app, env)
	require.NoError(t, err)
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)
	seen := map[string]int{}
	for _, c := range h.rolloutCommits() {
		if c.tr.Action == strategy.ActionStep {
			seen[c.c.Message]++
		}
	}
	for msg, n := range seen {
		assert.Equal(t, 1, n, "%q committed %d times", msg, n)
	}
	t.Logf("%d of 2 runners stopped for the other", others)
}

// runUntilPaused runs plan for rel until it first pauses, and ends that
// run there, as a process that dies would.
func (h *harness) runUntilPaused(plan strategy.Plan, rel flightdeck.Release) {
	h.t.Helper()
	ctx, stop := context.WithCancel(h.ctx)
	defer stop()
	var armed atomic.Bool
	armed.Store(true)
	h.events.on(func(e strategy.Event) {
		if e.Kind == strategy.EventPaused && armed.CompareAndSwap(true, false) {
			stop()
		}
	})
	_, err := h.runner(plan, routeTarget(h.t, h)).Run(ctx, rel)
	require.ErrorIs(h.t, err, context.Canceled)
}

// racingRepo gives a Promote through the real repository just before the
// runner's commit of one step, so that the commit loses the record's
// compare-and-swap.
type racingRepo struct {
	*gitops.Repo
	h    *harness
	step string
	done atomic.Bool
}

func (r *racingRepo) Apply(ctx context.Context, ch gitops.Change) (gitops.Result, error) {
	if s, _ := ch.Trailers.Extra.Get(gitops.TrailerStep); ch.Trailers.Action == strategy.ActionStep && s == r.step && r.done.CompareAndSwap(false, true) {
		if _, err := r.h.control(strategy.CommandPromote, "early"); err != nil {
			return gitops.Result{}, err
		}
	}
	return r.Repo.Apply(ctx, ch)
}

func TestACommitThatLosesTheRaceToACommandTakesItIn(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{
		strategy.SetWeight(10), strategy.SetWeight(25), strategy.PauseUntilPromoted(), strategy.SetWeight(50),
	}})
	repo := &racingRepo{Repo: h.repo, h: h, step: "2/7"}
	r, err := strategy.New(repo, h.argo, plan, routeTarget(t, h), append(h.env.Options(), strategy.WithObserver(h.events))...)
	require.NoError(t, err)
	st, err := r.Run(h.ctx, h.v2)
	require.NoError(t, err, "the early Promote passed the pause; no other command was given")
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)
	assert.Len(t, h.events.of(strategy.EventConflict), 1)
	assert.Len(t, h.events.of(strategy.EventPromoted), 1)
}

func TestGuardsRefuseTheRunsCommits(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	target := routeTarget(t, h)
	h.prepare(target)
	var held atomic.Bool
	hold := gitops.GuardFunc(func(t *gitops.Tree, in gitops.Intent) error {
		if held.Load() {
			return fmt.Errorf("%w: prod is held by the on-call", gitops.ErrRefused)
		}
		return nil
	})
	h.events.on(func(e strategy.Event) {
		if e.Kind == strategy.EventSynced && e.StepText == "setWeight 20%" {
			held.Store(true) // a hold lands while the run is at 20%
		}
	})
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(20), strategy.SetWeight(50)}})
	_, err := h.runner(plan, target, strategy.WithGuards(hold)).Run(h.ctx, h.v2)
	require.ErrorIs(t, err, gitops.ErrRefused)
	assert.Contains(t, err.Error(), "prod is held by the on-call")
	for _, c := range h.rolloutCommits() {
		assert.NotEqual(t, "50", c.extra(gitops.TrailerWeight), "a refused step was committed")
	}
}

func TestAHoldStopsTheRun(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(20), strategy.PauseUntilPromoted(), strategy.SetWeight(50)}})
	hold, err := gitops.Hold{App: app, Environment: env, By: "on-call", At: h.clk.Now(), Reason: "checkout errors"}.Marshal()
	require.NoError(t, err)
	wg := h.onPaused(func(e strategy.Event) {
		gitopstest.Commit(t, h.dir, gitopstest.Files{gitops.HoldPath(app, env): string(hold)}, nil, "hold prod")
		_, err := h.control(strategy.CommandPromote, "")
		assert.NoError(t, err)
	})
	_, err = h.runner(plan, routeTarget(t, h)).Run(h.ctx, h.v2)
	wg.Wait()
	require.ErrorIs(t, err, gitops.ErrHeld)
	assert.Contains(t, err.Error(), "checkout errors")
	for _, c := range h.rolloutCommits() {
		assert.NotEqual(t, "50", c.extra(gitops.TrailerWeight), "a step was committed under the hold")
	}

	_, err = h.runner(plan, routeTarget(t, h)).Run(h.ctx, strategytest.Release(app, 3))
	require.ErrorIs(t, err, gitops.ErrHeld, "a new run is refused too")
}

func TestARecordChangedOutsideFlightdeckIsRefused(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(20), strategy.PauseUntilPromoted(), strategy.SetWeight(50)}})
	h.runUntilPaused(plan, h.v2)
	file := strategy.StatusFile(app, env)
	record := h.readFile(file)
	gitopstest.Commit(t, h.dir, gitopstest.Files{file: strings.Replace(record, `"step": 1`, `"step": 4`, 1)}, nil, "skip ahead by hand")
	st, err := strategy.ReadStatus(h.ctx, h.repo, app, env)
	require.NoError(t, err, "the record is read from the last trusted commit")
	assert.Equal(t, 1, st.Step)
	_, err = h.control(strategy.CommandPromote, "")
	assert.ErrorIs(t, err, strategy.ErrTampered)
}

func TestBackgroundAnalysisFailureAbortsAtALaterStep(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	var measured atomic.Int32
	// The analysis passes until the run has moved on to its pause, and
	// then fails.
	bg := strategy.TemplateFunc(func(ctx context.Context, in strategy.AnalysisInput) (health.Analysis, error) {
		return health.Analysis{Metrics: []health.Metric{{Name: "success-rate", Interval: time.Minute, Evaluator: health.Func(func(ctx context.Context) health.Measurement {
			if measured.Add(1) >= 2 && len(h.events.of(strategy.EventPaused)) > 0 {
				return health.Measurement{Time: h.clk.Now(), Value: 0.9, Phase: health.Failed, Message: "success rate 90%"}
			}
			return health.Measurement{Time: h.clk.Now(), Value: 1, Phase: health.Successful}
		})}}}, nil
	})
	plan := compile(t, strategy.Canary{
		TrafficRouting: &shopRoute,
		Steps:          []strategy.Step{strategy.SetWeight(10), strategy.SetWeight(20), strategy.PauseUntilPromoted(), strategy.SetWeight(50)},
		Analysis:       &strategy.BackgroundAnalysis{Analysis: strategy.Templates("success-rate"), StartingStep: new(int32(1))},
	})
	_, err := h.runner(plan, routeTarget(t, h), strategy.WithTemplate("success-rate", bg)).Run(h.ctx, h.v2)
	var aborted *strategy.AbortedError
	require.ErrorAs(t, err, &aborted)
	assert.Contains(t, aborted.Reason, "background analysis success-rate Failed")
	assert.Equal(t, "pause until promoted", aborted.StepText, "it acts at whatever step the run is on")
}

func TestMetricsCountStepsAnalysesAndAborts(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	reg := prometheus.NewPedanticRegistry()
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(20), strategy.Analyze("check")}})
	_, err := h.runner(plan, routeTarget(t, h), strategy.WithTemplate("check", fixed(health.Failed)), strategy.WithRegisterer(reg)).Run(h.ctx, h.v2)
	require.ErrorIs(t, err, strategy.ErrAborted)
	// A second runner shares the registry.
	_, err = strategy.New(h.repo, h.argo, plan, routeTarget(t, h), strategy.WithTemplate("check", fixed(health.Failed)), strategy.WithRegisterer(reg))
	require.NoError(t, err)

	assert.Equal(t, 1.0, testutil.ToFloat64(counter(t, reg, "flightdeck_rollout_aborts_total", map[string]string{"strategy": "canary", "cause": "analysis"})))
	assert.Equal(t, 1.0, testutil.ToFloat64(counter(t, reg, "flightdeck_rollout_runs_total", map[string]string{"strategy": "canary", "phase": "Aborted"})))
	assert.Equal(t, 1.0, testutil.ToFloat64(counter(t, reg, "flightdeck_rollout_analyses_total", map[string]string{"strategy": "canary", "phase": "Failed"})))
	assert.Equal(t, 1.0, testutil.ToFloat64(counter(t, reg, "flightdeck_rollout_steps_total", map[string]string{"strategy": "canary", "step": "setWeight"})))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// counter returns a collector of the one series of name with labels.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) prometheus.Collector {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			v := m.GetCounter().GetValue()
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "value"}, func() float64 { return v })
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return nil
}

func TestANewReleaseSupersedesARunningOne(t *testing.T) {
	h := newHarness(t, 4, ready, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(20), strategy.PauseUntilPromoted(), strategy.SetWeight(50)}})
	h.runUntilPaused(plan, h.v2)

	v3 := strategytest.Release(app, 3)
	wg := h.onPaused(func(e strategy.Event) {
		if e.Time.After(time.Time{}) {
			_, err := h.control(strategy.CommandPromote, "")
			assert.NoError(t, err)
		}
	})
	st, err := h.runner(plan, routeTarget(t, h)).Run(h.ctx, v3)
	wg.Wait()
	require.NoError(t, err)
	assert.Equal(t, v3.Digest, st.Release.Digest)
	assert.Equal(t, h.v1.Digest, st.Stable.Digest, "the new run starts from the release that served")
	started := h.events.of(strategy.EventStarted)
	assert.Contains(t, started[len(started)-1].Message, "superseding the run of")
	_, imgs := h.deployment("shop")
	assert.Equal(t, []string{v3.Ref()}, imgs)

	other := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(30)}})
	st, err = h.runner(other, routeTarget(t, h)).Run(h.ctx, v3)
	require.NoError(t, err, "a completed release is done whatever the plan")
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)
}

func TestARunOfTheSameReleaseUnderAnotherPlanIsRefused(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(20), strategy.PauseUntilPromoted()}})
	h.runUntilPaused(plan, h.v2)
	other := compile(t, strategy.Canary{TrafficRouting: &shopRoute, Steps: []strategy.Step{strategy.SetWeight(40)}})
	_, err := h.runner(other, routeTarget(t, h)).Run(h.ctx, h.v2)
	assert.ErrorIs(t, err, strategy.ErrPlanChanged)
}

func TestAnAbortGivesADynamicallyScaledStableItsPodsBeforeItsTraffic(t *testing.T) {
	h := newHarness(t, 4, ready, ready)
	plan := compile(t, strategy.Canary{TrafficRouting: &shopRoute, DynamicStableScale: true, Steps: []strategy.Step{strategy.SetWeight(75), strategy.Analyze("check")}})
	_, err := h.runner(plan, routeTarget(t, h), strategy.WithTemplate("check", fixed(health.Failed))).Run(h.ctx, h.v2)
	require.ErrorIs(t, err, strategy.ErrAborted)
	var got []strategy.Desired
	for _, e := range h.events.of(strategy.EventSynced) {
		got = append(got, e.Desired)
	}
	require.GreaterOrEqual(t, len(got), 3)
	at75, restored, back := got[len(got)-3], got[len(got)-2], got[len(got)-1]
	assert.Equal(t, int32(75), at75.Weight)
	assert.Equal(t, int32(1), at75.Stable.Replicas, "the stable scaled down with its traffic")
	assert.Equal(t, int32(75), restored.Weight, "the stable first gets its pods back, keeping the traffic where it is")
	assert.Equal(t, int32(4), restored.Stable.Replicas)
	assert.Equal(t, int32(0), back.Weight)
	assert.Equal(t, int32(0), back.Canary.Replicas, "with dynamic stable scale the canary goes with its traffic")
}

func TestBlueGreenFailedPrePromotionAnalysisNeverSwitches(t *testing.T) {
	h := newHarness(t, 3, ready, ready)
	target, err := strategy.NewBlueGreenTarget(h.ov, "shop", "shop-preview")
	require.NoError(t, err)
	plan := compile(t, strategy.BlueGreen{ActiveService: "shop", PreviewService: "shop-preview", PrePromotionAnalysis: new(strategy.Templates("smoke"))})
	_, err = h.runner(plan, target, strategy.WithTemplate("smoke", fixed(health.Failed))).Run(h.ctx, h.v2)
	var aborted *strategy.AbortedError
	require.ErrorAs(t, err, &aborted)
	assert.Equal(t, "analysis smoke", aborted.StepText)
	for _, e := range h.events.of(strategy.EventStep) {
		assert.NotEqual(t, "switchActive", e.StepText, "the active Service never moved")
	}
	res, err := h.cluster.Send(h.ctx, h.env.Ref("Service", "shop"), 100)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{h.ns + "/shop-blue": 100}, res.Deployments)
	n, _ := h.deployment("shop-green")
	assert.Zero(t, n, "the preview is scaled down after abortScaleDownDelay")
}
