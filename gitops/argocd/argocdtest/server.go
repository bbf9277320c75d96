package argocdtest

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// DefaultToken is the bearer token the server accepts unless [WithToken]
// sets another.
const DefaultToken = "argocdtest-token"

// Defaults of [New].
const (
	// DefaultSyncDuration is how long, on the server's clock, a sync
	// operation runs after it applied the manifests.
	DefaultSyncDuration = 2 * time.Second
	// DefaultReconcileInterval is how often the controller compares live
	// and desired state on its own (Argo CD's default is 120s): it
	// re-reads the target revision and runs auto-sync.
	DefaultReconcileInterval = 120 * time.Second
	// DefaultRevisionHistoryLimit is how many syncs an application's
	// history keeps unless [App.RevisionHistoryLimit] says otherwise
	// (Argo CD's default).
	DefaultRevisionHistoryLimit = 10
)

// App registers an application with the fake.
type App struct {
	// Name is the application name. Required.
	Name string
	// RepoURL is the Git repository (any URL gitops.New accepts, such as
	// a file:// URL of gitopstest.NewBareRepo). Required.
	RepoURL string
	// Path is the kustomization directory in the repository. Required.
	Path string
	// TargetRevision is the branch or commit to track; empty means main.
	TargetRevision string
	// Project is the Argo CD project; empty means "default".
	Project string
	// Namespace is the destination namespace written into the spec; the
	// manifests' own namespaces are used when applying.
	Namespace string
	// AutoSync turns on automated sync; AutoPrune prunes with it.
	AutoSync, AutoPrune bool
	// RevisionHistoryLimit is how many past syncs the application's
	// history keeps, as Argo CD's spec.revisionHistoryLimit: the oldest
	// are dropped (and can no longer be rolled back to). Zero means
	// [DefaultRevisionHistoryLimit].
	RevisionHistoryLimit int
}

// Call is one API request the server received.
type Call struct {
	Method string
	Path   string
	// Query is the raw query string.
	Query string
	// App is the application the request named, if any.
	App string
}

// Option configures a [Server].
type Option func(*config)

type config struct {
	clock             *clocktest.Clock
	cluster           *sim.Cluster
	token             string
	tls               bool
	logger            *slog.Logger
	syncDuration      time.Duration
	reconcileInterval time.Duration
	accelerate        float64
}

// WithClock runs the server (and the default cluster) on clk, the
// project's one drivable clock (sim.Clock is the same type), so one clock
// can drive the cluster, this server, the client's retries and
// gitops.WaitFor together. The default is a new clock that only moves
// when the caller moves it.
func WithClock(clk *clocktest.Clock) Option { return func(c *config) { c.clock = clk } }

// WithCluster applies syncs to cluster, which must run on the same clock;
// the default is a new [sim.Cluster] with [sim.DefaultBehavior].
func WithCluster(cluster *sim.Cluster) Option { return func(c *config) { c.cluster = cluster } }

// WithToken sets the only bearer token the server accepts; the default is
// [DefaultToken].
func WithToken(token string) Option { return func(c *config) { c.token = token } }

// WithTLS serves HTTPS with a self-signed certificate; [Server.CACertPEM]
// returns it for clients to trust.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithLogger logs requests and operations through l; the default discards.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithSyncDuration sets how long operations run; the default is
// [DefaultSyncDuration].
func WithSyncDuration(d time.Duration) Option { return func(c *config) { c.syncDuration = d } }

// WithReconcileInterval sets the controller's own reconcile period; the
// default is [DefaultReconcileInterval].
func WithReconcileInterval(d time.Duration) Option {
	return func(c *config) { c.reconcileInterval = d }
}

// WithAcceleratedClock moves the server's clock factor times faster than
// real time until [Server.Close] (see [clocktest.Clock.Accelerate]): with
// 100000, a ten-minute rollout takes about six milliseconds. Without it
// the clock moves only when the caller moves it.
func WithAcceleratedClock(factor float64) Option { return func(c *config) { c.accelerate = factor } }

// Server is a fake Argo CD API server on a loopback port. It speaks the
// REST and stream API of gitops/argocd's client with Argo CD's paths,
// JSON and gRPC-gateway errors, keeps applications that point at Git
// repositories, and on sync renders the revision with kustomize (through
// gitops.Repo) and applies it to a [sim.Cluster], whose rollouts then
// decide the application's health. It records calls, injects faults, and
// is safe for concurrent use.
type Server struct {
	// URL is the server's base URL, such as "http://127.0.0.1:34567".
	URL string
	// Token is the bearer token the server accepts.
	Token string

	cfg     config
	srv     *httptest.Server
	clock   *clocktest.Clock
	cluster *sim.Cluster
	log     *slog.Logger
	tmp     string
	stop    context.CancelFunc
	done    chan struct{}
	wg      sync.WaitGroup

	mu     sync.Mutex
	apps   map[string]*appState
	order  []string
	repos  map[string]*gitops.Repo
	calls  []Call
	faults faults
}

