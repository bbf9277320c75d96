package argocdv2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient"
	"github.com/argoproj/argo-cd/v2/pkg/apiclient/application"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
)

// ErrInvalidOptions is returned (wrapped) by [New] when the client options
// cannot work: no server address, or an address that is a URL or carries
// credentials.
var ErrInvalidOptions = errors.New("argocdv2: invalid client options")

// Option configures a [Syncer].
type Option func(*options)

type options struct {
	logger       *slog.Logger
	appNamespace string
	project      string
	retries      int
	backoff      time.Duration
	maxBackoff   time.Duration
	maxBytes     int
	clock        clock.Clock
}

// Defaults of [New].
const (
	// DefaultRetries is how many times a call answered Unavailable is
	// retried. apiclient v2.14 configures a grpc_retry interceptor, but
	// installs a second unary interceptor with grpc.WithUnaryInterceptor,
	// which replaces it, so the official client does not retry by itself.
	DefaultRetries = 3
	// DefaultRetryBackoff is the first wait between attempts; it doubles
	// up to DefaultMaxRetryBackoff, with up to 20% jitter.
	DefaultRetryBackoff    = 250 * time.Millisecond
	DefaultMaxRetryBackoff = 4 * time.Second
	// DefaultMaxResponseBytes is the largest message a call receives, as
	// for the REST client ([argocd.DefaultMaxResponseBytes]); apiclient
	// alone allows 200 MiB.
	DefaultMaxResponseBytes = argocd.DefaultMaxResponseBytes
)

// WithRetry sets how many times a call answered Unavailable is retried
// (0 turns retries off) and the back-off between attempts. The waits end
// with the call's context, and a cancelled or expired context is never
// retried. Defaults: [DefaultRetries], [DefaultRetryBackoff],
// [DefaultMaxRetryBackoff].
func WithRetry(retries int, backoff, maxBackoff time.Duration) Option {
	return func(o *options) { o.retries, o.backoff, o.maxBackoff = retries, backoff, maxBackoff }
}

// WithMaxResponseBytes caps each message a call receives at n bytes
// (grpc.MaxCallRecvMsgSize); a larger one fails with
// [argocd.ErrResponseTooLarge] before it is read. The default is
// [DefaultMaxResponseBytes]; n <= 0 means the default. Over gRPC-web,
// apiclient's local proxy reads each frame whole before this check.
func WithMaxResponseBytes(n int) Option { return func(o *options) { o.maxBytes = n } }

// WithClock times the back-off between retries on clk; the default (nil)
// is the system clock.
func WithClock(clk clock.Clock) Option { return func(o *options) { o.clock = clk } }

// WithLogger logs requests and refusals to l; the default discards. The
// token is never logged.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithAppNamespace addresses applications in namespace ns (Argo CD's
// "apps in any namespace"); the default is the server's own namespace.
func WithAppNamespace(ns string) Option { return func(o *options) { o.appNamespace = ns } }

// WithProject sends project with every request. Argo CD then answers
// NotFound for a missing application instead of PermissionDenied, which
// it returns when the project is unknown so as not to leak existence. The
// default sends none.
func WithProject(project string) Option { return func(o *options) { o.project = project } }

// Syncer implements [gitops.Syncer] and [gitops.Refresher] with the
// official argo-cd v2 Go client (pkg/apiclient), over plain gRPC or
// gRPC-web as the client options say. It is safe for concurrent use.
type Syncer struct {
	apps   application.ApplicationServiceClient
	closer io.Closer
	log    *slog.Logger
	token  string // only to scrub it from what the server sends back
	o      options
	once   sync.Once
}

var (
	_ gitops.Syncer    = (*Syncer)(nil)
	_ gitops.Refresher = (*Syncer)(nil)
)

type dialed struct {
	closer io.Closer
	apps   application.ApplicationServiceClient
	err    error
}

