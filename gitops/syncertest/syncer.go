package syncertest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/health"
)

// ErrNotFound is returned (wrapped) by [Syncer] for an application it
// does not know. It matches [gitops.ErrAppNotFound], so [gitops.WaitFor]
// stops at once, as it does for a real controller's NotFound.
var ErrNotFound error = notFound{}

type notFound struct{}

func (notFound) Error() string { return "syncertest: application not found" }
func (notFound) Unwrap() error { return gitops.ErrAppNotFound }

// Call is one recorded call on a [Syncer].
type Call struct {
	// Method is "Sync", "AppStatus" or "Refresh".
	Method string
	// App is the application named in the call.
	App string
	// Request is the Sync request; zero for the other methods.
	Request gitops.SyncRequest
}

// Syncer is a fake [gitops.Syncer] that keeps application statuses in
// memory. A Sync completes at once: the operation succeeds, the app is
// Synced and Healthy at the requested revision and the reconcile time is
// one second after the finish time. Tests can instead script the exact
// statuses successive AppStatus calls return, and inject faults. Syncer
// records every call and is safe for concurrent use.
type Syncer struct {
	clock clock.Clock

	mu        sync.Mutex
	apps      map[string]*gitops.AppStatus
	scripts   map[string][]gitops.AppStatus
	syncErr   error
	statusErr []error
	hang      map[string]bool
	hung      chan string
	calls     []Call
}

var (
	_ gitops.Syncer    = (*Syncer)(nil)
	_ gitops.Refresher = (*Syncer)(nil)
)

// New returns an empty fake. clk stamps operations and reconciles; nil
// means the system clock.
func New(clk clock.Clock) *Syncer {
	return &Syncer{clock: clock.Or(clk), apps: map[string]*gitops.AppStatus{}, scripts: map[string][]gitops.AppStatus{}}
}

func (s *Syncer) now() time.Time { return s.clock.Now() }

// Set stores st as the current status of st.App, creating the app.
func (s *Syncer) Set(st gitops.AppStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[st.App] = &st
}

// Script queues statuses for app: each AppStatus call returns the next one
// and the last one keeps being returned. It also creates the app.
func (s *Syncer) Script(app string, statuses ...gitops.AppStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range statuses {
		statuses[i].App = app
	}
	s.scripts[app] = append(s.scripts[app], statuses...)
	if _, ok := s.apps[app]; !ok && len(statuses) > 0 {
		last := statuses[len(statuses)-1]
		s.apps[app] = &last
	}
}

// FailSync makes every Sync return err until FailSync(nil).
func (s *Syncer) FailSync(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncErr = err
}

// FailStatus makes the next len(errs) AppStatus calls return errs in order.
func (s *Syncer) FailStatus(errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statusErr = append(s.statusErr, errs...)
}

// Delete removes app and its scripted statuses, as when an application is
// deleted from the controller: later calls return [ErrNotFound].
func (s *Syncer) Delete(app string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.apps, app)
	delete(s.scripts, app)
}

// Hang makes every later call of the given methods ("AppStatus",
// "Refresh" or "Sync") block until its context ends, as against a server
// that accepts the connection and never answers; the call is recorded
// first and returns the context's error. Hang with no methods ends the
// fault. The returned channel receives a blocked call's method name each
// time one starts waiting (it holds 16; more are not announced), so a test
// knows the code under test is stuck in the call.
func (s *Syncer) Hang(methods ...string) <-chan string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = map[string]bool{}
	for _, m := range methods {
		s.hang[m] = true
	}
	if s.hung == nil {
		s.hung = make(chan string, 16)
	}
	return s.hung
}

// enter records a call and, if its method hangs, blocks until ctx ends;
// s.mu is held on entry and on return.
func (s *Syncer) enter(ctx context.Context, c Call) error {
	s.calls = append(s.calls, c)
	if s.hang[c.Method] {
		hung := s.hung
		s.mu.Unlock()
		select {
		case hung <- c.Method:
		default:
		}
		<-ctx.Done()
		s.mu.Lock()
	}
	return ctx.Err()
}

// Calls returns a copy of the calls recorded so far.
func (s *Syncer) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Count returns how many calls of method were recorded.
func (s *Syncer) Count(method string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Method == method {
			n++
		}
	}
	return n
}

// Sync records req and, unless a fault is injected or ctx is done,
// completes a successful sync of req.App to req.Revision. It returns
// [ErrNotFound] for an unknown app.
func (s *Syncer) Sync(ctx context.Context, req gitops.SyncRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx, Call{Method: "Sync", App: req.App, Request: req}); err != nil {
		return fmt.Errorf("sync app %q: %w", req.App, err)
	}
	if s.syncErr != nil {
		return fmt.Errorf("sync app %q: %w", req.App, s.syncErr)
	}
	st, ok := s.apps[req.App]
	if !ok {
		return fmt.Errorf("sync app %q: %w", req.App, ErrNotFound)
	}
	if req.DryRun {
		return nil
	}
	now := s.now()
	st.Operation = &gitops.Operation{Phase: gitops.OpSucceeded, Revision: req.Revision, StartedAt: now, FinishedAt: now}
	st.ReconciledAt = now.Add(time.Second)
	st.SyncStatus = gitops.SyncSynced
	st.Revision = req.Revision
	st.Health = health.Healthy
	st.History = append(st.History, gitops.HistoryEntry{ID: int64(len(st.History)), Revision: req.Revision, DeployedAt: now})
	return nil
}

// AppStatus returns the next scripted status of app, or its stored status.
func (s *Syncer) AppStatus(ctx context.Context, app string) (gitops.AppStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx, Call{Method: "AppStatus", App: app}); err != nil {
		return gitops.AppStatus{}, fmt.Errorf("status of app %q: %w", app, err)
	}
	if len(s.statusErr) > 0 {
		err := s.statusErr[0]
		s.statusErr = s.statusErr[1:]
		if err != nil {
			return gitops.AppStatus{}, fmt.Errorf("status of app %q: %w", app, err)
		}
	}
	if q := s.scripts[app]; len(q) > 0 {
		st := q[0]
		if len(q) > 1 {
			s.scripts[app] = q[1:]
		}
		return st, nil
	}
	st, ok := s.apps[app]
	if !ok {
		return gitops.AppStatus{}, fmt.Errorf("status of app %q: %w", app, ErrNotFound)
	}
	return *st, nil
}

// Refresh records the call and stamps the stored status of app as
// reconciled now. Scripted statuses are returned unchanged.
func (s *Syncer) Refresh(ctx context.Context, app string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.enter(ctx, Call{Method: "Refresh", App: app}); err != nil {
		return fmt.Errorf("refresh app %q: %w", app, err)
	}
	st, ok := s.apps[app]
	if !ok {
		return fmt.Errorf("refresh app %q: %w", app, ErrNotFound)
	}
	st.ReconciledAt = s.now()
	return nil
}
