package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
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
		{"progressing", status(revA, gitops.OpSucceeded, 11*time.Second, gitops.SyncSynced, health.Progressing), "health Progressing, want Healthy"},
		{"missing", status(revA, gitops.OpSucceeded, 11*time.Second, gitops.SyncSynced, health.Missing), "health Missing, want Healthy"},
		{"unknown health", status(revA, gitops.OpSucceeded, 11*time.Second, gitops.SyncSynced, health.Unknown), "health Unknown, want Healthy"},
		{"unknown phase", status(revA, "Paused", 11*time.Second, gitops.SyncSynced, health.Healthy), `operation in unknown phase "Paused"`},
		{"empty phase", status(revA, "", 11*time.Second, gitops.SyncSynced, health.Healthy), "operation has no phase"},
		{"degraded after another revision", func() gitops.AppStatus {
			s := status(revA, gitops.OpSucceeded, 11*time.Second, gitops.SyncSynced, health.Degraded)
			s.Revision = revB
			return s
		}(), "synced revision"},
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
	assert.ErrorIs(t, err, gitops.ErrAppNotFound, "an unknown app ends the wait at once")
	assert.ErrorIs(t, err, syncertest.ErrNotFound)
	assert.EqualError(t, err, `gitops: app "nope": application not found: status read refused: the application was deleted, or never existed under this name: status of app "nope": syncertest: application not found`)
	assert.Equal(t, t0, clk.Now())
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

// A release whose Deployment never becomes ready: once the sync has
// finished, the Degraded health ends the wait at once, with Argo CD's
// message, instead of at the timeout.
func ExampleWaitFor_degraded() {
	clk := sim.NewClock(time.Time{})
	s := syncertest.New(clk)
	finished := clk.Now().Add(-time.Minute)
	s.Set(gitops.AppStatus{
		App: "shop", SyncStatus: gitops.SyncSynced, Revision: revA,
		Health: health.Degraded, HealthMessage: `Deployment "shop" exceeded its progress deadline`,
		Operation:    &gitops.Operation{Phase: gitops.OpSucceeded, Revision: revA, FinishedAt: finished},
		ReconciledAt: finished.Add(time.Second),
	})
	_, err := gitops.WaitFor(context.Background(), s, gitops.WaitOptions{App: "shop", Revision: revA, Timeout: time.Hour, Clock: clk})
	fmt.Println(errors.Is(err, gitops.ErrDegraded))
	var we *gitops.WaitError
	if errors.As(err, &we) {
		fmt.Println(we.Reason)
	}
	// Output:
	// true
	// health Degraded: Deployment "shop" exceeded its progress deadline
}

func TestWaitForDefaultsToSystemClock(t *testing.T) {
	s := syncertest.New(nil)
	s.Script("shop", good(revA))
	st, err := gitops.WaitFor(context.Background(), s, gitops.WaitOptions{App: "shop", Revision: revA, StableFor: -1})
	require.NoError(t, err, "a good first status needs no clock wait")
	assert.Equal(t, revA, st.Revision)
	assert.Equal(t, 1, s.Count("AppStatus"))
}

