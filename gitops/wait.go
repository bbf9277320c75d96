package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
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
	// ErrDegraded means the wanted revision's sync finished and the
	// application is Degraded (for longer than WaitOptions.DegradedGrace,
	// if set). The error names the controller's health message, such as
	// `Deployment "shop" exceeded its progress deadline`.
	ErrDegraded = errors.New("gitops: application degraded")
	// ErrStatusUnavailable means the status could not be read
	// MaxStatusErrors times in a row.
	ErrStatusUnavailable = errors.New("gitops: application status unavailable")
)

// Errors a [Syncer] wraps when the controller refuses a request for good,
// so that [WaitFor] stops at once instead of retrying. WaitFor returns
// them inside a [*WaitError] whose Cause is the Syncer's error. The
// gitops/argocd client's ErrNotFound, ErrUnauthenticated and
// ErrPermissionDenied match them.
var (
	// ErrAppNotFound means the controller does not know the application:
	// it was deleted, or never existed.
	ErrAppNotFound = errors.New("gitops: application not found")
	// ErrAccessDenied means the controller refused the credentials
	// (missing, invalid, expired or revoked) or their permissions. Argo
	// CD also answers so for an application the account may not see,
	// whether or not it exists.
	ErrAccessDenied = errors.New("gitops: access denied")
)

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
	// Timeout bounds the whole wait on Clock, so a fake clock can expire
	// it, status reads included: each read gets at most the time left
	// (also in real time), and a read still unanswered when Timeout
	// passes ends the wait. Zero means only ctx bounds it. The deadline
	// is one timer on Clock; a clock.Clock timer cannot be stopped, so
	// after an early return it stays pending on a fake clock until the
	// clock reaches it.
	Timeout time.Duration
	// DegradedGrace is how long the application may stay Degraded, once
	// the wanted revision's sync has finished and been reconciled, before
	// the wait ends with [ErrDegraded]. Zero ends it at the first such
	// status; negative never ends it early, so a Degraded application
	// waits out Timeout. It does not apply when Health is
	// [health.Degraded].
	DegradedGrace time.Duration
	// MaxStatusErrors is how many consecutive failed status reads end the
	// wait with [ErrStatusUnavailable]; zero means
	// [DefaultMaxStatusErrors]. Permanent refusals ([ErrAppNotFound],
	// [ErrAccessDenied]) end it at the first one.
	MaxStatusErrors int
	// Clock is the time source; nil means the system clock.
	Clock clock.Clock
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
	// Err is ErrWaitTimeout, ErrOperationFailed, ErrDegraded,
	// ErrStatusUnavailable, ErrAppNotFound or ErrAccessDenied.
	Err error
	// Cause is the context error or the last status-read error, if any.
	Cause error
}

// Error returns `gitops: app "<app>": <what>: <reason> (last: <state>):
// <cause>`, leaving out the parts that are empty.
func (e *WaitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "gitops: app %q", e.App)
	if e.Err != nil {
		fmt.Fprintf(&b, ": %s", strings.TrimPrefix(e.Err.Error(), "gitops: "))
	}
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
//   - an operation has been seen and has finished (phase Succeeded, with
//     a FinishedAt; Running, Terminating, an empty or unknown phase never
//     count);
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
// for a refresh. It returns at once, in a [*WaitError], with:
//
//   - [ErrOperationFailed] when the operation for the wanted revision ends
//     in phase Failed or Error;
//   - [ErrDegraded] when that operation succeeded, the controller
//     reconciled after it, and the application is Degraded (after
//     opts.DegradedGrace, unless it is negative or Degraded is the wanted
//     health); Missing, Unknown and Suspended keep the wait going, since
//     the controller reports them while it has not seen the applied
//     resources yet;
//   - [ErrAppNotFound] or [ErrAccessDenied] when a status read (or a
//     refresh) fails with an error wrapping them; other read errors are
//     retried, and [ErrStatusUnavailable] ends the wait after
//     MaxStatusErrors in a row.
//
// It returns [ErrWaitTimeout] when ctx ends (with the context error as
// Cause) or opts.Timeout passes on opts.Clock, including while a status
// read hangs. An empty opts.App is an error.
func WaitFor(ctx context.Context, s Syncer, opts WaitOptions) (AppStatus, error) {
	if opts.App == "" {
		return AppStatus{}, errors.New("gitops: WaitFor: App is required")
	}
	if s == nil {
		return AppStatus{}, fmt.Errorf("gitops: WaitFor app %q: nil Syncer", opts.App)
	}
	w := &waiter{s: s, opts: opts, clk: clock.Or(opts.Clock), reason: "no status read yet"}
	w.refresher, _ = s.(Refresher)
	return w.run(ctx)
}

