package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/syncertest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
)

const (
	revA = "3f2a9c1e0b7d4a6f8e5c2b1a09d8c7b6a5f4e3d2"
	revB = "9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// status builds an app status whose operation finished at t0+10s.
func status(rev, phase string, reconciled time.Duration, sync string, h health.Status) gitops.AppStatus {
	op := &gitops.Operation{Phase: phase, Revision: rev, StartedAt: t0}
	if phase != gitops.OpRunning && phase != gitops.OpTerminating {
		op.FinishedAt = t0.Add(10 * time.Second)
	}
	return gitops.AppStatus{
		App: "shop", SyncStatus: sync, Revision: rev, Health: h, Operation: op,
		ReconciledAt: t0.Add(reconciled),
	}
}

func good(rev string) gitops.AppStatus {
	return status(rev, gitops.OpSucceeded, 11*time.Second, gitops.SyncSynced, health.Healthy)
}

type result struct {
	st  gitops.AppStatus
	err error
}

// drive runs wait in a goroutine and moves clk to its next timer each
// time the waiter is blocked on `timers` timers, until wait returns.
func drive(t *testing.T, clk *sim.Clock, timers int, wait func() (gitops.AppStatus, error)) (gitops.AppStatus, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // hang guard only
	defer cancel()
	done := make(chan result, 1)
	go func() {
		st, err := wait()
		done <- result{st, err}
		cancel()
	}()
	for clk.WaitForTimers(ctx, timers) == nil {
		clk.AdvanceToNext()
	}
	select {
	case r := <-done:
		return r.st, r.err
	case <-time.After(20 * time.Second):
		t.Fatal("WaitFor did not return")
		return gitops.AppStatus{}, nil
	}
}

func opts(clk *sim.Clock) gitops.WaitOptions {
	return gitops.WaitOptions{
		App: "shop", Revision: revA, StableFor: 5 * time.Second, PollInterval: time.Second,
		Timeout: time.Minute, Clock: clk,
	}
}

func TestWaitForSucceedsAfterStableWindow(t *testing.T) {
	clk := sim.NewClock(t0)
	s := syncertest.New(clk)
	s.Script("shop", good(revA))

	st, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
	require.NoError(t, err)
	assert.Equal(t, revA, st.Revision)
	assert.Equal(t, t0.Add(5*time.Second), clk.Now(), "good from the first poll, so done exactly StableFor later")
	assert.Equal(t, 6, s.Count("AppStatus"))
}

func TestWaitForMomentaryHealthyDoesNotPass(t *testing.T) {
	clk := sim.NewClock(t0)
	s := syncertest.New(clk)
	progressing := status(revA, gitops.OpSucceeded, 11*time.Second, gitops.SyncSynced, health.Progressing)
	s.Script("shop",
		status(revA, gitops.OpRunning, 11*time.Second, gitops.SyncSynced, health.Healthy), // healthy, but the operation runs
		good(revA),  // t=1s: healthy for a moment...
		good(revA),  // t=2s
		progressing, // t=3s: ...then the rollout starts
		good(revA),  // t=4s onwards: healthy for good
	)
	st, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
	require.NoError(t, err)
	assert.Equal(t, health.Healthy, st.Health)
	assert.Equal(t, t0.Add(9*time.Second), clk.Now(), "the window restarts at t=4s after the Progressing blip")
}

func TestWaitForTraps(t *testing.T) {
	tests := []struct {
		name   string
		status gitops.AppStatus
		reason string
	}{
		{"running operation", status(revA, gitops.OpRunning, 11*time.Second, gitops.SyncSynced, health.Healthy), "operation Running"},
		{"terminating operation", status(revA, gitops.OpTerminating, 11*time.Second, gitops.SyncSynced, health.Healthy), "operation Terminating"},
		{"no operation", gitops.AppStatus{App: "shop", SyncStatus: gitops.SyncSynced, Revision: revA, Health: health.Healthy, ReconciledAt: t0}, "no sync operation"},
		{"stale reconcile", status(revA, gitops.OpSucceeded, 9*time.Second, gitops.SyncSynced, health.Healthy), "not after the operation finished"},
		{"reconcile in the finish second", status(revA, gitops.OpSucceeded, 10*time.Second, gitops.SyncSynced, health.Healthy), "not after the operation finished"},
		{"wrong revision", good(revB), "want \"" + revA + "\""},
		{"synced to other revision than operation", func() gitops.AppStatus { s := good(revA); s.Revision = revB; return s }(), "synced revision"},
		{"out of sync", status(revA, gitops.OpSucceeded, 11*time.Second, gitops.SyncOutOfSync, health.Healthy), "sync OutOfSync, want Synced"},
		{"degraded", status(revA, gitops.OpSucceeded, 11*time.Second, gitops.SyncSynced, health.Degraded), "health Degraded, want Healthy"},
		{"operation without finish time", func() gitops.AppStatus { s := good(revA); s.Operation.FinishedAt = time.Time{}; return s }(), "no finish time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := sim.NewClock(t0)
			s := syncertest.New(clk)
			s.Script("shop", tt.status)
			_, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
			require.Error(t, err)
			assert.ErrorIs(t, err, gitops.ErrWaitTimeout)
			var we *gitops.WaitError
			require.ErrorAs(t, err, &we)
			assert.Equal(t, "shop", we.App)
			assert.Equal(t, tt.status, we.Last, "the error carries the last status seen")
			assert.Contains(t, we.Reason, tt.reason)
			assert.Contains(t, err.Error(), tt.reason)
			assert.Equal(t, t0.Add(time.Minute), clk.Now())
		})
	}
}

