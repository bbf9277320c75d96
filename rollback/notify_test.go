package rollback_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/rollback/rollbacktest"
)

// TestNotifyObserver verifies a good deploy, fails a bad one and rolls
// it back, and checks what stakeholders are told.
func TestNotifyObserver(t *testing.T) {
	ctx := context.Background()
	clk := clocktest.NewAuto(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	repo, err := gitopstest.NewFake(gitopstest.KustomizeLayout("shop"), gitopstest.WithClock(clk))
	require.NoError(t, err)
	var rec notifytest.Recorder
	var seen rollbacktest.Observer
	obs := rollback.NotifyObserver(&rec, notify.Source{})
	ctl, err := rollback.New(repo, rollback.WithClock(clk), rollback.WithObserver(rollback.ObserverFunc(func(ctx context.Context, e rollback.Event) {
		seen.Observe(ctx, e)
		obs.Observe(ctx, e)
	})))
	require.NoError(t, err)
	prod := gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "prod"}}
	errorRate := func(values ...float64) health.Analysis {
		return health.Analysis{Metrics: []health.Metric{{Name: "error-rate", Evaluator: healthtest.Values(values...),
			Interval: time.Minute, Count: len(values), FailureCondition: health.Above(0.01)}}}
	}

	good, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(1)})
	require.NoError(t, err)
	_, err = ctl.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: errorRate(0.001, 0.002)})
	require.NoError(t, err)
	_, err = gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: shopRelease(2)})
	require.NoError(t, err)
	v, err := ctl.Verify(ctx, rollback.VerifyRequest{Target: prod, Analysis: errorRate(0.002, 0.09)})
	require.NoError(t, err)
	require.NotNil(t, v.Rollback)

	got := rec.Events()
	kinds := make([]notify.Kind, len(got))
	for i, e := range got {
		kinds[i] = e.Kind
		assert.Equal(t, "shop", e.App)
		assert.Equal(t, "prod", e.Environment)
		assert.NoError(t, e.Validate())
	}
	require.Equal(t, []notify.Kind{notify.Deployed, notify.Degraded, notify.RolledBack}, kinds,
		"the verified deploy, the failed verdict, the rollback it triggered")
	assert.Equal(t, shopRelease(1).Digest, got[0].Release.Digest)
	rb := got[2]
	assert.Equal(t, shopRelease(2).Digest, rb.Release.Digest, "the release rolled back from")
	assert.Equal(t, v.Rollback.Commit.String(), rb.Details["commit"])
	assert.Equal(t, good.Commit.String(), rb.Details["restored commit"])
	assert.Equal(t, shopRelease(1).Ref(), rb.Details["restored"])
	assert.Equal(t, shopRelease(2).Digest, rb.Details["quarantined"])
	assert.Contains(t, rb.Details["hold"], "shop in prod is on hold")
	assert.Equal(t, v.Rollback.Hold.By, rb.Actor)
	assert.Contains(t, rb.Summary, "shop 1.2.0 in prod rolled back to 1.1.0: ")
	assert.Equal(t, shopRelease(2).Digest, got[1].Release.Digest)
	assert.Contains(t, got[1].Summary, "shop 1.2.0 in prod failed")

	// The same result observed again has the same idempotency key.
	var result rollback.Event
	for _, e := range seen.Events() {
		if e.Kind == rollback.EventResult {
			result = e
		}
	}
	obs.Observe(ctx, result)
	again := rec.Events()
	require.Len(t, again, 4)
	assert.Equal(t, rb.Key(), again[3].Key())
	assert.NotEqual(t, got[0].Key(), rb.Key())
}

func TestNotifyObserverSyncFailed(t *testing.T) {
	var rec notifytest.Recorder
	rollback.NotifyObserver(&rec, notify.Source{Actor: "rollback-bot"}).Observe(context.Background(), rollback.Event{
		Kind: rollback.EventResult, Target: gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: "prod"}},
		Decision: rollback.RolledBack, Release: shopRelease(2), Commit: "abc", Err: errors.New("sync failed"),
	})
	got := rec.Events()
	require.Len(t, got, 1)
	assert.Equal(t, notify.SyncFailed, got[0].Kind)
	assert.Equal(t, "rollback-bot", got[0].Actor)
	assert.Equal(t, shopRelease(2).Digest, got[0].Release.Digest)
	assert.Contains(t, got[0].Summary, "did not recover: sync failed")
}