// New connects to the Argo CD API server that co describes, with
// apiclient.NewClient and NewApplicationClient. co.ServerAddr is required
// and is "host:port", not a URL; set co.PlainText for a server without
// TLS and co.GRPCWeb to speak gRPC-web (through the client's local proxy)
// instead of gRPC. co.AuthToken is sent as the "token" metadata Argo CD
// reads. Note that apiclient falls back to ARGOCD_SERVER/ARGOCD_AUTH_TOKEN
// from the environment for empty fields, and probes the server's
// VersionService, switching to gRPC-web if plain gRPC fails.
//
// apiclient dials without a context; New waits for it in the background
// and returns ctx's error if ctx ends first (the late connection is then
// closed). Calls are bound by their context on the gRPC side; over
// gRPC-web, apiclient's local proxy sends the HTTP request without one, so
// a call returns when its context ends but the proxy's request to a hung
// server lingers until the server answers or the connection drops. It returns [ErrInvalidOptions] for unusable options and the
// client's error, with the token removed, if it cannot connect.
func New(ctx context.Context, co apiclient.ClientOptions, opts ...Option) (*Syncer, error) {
	o := options{retries: DefaultRetries, backoff: DefaultRetryBackoff, maxBackoff: DefaultMaxRetryBackoff, maxBytes: DefaultMaxResponseBytes}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	o.retries = max(o.retries, 0)
	if o.backoff <= 0 {
		o.backoff = DefaultRetryBackoff
	}
	o.maxBackoff = max(o.maxBackoff, o.backoff)
	if o.maxBytes <= 0 {
		o.maxBytes = DefaultMaxResponseBytes
	}
	o.clock = clock.Or(o.clock)
	switch addr := co.ServerAddr; {
	case addr == "":
		return nil, fmt.Errorf("%w: ServerAddr is required", ErrInvalidOptions)
	case strings.Contains(addr, "@"):
		return nil, fmt.Errorf("%w: ServerAddr must not carry credentials; use AuthToken", ErrInvalidOptions)
	case strings.Contains(addr, "://"):
		return nil, fmt.Errorf("%w: ServerAddr %q must be host:port, not a URL", ErrInvalidOptions, addr)
	}
	token := co.AuthToken
	done := make(chan dialed, 1)
	go func() {
		c, err := apiclient.NewClient(&co)
		if err != nil {
			done <- dialed{err: err}
			return
		}
		closer, apps, err := c.NewApplicationClient()
		done <- dialed{closer: closer, apps: apps, err: err}
	}()
	select {
	case d := <-done:
		if d.err != nil {
			if d.closer != nil {
				_ = d.closer.Close()
			}
			return nil, fmt.Errorf("argocdv2: connect to %s: %s", co.ServerAddr, redact(d.err.Error(), token))
		}
		o.logger.DebugContext(ctx, "argocdv2 connected", "server", co.ServerAddr, "grpcWeb", co.GRPCWeb)
		return &Syncer{apps: d.apps, closer: d.closer, log: o.logger, token: token, o: o}, nil
	case <-ctx.Done():
		go func() {
			if d := <-done; d.closer != nil {
				_ = d.closer.Close()
			}
		}()
		return nil, fmt.Errorf("argocdv2: connect to %s: %w", co.ServerAddr, ctx.Err())
	}
}

func redact(msg, token string) string {
	if token == "" {
		return msg
	}
	return strings.ReplaceAll(msg, token, "xxxxx")
}

// Close closes the connection (and the local gRPC-web proxy, if any). It
// is safe to call more than once.
func (s *Syncer) Close() error {
	var err error
	s.once.Do(func() {
		if s.closer != nil {
			err = s.closer.Close()
		}
	})
	return err
}

func (s *Syncer) ns() *string {
	if s.o.appNamespace == "" {
		return nil
	}
	return &s.o.appNamespace
}

func (s *Syncer) proj() *string {
	if s.o.project == "" {
		return nil
	}
	return &s.o.project
}

