package argocdv2test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// Messages Argo CD v2.14 uses for its refusals, copied from
// server/application and util/argo so that clients see the real text.
const (
	msgPermissionDenied    = "permission denied"
	msgBlockedBySyncWindow = "cannot sync: blocked by sync window"
	msgOperationInProgress = "another operation is already in progress"
	msgNoOperation         = "Unable to terminate operation. No operation is in progress"
	msgRollbackAutoSync    = "rollback cannot be initiated when auto-sync is enabled"
	msgNoSession           = "no session information"
)

// ErrUnknownApp is returned by the controller methods of [Server]
// ([Server.StartOperation], [Server.FinishOperation], [Server.Modify],
// [Server.SetSyncWindow]) for an application that was never [Server.Put].
var ErrUnknownApp = errors.New("argocdv2test: unknown application")

// Result is how [Server.FinishOperation] ends the running operation. The
// zero value is a successful sync that leaves the application Healthy.
type Result struct {
	// Phase is Succeeded (the default), Failed or Error.
	Phase synccommon.OperationPhase
	// Message is the operation's message; empty means "successfully synced".
	Message string
	// Health is the application's health afterwards; empty means Healthy.
	Health string
	// HealthMessage explains Health, if any.
	HealthMessage string
}

// Call is one call the server received.
type Call struct {
	// Method is the ApplicationService method, such as "Sync".
	Method string
	// App is the application name in the request ("" for List and an
	// unfiltered Watch).
	App string
	// Via is "grpc", "grpc-web" or "rest": how the call reached the server.
	Via string
}

// Option configures a [Server].
type Option func(*Server)

// WithToken lets token call every method. Without any WithToken or
// WithReadOnlyToken option the server does not check tokens at all.
func WithToken(token string) Option {
	return func(s *Server) { s.tokens[token] = true }
}

// WithReadOnlyToken lets token read applications but refuses Sync,
// Rollback and TerminateOperation with PermissionDenied, as Argo CD's RBAC
// does for a role without the sync action.
func WithReadOnlyToken(token string) Option {
	return func(s *Server) { s.tokens[token] = false }
}

// WithClock makes the server read time from clk (a fake such as
// clocktest.Clock in tests); nil means the system clock.
func WithClock(clk clock.Clock) Option { return func(s *Server) { s.clock = clock.Or(clk) } }

// WithLogger logs calls and refusals to l; the default discards.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.log = l } }

// WithAutoComplete makes the controller finish every accepted sync or
// rollback at once with r, passing through the states a real controller
// writes (requested, Running, then finished). Without it a test drives
// operations with [Server.StartOperation] and [Server.FinishOperation].
func WithAutoComplete(r Result) Option {
	return func(s *Server) { s.auto = &r }
}

type app struct {
	obj         *v1alpha1.Application
	syncBlocked bool
	logs        []LogLine
}

// Server is an in-memory Argo CD v2.14 API server: it implements the
// generated application.ApplicationServiceServer over a store of
// v1alpha1.Application objects, and plays the application controller's
// part through methods tests call. It is safe for concurrent use.
type Server struct {
	application.UnimplementedApplicationServiceServer

	tokens map[string]bool // token -> may sync
	clock  clock.Clock
	log    *slog.Logger
	auto   *Result

	mu     sync.Mutex
	apps   map[string]*app
	rv     int64
	subs   map[chan *v1alpha1.ApplicationWatchEvent]struct{}
	kicks  map[chan struct{}]struct{}
	calls  []Call
	faults map[string][]error
}

var _ application.ApplicationServiceServer = (*Server)(nil)