func TestWaitForRefreshesStaleReconcile(t *testing.T) {
	clk := sim.NewClock(t0.Add(time.Hour))
	s := syncertest.New(clk)
	s.Set(status(revA, gitops.OpSucceeded, 9*time.Second, gitops.SyncSynced, health.Healthy))

	st, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
	require.NoError(t, err)
	assert.Equal(t, 1, s.Count("Refresh"), "one refresh fixes the stale reconcile")
	assert.True(t, st.ReconciledAt.After(st.Operation.FinishedAt))
}

func TestWaitForFailedOperationReturnsAtOnce(t *testing.T) {
	clk := sim.NewClock(t0)
	s := syncertest.New(clk)
	failed := status(revA, gitops.OpFailed, 11*time.Second, gitops.SyncOutOfSync, health.Degraded)
	failed.Operation.Message = "one or more objects failed to apply"
	s.Script("shop", failed)

	_, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
	require.ErrorIs(t, err, gitops.ErrOperationFailed)
	assert.NotErrorIs(t, err, gitops.ErrWaitTimeout)
	assert.Contains(t, err.Error(), "one or more objects failed to apply")
	assert.Equal(t, t0, clk.Now(), "no poll after the failure")
}

func TestWaitForIgnoresFailureOfOtherRevision(t *testing.T) {
	clk := sim.NewClock(t0)
	s := syncertest.New(clk)
	s.Script("shop", status(revB, gitops.OpFailed, 11*time.Second, gitops.SyncOutOfSync, health.Degraded), good(revA))

	st, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
	require.NoError(t, err)
	assert.Equal(t, revA, st.Revision)
}

func TestWaitForStatusErrors(t *testing.T) {
	boom := errors.New("connection refused")
	t.Run("transient", func(t *testing.T) {
		clk := sim.NewClock(t0)
		s := syncertest.New(clk)
		s.Script("shop", good(revA))
		s.FailStatus(boom, boom)
		_, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
		require.NoError(t, err)
		assert.Equal(t, t0.Add(7*time.Second), clk.Now())
	})
	t.Run("persistent", func(t *testing.T) {
		clk := sim.NewClock(t0)
		s := syncertest.New(clk)
		s.Script("shop", good(revA))
		s.FailStatus(boom, boom, boom)
		_, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
		require.ErrorIs(t, err, gitops.ErrStatusUnavailable)
		assert.ErrorIs(t, err, boom)
	})
}