// Get returns application name; refresh is "", "normal" or "hard" (see
// [argocd.RefreshNormal]). Refusals come as an [*argocd.APIError] wrapping
// the same sentinels the REST client uses: [argocd.ErrNotFound],
// [argocd.ErrUnauthenticated], [argocd.ErrPermissionDenied] or
// [argocd.ErrUnavailable].
func (s *Syncer) Get(ctx context.Context, name, refresh string) (*v1alpha1.Application, error) {
	op := fmt.Sprintf("get app %q", name)
	if name == "" {
		return nil, fmt.Errorf("argocdv2: %s: application name is required", op)
	}
	q := &application.ApplicationQuery{Name: &name, AppNamespace: s.ns()}
	switch refresh {
	case argocd.RefreshNone:
	case argocd.RefreshNormal, argocd.RefreshHard:
		q.Refresh = &refresh
	default:
		return nil, fmt.Errorf("argocdv2: %s: unknown refresh mode %q", op, refresh)
	}
	if s.o.project != "" {
		q.Projects = []string{s.o.project}
	}
	var a *v1alpha1.Application
	err := s.call(ctx, op, func(ctx context.Context) (err error) {
		a, err = s.apps.Get(ctx, q, s.callOpts()...)
		return err
	})
	return a, err
}

// AppStatus implements [gitops.Syncer]. Errors are those of [Syncer.Get].
func (s *Syncer) AppStatus(ctx context.Context, app string) (gitops.AppStatus, error) {
	a, err := s.Get(ctx, app, argocd.RefreshNone)
	if err != nil {
		return gitops.AppStatus{}, err
	}
	return ToAppStatus(a), nil
}

// Refresh implements [gitops.Refresher] with a normal refresh. Errors are
// those of [Syncer.Get].
func (s *Syncer) Refresh(ctx context.Context, app string) error {
	_, err := s.Get(ctx, app, argocd.RefreshNormal)
	return err
}

// Sync implements [gitops.Syncer]: it asks for a sync operation and
// returns once the server accepted it. Besides the errors of [Syncer.Get]
// it returns an [*argocd.APIError] wrapping [argocd.ErrSyncWindow],
// [argocd.ErrOperationInProgress] or [argocd.ErrAutoSyncRevision].
func (s *Syncer) Sync(ctx context.Context, req gitops.SyncRequest) error {
	op := fmt.Sprintf("sync app %q", req.App)
	if req.App == "" {
		return fmt.Errorf("argocdv2: %s: application name is required", op)
	}
	r := &application.ApplicationSyncRequest{Name: &req.App, AppNamespace: s.ns(), Project: s.proj()}
	if req.Revision != "" {
		r.Revision = &req.Revision
	}
	if req.Prune {
		r.Prune = &req.Prune
	}
	if req.DryRun {
		r.DryRun = &req.DryRun
	}
	for _, res := range req.Resources {
		r.Resources = append(r.Resources, &v1alpha1.SyncOperationResource{Group: res.Group, Kind: res.Kind, Namespace: res.Namespace, Name: res.Name})
	}
	if rt := req.Retry; rt != nil {
		r.RetryStrategy = &v1alpha1.RetryStrategy{Limit: int64(rt.Limit)}
		if rt.Backoff > 0 || rt.Factor > 0 || rt.MaxBackoff > 0 {
			b := &v1alpha1.Backoff{}
			if rt.Backoff > 0 {
				b.Duration = rt.Backoff.String()
			}
			if rt.Factor > 0 {
				f := int64(rt.Factor)
				b.Factor = &f
			}
			if rt.MaxBackoff > 0 {
				b.MaxDuration = rt.MaxBackoff.String()
			}
			r.RetryStrategy.Backoff = b
		}
	}
	if err := s.call(ctx, op, func(ctx context.Context) error { _, err := s.apps.Sync(ctx, r, s.callOpts()...); return err }); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "argocdv2 sync requested", "app", req.App, "revision", req.Revision)
	return nil
}

