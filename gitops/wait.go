package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/health"
)

// Defaults of [WaitOptions].
const (
	// DefaultPollInterval is how often [WaitFor] reads the status when
	// WaitOptions.PollInterval is zero.
	DefaultPollInterval = 2 * time.Second
	// DefaultStableFor is how long the wanted state must hold when
	// WaitOptions.StableFor is zero.
	DefaultStableFor = 10 * time.Second
	// DefaultMaxStatusErrors is how many consecutive failed status reads
	// [WaitFor] tolerates when WaitOptions.MaxStatusErrors is zero.
	DefaultMaxStatusErrors = 3
)

// Errors returned by [WaitFor], always inside a [*WaitError].
var (
	// ErrWaitTimeout means the wanted state was not reached, or did not
	// hold for the stability window, before WaitOptions.Timeout or the
	// context deadline.
	ErrWaitTimeout = errors.New("gitops: wait timed out")
	// ErrOperationFailed means the sync operation for the wanted revision
	// ended in phase Failed or Error; waiting longer cannot help.
	ErrOperationFailed = errors.New("gitops: sync operation failed")
	// ErrStatusUnavailable means the status could not be read
	// MaxStatusErrors times in a row.
	ErrStatusUnavailable = errors.New("gitops: application status unavailable")
)

// Clock is the time source of [WaitFor]. [time.Now] and [time.After] are
// the default; sim.Clock is a drivable implementation for tests.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Refresher is an optional extension of [Syncer]: a controller that can be
// asked to compare live and desired state again now. [WaitFor] uses it
// when the last comparison predates the end of the operation, instead of
// waiting for the controller's next periodic reconcile.
type Refresher interface {
	Refresh(ctx context.Context, app string) error
}

// WaitOptions is the input of [WaitFor]. The zero value of every field but
// App is the default.
type WaitOptions struct {
	// App is the application name. Required.
	App string
	// Revision is the revision that must be synced. Empty accepts any
	// revision. Controllers such as Argo CD report the commit SHA they
	// resolved, so pass a commit SHA: a revision of at least 7
	// hexadecimal characters also matches a full SHA it is a prefix of;
	// anything else, such as a branch name, must match exactly.
	Revision string
	// Sync is the wanted sync status; empty means [SyncSynced].
	Sync string
	// Health is the wanted health; empty means [health.Healthy].
	Health health.Status
	// StableFor is how long every condition must hold, across consecutive
	// polls, before the wait succeeds. Zero means [DefaultStableFor];
	// negative means the first good status is enough.
	StableFor time.Duration
	// PollInterval is the time between status reads; zero means
	// [DefaultPollInterval].
	PollInterval time.Duration
	// Timeout bounds the wait on Clock, so a fake clock can expire it;
	// zero means only ctx bounds it.
	Timeout time.Duration
	// MaxStatusErrors is how many consecutive failed status reads end the
	// wait with [ErrStatusUnavailable]; zero means
	// [DefaultMaxStatusErrors].
	MaxStatusErrors int
	// Clock is the time source; nil means the system clock.
	Clock Clock
}

// WaitError is the error of a failed [WaitFor]. It carries the last status
// seen and why it was not good enough.
type WaitError struct {
	// App is the application waited for.
	App string
	// Last is the last status read; its App is empty if none was read.
	Last AppStatus
	// Reason says which condition did not hold in Last.
	Reason string
	// Err is ErrWaitTimeout, ErrOperationFailed or ErrStatusUnavailable.
	Err error
	// Cause is the context error or the last status-read error, if any.
	Cause error
}

// Error describes the failure with the app and the last state seen.
func (e *WaitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: app %q", e.Err, e.App)
	if e.Reason != "" {
		fmt.Fprintf(&b, ": %s", e.Reason)
	}
	if e.Last.App != "" {
		fmt.Fprintf(&b, " (last: sync %s at %q, health %s", e.Last.SyncStatus, e.Last.Revision, e.Last.Health)
		if op := e.Last.Operation; op != nil {
			fmt.Fprintf(&b, ", operation %s", op.Phase)
		}
		b.WriteString(")")
	}
	if e.Cause != nil {
		fmt.Fprintf(&b, ": %v", e.Cause)
	}
	return b.String()
}

// Unwrap returns Err and, if set, Cause, so errors.Is matches both the
// sentinel and, say, [context.DeadlineExceeded].
func (e *WaitError) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

