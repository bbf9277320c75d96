package dora_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/dora/doratest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
	"github.com/flightdeck-dev/flightdeck/rollback"
)

// TestReadsWhatRollbackWrites runs package rollback's verification and
// automatic rollback (its markers and rollback commit, as it writes
// them) and checks that dora reads them as the package documents: the
// verified marker ends the lead time, the failed deploy is the one the
// rollback reverts, and the rollback is its recovery.
func TestReadsWhatRollbackWrites(t *testing.T) {
	ctx := context.Background()
	begin := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	clk := clocktest.NewAuto(begin) // every wait of the analysis moves the clock
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("web"), gitopstest.WithClock(clk))
	require.NoError(t, err)
	c, err := rollback.New(f, rollback.WithClock(clk))
	require.NoError(t, err)
	prod := gitops.Target{App: "web", Environment: flightdeck.Environment{Name: "prod"}}
	check := func(ms ...health.Measurement) health.Analysis {
		return health.Analysis{Metrics: []health.Metric{{Name: "error-rate", Evaluator: healthtest.NewScripted(ms...),
			Interval: 30 * time.Second, Count: len(ms), FailureCondition: health.Above(0.01)}}}
	}
	deploy := func(n int) gitops.Result {
		t.Helper()
		res, err := gitops.DeployRelease(ctx, f, gitops.DeployRequest{Target: prod, Release: doratest.Release("web", n, begin.Add(-time.Hour))})
		require.NoError(t, err)
		return res
	}

	good := deploy(1) // 10:00
	v, err := c.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: check(healthtest.Success(0.001), healthtest.Success(0.002))})
	require.NoError(t, err)
	require.Equal(t, rollback.Verified, v.Verdict)
	clk.Advance(time.Hour)
	deploy(2) // never verified
	clk.Advance(time.Hour)
	bad := deploy(3)
	v, err = c.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: check(healthtest.Success(0.002), healthtest.Success(0.2))})
	require.NoError(t, err)
	require.Equal(t, rollback.Failed, v.Verdict)
	require.NotNil(t, v.Rollback)

	rep, err := dora.NewReader(f, dora.WithClock(clk)).Report(ctx, dora.Query{})
	require.NoError(t, err)
	require.Len(t, rep.Targets, 1)
	st := rep.Targets[0]
	require.Len(t, st.Deployments, 4, "three deploys and the rollback; the markers are not deployments")
	d1, d3, r := st.Deployments[0], st.Deployments[2], st.Deployments[3]
	assert.Equal(t, good.Commit, d1.Commit)
	assert.Equal(t, 30*time.Second, d1.VerifiedAt.Sub(d1.Time), "verified when the analysis ended, 30s after the deploy")
	assert.Equal(t, time.Hour+30*time.Second, d1.LeadTime)
	assert.Equal(t, bad.Commit, d3.Commit)
	assert.True(t, d3.Failed, "the deploy the rollback reverts failed")
	assert.Equal(t, r.Commit, d3.FailedBy, "the rollback comes before the failed marker")
	assert.Equal(t, gitops.ActionRollback, r.Action)
	assert.True(t, r.Unplanned)
	assert.Equal(t, r.Commit, d3.RecoveredBy)
	assert.Equal(t, 30*time.Second, d3.Recovery, "the rollback was committed when the failing analysis ended")
	assert.Equal(t, dora.Rate{Count: 1, Of: 4, Value: 0.25, Band: dora.BandMedium}, st.ChangeFailRate)
	assert.Equal(t, dora.Rate{Count: 1, Of: 4, Value: 0.25, Band: dora.BandMedium}, st.ReworkRate)
	assert.False(t, st.Deployments[1].Failed, "the unverified deploy in between was not the one reverted")
}
