package rollback

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/health"
)

// Trigger names what started a rollback.
type Trigger string

// Triggers.
const (
	// TriggerVerification is a post-deploy verification that failed.
	TriggerVerification Trigger = "verification"
	// TriggerDegradation is a new release that performs worse than the
	// previous one.
	TriggerDegradation Trigger = "degradation"
	// TriggerManual is a person's request.
	TriggerManual Trigger = "manual"
)

// Actions rollback records, besides [gitops.ActionRollback]. Neither is
// one of [gitops.HeldActions]: a hold does not stop them.
const (
	// ActionVerify marks a verification verdict (see [Verify]).
	ActionVerify gitops.Action = "verify"
	// ActionHold marks a hold placed or lifted, or a quarantine cleared.
	ActionHold gitops.Action = "hold"
)

// Trailer keys rollback writes besides gitops' well-known ones.
const (
	// TrailerDeploy is the full hash of the deploy commit a verification
	// judged.
	TrailerDeploy = "Flightdeck-Deploy"
	// TrailerRestores is the full hash of the earlier deploy commit whose
	// overlay a rollback restored.
	TrailerRestores = "Flightdeck-Restores"
	// TrailerTrigger is the [Trigger] of a rollback.
	TrailerTrigger = "Flightdeck-Trigger"
	// TrailerHold is what a hold commit did: [HoldPlaced], [HoldLifted]
	// or [QuarantineCleared].
	TrailerHold = "Flightdeck-Hold"
)

// Values of [TrailerHold].
const (
	HoldPlaced        = "placed"
	HoldLifted        = "lifted"
	QuarantineCleared = "quarantine-cleared"
)

// Verdicts of a verification, the values of [gitops.TrailerVerified].
const (
	// Verified: the analysis succeeded; the deploy is a last-known-good.
	Verified = "verified"
	// Failed: the deploy did not become healthy, or the analysis failed.
	Failed = "failed"
	// Inconclusive: the analysis could not tell (no data, or
	// measurements that could not be taken). Never a last-known-good.
	Inconclusive = "inconclusive"
)

// VerificationsDir holds the latest verification record of each app and
// environment, "<app>/<env>.yaml"; the file's history is the history of
// verdicts.
const VerificationsDir = gitops.StateDir + "/verifications"

// Response is what a trigger does when it fires.
type Response string

// Responses.
const (
	// RollBack restores the last-known-good deploy, holds the environment
	// and quarantines the digest rolled back from.
	RollBack Response = "rollback"
	// Record records the verdict and does nothing else.
	Record Response = "record"
)

// Policy says how triggers respond. The zero value is the default: roll
// back on a failed verification and on a degradation, record an
// inconclusive verification.
type Policy struct {
	// FailedVerification is the response to a failed verification;
	// empty means [RollBack].
	FailedVerification Response
	// InconclusiveVerification is the response to an inconclusive one;
	// empty means [Record].
	InconclusiveVerification Response
	// Degradation is the response to a degraded release; empty means
	// [RollBack].
	Degradation Response
}

func (p Policy) forVerdict(verdict string) Response {
	switch verdict {
	case Failed:
		return orResponse(p.FailedVerification, RollBack)
	case Inconclusive:
		return orResponse(p.InconclusiveVerification, Record)
	}
	return Record
}

func orResponse(r, def Response) Response {
	if r == "" {
		return def
	}
	return r
}

// Errors. Refusals wrap [gitops.ErrRefused] so that callers can tell them
// from failures.
var (
	// ErrInvalidRequest means a request is incomplete or malformed.
	ErrInvalidRequest = errors.New("rollback: invalid request")
	// ErrInFlight means a rollout or a promotion is in progress for the
	// app and environment, so no trigger acts (see [Controller.InFlight]).
	ErrInFlight = errors.New("rollback: a rollout or promotion is in flight")
	// ErrNoKnownGood means there is no verified deploy to roll back to.
	ErrNoKnownGood = errors.New("rollback: no last-known-good deploy")
	// ErrNotADeploy means a commit named as a rollback target is not a
	// deploy of that app in that environment on the branch.
	ErrNotADeploy = errors.New("rollback: not a deploy of the environment")
	// ErrNoDeploy means the environment has no flightdeck deploy to roll
	// back or verify.
	ErrNoDeploy = errors.New("rollback: no deploy")
	// ErrNoHold means there is no hold to lift, or no such digest in the
	// quarantine.
	ErrNoHold = errors.New("rollback: not held")
	// ErrRecovery means the rollback commit was pushed but the
	// environment did not come back: the sync failed or did not become
	// healthy in time. Git already says the rollback happened.
	ErrRecovery = errors.New("rollback: recovery failed")
)

// ArgoRollbacker is Argo CD's own rollback, used only when a request
// asks for it and the application's auto-sync is off (Argo CD refuses it
// otherwise); *argocd.Client implements it.
type ArgoRollbacker interface {
	Get(ctx context.Context, name, refresh string) (*argocd.Application, error)
	Rollback(ctx context.Context, name string, id int64, opts argocd.RollbackOptions) error
}

var _ ArgoRollbacker = (*argocd.Client)(nil)

// Controller watches deploys and rolls environments back. It reads and
// writes the GitOps repository through a gitops.ReadWriter (a
// *gitops.Repo, or gitopstest.Fake in tests), keeps no state of its own
// (everything it decides on and everything it does is in Git), and is
// safe for concurrent use; several Controllers, in one process or many,
// coordinate through the repository's compare-and-swap push.
type Controller struct {
	rw gitops.ReadWriter
	o  options
	m  *metrics
}