// WaitFor polls s until app reaches the wanted state and holds it for the
// stability window, and returns the last status. A status is good only
// when all of these hold:
//
//   - an operation has been seen and no operation is running (phase
//     Running or Terminating);
//   - the operation has finished (FinishedAt is set) and succeeded;
//   - the controller reconciled after the operation finished
//     (ReconciledAt strictly after FinishedAt; Argo CD records both to the
//     second, so an equal pair is ambiguous and not accepted);
//   - the synced revision is opts.Revision (when set);
//   - sync status and health are the wanted ones.
//
// The good state must then hold on every poll for opts.StableFor: an app
// that is Healthy for a moment before its rollout starts, or that flips
// back to Progressing, restarts the window.
//
// When the reconcile is stale and s implements [Refresher], WaitFor asks
// for a refresh. It returns a [*WaitError] wrapping [ErrOperationFailed]
// as soon as the operation for the wanted revision fails, [ErrWaitTimeout]
// when ctx ends or opts.Timeout passes on opts.Clock (with the context
// error as Cause), and [ErrStatusUnavailable] after MaxStatusErrors
// consecutive read errors. An empty opts.App is an error.
func WaitFor(ctx context.Context, s Syncer, opts WaitOptions) (AppStatus, error) {
	if opts.App == "" {
		return AppStatus{}, errors.New("gitops: WaitFor: App is required")
	}
	if s == nil {
		return AppStatus{}, fmt.Errorf("gitops: WaitFor app %q: nil Syncer", opts.App)
	}
	clk := opts.Clock
	if clk == nil {
		clk = realClock{}
	}
	poll := opts.PollInterval
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	stable := opts.StableFor
	if stable == 0 {
		stable = DefaultStableFor
	}
	maxErr := opts.MaxStatusErrors
	if maxErr <= 0 {
		maxErr = DefaultMaxStatusErrors
	}
	var deadline <-chan time.Time
	if opts.Timeout > 0 {
		deadline = clk.After(opts.Timeout)
	}
	refresher, _ := s.(Refresher)

	var (
		last      AppStatus
		reason    = "no status read yet"
		goodSince time.Time
		errCount  int
		lastErr   error
	)
	fail := func(sentinel, cause error) (AppStatus, error) {
		return last, &WaitError{App: opts.App, Last: last, Reason: reason, Err: sentinel, Cause: cause}
	}
	for {
		if err := ctx.Err(); err != nil {
			return fail(ErrWaitTimeout, err)
		}
		st, err := s.AppStatus(ctx, opts.App)
		switch {
		case err != nil && ctx.Err() != nil:
			return fail(ErrWaitTimeout, ctx.Err())
		case err != nil:
			errCount++
			lastErr = err
			goodSince = time.Time{}
			reason = "status read failed"
			if errCount >= maxErr {
				return fail(ErrStatusUnavailable, lastErr)
			}
		default:
			errCount = 0
			last = st
			var verdict check
			verdict, reason = judge(st, opts)
			switch verdict {
			case checkFailed:
				return fail(ErrOperationFailed, nil)
			case checkStale:
				goodSince = time.Time{}
				if refresher != nil {
					if rerr := refresher.Refresh(ctx, opts.App); rerr != nil && ctx.Err() != nil {
						return fail(ErrWaitTimeout, ctx.Err())
					}
				}
			case checkPending:
				goodSince = time.Time{}
			case checkGood:
				now := clk.Now()
				if goodSince.IsZero() {
					goodSince = now
				}
				if stable < 0 || now.Sub(goodSince) >= stable {
					return st, nil
				}
				reason = fmt.Sprintf("good for %v of %v", now.Sub(goodSince), stable)
			}
		}
		select {
		case <-ctx.Done():
			return fail(ErrWaitTimeout, ctx.Err())
		case <-deadline:
			return fail(ErrWaitTimeout, nil)
		case <-clk.After(poll):
		}
	}
}

type check int

const (
	checkPending check = iota
	checkStale
	checkFailed
	checkGood
)

// judge applies the rules of WaitFor to one status.
func judge(st AppStatus, opts WaitOptions) (check, string) {
	wantSync := opts.Sync
	if wantSync == "" {
		wantSync = SyncSynced
	}
	wantHealth := opts.Health
	if wantHealth == "" {
		wantHealth = health.Healthy
	}
	op := st.Operation
	switch {
	case op == nil:
		return checkPending, "no sync operation seen yet"
	case !op.Completed():
		return checkPending, fmt.Sprintf("operation %s", op.Phase)
	case opts.Revision != "" && op.Revision != "" && !RevisionMatches(opts.Revision, op.Revision):
		return checkPending, fmt.Sprintf("last operation synced %q, want %q", op.Revision, opts.Revision)
	case op.Phase == OpFailed || op.Phase == OpError:
		return checkFailed, fmt.Sprintf("operation %s: %s", op.Phase, op.Message)
	case op.FinishedAt.IsZero():
		return checkPending, "operation has no finish time"
	case !st.ReconciledAt.After(op.FinishedAt):
		return checkStale, fmt.Sprintf("reconciled at %s, not after the operation finished at %s",
			st.ReconciledAt.UTC().Format(time.RFC3339), op.FinishedAt.UTC().Format(time.RFC3339))
	case opts.Revision != "" && !RevisionMatches(opts.Revision, st.Revision):
		return checkPending, fmt.Sprintf("synced revision %q, want %q", st.Revision, opts.Revision)
	case st.SyncStatus != wantSync:
		return checkPending, fmt.Sprintf("sync %s, want %s", st.SyncStatus, wantSync)
	case st.Health != wantHealth:
		return checkPending, fmt.Sprintf("health %s, want %s", st.Health, wantHealth)
	}
	return checkGood, "good"
}

// RevisionMatches reports whether the revision got, as a controller
// reports it, is the revision want. They match when equal, or when want
// is an abbreviated commit SHA (7 to 39 hexadecimal characters) that got
// starts with.
func RevisionMatches(want, got string) bool {
	if want == got {
		return want != ""
	}
	if len(want) < 7 || len(want) >= len(got) || !isHex(want) || !isHex(got) {
		return false
	}
	return strings.HasPrefix(strings.ToLower(got), strings.ToLower(want))
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}