// waiter is the state of one [WaitFor].
type waiter struct {
	s         Syncer
	refresher Refresher
	opts      WaitOptions
	clk       clock.Clock

	ctx        context.Context // the caller's
	waitCtx    context.Context // ends with ctx or at the deadline
	deadlineAt time.Time       // zero without Timeout

	last          AppStatus
	reason        string
	goodSince     time.Time
	degradedSince time.Time
}

func (w *waiter) fail(sentinel, cause error) (AppStatus, error) {
	return w.last, &WaitError{App: w.opts.App, Last: w.last, Reason: w.reason, Err: sentinel, Cause: cause}
}

// timedOut is the error of a wait whose context ended.
func (w *waiter) timedOut() (AppStatus, error) {
	if err := w.ctx.Err(); err != nil {
		return w.fail(ErrWaitTimeout, err)
	}
	return w.fail(ErrWaitTimeout, nil)
}

// bounded runs one call to the controller with a context that ends with
// the wait, and in real time once the time left of Timeout has passed, so
// a server that never answers cannot hold the wait past its Timeout. It
// reports whether the call failed because that context ended.
func (w *waiter) bounded(fn func(ctx context.Context) error) (ended bool, err error) {
	ctx := w.waitCtx
	if !w.deadlineAt.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, w.deadlineAt.Sub(w.clk.Now()))
		defer cancel()
	}
	err = fn(ctx)
	return err != nil && ctx.Err() != nil, err
}

// expired reports whether the wait is over: ctx ended, or Timeout passed.
func (w *waiter) expired() bool {
	return w.waitCtx.Err() != nil || !w.deadlineAt.IsZero() && !w.clk.Now().Before(w.deadlineAt)
}

func (w *waiter) run(ctx context.Context) (AppStatus, error) {
	opts := w.opts
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
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	w.ctx, w.waitCtx = ctx, waitCtx
	if opts.Timeout > 0 {
		w.deadlineAt = w.clk.Now().Add(opts.Timeout)
		fired := w.clk.After(opts.Timeout)
		go func() {
			select {
			case <-fired:
				cancel()
			case <-waitCtx.Done():
			}
		}()
	}

	errCount := 0
	for {
		if w.expired() {
			return w.timedOut()
		}
		var st AppStatus
		ended, err := w.bounded(func(ctx context.Context) (err error) {
			st, err = w.s.AppStatus(ctx, opts.App)
			return err
		})
		switch {
		case ended:
			w.reason = "the status read did not finish before the wait ended"
			return w.timedOut()
		case err != nil:
			w.goodSince = time.Time{}
			if sentinel := permanent(err); sentinel != nil {
				w.reason = refusedReason("status read", sentinel)
				return w.fail(sentinel, err)
			}
			errCount++
			w.reason = "status read failed"
			if errCount >= maxErr {
				return w.fail(ErrStatusUnavailable, err)
			}
		default:
			errCount = 0
			w.last = st
			if done, rst, rerr := w.judge(st, stable); done {
				return rst, rerr
			}
		}
		select {
		case <-waitCtx.Done():
			return w.timedOut()
		case <-w.clk.After(poll):
		}
	}
}