// New returns an empty server. Defaults: no token checks, the system clock, a
// logger that discards, operations driven by the test.
func New(opts ...Option) *Server {
	s := &Server{
		tokens: map[string]bool{},
		clock:  clock.System(),
		log:    slog.New(slog.DiscardHandler),
		apps:   map[string]*app{},
		subs:   map[chan *v1alpha1.ApplicationWatchEvent]struct{}{},
		kicks:  map[chan struct{}]struct{}{},
		faults: map[string][]error{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Put creates or replaces an application and tells watchers (ADDED or
// MODIFIED). Its namespace defaults to "argocd" and its project to
// "default"; the server assigns the resourceVersion.
func (s *Server) Put(a *v1alpha1.Application) {
	a = a.DeepCopy()
	if a.Namespace == "" {
		a.Namespace = "argocd"
	}
	if a.Spec.Project == "" {
		a.Spec.Project = "default"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := watch.Modified
	e, ok := s.apps[a.Name]
	if !ok {
		ev = watch.Added
		e = &app{}
		s.apps[a.Name] = e
	}
	e.obj = a
	s.changed(e, ev)
}

// App returns a copy of the stored application.
func (s *Server) App(name string) (*v1alpha1.Application, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.apps[name]
	if !ok {
		return nil, false
	}
	return e.obj.DeepCopy(), true
}

// Modify changes application name with fn and tells watchers. It returns
// [ErrUnknownApp] if there is no such application.
func (s *Server) Modify(name string, fn func(*v1alpha1.Application)) error {
	return s.control("modify", name, func(e *app) error {
		fn(e.obj)
		s.changed(e, watch.Modified)
		return nil
	})
}

// Remove removes application name, as a non-cascading delete does, and
// tells watchers (DELETED). Later calls about it are refused as Argo CD
// refuses an unknown application. It returns [ErrUnknownApp] if there is
// no such application.
func (s *Server) Remove(name string) error {
	return s.control("remove", name, func(e *app) error {
		s.changed(e, watch.Deleted)
		delete(s.apps, name)
		return nil
	})
}

// SetSyncWindow blocks (or unblocks) syncs of application name, as a deny
// sync window of its project would. It returns [ErrUnknownApp] if there is
// no such application.
func (s *Server) SetSyncWindow(name string, blocked bool) error {
	return s.control("sync window of", name, func(e *app) error {
		e.syncBlocked = blocked
		return nil
	})
}

// FailNext makes the next call of method (an ApplicationService method
// name such as "Get", "Sync" or "Watch") return err; use status.Error to
// choose the gRPC code. Several calls queue up.
func (s *Server) FailNext(method string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], err)
}

// DropWatches ends every open Watch stream with Unavailable, as a
// restarting API server or a proxy timing out would.
func (s *Server) DropWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.kicks {
		close(k)
		delete(s.kicks, k)
	}
}

// Watchers returns how many Watch streams are open.
func (s *Server) Watchers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// Calls returns the calls received so far, oldest first.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// StartOperation does what the controller does when it picks up a
// requested operation: operationState becomes Running. It returns
// [ErrUnknownApp], or an error if no operation was requested.
func (s *Server) StartOperation(name string) error {
	return s.control("start operation of", name, s.start)
}

func (s *Server) start(e *app) error {
	a := e.obj
	if a.Operation == nil {
		return fmt.Errorf("start operation of %q: no operation requested", a.Name)
	}
	if a.Status.OperationState != nil && !a.Status.OperationState.Phase.Completed() {
		return nil // already running or terminating
	}
	a.Status.OperationState = &v1alpha1.OperationState{
		Operation: *a.Operation.DeepCopy(),
		Phase:     synccommon.OperationRunning,
		Message:   "one or more tasks are running",
		StartedAt: metav1.NewTime(s.clock.Now()),
	}
	s.changed(e, watch.Modified)
	return nil
}

// FinishOperation ends the requested or running operation of name with r,
// as the controller would: it clears the operation, records phase,
// message, finish time and synced revision; a successful non-dry-run sync
// also marks the application Synced at that revision, appends a history
// entry and sets its health. A terminating operation always ends Failed
// with "Operation terminated". The application counts as reconciled now.
// It returns [ErrUnknownApp], or an error if no operation was requested.
func (s *Server) FinishOperation(name string, r Result) error {
	return s.control("finish operation of", name, func(e *app) error { return s.finish(e, r) })
}

// control runs fn under s.mu on the stored application name, or returns
// [ErrUnknownApp], wrapped with what and the quoted name, if there is none.
func (s *Server) control(what, name string, fn func(e *app) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.apps[name]
	if !ok {
		return fmt.Errorf("%s %q: %w", what, name, ErrUnknownApp)
	}
	return fn(e)
}

func (s *Server) finish(e *app, r Result) error {
	if err := s.start(e); err != nil {
		return err
	}
	a := e.obj
	st := a.Status.OperationState
	now := metav1.NewTime(s.clock.Now())
	if r.Phase == "" {
		r.Phase = synccommon.OperationSucceeded
	}
	if st.Phase == synccommon.OperationTerminating {
		r.Phase, r.Message = synccommon.OperationFailed, "Operation terminated"
	}
	if r.Message == "" {
		r.Message = "successfully synced (all tasks run)"
	}
	op := a.Operation.Sync
	st.Phase, st.Message, st.FinishedAt = r.Phase, r.Message, &now
	rev := op.Revision
	src := a.Spec.GetSource()
	if op.Source != nil {
		src = *op.Source
	}
	st.SyncResult = &v1alpha1.SyncOperationResult{Revision: rev, Source: src}
	a.Operation = nil
	if r.Phase == synccommon.OperationSucceeded && !op.DryRun {
		a.Status.Sync = v1alpha1.SyncStatus{
			Status:     v1alpha1.SyncStatusCodeSynced,
			Revision:   rev,
			ComparedTo: v1alpha1.ComparedTo{Source: src, Destination: a.Spec.Destination},
		}
		var id int64
		if n := len(a.Status.History); n > 0 {
			id = a.Status.History[n-1].ID + 1
		}
		started := st.StartedAt
		a.Status.History = append(a.Status.History, v1alpha1.RevisionHistory{
			ID: id, Revision: rev, Source: src, DeployedAt: now, DeployStartedAt: &started,
		})
		hs := r.Health
		if hs == "" {
			hs = "Healthy"
		}
		a.Status.Health.Status = healthCode(hs)
		a.Status.Health.Message = r.HealthMessage
		for i := range a.Status.Resources {
			a.Status.Resources[i].Status = v1alpha1.SyncStatusCodeSynced
		}
	}
	a.Status.ReconciledAt = &now
	s.changed(e, watch.Modified)
	return nil
}

// changed bumps the resourceVersion and sends ev to every watcher. The
// caller holds s.mu.
func (s *Server) changed(e *app, ev watch.EventType) {
	s.rv++
	e.obj.ResourceVersion = strconv.FormatInt(s.rv, 10)
	for ch := range s.subs {
		select {
		case ch <- &v1alpha1.ApplicationWatchEvent{Type: ev, Application: *e.obj.DeepCopy()}:
		default:
			s.log.Warn("watcher too slow, event dropped", "app", e.obj.Name)
		}
	}
}

// begin records a call, applies an injected fault and checks the caller's
// right to act.
func (s *Server) begin(ctx context.Context, method, name string, needSync bool) error {
	s.mu.Lock()
	s.calls = append(s.calls, Call{Method: method, App: name, Via: via(ctx)})
	var fault error
	if q := s.faults[method]; len(q) > 0 {
		fault, s.faults[method] = q[0], q[1:]
	}
	s.mu.Unlock()
	if fault != nil {
		s.log.InfoContext(ctx, "injected fault", "method", method, "app", name, "error", fault)
		return fault
	}
	if needSync && !mayWrite(ctx) {
		return status.Errorf(codes.PermissionDenied, "%s: applications, %s, %s", msgPermissionDenied, strings.ToLower(method), name)
	}
	return nil
}

// lookup returns the stored application, or Argo CD's answer for a
// missing one: NotFound when the request named a project (the caller may
// know the app exists), PermissionDenied otherwise, so that existence does
// not leak. The caller holds s.mu.
func (s *Server) lookup(name, project string) (*app, error) {
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "application name is required")
	}
	e, ok := s.apps[name]
	if !ok || project != "" && e.obj.Spec.Project != project {
		if project != "" {
			return nil, status.Errorf(codes.NotFound, "applications.argoproj.io %q not found", name)
		}
		return nil, status.Error(codes.PermissionDenied, msgPermissionDenied)
	}
	return e, nil
}