type faults struct {
	failStatus      []int
	malformed       int
	latency         time.Duration
	denySync        bool
	momentary       time.Duration
	staleReconcile  bool
	dropStreamAfter int
	holdOperations  bool
	refusals        []*grpcError
	tokenRevoked    bool
	denyAccess      bool
}

// New starts a fake Argo CD server. Call Close when done.
func New(opts ...Option) (*Server, error) {
	cfg := config{token: DefaultToken, syncDuration: DefaultSyncDuration, reconcileInterval: DefaultReconcileInterval}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.syncDuration <= 0 {
		cfg.syncDuration = DefaultSyncDuration
	}
	if cfg.reconcileInterval <= 0 {
		cfg.reconcileInterval = DefaultReconcileInterval
	}
	if cfg.clock == nil {
		cfg.clock = clocktest.New(time.Time{})
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.cluster == nil {
		cfg.cluster = sim.New(cfg.clock, sim.WithLogger(log))
	}
	tmp, err := os.MkdirTemp("", "argocdtest-")
	if err != nil {
		return nil, fmt.Errorf("argocdtest: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Server{
		Token: cfg.token, cfg: cfg, clock: cfg.clock, cluster: cfg.cluster, log: log, tmp: tmp,
		stop: stop, done: make(chan struct{}),
		apps: map[string]*appState{}, repos: map[string]*gitops.Repo{},
	}
	h := s.handler()
	s.srv = httptest.NewUnstartedServer(h)
	// Handshake failures of untrusting clients are expected; keep them
	// out of stderr.
	s.srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0)
	if cfg.tls {
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	s.URL = s.srv.URL
	if cfg.accelerate > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.clock.Accelerate(ctx, cfg.accelerate)
		}()
	}
	go func() { <-ctx.Done(); close(s.done) }()
	return s, nil
}

// Close stops the server, ends open streams and removes its Git caches.
func (s *Server) Close() {
	s.stop()
	s.srv.CloseClientConnections()
	s.srv.Close()
	s.wg.Wait()
	_ = os.RemoveAll(s.tmp)
}

// Clock returns the server's clock.
func (s *Server) Clock() *clocktest.Clock { return s.clock }

// Cluster returns the cluster syncs are applied to.
func (s *Server) Cluster() *sim.Cluster { return s.cluster }