func TestWaitForContext(t *testing.T) {
	clk := sim.NewClock(t0)
	s := syncertest.New(clk)
	s.Script("shop", status(revA, gitops.OpRunning, 0, gitops.SyncOutOfSync, health.Progressing))
	ctx, cancel := context.WithCancel(context.Background())
	o := opts(clk)
	o.Timeout = 0
	done := make(chan error, 1)
	go func() { _, err := gitops.WaitFor(ctx, s, o); done <- err }()
	require.NoError(t, clk.WaitForTimers(context.Background(), 1))
	cancel()
	err := <-done
	require.ErrorIs(t, err, gitops.ErrWaitTimeout)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "operation Running")

	_, err = gitops.WaitFor(ctx, s, o)
	assert.ErrorIs(t, err, context.Canceled, "an already cancelled context reads nothing")
}

func TestWaitForBadInput(t *testing.T) {
	_, err := gitops.WaitFor(context.Background(), syncertest.New(nil), gitops.WaitOptions{})
	assert.ErrorContains(t, err, "App is required")
	_, err = gitops.WaitFor(context.Background(), nil, gitops.WaitOptions{App: "shop"})
	assert.ErrorContains(t, err, `app "shop": nil Syncer`)

	clk := sim.NewClock(t0)
	s := syncertest.New(clk)
	_, err = drive(t, clk, 2, func() (gitops.AppStatus, error) {
		return gitops.WaitFor(context.Background(), s, gitops.WaitOptions{App: "nope", Clock: clk, Timeout: time.Minute})
	})
	assert.ErrorIs(t, err, gitops.ErrStatusUnavailable)
	assert.ErrorIs(t, err, syncertest.ErrNotFound)
}

func TestWaitForWantedStates(t *testing.T) {
	clk := sim.NewClock(t0)
	s := syncertest.New(clk)
	s.Script("shop", status(revA, gitops.OpSucceeded, 11*time.Second, gitops.SyncSynced, health.Degraded))
	o := opts(clk)
	o.Health = health.Degraded
	o.StableFor = -1
	st, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, o) })
	require.NoError(t, err)
	assert.Equal(t, health.Degraded, st.Health)
	assert.Equal(t, t0, clk.Now(), "a negative StableFor accepts the first good status")
}

func TestRevisionMatches(t *testing.T) {
	tests := []struct {
		want, got string
		ok        bool
	}{
		{revA, revA, true},
		{revA[:7], revA, true},
		{revA[:12], revA, true},
		{"3F2A9C1", revA, true},
		{revA[:6], revA, false},
		{revB[:7], revA, false},
		{"main", "main", true},
		{"main", revA, false},
		{"", "", false},
		{"", revA, false},
		{revA, revA[:7], false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.ok, gitops.RevisionMatches(tt.want, tt.got), "%q vs %q", tt.want, tt.got)
	}
}

func ExampleWaitFor() {
	clk := sim.NewClock(time.Time{})
	s := syncertest.New(clk)
	s.Set(gitops.AppStatus{App: "shop", SyncStatus: gitops.SyncOutOfSync, Health: health.Healthy})

	ctx := context.Background()
	if err := s.Sync(ctx, gitops.SyncRequest{App: "shop", Revision: revA}); err != nil {
		fmt.Println(err)
		return
	}
	st, err := gitops.WaitFor(ctx, s, gitops.WaitOptions{App: "shop", Revision: revA[:7], StableFor: -1, Clock: clk})
	fmt.Println(st.SyncStatus, st.Health, st.Revision[:7], err)
	// Output: Synced Healthy 3f2a9c1 <nil>
}

func TestWaitForDefaultsToSystemClock(t *testing.T) {
	s := syncertest.New(nil)
	s.Script("shop", good(revA))
	st, err := gitops.WaitFor(context.Background(), s, gitops.WaitOptions{App: "shop", Revision: revA, StableFor: -1})
	require.NoError(t, err, "a good first status needs no clock wait")
	assert.Equal(t, revA, st.Revision)
	assert.Equal(t, 1, s.Count("AppStatus"))
}