// onApp runs fn under s.mu on the application name as [Server.lookup]
// finds it in project, or returns lookup's refusal.
func onApp[T any](s *Server, name, project string, fn func(e *app) (T, error)) (T, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, err := s.lookup(name, project)
	if err != nil {
		var zero T
		return zero, err
	}
	return fn(e)
}

func oneProject(q *application.ApplicationQuery) (string, error) {
	ps := append(slices.Clone(q.Projects), q.Project...)
	switch len(ps) {
	case 0:
		return "", nil
	case 1:
		return ps[0], nil
	}
	return "", status.Errorf(codes.InvalidArgument, "multiple projects specified - the get endpoint accepts either zero or one project")
}

// Get returns an application. A refresh query makes the controller
// reconcile it first (reconciledAt becomes now).
func (s *Server) Get(ctx context.Context, q *application.ApplicationQuery) (*v1alpha1.Application, error) {
	if err := s.begin(ctx, "Get", q.GetName(), false); err != nil {
		return nil, err
	}
	project, err := oneProject(q)
	if err != nil {
		return nil, err
	}
	return onApp(s, q.GetName(), project, func(e *app) (*v1alpha1.Application, error) {
		if q.Refresh != nil {
			now := metav1.NewTime(s.clock.Now())
			e.obj.Status.ReconciledAt = &now
			s.changed(e, watch.Modified)
		}
		return e.obj.DeepCopy(), nil
	})
}