// Rollback asks for a sync back to the revision of history entry id.
// Argo CD refuses it while auto-sync is on (FailedPrecondition) and for
// an unknown id (InvalidArgument). Errors are those of [Syncer.Sync].
func (s *Syncer) Rollback(ctx context.Context, name string, id int64, opts argocd.RollbackOptions) error {
	op := fmt.Sprintf("rollback app %q to history %d", name, id)
	if name == "" {
		return fmt.Errorf("argocdv2: %s: application name is required", op)
	}
	r := &application.ApplicationRollbackRequest{Name: &name, Id: &id, AppNamespace: s.ns(), Project: s.proj()}
	if opts.DryRun {
		r.DryRun = &opts.DryRun
	}
	if opts.Prune {
		r.Prune = &opts.Prune
	}
	return s.call(ctx, op, func(ctx context.Context) error { _, err := s.apps.Rollback(ctx, r, s.callOpts()...); return err })
}

// TerminateOperation stops the running operation of name. Argo CD answers
// InvalidArgument when none is running. Errors are those of [Syncer.Get].
func (s *Syncer) TerminateOperation(ctx context.Context, name string) error {
	op := fmt.Sprintf("terminate operation of app %q", name)
	if name == "" {
		return fmt.Errorf("argocdv2: %s: application name is required", op)
	}
	r := &application.OperationTerminateRequest{Name: &name, AppNamespace: s.ns(), Project: s.proj()}
	return s.call(ctx, op, func(ctx context.Context) error {
		_, err := s.apps.TerminateOperation(ctx, r, s.callOpts()...)
		return err
	})
}

// callOpts bound what a call receives.
func (s *Syncer) callOpts() []grpc.CallOption {
	return []grpc.CallOption{grpc.MaxCallRecvMsgSize(s.o.maxBytes)}
}

// call runs fn, retrying an Unavailable answer with back-off while ctx
// allows, and turns a final error into the error of [Syncer.fail].
func (s *Syncer) call(ctx context.Context, op string, fn func(context.Context) error) error {
	wait := s.o.backoff
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("argocdv2: %s: %w", op, err)
		}
		err := fn(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || status.Code(err) != codes.Unavailable || attempt >= s.o.retries {
			return s.fail(ctx, op, err)
		}
		d := wait + rand.N(wait/5+1)
		s.log.WarnContext(ctx, "argocdv2 call unavailable, retrying", "op", op, "attempt", attempt+1, "wait", d, "error", redact(status.Convert(err).Message(), s.token))
		if serr := clock.Sleep(ctx, s.o.clock, d); serr != nil {
			return fmt.Errorf("argocdv2: %s: %w while retrying; last attempt: %w", op, serr, lastAttempt{s.refusal(ctx, op, err)})
		}
		wait = min(wait*2, s.o.maxBackoff)
	}
}

// fail turns a client error into the error the REST client would return:
// the context's error when ctx ended, else an [*argocd.APIError] whose
// Code is the gRPC code, StatusCode the HTTP status Argo CD's gateway
// would have answered, and Err the matching sentinel.
func (s *Syncer) fail(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("argocdv2: %s: %w", op, cerr)
	}
	return s.refusal(ctx, op, err)
}

// refusal is the [*argocd.APIError] of a gRPC error.
func (s *Syncer) refusal(ctx context.Context, op string, err error) *argocd.APIError {
	st := status.Convert(err)
	msg := redact(st.Message(), s.token)
	ae := &argocd.APIError{
		Op:         op,
		StatusCode: runtime.HTTPStatusFromCode(st.Code()),
		Code:       int(st.Code()),
		Message:    msg,
		Err:        Classify(st.Code(), msg),
	}
	s.log.WarnContext(ctx, "argocdv2 request refused", "op", op, "code", st.Code().String(), "message", msg)
	return ae
}

// lastAttempt quotes an [*argocd.APIError] without its "argocd: <op>: "
// prefix, which the error quoting it already carries.
type lastAttempt struct{ err *argocd.APIError }

func (l lastAttempt) Error() string {
	return fmt.Sprintf("%s (HTTP %d, code %d)", l.err.Message, l.err.StatusCode, l.err.Code)
}

func (l lastAttempt) Unwrap() error { return l.err }