type options struct {
	clock    clock.Clock
	logger   *slog.Logger
	reg      prometheus.Registerer
	observer Observer
	actor    string
	syncer   gitops.Syncer
	appName  func(gitops.Target) string
	wait     gitops.WaitOptions
	policy   Policy
	runner   *health.Runner
	argo     ArgoRollbacker
	prune    bool
}

// Option configures a [Controller].
type Option func(*options)

// DefaultActor is who a Controller says placed its holds and made its
// rollbacks, unless [WithActor] or a request says otherwise.
const DefaultActor = "flightdeck-rollback"

// WithClock sets the clock that times verifications, waits and
// comparisons and stamps holds. Default (and nil): the system clock.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = clock.Or(c) } }

// WithLogger sets the logger. Default: one that discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithRegisterer registers the Controller's metrics with reg (see
// [New]). Default nil: kept, not registered.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithObserver sends every trigger, decision and result to obs. Default:
// none.
func WithObserver(obs Observer) Option { return func(o *options) { o.observer = obs } }

// WithActor sets who the Controller's holds and rollbacks are by when a
// request does not say. Default [DefaultActor].
func WithActor(name string) Option { return func(o *options) { o.actor = name } }

// WithSyncer sets the GitOps controller (Argo CD) the Controller waits
// on before a verification, and asks to sync a rollback's commit. Default
// none: verifications do not wait, and a rollback ends with its commit.
func WithSyncer(s gitops.Syncer) Option { return func(o *options) { o.syncer = s } }

// WithPrune asks the GitOps controller to prune at a rollback's sync:
// resources the restored overlay no longer has (a canary's Deployment,
// Service and HTTPRoute, say, when the overlay is restored as it was
// before a rollout prepared it) are deleted, without which Argo CD
// reports the application OutOfSync and the recovery never ends.
// Default off, as Argo CD's own sync.
func WithPrune() Option { return func(o *options) { o.prune = true } }

// WithAppName sets the name of the GitOps controller's application of a
// target. Default "<app>-<environment>".
func WithAppName(fn func(gitops.Target) string) Option { return func(o *options) { o.appName = fn } }

// WithWait sets the options of the Controller's waits for a sync (App,
// Revision and Clock are filled in per wait; a zero Clock means the
// Controller's). A zero Timeout means [DefaultWaitTimeout], a negative
// one no timeout but the context's (for a clocktest.NewAuto clock, on
// which a timeout's timer would fire at once). Default: gitops' defaults
// with DefaultWaitTimeout.
func WithWait(w gitops.WaitOptions) Option { return func(o *options) { o.wait = w } }

// WithPolicy sets how triggers respond. Default: the zero [Policy].
func WithPolicy(p Policy) Option { return func(o *options) { o.policy = p } }

// WithRunner sets the analysis runner of verifications. Default: a
// health.Runner on the Controller's clock and logger.
func WithRunner(r *health.Runner) Option { return func(o *options) { o.runner = r } }

// WithArgoRollback lets requests that ask for it ([Request.ArgoRollback])
// use Argo CD's own rollback API. Default: none.
func WithArgoRollback(a ArgoRollbacker) Option { return func(o *options) { o.argo = a } }

// DefaultWaitTimeout bounds a wait for a sync when [WithWait] sets no
// Timeout.
const DefaultWaitTimeout = 10 * time.Minute

// New returns a Controller over rw. When a Registerer is set it exports
// (see the package documentation) flightdeck_rollback_triggers_total{trigger},
// flightdeck_rollback_decisions_total{trigger,decision},
// flightdeck_rollback_verifications_total{verdict} and
// flightdeck_rollback_duration_seconds{trigger,stage}; registering them
// twice is an error.
func New(rw gitops.ReadWriter, opts ...Option) (*Controller, error) {
	if rw == nil {
		return nil, errors.New("rollback: New: nil ReadWriter")
	}
	o := options{
		clock:  clock.System(),
		logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		actor:  DefaultActor,
		appName: func(t gitops.Target) string {
			return t.App + "-" + t.Environment.Name
		},
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.wait.Timeout == 0 {
		o.wait.Timeout = DefaultWaitTimeout
	}
	if o.runner == nil {
		r, err := health.NewRunner(health.WithClock(o.clock), health.WithLogger(o.logger))
		if err != nil {
			return nil, err
		}
		o.runner = r
	}
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, err
	}
	return &Controller{rw: rw, o: o, m: m}, nil
}

// head returns the branch head to decide on, fetching once, when the
// ReadWriter can say (a *gitops.Repo fetches, gitopstest.Fake knows);
// otherwise "" (every read then reads the head as it is then).
func (c *Controller) head(ctx context.Context) (string, plumbing.Hash, error) {
	switch h := c.rw.(type) {
	case interface {
		Fetch(context.Context) (plumbing.Hash, error)
	}:
		head, err := h.Fetch(ctx)
		if err != nil {
			return "", plumbing.ZeroHash, err
		}
		if head.IsZero() {
			return "", head, nil
		}
		return head.String(), head, nil
	case interface{ Head() plumbing.Hash }:
		head := h.Head()
		if head.IsZero() {
			return "", head, nil
		}
		return head.String(), head, nil
	}
	return "", plumbing.ZeroHash, nil
}

func (c *Controller) now() time.Time { return c.o.clock.Now() }

func (c *Controller) waitOptions(app, revision string) gitops.WaitOptions {
	w := c.o.wait
	w.App, w.Revision = app, revision
	if w.Timeout < 0 {
		w.Timeout = 0
	}
	if w.Clock == nil {
		w.Clock = c.o.clock
	}
	return w
}