// TestWaitForOutcomeTable walks every operation phase × sync status ×
// health × reconcile × revision combination and checks the one outcome
// the rules of WaitFor give it: only a Succeeded operation of the wanted
// revision, reconciled after it finished, that is Synced and Healthy
// passes; a Failed or Error operation of the wanted revision fails at
// once; a Degraded application after such a sync fails at once; every
// other status waits until the timeout, never reading as success.
func TestWaitForOutcomeTable(t *testing.T) {
	type outcome int
	const (
		passes outcome = iota
		timesOut
		opFails
		degrades
	)
	phases := []string{"none", gitops.OpRunning, gitops.OpTerminating, "", "Paused", gitops.OpSucceeded, gitops.OpFailed, gitops.OpError}
	syncs := []string{gitops.SyncSynced, gitops.SyncOutOfSync, gitops.SyncUnknown}
	healths := []health.Status{health.Healthy, health.Progressing, health.Degraded, health.Suspended, health.Missing, health.Unknown}
	revisions := []string{"wanted", "operation of another revision", "synced another revision"}
	want := func(phase, sync string, h health.Status, stale bool, rev string) outcome {
		switch {
		case phase != gitops.OpSucceeded && phase != gitops.OpFailed && phase != gitops.OpError:
			return timesOut
		case rev == "operation of another revision":
			return timesOut
		case phase != gitops.OpSucceeded:
			return opFails
		case stale, rev != "wanted":
			return timesOut
		case h == health.Degraded:
			return degrades
		case sync == gitops.SyncSynced && h == health.Healthy:
			return passes
		}
		return timesOut
	}
	for _, phase := range phases {
		for _, sync := range syncs {
			for _, h := range healths {
				for _, stale := range []bool{false, true} {
					for _, rev := range revisions {
						name := fmt.Sprintf("%s/%s/%s/stale=%v/%s", phase, sync, h, stale, rev)
						t.Run(name, func(t *testing.T) {
							reconciled := 11 * time.Second
							if stale {
								reconciled = 9 * time.Second
							}
							st := status(revA, phase, reconciled, sync, h)
							st.HealthMessage = "the health message"
							switch {
							case phase == "none":
								st.Operation = nil
							case rev == "operation of another revision":
								st.Operation.Revision, st.Revision = revB, revB
							case rev == "synced another revision":
								st.Revision = revB
							}
							clk := sim.NewClock(t0)
							s := syncertest.New(clk)
							s.Script("shop", st)
							o := opts(clk)
							o.Timeout = 10 * time.Second
							_, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, o) })
							switch want(phase, sync, h, stale, rev) {
							case passes:
								require.NoError(t, err)
								assert.Equal(t, t0.Add(o.StableFor), clk.Now())
							case timesOut:
								require.ErrorIs(t, err, gitops.ErrWaitTimeout)
								assert.Equal(t, t0.Add(o.Timeout), clk.Now())
							case opFails:
								require.ErrorIs(t, err, gitops.ErrOperationFailed)
								assert.Equal(t, t0, clk.Now(), "at once")
							case degrades:
								require.ErrorIs(t, err, gitops.ErrDegraded)
								assert.ErrorContains(t, err, "health Degraded: the health message")
								assert.Equal(t, t0, clk.Now(), "at once")
							}
						})
					}
				}
			}
		}
	}
}

func degraded(rev string) gitops.AppStatus {
	st := status(rev, gitops.OpSucceeded, 11*time.Second, gitops.SyncSynced, health.Degraded)
	st.HealthMessage = `Deployment "shop" exceeded its progress deadline`
	return st
}

func TestWaitForDegraded(t *testing.T) {
	run := func(t *testing.T, grace time.Duration, statuses ...gitops.AppStatus) (*sim.Clock, error) {
		t.Helper()
		clk := sim.NewClock(t0)
		s := syncertest.New(clk)
		s.Script("shop", statuses...)
		o := opts(clk)
		o.DegradedGrace = grace
		_, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, o) })
		return clk, err
	}
	t.Run("at once with Argo CD's message", func(t *testing.T) {
		clk, err := run(t, 0, degraded(revA))
		require.ErrorIs(t, err, gitops.ErrDegraded)
		assert.NotErrorIs(t, err, gitops.ErrWaitTimeout)
		assert.EqualError(t, err, `gitops: app "shop": application degraded: health Degraded: Deployment "shop" exceeded its progress deadline`+
			` (last: sync Synced at "`+revA+`", health Degraded, operation Succeeded)`)
		assert.Equal(t, t0, clk.Now())
	})
	t.Run("not while the operation runs", func(t *testing.T) {
		running := status(revA, gitops.OpRunning, 11*time.Second, gitops.SyncOutOfSync, health.Degraded)
		clk, err := run(t, 0, running, running, good(revA))
		require.NoError(t, err, "Degraded during the sync is not the outcome")
		assert.Equal(t, t0.Add(7*time.Second), clk.Now())
	})
	t.Run("not before the reconcile after the operation", func(t *testing.T) {
		stale := degraded(revA)
		stale.ReconciledAt = t0
		clk, err := run(t, 0, stale, good(revA))
		require.NoError(t, err)
		assert.Equal(t, t0.Add(6*time.Second), clk.Now())
	})
	t.Run("grace outlasted", func(t *testing.T) {
		clk, err := run(t, 30*time.Second, degraded(revA))
		require.ErrorIs(t, err, gitops.ErrDegraded)
		assert.Equal(t, t0.Add(30*time.Second), clk.Now(), "Degraded for the whole grace")
	})
	t.Run("recovers within the grace", func(t *testing.T) {
		statuses := []gitops.AppStatus{degraded(revA), degraded(revA), degraded(revA), good(revA)}
		clk, err := run(t, 30*time.Second, statuses...)
		require.NoError(t, err)
		assert.Equal(t, t0.Add(8*time.Second), clk.Now())
	})
	t.Run("grace restarts after a recovery", func(t *testing.T) {
		var statuses []gitops.AppStatus
		for range 20 {
			statuses = append(statuses, degraded(revA))
		}
		statuses = append(statuses, status(revA, gitops.OpSucceeded, 11*time.Second, gitops.SyncSynced, health.Progressing)) // t=20s
		for range 40 {
			statuses = append(statuses, degraded(revA)) // from t=21s
		}
		clk, err := run(t, 30*time.Second, statuses...)
		require.ErrorIs(t, err, gitops.ErrDegraded)
		assert.Equal(t, t0.Add(51*time.Second), clk.Now())
	})
	t.Run("negative grace waits out the timeout", func(t *testing.T) {
		clk, err := run(t, -1, degraded(revA))
		require.ErrorIs(t, err, gitops.ErrWaitTimeout)
		assert.NotErrorIs(t, err, gitops.ErrDegraded)
		assert.ErrorContains(t, err, "exceeded its progress deadline", "the timeout still says why")
		assert.Equal(t, t0.Add(time.Minute), clk.Now())
	})
	t.Run("wanted", func(t *testing.T) {
		clk := sim.NewClock(t0)
		s := syncertest.New(clk)
		s.Script("shop", degraded(revA))
		o := opts(clk)
		o.Health = health.Degraded
		st, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, o) })
		require.NoError(t, err, "a test that wants Degraded gets it")
		assert.Equal(t, health.Degraded, st.Health)
	})
}