// judge applies one status read; it reports whether the wait is over and
// with what.
func (w *waiter) judge(st AppStatus, stable time.Duration) (bool, AppStatus, error) {
	verdict, reason := judge(st, w.opts)
	w.reason = reason
	if verdict != checkDegraded {
		w.degradedSince = time.Time{}
	}
	if verdict != checkGood {
		w.goodSince = time.Time{}
	}
	switch verdict {
	case checkFailed:
		st, err := w.fail(ErrOperationFailed, nil)
		return true, st, err
	case checkDegraded:
		grace := w.opts.DegradedGrace
		if grace < 0 {
			return false, AppStatus{}, nil
		}
		now := w.clk.Now()
		if w.degradedSince.IsZero() {
			w.degradedSince = now
		}
		if d := now.Sub(w.degradedSince); d < grace {
			w.reason = fmt.Sprintf("%s (degraded for %v of a %v grace)", reason, d, grace)
			return false, AppStatus{}, nil
		}
		st, err := w.fail(ErrDegraded, nil)
		return true, st, err
	case checkStale:
		if w.refresher == nil {
			return false, AppStatus{}, nil
		}
		ended, err := w.bounded(func(ctx context.Context) error { return w.refresher.Refresh(ctx, w.opts.App) })
		if ended {
			w.reason = "the refresh did not finish before the wait ended"
			st, err := w.timedOut()
			return true, st, err
		}
		if sentinel := permanent(err); sentinel != nil {
			w.reason = refusedReason("refresh", sentinel)
			st, err := w.fail(sentinel, err)
			return true, st, err
		}
	case checkGood:
		now := w.clk.Now()
		if w.goodSince.IsZero() {
			w.goodSince = now
		}
		if stable < 0 || now.Sub(w.goodSince) >= stable {
			return true, st, nil
		}
		w.reason = fmt.Sprintf("good for %v of %v", now.Sub(w.goodSince), stable)
	}
	return false, AppStatus{}, nil
}

// permanent returns the sentinel of a refusal that retrying cannot fix,
// or nil.
func permanent(err error) error {
	for _, sentinel := range []error{ErrAppNotFound, ErrAccessDenied} {
		if errors.Is(err, sentinel) {
			return sentinel
		}
	}
	return nil
}

// refusedReason says what was refused and what to do about it.
func refusedReason(what string, sentinel error) string {
	if sentinel == ErrAppNotFound {
		return what + " refused: the application was deleted, or never existed under this name"
	}
	return what + " refused: check the credentials and their permissions on the application"
}

type check int

const (
	checkPending check = iota
	checkStale
	checkFailed
	checkDegraded
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
	case op.Phase == "":
		return checkPending, "operation has no phase"
	case !op.Completed():
		return checkPending, fmt.Sprintf("operation %s", op.Phase)
	case opts.Revision != "" && op.Revision != "" && !RevisionMatches(opts.Revision, op.Revision):
		return checkPending, fmt.Sprintf("last operation synced %q, want %q", op.Revision, opts.Revision)
	case op.Phase == OpFailed || op.Phase == OpError:
		return checkFailed, fmt.Sprintf("operation %s: %s", op.Phase, op.Message)
	case op.Phase != OpSucceeded:
		return checkPending, fmt.Sprintf("operation in unknown phase %q", op.Phase)
	case op.FinishedAt.IsZero():
		return checkPending, "operation has no finish time"
	case !st.ReconciledAt.After(op.FinishedAt):
		return checkStale, fmt.Sprintf("reconciled at %s, not after the operation finished at %s",
			st.ReconciledAt.UTC().Format(time.RFC3339), op.FinishedAt.UTC().Format(time.RFC3339))
	case opts.Revision != "" && !RevisionMatches(opts.Revision, st.Revision):
		return checkPending, fmt.Sprintf("synced revision %q, want %q", st.Revision, opts.Revision)
	case st.Health == health.Degraded && wantHealth != health.Degraded:
		return checkDegraded, withMessage("health Degraded", st.HealthMessage)
	case st.SyncStatus != wantSync:
		return checkPending, fmt.Sprintf("sync %s, want %s", st.SyncStatus, wantSync)
	case st.Health != wantHealth:
		return checkPending, withMessage(fmt.Sprintf("health %s, want %s", st.Health, wantHealth), st.HealthMessage)
	}
	return checkGood, "good"
}

func withMessage(s, msg string) string {
	if msg == "" {
		return s
	}
	return s + ": " + msg
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
