package strategy_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"
)

// routedCanary is a canary plan with the sequential error judge between
// its steps.
func routedCanary(t *testing.T) strategy.Plan {
	t.Helper()
	plan, err := strategy.Canary{
		Steps: []strategy.Step{
			strategy.SetWeight(10), strategy.Analyze("errors"),
			strategy.SetWeight(25), strategy.Analyze("errors"),
			strategy.SetWeight(50), strategy.Analyze("errors"),
		},
		TrafficRouting: &shopRoute,
	}.Compile(app, env)
	require.NoError(t, err)
	return plan
}

func TestRouteCanaryGoodReleaseGoesToFullWeightStepByStep(t *testing.T) {
	h := newHarness(t, 4, sim.Behavior{ErrorRate: 0.01, ReadyAfter: 5 * time.Second}, sim.Behavior{ErrorRate: 0.01, ReadyAfter: 5 * time.Second})
	target, err := strategy.NewRouteTarget(h.ov, shopRoute, "gateway")
	require.NoError(t, err)
	h.prepare(target)
	h.load("HTTPRoute", "shop", 100)
	plan := routedCanary(t)
	r := h.runner(plan, target, strategy.WithTemplate("errors", h.env.ErrorJudge("shop-canary", "shop", 30*time.Second, 10)))

	st, err := r.Run(h.ctx, h.v2)
	require.NoError(t, err)
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)

	var weights []string
	steps := map[string]int{}
	for _, c := range h.rolloutCommits() {
		if c.tr.Action != strategy.ActionStep {
			continue
		}
		assert.Equal(t, app, c.tr.App)
		assert.Equal(t, env, c.tr.Environment)
		assert.Equal(t, h.v2.Digest, c.tr.Digest)
		assert.Equal(t, "sha256:"+st.PlanHash, c.extra(gitops.TrailerPlanHash))
		steps[c.extra(gitops.TrailerStep)]++
		if len(weights) == 0 || weights[len(weights)-1] != c.extra(gitops.TrailerWeight) {
			weights = append(weights, c.extra(gitops.TrailerWeight))
		}
	}
	assert.Equal(t, []string{"10", "25", "50", "100", "0"}, weights, "the HTTPRoute weights, step by step")
	for i := 1; i <= len(plan.Steps); i++ {
		assert.NotZero(t, steps[stepLabel(i, len(plan.Steps))], "no commit of step %d", i)
	}
	n, imgs := h.deployment("shop")
	assert.Equal(t, 4, n)
	assert.Equal(t, []string{h.v2.Ref()}, imgs)
	n, _ = h.deployment("shop-canary")
	assert.Zero(t, n)
	assert.NotContains(t, h.readFile(h.ov.Dir+"/kustomization.yaml"), "flightdeck.local/canary", "the new release's own pin is gone")
	assert.Len(t, h.events.of(strategy.EventAnalysis), 3)
}

func TestRouteCanaryBadReleaseIsAbortedAtItsFirstStep(t *testing.T) {
	h := newHarness(t, 4, sim.Behavior{ErrorRate: 0.01}, sim.Behavior{ErrorRate: 0.05})
	target, err := strategy.NewRouteTarget(h.ov, shopRoute, "gateway")
	require.NoError(t, err)
	h.prepare(target)
	h.load("HTTPRoute", "shop", 100)
	r := h.runner(routedCanary(t), target, strategy.WithTemplate("errors", h.env.ErrorJudge("shop-canary", "shop", 30*time.Second, 10)))

	st, err := r.Run(h.ctx, h.v2)
	var aborted *strategy.AbortedError
	require.ErrorAs(t, err, &aborted)
	assert.ErrorIs(t, err, strategy.ErrAborted)
	assert.Equal(t, 1, aborted.Step, "aborted by the analysis after the first weight")
	assert.Contains(t, aborted.Reason, "analysis errors Failed")
	assert.Equal(t, strategy.PhaseAborted, st.Phase)
	assert.True(t, st.Abort.ScaledDown)

	var actions []gitops.Action
	for _, c := range h.rolloutCommits() {
		if c.tr.Action != strategy.ActionPrepare {
			actions = append(actions, c.tr.Action)
		}
	}
	assert.Equal(t, []gitops.Action{strategy.ActionStep, strategy.ActionStep, strategy.ActionAbort, strategy.ActionAbort}, actions)
	route := h.readFile(h.ov.Dir + "/flightdeck/httproute.yaml")
	assert.Contains(t, route, "- name: shop\n      port: 80\n      weight: 100\n")
	assert.Contains(t, route, "- name: shop-canary\n      port: 80\n      weight: 0\n")
	n, _ := h.deployment("shop-canary")
	assert.Zero(t, n, "scaled down after abortScaleDownDelay")
	_, imgs := h.deployment("shop")
	assert.Equal(t, []string{h.v1.Ref()}, imgs)
	aborts := h.events.of(strategy.EventAborted)
	require.Len(t, aborts, 1)
	down := h.events.of(strategy.EventScaledDown)
	require.Len(t, down, 1)
	assert.GreaterOrEqual(t, down[0].Time.Sub(aborts[0].Time), strategy.DefaultAbortScaleDownDelay)
	kinds := h.events.kinds()
	at := slices.Index(kinds, strategy.EventAborted)
	require.GreaterOrEqual(t, at, 0)
	assert.Equal(t, []strategy.EventKind{strategy.EventAborted, strategy.EventSynced, strategy.EventScaledDown, strategy.EventSynced},
		kinds[at:], "each abort commit is reported, then its sync")
	assert.False(t, errors.Is(err, strategy.ErrOtherRunner))
}

func stepLabel(i, n int) string { return itoa(i) + "/" + itoa(n) }

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