func TestWaitForPermanentErrors(t *testing.T) {
	transient := errors.New("connection refused")
	tests := []struct {
		name     string
		err      error
		sentinel error
	}{
		{"app gone", gitops.ErrAppNotFound, gitops.ErrAppNotFound},
		{"credentials revoked", fmt.Errorf("token revoked: %w", gitops.ErrAccessDenied), gitops.ErrAccessDenied},
		{"syncertest's not found", syncertest.ErrNotFound, gitops.ErrAppNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := sim.NewClock(t0)
			s := syncertest.New(clk)
			s.Script("shop", status(revA, gitops.OpRunning, 0, gitops.SyncOutOfSync, health.Progressing))
			s.FailStatus(nil, transient, tt.err) // read, transient error, permanent error
			st, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
			require.ErrorIs(t, err, tt.sentinel)
			assert.ErrorIs(t, err, tt.err, "the Syncer's error is the cause")
			assert.NotErrorIs(t, err, gitops.ErrStatusUnavailable)
			assert.NotErrorIs(t, err, gitops.ErrWaitTimeout)
			assert.Equal(t, gitops.OpRunning, st.Operation.Phase, "the last status read comes back")
			assert.Equal(t, 3, s.Count("AppStatus"), "no read after the refusal")
			assert.Equal(t, t0.Add(2*time.Second), clk.Now())
		})
	}
	t.Run("app deleted mid-wait", func(t *testing.T) {
		clk := sim.NewClock(t0)
		s := syncertest.New(clk)
		s.Set(status(revA, gitops.OpRunning, 0, gitops.SyncOutOfSync, health.Progressing))
		done := make(chan error, 1)
		go func() { _, err := gitops.WaitFor(context.Background(), s, opts(clk)); done <- err }()
		require.NoError(t, clk.WaitForTimers(context.Background(), 2))
		s.Delete("shop")
		clk.AdvanceToNext()
		err := <-done
		require.ErrorIs(t, err, gitops.ErrAppNotFound)
		assert.ErrorContains(t, err, `gitops: app "shop": application not found: status read refused`)
	})
	t.Run("refresh refused", func(t *testing.T) {
		clk := sim.NewClock(t0)
		s := &refusingRefresher{Syncer: syncertest.New(clk)}
		s.Script("shop", status(revA, gitops.OpSucceeded, 9*time.Second, gitops.SyncSynced, health.Healthy))
		_, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
		require.ErrorIs(t, err, gitops.ErrAccessDenied)
		assert.ErrorContains(t, err, "refresh refused")
		assert.Equal(t, t0, clk.Now())
	})
	t.Run("transient errors between reads do not add up", func(t *testing.T) {
		clk := sim.NewClock(t0)
		s := syncertest.New(clk)
		s.Script("shop", good(revA))
		s.FailStatus(transient, transient, nil, transient, transient)
		_, err := drive(t, clk, 2, func() (gitops.AppStatus, error) { return gitops.WaitFor(context.Background(), s, opts(clk)) })
		require.NoError(t, err, "never three in a row")
	})
}

