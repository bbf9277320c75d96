package dora_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/gitops/syncertest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
	"github.com/flightdeck-dev/flightdeck/strategy"
	"github.com/flightdeck-dev/flightdeck/strategy/strategytest"
)

// TestReadsWhatTheStrategyRunnerWrites runs two canaries with package
// strategy's Runner on a real repository (each step a commit): a good
// release that completes, then a bad one its analysis aborts. dora reads
// each run as one deployment from its first step, the good one
// delivered when its last step completed, the bad one failed, and the
// abort as an unplanned deployment that recovers from it.
func TestReadsWhatTheStrategyRunnerWrites(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.NewAuto(time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC))
	dir := gitopstest.NewBareRepo(t, strategytest.Layout(4, "shop"))
	repo, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(t.TempDir(), "cache")), gitops.WithClock(clk))
	require.NoError(t, err)
	syncer := syncertest.New(clk)
	syncer.Set(gitops.AppStatus{App: "shop-" + strategytest.Env})
	target, err := strategy.NewReplicaTarget(strategytest.Overlay("shop", 4))
	require.NoError(t, err)
	plan, err := strategy.Canary{Steps: []strategy.Step{strategy.SetWeight(25), strategy.Analyze("errors"), strategy.SetWeight(50)}}.Compile("shop", strategytest.Env)
	require.NoError(t, err)
	errorRate := func(v float64) strategy.Template {
		return strategy.TemplateFunc(func(context.Context, strategy.AnalysisInput) (health.Analysis, error) {
			return health.Analysis{Metrics: []health.Metric{{Name: "errors", Evaluator: healthtest.NewScripted(healthtest.Success(v)),
				Interval: time.Minute, Count: 1, FailureCondition: health.Above(0.01)}}}, nil
		})
	}
	run := func(v float64, n int) (strategy.Status, error) {
		r, err := strategy.New(repo, syncer, plan, target, strategy.WithClock(clk), strategy.WithTemplate("errors", errorRate(v)),
			strategy.WithWait(gitops.WaitOptions{PollInterval: time.Second, StableFor: -1, Timeout: -1}))
		require.NoError(t, err)
		rel := strategytest.Release("shop", n)
		rel.Revision, rel.Time = "rev"+rel.Tag, clk.Now().Add(-time.Hour)
		return r.Run(ctx, rel)
	}
	st, err := run(0.001, 2)
	require.NoError(t, err)
	require.Equal(t, strategy.PhaseCompleted, st.Phase)
	_, err = run(0.2, 3)
	require.ErrorIs(t, err, strategy.ErrAborted)

	rep, err := dora.NewReader(repo, dora.WithClock(clk)).Report(ctx, dora.Query{})
	require.NoError(t, err)
	require.Len(t, rep.Targets, 1)
	s := rep.Targets[0]
	require.Len(t, s.Deployments, 3, "two rollouts and one abort, however many commits each made")
	good, bad, abort := s.Deployments[0], s.Deployments[1], s.Deployments[2]

	assert.Equal(t, dora.ActionRolloutStep, good.Action)
	assert.False(t, good.Failed)
	require.False(t, good.Completed.IsZero(), "the good rollout completed")
	assert.True(t, good.Completed.After(good.Time))
	assert.Equal(t, good.Completed.Sub(good.SourceTime), good.LeadTime, "lead time to the completed rollout")

	assert.Equal(t, dora.ActionRolloutStep, bad.Action)
	assert.True(t, bad.Completed.IsZero())
	assert.Zero(t, bad.LeadTime, "an aborted rollout delivered nothing")
	assert.True(t, bad.Failed)
	assert.Equal(t, abort.Commit, bad.FailedBy)
	assert.Equal(t, abort.Commit, bad.RecoveredBy)
	assert.Equal(t, abort.Time.Sub(bad.Time), bad.Recovery)

	assert.Equal(t, dora.ActionRolloutAbort, abort.Action)
	assert.True(t, abort.Unplanned)
	assert.False(t, abort.Failed)
	assert.Equal(t, dora.Rate{Count: 1, Of: 3, Value: 1.0 / 3, Band: dora.BandMedium}, s.ChangeFailRate)
	assert.Equal(t, dora.Rate{Count: 1, Of: 3, Value: 1.0 / 3, Band: dora.BandMedium}, s.ReworkRate)
	assert.Equal(t, 1, s.Recovery.Count)
}
