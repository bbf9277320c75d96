package strategy_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
	"github.com/flightdeck-dev/flightdeck/strategy"
)

// errorLogs is a template that watches the error lines of the canary's
// pods, read through Argo CD's pod logs: measured every 30 seconds four
// times, more than six error lines a minute fail.
//
// The harnesses below run on an accelerated clock rather than the auto
// clock: a log read asks for the last seconds of the server's clock,
// and the auto clock can jump minutes ahead while the request travels
// (any other waiter moves it), which reads as an empty window.
func errorLogs(h *harness) strategy.Template {
	return strategy.TemplateFunc(func(ctx context.Context, in strategy.AnalysisInput) (health.Analysis, error) {
		src := argocd.LogSource(h.argo, syncApp, argocd.LogQuery{Kind: "Deployment", ResourceName: "shop-canary"})
		e, err := health.NewErrorLogs(src, health.ErrorLogSpec{Window: 30 * time.Second, MaxRate: 6}, health.WithClock(h.clk))
		if err != nil {
			return health.Analysis{}, err
		}
		return health.Analysis{Metrics: []health.Metric{{Name: in.Template, Evaluator: e, Interval: 30 * time.Second, Count: 4}}}, nil
	})
}

// logsSpeed runs the clock 200 times faster than real time: a 30-second
// interval takes 150ms, and a log read would have to take 12 s of real
// time to miss its window (argocd.LogSinceSlack).
const logsSpeed = 200

func TestRouteCanaryErrorLogsAbortABadRelease(t *testing.T) {
	// Release 2 fails one request in five; both log every request.
	h := newHarnessAt(t, logsSpeed, 4, sim.Behavior{AccessLog: true}, sim.Behavior{ErrorRate: 0.2, AccessLog: true})
	target, err := strategy.NewRouteTarget(h.ov, shopRoute, "gateway")
	require.NoError(t, err)
	h.prepare(target)
	h.load("HTTPRoute", "shop", 100)
	r := h.runner(routedCanary(t), target, strategy.WithTemplate("errors", errorLogs(h)))

	st, err := r.Run(h.ctx, h.v2)
	var aborted *strategy.AbortedError
	require.ErrorAs(t, err, &aborted)
	assert.Equal(t, 1, aborted.Step, "aborted by the analysis after the first weight")
	assert.Regexp(t, `^analysis errors Failed: \d+ failed measurements? exceeds? the failure limit 0: `, aborted.Reason,
		"the metric named like its template is not named twice")
	assert.Equal(t, strategy.PhaseAborted, st.Phase)

	runs := h.events.of(strategy.EventAnalysis)
	require.Len(t, runs, 1)
	mr := runs[0].Analysis.Metric("errors")
	require.NotNil(t, mr)
	require.NotEmpty(t, mr.Measurements)
	last := mr.Measurements[len(mr.Measurements)-1]
	assert.Equal(t, health.Failed, last.Phase)
	assert.Greater(t, last.Values["errors"], 6.0)
	assert.Contains(t, last.Message, `level=error msg=\"request failed\"`, "the samples quote the canary's lines")
	assert.Contains(t, last.Message, "shop-canary-", "and name its pods")
	_, imgs := h.deployment("shop")
	assert.Equal(t, []string{h.v1.Ref()}, imgs, "the stable release stays")
}

func TestRouteCanaryErrorLogsPassAGoodRelease(t *testing.T) {
	h := newHarnessAt(t, logsSpeed, 4, sim.Behavior{AccessLog: true}, sim.Behavior{AccessLog: true})
	target, err := strategy.NewRouteTarget(h.ov, shopRoute, "gateway")
	require.NoError(t, err)
	h.prepare(target)
	h.load("HTTPRoute", "shop", 100)
	plan, err := strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(25), strategy.Analyze("errors")}, TrafficRouting: &shopRoute}.Compile(app, env)
	require.NoError(t, err)
	r := h.runner(plan, target, strategy.WithTemplate("errors", errorLogs(h)))

	st, err := r.Run(h.ctx, h.v2)
	require.NoError(t, err)
	assert.Equal(t, strategy.PhaseCompleted, st.Phase)
	runs := h.events.of(strategy.EventAnalysis)
	require.Len(t, runs, 1)
	for _, run := range runs {
		assert.Equal(t, health.Successful, run.Analysis.Phase, run.Analysis.Message)
		for _, m := range run.Analysis.Metric("errors").Measurements {
			assert.Positive(t, m.Values["lines"], "every measurement read the canary's lines")
		}
	}
}