type refusingRefresher struct{ *syncertest.Syncer }

func (r *refusingRefresher) Refresh(context.Context, string) error {
	return fmt.Errorf("refresh: %w", gitops.ErrAccessDenied)
}

// waitHung starts WaitFor on s with the calls of method hanging, and
// returns once the waiter is stuck in one, with a channel for its error.
func waitHung(ctx context.Context, s *syncertest.Syncer, method string, o gitops.WaitOptions) <-chan error {
	hung := s.Hang(method)
	done := make(chan error, 1)
	go func() { _, err := gitops.WaitFor(ctx, s, o); done <- err }()
	<-hung
	return done
}

func TestWaitForTimeoutBoundsHangingReads(t *testing.T) {
	t.Run("fake clock", func(t *testing.T) {
		clk := sim.NewClock(t0)
		done := waitHung(context.Background(), syncertest.New(clk), "AppStatus", opts(clk))
		clk.Advance(time.Minute)
		err := <-done
		require.ErrorIs(t, err, gitops.ErrWaitTimeout)
		assert.ErrorContains(t, err, "the status read did not finish before the wait ended")
	})
	t.Run("hanging refresh", func(t *testing.T) {
		clk := sim.NewClock(t0)
		s := syncertest.New(clk)
		s.Script("shop", status(revA, gitops.OpSucceeded, 9*time.Second, gitops.SyncSynced, health.Healthy))
		done := waitHung(context.Background(), s, "Refresh", opts(clk))
		clk.Advance(time.Minute)
		err := <-done
		require.ErrorIs(t, err, gitops.ErrWaitTimeout)
		assert.ErrorContains(t, err, "the refresh did not finish")
	})
	t.Run("caller's context", func(t *testing.T) {
		clk := sim.NewClock(t0)
		ctx, cancel := context.WithCancel(context.Background())
		done := waitHung(ctx, syncertest.New(clk), "AppStatus", opts(clk))
		cancel()
		err := <-done
		require.ErrorIs(t, err, gitops.ErrWaitTimeout)
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("real time", func(t *testing.T) {
		// The fake clock never moves: the time left of Timeout also bounds
		// each read in real time.
		clk := sim.NewClock(t0)
		s := syncertest.New(clk)
		s.Hang("AppStatus")
		o := opts(clk)
		o.Timeout = 20 * time.Millisecond
		_, err := gitops.WaitFor(context.Background(), s, o)
		require.ErrorIs(t, err, gitops.ErrWaitTimeout)
		assert.NotErrorIs(t, err, context.Canceled)
	})
	t.Run("system clock", func(t *testing.T) {
		s := syncertest.New(nil)
		s.Hang("AppStatus")
		_, err := gitops.WaitFor(context.Background(), s, gitops.WaitOptions{App: "shop", Timeout: 20 * time.Millisecond})
		require.ErrorIs(t, err, gitops.ErrWaitTimeout)
	})
}

func TestWaitErrorText(t *testing.T) {
	err := &gitops.WaitError{App: "shop", Err: gitops.ErrStatusUnavailable, Reason: "status read failed", Cause: errors.New("argocd: get app \"shop\": server unavailable")}
	assert.Equal(t, `gitops: app "shop": application status unavailable: status read failed: argocd: get app "shop": server unavailable`, err.Error())
	for _, sentinel := range []error{gitops.ErrWaitTimeout, gitops.ErrOperationFailed, gitops.ErrDegraded, gitops.ErrStatusUnavailable, gitops.ErrAppNotFound, gitops.ErrAccessDenied} {
		msg := (&gitops.WaitError{App: "shop", Err: sentinel}).Error()
		assert.Equal(t, 1, strings.Count(msg, "gitops: "), "no stuttering prefix in %q", msg)
		assert.NotContains(t, msg, "\n")
	}
}
