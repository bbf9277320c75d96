package postdeploy_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/syncertest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
	"github.com/flightdeck-dev/flightdeck/pipeline/postdeploy"
)

// TestWithNotifyReportsWhatArgoCDTriggersMean: on-deployed once the
// environment is Synced and Healthy at the deploy, on-health-degraded
// and on-sync-failed when the wait ends so, each with one key per
// deploy.
func TestWithNotifyReportsWhatArgoCDTriggersMean(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pass := postdeploy.RunnerFunc(func(context.Context, []string) (postdeploy.Outcome, error) {
		return postdeploy.Outcome{Tests: []postdeploy.Test{{Name: "TestHealth", Status: postdeploy.StatusPass}}}, nil
	})
	run := func(status func(now time.Time) gitops.AppStatus) (*notifytest.Recorder, error) {
		var rec notifytest.Recorder
		syncer := syncertest.New(f.clk)
		syncer.Set(status(f.clk.Now()))
		stage := postdeploy.New(nil, postdeploy.Spec{Suite: "smoke", Tests: pass},
			postdeploy.WithSyncer(syncer, gitops.WaitOptions{StableFor: -1}),
			postdeploy.WithClock(f.clk), postdeploy.WithNotify(&rec, notify.Source{Actor: "ci"}))
		return &rec, stage.Run(ctx, f.state())
	}
	at := func(h health.Status, phase string) func(time.Time) gitops.AppStatus {
		return func(now time.Time) gitops.AppStatus {
			return gitops.AppStatus{App: "shop-staging", SyncStatus: gitops.SyncSynced, Revision: f.dep.Commit, Health: h,
				ReconciledAt: now.Add(time.Second),
				Operation:    &gitops.Operation{Phase: phase, Revision: f.dep.Commit, StartedAt: now, FinishedAt: now}}
		}
	}

	rec, err := run(at(health.Healthy, gitops.OpSucceeded))
	require.NoError(t, err)
	got := rec.Events()
	require.Len(t, got, 1)
	e := got[0]
	assert.Equal(t, notify.Deployed, e.Kind)
	assert.Equal(t, "shop", e.App)
	assert.Equal(t, "staging", e.Environment)
	assert.Equal(t, f.rel.Digest, e.Release.Digest)
	assert.Equal(t, "ci", e.Actor)
	assert.Equal(t, f.dep.Commit, e.Details["commit"])
	assert.Contains(t, e.Summary, "deployed to staging: Synced and Healthy")
	require.NoError(t, e.Validate())
	again, err := run(at(health.Healthy, gitops.OpSucceeded))
	require.NoError(t, err)
	require.Len(t, again.Events(), 1)
	assert.Equal(t, e.Key(), again.Events()[0].Key(), "the same deploy reported twice has one key")

	rec, err = run(at(health.Degraded, gitops.OpSucceeded))
	require.ErrorIs(t, err, gitops.ErrDegraded)
	require.Len(t, rec.Events(), 1)
	assert.Equal(t, notify.Degraded, rec.Events()[0].Kind)
	assert.NotEqual(t, e.Key(), rec.Events()[0].Key())

	rec, err = run(at(health.Progressing, gitops.OpFailed))
	require.ErrorIs(t, err, gitops.ErrOperationFailed)
	require.Len(t, rec.Events(), 1)
	assert.Equal(t, notify.SyncFailed, rec.Events()[0].Kind)
}