// CACertPEM returns the PEM of the server's certificate when it serves
// TLS ([WithTLS]), and nil otherwise.
func (s *Server) CACertPEM() []byte {
	cert := s.srv.Certificate()
	if cert == nil || !s.cfg.tls {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// Client returns a gitops/argocd client of this server with its token and,
// under TLS, its certificate trusted. opts are appended to those.
func (s *Server) Client(opts ...argocd.Option) (*argocd.Client, error) {
	base := []argocd.Option{argocd.WithRetry(3, time.Millisecond, 10*time.Millisecond), argocd.WithPollInterval(10 * time.Millisecond)}
	if pemData := s.CACertPEM(); pemData != nil {
		base = append(base, argocd.WithCACert(pemData))
	}
	return argocd.New(s.URL, s.Token, append(base, opts...)...)
}

// AddApp registers an application. Its target revision is resolved at
// once; it is OutOfSync until synced (or auto-synced). An app with a
// missing field, a duplicate name, or a repository that cannot be read is
// an error.
func (s *Server) AddApp(ctx context.Context, app App) error {
	switch {
	case app.Name == "":
		return errors.New("argocdtest: AddApp: Name is required")
	case app.RepoURL == "" || app.Path == "":
		return fmt.Errorf("argocdtest: AddApp %q: RepoURL and Path are required", app.Name)
	}
	if app.Project == "" {
		app.Project = "default"
	}
	if app.RevisionHistoryLimit <= 0 {
		app.RevisionHistoryLimit = DefaultRevisionHistoryLimit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apps[app.Name]; ok {
		return fmt.Errorf("argocdtest: AddApp %q: application already exists", app.Name)
	}
	a := &appState{spec: app, created: s.clock.Now()}
	if err := s.resolve(ctx, a); err != nil {
		return fmt.Errorf("argocdtest: AddApp %q: %w", app.Name, err)
	}
	s.apps[app.Name] = a
	s.order = append(s.order, app.Name)
	return nil
}

// Application returns the application name as the API would, or false.
func (s *Server) Application(ctx context.Context, name string) (argocd.Application, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.apps[name]
	if !ok {
		return argocd.Application{}, false
	}
	return s.view(ctx, a), true
}

// Calls returns the requests received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// FailNext makes the next len(statuses) API requests fail with these
// HTTP statuses: 502, 503 and 504 with a proxy's plain-text page, others
// with the gRPC-gateway error body of the matching gRPC code.
func (s *Server) FailNext(statuses ...int) {
	s.setFaults(func(f *faults) { f.failStatus = append(f.failStatus, statuses...) })
}

// RefuseNext makes the next API request fail as Argo CD refuses one: the
// gRPC-gateway error body {"error", "code", "message"} with code, message
// and the HTTP status [HTTPStatus] gives code.
func (s *Server) RefuseNext(code Code, message string) {
	s.setFaults(func(f *faults) { f.refusals = append(f.refusals, &grpcError{code: code, msg: message}) })
}

// RevokeToken makes the server refuse its token from now on, as Argo CD
// refuses a revoked or expired one (Unauthenticated, "invalid session:
// token is revoked, please re-login").
func (s *Server) RevokeToken() {
	s.setFaults(func(f *faults) { f.tokenRevoked = true })
}

// DenyAccess, while deny is true, answers every request about an
// application as Argo CD's RBAC refuses an account without the
// permission (PermissionDenied, "permission denied: applications, get,
// default/shop, sub: admin").
func (s *Server) DenyAccess(deny bool) {
	s.setFaults(func(f *faults) { f.denyAccess = deny })
}

// DeleteApp removes the application, as a non-cascading delete in Argo CD
// does: its resources stay in the cluster, and requests about it are
// answered NotFound. An unknown name is an error.
func (s *Server) DeleteApp(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apps[name]; !ok {
		return fmt.Errorf("argocdtest: DeleteApp %q: no such application", name)
	}
	delete(s.apps, name)
	for i, n := range s.order {
		if n == name {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	return nil
}

// MalformNext makes the next n API requests answer 200 with truncated
// JSON.
func (s *Server) MalformNext(n int) {
	s.setFaults(func(f *faults) { f.malformed += n })
}

// SetLatency delays every API request by d of real time (a request whose
// context ends first gets no answer).
func (s *Server) SetLatency(d time.Duration) {
	s.setFaults(func(f *faults) { f.latency = d })
}

// DenySyncs makes syncs and rollbacks fail as a deny sync window does
// (PermissionDenied, "Cannot sync: Blocked by sync window") while deny is
// true.
func (s *Server) DenySyncs(deny bool) {
	s.setFaults(func(f *faults) { f.denySync = deny })
}

// HoldOperations keeps operations started from now on Running until
// HoldOperations(false), so a second sync meets "another operation is
// already in progress".
func (s *Server) HoldOperations(hold bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.holdOperations = hold
	if !hold {
		now := s.clock.Now()
		for _, a := range s.apps {
			if op := a.op; op != nil && op.held {
				op.held = false
				op.finished = now.Add(s.cfg.syncDuration)
				for i := range a.history {
					if a.history[i].ID == op.historyID {
						a.history[i].DeployedAt = op.finished
					}
				}
			}
		}
	}
}

// MomentaryHealthy makes applications report Healthy while an operation
// runs and for d after it finishes, whatever the cluster says: the trap of
// an app that looks Healthy before its rollout has started. Zero turns it
// off.
func (s *Server) MomentaryHealthy(d time.Duration) {
	s.setFaults(func(f *faults) { f.momentary = d })
}

// StaleReconcile, while on, freezes each app's reported status and
// reconcile time at what they were when a sync started, until a client
// asks for a refresh: the trap of a reconcile older than the operation.
func (s *Server) StaleReconcile(on bool) {
	s.setFaults(func(f *faults) { f.staleReconcile = on })
}

// DropStreamsAfter makes every application stream connection opened from
// now on write n events, then half of the next line, then close. Zero
// turns it off.
func (s *Server) DropStreamsAfter(n int) {
	s.setFaults(func(f *faults) { f.dropStreamAfter = n })
}

// setFaults changes the fault settings under s.mu.
func (s *Server) setFaults(fn func(f *faults)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.faults)
}

func (s *Server) repo(url, branch string) (*gitops.Repo, error) {
	key := url + "\x00" + branch
	if r, ok := s.repos[key]; ok {
		return r, nil
	}
	dir := filepath.Join(s.tmp, fmt.Sprintf("repo-%d", len(s.repos)))
	r, err := gitops.New(url, gitops.WithCacheDir(dir), gitops.WithBranch(branch), gitops.WithLogger(s.log))
	if err != nil {
		return nil, err
	}
	s.repos[key] = r
	return r, nil
}
