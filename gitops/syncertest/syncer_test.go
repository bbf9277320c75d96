package syncertest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/syncertest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
)

func TestSyncCompletes(t *testing.T) {
	clk := sim.NewClock(time.Time{})
	s := syncertest.New(clk)
	s.Set(gitops.AppStatus{App: "shop", SyncStatus: gitops.SyncOutOfSync, Health: health.Missing})
	ctx := context.Background()
	require.NoError(t, s.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: "abc"}))
	st, err := s.AppStatus(ctx, "shop")
	require.NoError(t, err)
	assert.Equal(t, gitops.SyncSynced, st.SyncStatus)
	assert.Equal(t, health.Healthy, st.Health)
	assert.Equal(t, "abc", st.Revision)
	require.NotNil(t, st.Operation)
	assert.Equal(t, clk.Now(), st.Operation.FinishedAt)
	assert.True(t, st.ReconciledAt.After(st.Operation.FinishedAt))
	require.Len(t, st.History, 1)

	require.NoError(t, s.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: "def", DryRun: true}))
	st, err = s.AppStatus(ctx, "shop")
	require.NoError(t, err)
	assert.Equal(t, "abc", st.Revision, "a dry run changes nothing")

	calls := s.Calls()
	require.Len(t, calls, 4)
	assert.Equal(t, syncertest.Call{Method: "Sync", App: "shop", Request: gitops.SyncRequest{App: "shop", Revision: "abc"}}, calls[0])
	assert.Equal(t, 2, s.Count("Sync"))
}

func TestScriptAndFaults(t *testing.T) {
	s := syncertest.New(nil)
	ctx := context.Background()
	s.Script("shop", gitops.AppStatus{Health: health.Progressing}, gitops.AppStatus{Health: health.Healthy})
	boom := errors.New("boom")
	s.FailStatus(boom)
	_, err := s.AppStatus(ctx, "shop")
	require.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, `app "shop"`)
	for _, want := range []health.Status{health.Progressing, health.Healthy, health.Healthy} {
		st, err := s.AppStatus(ctx, "shop")
		require.NoError(t, err)
		assert.Equal(t, want, st.Health, "scripted statuses in order, the last one repeats")
		assert.Equal(t, "shop", st.App)
	}

	s.FailSync(boom)
	assert.ErrorIs(t, s.Sync(ctx, gitops.SyncRequest{App: "shop"}), boom)
	s.FailSync(nil)
	assert.ErrorIs(t, s.Sync(ctx, gitops.SyncRequest{App: "nope"}), syncertest.ErrNotFound)
	_, err = s.AppStatus(ctx, "nope")
	assert.ErrorIs(t, err, syncertest.ErrNotFound)
	assert.ErrorIs(t, s.Refresh(ctx, "nope"), syncertest.ErrNotFound)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, s.Sync(cctx, gitops.SyncRequest{App: "shop"}), context.Canceled)
	_, err = s.AppStatus(cctx, "shop")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestConcurrentUse(t *testing.T) {
	s := syncertest.New(nil)
	s.Set(gitops.AppStatus{App: "shop"})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: fmt.Sprint(i)})
			_, _ = s.AppStatus(ctx, "shop")
			_ = s.Refresh(ctx, "shop")
		}()
	}
	wg.Wait()
	assert.Len(t, s.Calls(), 24)
	st, err := s.AppStatus(ctx, "shop")
	require.NoError(t, err)
	assert.Len(t, st.History, 8)
}

func ExampleSyncer() {
	s := syncertest.New(nil)
	s.Script("shop",
		gitops.AppStatus{SyncStatus: gitops.SyncOutOfSync, Health: health.Progressing},
		gitops.AppStatus{SyncStatus: gitops.SyncSynced, Health: health.Healthy},
	)
	for range 3 {
		st, _ := s.AppStatus(context.Background(), "shop")
		fmt.Println(st.SyncStatus, st.Health)
	}
	fmt.Println(s.Count("AppStatus"), "calls")
	// Output:
	// OutOfSync Progressing
	// Synced Healthy
	// Synced Healthy
	// 3 calls
}

func TestHangAndDelete(t *testing.T) {
	s := syncertest.New(nil)
	s.Set(gitops.AppStatus{App: "shop"})
	hung := s.Hang("AppStatus", "Refresh")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := s.AppStatus(ctx, "shop"); done <- err }()
	assert.Equal(t, "AppStatus", <-hung, "the blocked call is announced")
	assert.Equal(t, 1, s.Count("AppStatus"), "and recorded")
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, `status of app "shop"`)
	require.NoError(t, s.Sync(context.Background(), gitops.SyncRequest{App: "shop"}), "Sync does not hang")

	s.Hang()
	_, err = s.AppStatus(context.Background(), "shop")
	require.NoError(t, err, "Hang() ends the fault")

	s.Delete("shop")
	_, err = s.AppStatus(context.Background(), "shop")
	require.ErrorIs(t, err, syncertest.ErrNotFound)
	assert.ErrorIs(t, err, gitops.ErrAppNotFound)
}