// Classify returns the [argocd] sentinel for a gRPC refusal, or nil when
// none applies:
//
//	NotFound                                                   argocd.ErrNotFound
//	Unauthenticated                                            argocd.ErrUnauthenticated
//	PermissionDenied, message mentions "sync window"           argocd.ErrSyncWindow
//	PermissionDenied                                           argocd.ErrPermissionDenied
//	"another operation is already in progress"                 argocd.ErrOperationInProgress
//	"auto-sync currently set to"                               argocd.ErrAutoSyncRevision
//	Unavailable                                                argocd.ErrUnavailable
//	ResourceExhausted, "received message ... larger than max"  argocd.ErrResponseTooLarge
//
// The messages are Argo CD's; a FailedPrecondition whose message is none
// of these (such as "application is deleting") has no sentinel.
func Classify(code codes.Code, msg string) error {
	lower := strings.ToLower(msg)
	switch {
	case code == codes.NotFound:
		return argocd.ErrNotFound
	case code == codes.Unauthenticated:
		return argocd.ErrUnauthenticated
	case code == codes.PermissionDenied && strings.Contains(lower, "sync window"):
		return argocd.ErrSyncWindow
	case code == codes.PermissionDenied:
		return argocd.ErrPermissionDenied
	case strings.Contains(lower, "another operation is already in progress"):
		return argocd.ErrOperationInProgress
	case strings.Contains(lower, "auto-sync currently set to"):
		return argocd.ErrAutoSyncRevision
	case code == codes.Unavailable:
		return argocd.ErrUnavailable
	case code == codes.ResourceExhausted && strings.Contains(lower, "larger than max"):
		return argocd.ErrResponseTooLarge
	}
	return nil
}

// ToAppStatus converts an Argo CD application into a [gitops.AppStatus]
// with [argocd.ToAppStatus], so that both clients report alike: in
// particular, a requested operation the controller has not finished
// (app.Operation set) is reported as Running even while operationState
// still describes the previous one, so a waiter never takes an old result
// for the new sync.
func ToAppStatus(a *v1alpha1.Application) gitops.AppStatus {
	return argocd.ToAppStatus(restApplication(a))
}

// restApplication copies the fields [argocd.ToAppStatus] reads from a
// into the REST client's [argocd.Application].
func restApplication(a *v1alpha1.Application) *argocd.Application {
	out := &argocd.Application{
		Metadata: argocd.ObjectMeta{Name: a.Name},
		Status: argocd.ApplicationStatus{
			Sync:         argocd.SyncStatus{Status: string(a.Status.Sync.Status), Revision: a.Status.Sync.Revision},
			Health:       argocd.HealthStatus{Status: string(a.Status.Health.Status), Message: a.Status.Health.Message},
			ReconciledAt: timeOf(a.Status.ReconciledAt),
		},
	}
	if os := a.Status.OperationState; os != nil {
		st := &argocd.OperationState{
			Operation: argocd.Operation{Sync: restSyncOperation(os.Operation.Sync)},
			Phase:     string(os.Phase), Message: os.Message,
			StartedAt: os.StartedAt.Time, FinishedAt: timeOf(os.FinishedAt),
		}
		if os.SyncResult != nil {
			st.SyncResult = &argocd.SyncOperationResult{Revision: os.SyncResult.Revision}
		}
		out.Status.OperationState = st
	}
	if a.Operation != nil {
		out.Operation = &argocd.Operation{Sync: restSyncOperation(a.Operation.Sync)}
	}
	for _, h := range a.Status.History {
		out.Status.History = append(out.Status.History, argocd.RevisionHistory{ID: h.ID, Revision: h.Revision, DeployedAt: h.DeployedAt.Time})
	}
	for _, r := range a.Status.Resources {
		rs := argocd.ResourceStatus{Group: r.Group, Version: r.Version, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Status: string(r.Status)}
		if r.Health != nil {
			rs.Health = &argocd.HealthStatus{Status: string(r.Health.Status), Message: r.Health.Message}
		}
		out.Status.Resources = append(out.Status.Resources, rs)
	}
	return out
}

func restSyncOperation(op *v1alpha1.SyncOperation) *argocd.SyncOperation {
	if op == nil {
		return nil
	}
	return &argocd.SyncOperation{Revision: op.Revision}
}

func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	tt := t.Time
	return &tt
}