// List returns every application, sorted by name, filtered by name and
// projects when the query has them.
func (s *Server) List(ctx context.Context, q *application.ApplicationQuery) (*v1alpha1.ApplicationList, error) {
	if err := s.begin(ctx, "List", q.GetName(), false); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	list := &v1alpha1.ApplicationList{ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatInt(s.rv, 10)}}
	for _, e := range s.apps {
		if matches(q, e.obj) {
			list.Items = append(list.Items, *e.obj.DeepCopy())
		}
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.Application) int { return strings.Compare(a.Name, b.Name) })
	return list, nil
}

func matches(q *application.ApplicationQuery, a *v1alpha1.Application) bool {
	if q.GetName() != "" && q.GetName() != a.Name {
		return false
	}
	ps := append(slices.Clone(q.Projects), q.Project...)
	return len(ps) == 0 || slices.Contains(ps, a.Spec.Project)
}

// Watch streams application events as Argo CD does: first an ADDED event
// for each matching application (always when a name is given, otherwise
// only without a resourceVersion), then every change, until the client
// goes away or [Server.DropWatches] ends the stream with Unavailable. An
// unknown name yields an open stream with no events.
func (s *Server) Watch(q *application.ApplicationQuery, ws application.ApplicationService_WatchServer) error {
	ctx := ws.Context()
	if err := s.begin(ctx, "Watch", q.GetName(), false); err != nil {
		return err
	}
	events := make(chan *v1alpha1.ApplicationWatchEvent, 256)
	kick := make(chan struct{})
	s.mu.Lock()
	var initial []*v1alpha1.Application
	if q.GetResourceVersion() == "" || q.GetName() != "" {
		for _, e := range s.apps {
			if matches(q, e.obj) {
				initial = append(initial, e.obj.DeepCopy())
			}
		}
	}
	s.subs[events] = struct{}{}
	s.kicks[kick] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, events)
		delete(s.kicks, kick)
		s.mu.Unlock()
	}()
	slices.SortFunc(initial, func(a, b *v1alpha1.Application) int { return strings.Compare(a.Name, b.Name) })
	for _, a := range initial {
		if err := ws.Send(&v1alpha1.ApplicationWatchEvent{Type: watch.Added, Application: *a}); err != nil {
			return err
		}
	}
	for {
		select {
		case ev := <-events:
			if !matches(q, &ev.Application) {
				continue
			}
			if err := ws.Send(ev); err != nil {
				return err
			}
		case <-kick:
			return status.Error(codes.Unavailable, "watch stream closed by server")
		case <-ctx.Done():
			return nil
		}
	}
}

// Sync requests a sync operation the way Argo CD's API server does; the
// controller part ([Server.FinishOperation] or [WithAutoComplete]) carries
// it out. Refusals: PermissionDenied for a read-only token, a hidden
// application or a blocking sync window; FailedPrecondition when the
// revision differs from the target revision while auto-sync is on, or
// when another operation is in progress.
func (s *Server) Sync(ctx context.Context, req *application.ApplicationSyncRequest) (*v1alpha1.Application, error) {
	if err := s.begin(ctx, "Sync", req.GetName(), true); err != nil {
		return nil, err
	}
	return onApp(s, req.GetName(), req.GetProject(), func(e *app) (*v1alpha1.Application, error) {
		a := e.obj
		if e.syncBlocked {
			return a.DeepCopy(), status.Error(codes.PermissionDenied, msgBlockedBySyncWindow)
		}
		target := a.Spec.GetSource().TargetRevision
		if target == "" {
			target = "HEAD"
		}
		rev := req.GetRevision()
		if a.Spec.SyncPolicy != nil && a.Spec.SyncPolicy.Automated != nil && rev != "" && rev != target {
			return nil, status.Errorf(codes.FailedPrecondition, "Cannot sync to %s: auto-sync currently set to %s", rev, target)
		}
		if rev == "" {
			rev = target
		}
		op := &v1alpha1.Operation{Sync: &v1alpha1.SyncOperation{
			Revision: rev, Prune: req.GetPrune(), DryRun: req.GetDryRun(),
		}}
		for _, r := range req.Resources {
			if r != nil {
				op.Sync.Resources = append(op.Sync.Resources, *r)
			}
		}
		if req.RetryStrategy != nil {
			op.Retry = *req.RetryStrategy
		}
		return s.setOperation(ctx, e, op)
	})
}

// setOperation is argo.SetAppOperation: one operation at a time, and the
// previous operation state is cleared. The caller holds s.mu.
func (s *Server) setOperation(ctx context.Context, e *app, op *v1alpha1.Operation) (*v1alpha1.Application, error) {
	if e.obj.Operation != nil {
		return nil, fmt.Errorf("error setting app operation: %w", status.Error(codes.FailedPrecondition, msgOperationInProgress))
	}
	op.InitiatedBy = v1alpha1.OperationInitiator{Username: "admin"}
	e.obj.Operation = op
	e.obj.Status.OperationState = nil
	s.changed(e, watch.Modified)
	s.log.InfoContext(ctx, "operation requested", "app", e.obj.Name, "revision", op.Sync.Revision)
	out := e.obj.DeepCopy()
	if s.auto != nil {
		if err := s.finish(e, *s.auto); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	return out, nil
}

// Rollback requests a sync to the revision of a history entry. Refusals
// are those of Sync, plus FailedPrecondition while auto-sync is on and
// InvalidArgument for an unknown history id.
func (s *Server) Rollback(ctx context.Context, req *application.ApplicationRollbackRequest) (*v1alpha1.Application, error) {
	if err := s.begin(ctx, "Rollback", req.GetName(), true); err != nil {
		return nil, err
	}
	return onApp(s, req.GetName(), req.GetProject(), func(e *app) (*v1alpha1.Application, error) {
		a := e.obj
		if a.Spec.SyncPolicy != nil && a.Spec.SyncPolicy.Automated != nil {
			return nil, status.Error(codes.FailedPrecondition, msgRollbackAutoSync)
		}
		i := slices.IndexFunc(a.Status.History, func(h v1alpha1.RevisionHistory) bool { return h.ID == req.GetId() })
		if i < 0 {
			return nil, status.Errorf(codes.InvalidArgument, "application %s does not have deployment with id %v", a.QualifiedName(), req.GetId())
		}
		h := a.Status.History[i]
		src := h.Source
		return s.setOperation(ctx, e, &v1alpha1.Operation{Sync: &v1alpha1.SyncOperation{
			Revision: h.Revision, DryRun: req.GetDryRun(), Prune: req.GetPrune(), Source: &src,
			SyncStrategy: &v1alpha1.SyncStrategy{Apply: &v1alpha1.SyncStrategyApply{}},
		}})
	})
}

// TerminateOperation marks the running operation Terminating; the next
// [Server.FinishOperation] ends it Failed. With no running operation it
// answers InvalidArgument, as Argo CD does.
func (s *Server) TerminateOperation(ctx context.Context, req *application.OperationTerminateRequest) (*application.OperationTerminateResponse, error) {
	if err := s.begin(ctx, "TerminateOperation", req.GetName(), true); err != nil {
		return nil, err
	}
	return onApp(s, req.GetName(), req.GetProject(), func(e *app) (*application.OperationTerminateResponse, error) {
		a := e.obj
		if a.Operation == nil || a.Status.OperationState == nil {
			return nil, status.Error(codes.InvalidArgument, msgNoOperation)
		}
		a.Status.OperationState.Phase = synccommon.OperationTerminating
		s.changed(e, watch.Modified)
		return &application.OperationTerminateResponse{}, nil
	})
}

// ResourceTree returns one node per resource in the application's status,
// with its health.
func (s *Server) ResourceTree(ctx context.Context, q *application.ResourcesQuery) (*v1alpha1.ApplicationTree, error) {
	if err := s.begin(ctx, "ResourceTree", q.GetApplicationName(), false); err != nil {
		return nil, err
	}
	return onApp(s, q.GetApplicationName(), q.GetProject(), func(e *app) (*v1alpha1.ApplicationTree, error) {
		tree := &v1alpha1.ApplicationTree{}
		for _, r := range e.obj.Status.Resources {
			n := v1alpha1.ResourceNode{
				ResourceRef: v1alpha1.ResourceRef{Group: r.Group, Version: r.Version, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name,
					UID: fmt.Sprintf("%s-%s-%s", strings.ToLower(r.Kind), r.Namespace, r.Name)},
				ResourceVersion: e.obj.ResourceVersion,
			}
			if r.Health != nil {
				n.Health = r.Health.DeepCopy()
			}
			tree.Nodes = append(tree.Nodes, n)
		}
		return tree, nil
	})
}

// closeQuietly closes c, ignoring the error; for shutdown paths.
func closeQuietly(c io.Closer) { _ = c.Close() }
