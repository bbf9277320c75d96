package strategy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/health"
)

// Repository is what a [Runner] needs of a GitOps repository: commits,
// history and renders. *gitops.Repo implements it.
type Repository interface {
	gitops.Writer
	gitops.Historian
	gitops.Renderer
}

var _ Repository = (*gitops.Repo)(nil)

// Errors of [Runner.Run].
var (
	// ErrAborted is wrapped by the [*AbortedError] of a run that ended
	// Aborted: all traffic is back on the stable release.
	ErrAborted = errors.New("rollout aborted")
	// ErrOtherRunner means another runner committed a step of the run
	// this one was driving; this one stopped without committing, and the
	// other drives the run.
	ErrOtherRunner = errors.New("another runner drives the rollout")
	// ErrTooLate means an abort was asked for after the new release had
	// become the stable one (a canary's switchActive); only a rollback
	// can undo it now.
	ErrTooLate = errors.New("too late to abort: the new release is the stable one")
	// ErrPlanChanged means Git holds a run of the same release under
	// another plan.
	ErrPlanChanged = errors.New("the run in Git follows another plan")
	// ErrNoTemplate means a plan names an analysis no [Template] was
	// given for.
	ErrNoTemplate = errors.New("no such analysis template")
)

// AbortedError is the error of a run that ended Aborted.
type AbortedError struct {
	// App and Environment name the run.
	App, Environment string
	// Step is the index of the step the run was at, StepText that step.
	Step     int
	StepText string
	// Reason says why it was aborted.
	Reason string
}

// Error returns "rollout of shop in prod aborted at step 2/7 (analysis
// errors): <reason>".
func (e *AbortedError) Error() string {
	return fmt.Sprintf("rollout of %s in %s aborted at step %d (%s): %s", e.App, e.Environment, e.Step+1, e.StepText, e.Reason)
}

// Unwrap returns [ErrAborted].
func (e *AbortedError) Unwrap() error { return ErrAborted }

// Template builds the analysis an analysis step names, as an Argo
// Rollouts AnalysisTemplate does: the metrics to measure for the step.
type Template interface {
	Analysis(ctx context.Context, in AnalysisInput) (health.Analysis, error)
}

// TemplateFunc adapts a function to [Template].
type TemplateFunc func(ctx context.Context, in AnalysisInput) (health.Analysis, error)

// Analysis calls f(ctx, in).
func (f TemplateFunc) Analysis(ctx context.Context, in AnalysisInput) (health.Analysis, error) {
	return f(ctx, in)
}

var _ Template = TemplateFunc(nil)

// AnalysisInput is what a [Template] is told about the analysis it
// builds.
type AnalysisInput struct {
	// App and Environment name the run.
	App, Environment string
	// Template is the template's name as the plan gives it.
	Template string
	// Args are the step's arguments, resolved: a value as written, a
	// podTemplateHashValue as the digest of the stable ("Stable") or the
	// new ("Latest") release, since each release has its own workload.
	Args map[string]string
	// Step is the index of the analysis step; Background says it runs
	// beside the following steps.
	Step       int
	Background bool
	// Desired is where the rollout stands as the analysis starts: its
	// Weight is the new release's share of the traffic.
	Desired Desired
	// Stable and Release are the stable and the new release.
	Stable, Release flightdeck.Release
}

// Defaults of [New].
const (
	// DefaultControlPoll is how often a waiting run reads Git for
	// commands ([Control]) and runs of other processes.
	DefaultControlPoll = 10 * time.Second
	// DefaultWaitTimeout bounds each wait for a commit to be synced and
	// healthy, on the runner's clock.
	DefaultWaitTimeout = 15 * time.Minute
)

// Option configures a [Runner].
type Option func(*options)

type options struct {
	clock       clock.Clock
	logger      *slog.Logger
	registerer  prometheus.Registerer
	observers   []Observer
	templates   map[string]Template
	analysis    *health.Runner
	syncApp     string
	wait        gitops.WaitOptions
	controlPoll time.Duration
	guards      []gitops.Guard
	id          string
	committers  []string
	overlay     *Overlay
	prune       bool
}

// WithClock sets the clock of every wait and timestamp of the run
// (pauses, delays, analyses unless [WithAnalysisRunner] gives a runner of
// its own, sync waits); nil is the system clock, the default.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = clock.Or(c) } }

// WithLogger logs the run's steps and decisions through l; the default
// discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithRegisterer registers the runner's metrics with reg (several runners
// may share one registry): flightdeck_rollout_steps_total,
// flightdeck_rollout_step_duration_seconds,
// flightdeck_rollout_sync_duration_seconds and
// flightdeck_rollout_conflicts_total by strategy (and step kind),
// flightdeck_rollout_analyses_total and flightdeck_rollout_runs_total by
// phase, flightdeck_rollout_aborts_total by cause. The default, nil,
// registers nothing.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(o *options) { o.registerer = reg }
}

// WithObserver adds observers of every event of the runs.
func WithObserver(obs ...Observer) Option {
	return func(o *options) { o.observers = append(o.observers, obs...) }
}

// WithTemplate registers the analysis template name. Every template a
// plan names must be registered.
func WithTemplate(name string, t Template) Option {
	return func(o *options) { o.templates[name] = t }
}

// WithAnalysisRunner runs analyses with r; the default is a
// health.Runner on the runner's clock and logger.
func WithAnalysisRunner(r *health.Runner) Option { return func(o *options) { o.analysis = r } }

// WithSyncApp names the GitOps controller's application of the app in
// the environment; the default is "<app>-<environment>".
func WithSyncApp(name string) Option { return func(o *options) { o.syncApp = name } }

// WithWait sets how each commit is waited for ([gitops.WaitFor]): its
// PollInterval, StableFor, Timeout (zero means [DefaultWaitTimeout],
// negative no timeout but the context's: a clocktest.NewAuto clock fires
// a timeout at once), DegradedGrace, MaxStatusErrors and wanted Health.
// App, Revision and Clock are the runner's.
func WithWait(w gitops.WaitOptions) Option { return func(o *options) { o.wait = w } }

// WithControlPoll sets how often a waiting run reads Git for commands;
// the default is [DefaultControlPoll].
func WithControlPoll(d time.Duration) Option { return func(o *options) { o.controlPoll = d } }

// WithGuards adds guards that every commit of the run must pass (see
// gitops.Guard), besides the environment's hold and quarantine
// (gitops.HoldGuard), which always apply: a refused commit stops the run
// with the guard's error.
func WithGuards(g ...gitops.Guard) Option {
	return func(o *options) { o.guards = append(o.guards, g...) }
}

// WithID names this runner in the run's record (Status.Owner); the
// default is random. Two runners must not share an ID.
func WithID(id string) Option { return func(o *options) { o.id = id } }

// WithCommitters adds trusted committer identities for reading the run's
// history (commands given by other tools; see gitops.HistoryQuery).
func WithCommitters(c ...string) Option {
	return func(o *options) { o.committers = append(o.committers, c...) }
}

// WithOverlay gives the overlay the target works on, for a [Target] that
// does not say it itself (the targets of this package do).
func WithOverlay(ov Overlay) Option { return func(o *options) { o.overlay = &ov } }

// WithPrune asks the GitOps controller to prune at every sync.
func WithPrune() Option { return func(o *options) { o.prune = true } }

// overlaid is implemented by targets that know their overlay.
type overlaid interface{ Overlay() Overlay }

// Runner carries out a plan for one app in one environment through Git:
// every step is a commit, followed by a sync of exactly that commit and a
// wait for the app to be healthy on it. It keeps nothing that Git does
// not hold: the run's record ([Status], at [StatusFile]) is written by
// every commit, so another Runner (in this process or another) continues
// a run where one left it. It is safe for concurrent use, one run at a
// time per app and environment.
type Runner struct {
	repo   Repository
	syncer gitops.Syncer
	target Target
	plan   Plan
	hash   string
	ov     Overlay
	o      options
	m      *metrics
}

// New returns a runner of plan through repo, syncer and target. It
// returns an error wrapping [ErrInvalidStrategy] for an invalid plan,
// [ErrNoTemplate] for an analysis without a template, or [ErrOverlay]
// when the target's overlay is unknown.
func New(repo Repository, syncer gitops.Syncer, plan Plan, target Target, opts ...Option) (*Runner, error) {
	o := options{
		clock:       clock.System(),
		logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		templates:   map[string]Template{},
		controlPoll: DefaultControlPoll,
	}
	for _, opt := range opts {
		opt(&o)
	}
	where := fmt.Sprintf("runner of %s in %s", plan.App, plan.Environment)
	if repo == nil || syncer == nil || target == nil {
		return nil, fmt.Errorf("%s: a repository, a syncer and a target are required", where)
	}
	if err := plan.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	hash, err := plan.Hash()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	var ov Overlay
	switch t := target.(type) {
	case overlaid:
		ov = t.Overlay()
	}
	if o.overlay != nil {
		ov = *o.overlay
	}
	if err := ov.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	for i, s := range plan.Steps {
		if s.Analysis == nil {
			continue
		}
		for _, t := range s.Analysis.Templates {
			if o.templates[t.TemplateName] == nil {
				return nil, fmt.Errorf("%s: step %d: %w: %s", where, i+1, ErrNoTemplate, t.TemplateName)
			}
		}
	}
	if o.syncApp == "" {
		o.syncApp = plan.App + "-" + plan.Environment
	}
	if o.controlPoll <= 0 {
		o.controlPoll = DefaultControlPoll
	}
	switch {
	case o.wait.Timeout == 0:
		o.wait.Timeout = DefaultWaitTimeout
	case o.wait.Timeout < 0:
		o.wait.Timeout = 0
	}
	if o.id == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.id = hex.EncodeToString(b[:])
	}
	if o.analysis == nil {
		if o.analysis, err = health.NewRunner(health.WithClock(o.clock), health.WithLogger(o.logger)); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
	}
	m, err := newMetrics(o.registerer)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	o.logger = o.logger.With("app", plan.App, "env", plan.Environment)
	return &Runner{repo: repo, syncer: syncer, target: target, plan: plan, hash: hash, ov: ov, o: o, m: m}, nil
}

// ID returns the runner's ID.
func (r *Runner) ID() string { return r.o.id }

// Status reads the run's record from Git ([ReadStatus]).
func (r *Runner) Status(ctx context.Context) (Status, error) {
	return ReadStatus(ctx, r.repo, r.plan.App, r.plan.Environment, r.o.committers...)
}

// Run rolls rel out, or carries on the run of rel that Git holds, until
// it completes or is aborted, and returns the run's record.
//
// A run of another release that has not ended is superseded: the new run
// starts at step 0 from the release that serves. A run that ended
// Aborted stays so (Run returns its [*AbortedError]) until [Control]
// retries it. Before its first step, a new run writes the target's
// manifests ([PrepareOverlay]) and waits for them to be synced, if they
// changed.
//
// Errors: an [*AbortedError] wrapping [ErrAborted] for an aborted run;
// [ErrOtherRunner] when another runner took the run over; [ErrTooLate];
// [ErrPlanChanged]; a guard's refusal (gitops.ErrRefused); the context's
// error (the run then continues from Git when Run is called again); and
// what the repository, the syncer and the target return.
func (r *Runner) Run(ctx context.Context, rel flightdeck.Release) (Status, error) {
	if rel.App == "" {
		rel.App = r.plan.App
	}
	where := fmt.Sprintf("rollout of %s in %s", r.plan.App, r.plan.Environment)
	if rel.App != r.plan.App {
		return Status{}, fmt.Errorf("%s: %w: release of app %s", where, flightdeck.ErrInvalidRelease, rel.App)
	}
	if err := rel.Validate(); err != nil {
		return Status{}, fmt.Errorf("%s: %w", where, err)
	}
	st, err := r.Status(ctx)
	fresh := errors.Is(err, ErrNoRollout)
	if err != nil && !fresh {
		return Status{}, err
	}
	switch {
	case fresh || !sameRelease(st.Release.Release(), rel) || st.PlanHash != r.hash && st.Done():
		var prev *Status
		if !fresh {
			prev = &st
		}
		if st, err = r.begin(ctx, prev, rel); err != nil || st.Phase == PhaseCompleted {
			return st, err
		}
	case st.PlanHash != r.hash:
		return st, fmt.Errorf("%s: %w: plan %s, this runner's is %s", where, ErrPlanChanged, st.PlanHash[:12], r.hash[:12])
	default:
		st.needsSync = true
		r.emit(EventStarted, st, fmt.Sprintf("carrying on the rollout of %s from Git: %s at %s", short(rel), st.Phase, st.StepLabel()))
	}
	return r.drive(ctx, st)
}

// begin prepares the overlay and returns the record of a new run, not
// yet committed (its first step's commit writes it).
func (r *Runner) begin(ctx context.Context, prev *Status, rel flightdeck.Release) (Status, error) {
	st := Status{
		App: r.plan.App, Environment: r.plan.Environment, Plan: r.plan, PlanHash: r.hash,
		Release: RelOf(rel), Phase: PhaseProgressing, Updated: r.now(),
	}
	if prev != nil {
		st.Seq, st.Owner, st.Promotions, st.Promoted, st.git, st.raw = prev.Seq, prev.Owner, prev.Promotions, prev.Promotions, prev.git, prev.raw
	}
	cur, err := r.read(ctx)
	prepared := false
	if errors.Is(err, ErrOverlay) {
		// Not prepared yet: the target cannot read the overlay.
		if err = r.prepare(ctx, &st); err != nil {
			return st, err
		}
		prepared = true
		cur, err = r.read(ctx)
	}
	if err != nil {
		return Status{}, err
	}
	st.Stable, st.Desired = RelOf(cur.Stable.Release), cur
	if prev != nil && !prev.Done() {
		// The stable of a run that did not end is still the stable.
		st.Stable = prev.Stable
	}
	if sameRelease(st.Stable.Release(), rel) {
		st.Phase, st.Step, st.Message = PhaseCompleted, len(r.plan.Steps), "already the stable release"
		return st, nil
	}
	if !prepared {
		if err := r.prepare(ctx, &st); err != nil {
			return st, err
		}
	}
	msg := fmt.Sprintf("rolling out %s over %s (%s, plan %s)", short(rel), short(st.Stable.Release()), r.plan.Strategy, r.hash[:12])
	if prev != nil && !prev.Done() && !sameRelease(prev.Release.Release(), rel) {
		msg += fmt.Sprintf(", superseding the run of %s", short(prev.Release.Release()))
	}
	r.emit(EventStarted, st, msg)
	return st, nil
}

// prepare writes the target's manifests, and waits for them to be synced
// and healthy when they changed.
func (r *Runner) prepare(ctx context.Context, st *Status) error {
	tr := gitops.ReleaseTrailers(ActionPrepare, st.Environment, st.Release.Release())
	tr.Extra.Set(gitops.TrailerPlanHash, "sha256:"+st.PlanHash)
	res, err := PrepareOverlay(ctx, r.repo, r.target, PrepareRequest{App: r.plan.App, Environment: r.plan.Environment, Dir: r.ov.Dir, Trailers: &tr, Guards: r.o.guards})
	if err != nil || !res.Changed {
		return err
	}
	// Events of the preparation belong to no step.
	ps := *st
	ps.Step, ps.Commit, ps.needsSync = len(r.plan.Steps), res.Commit.String(), true
	r.emit(EventPrepared, ps, "")
	if err := r.settle(ctx, &ps); err != nil {
		return fmt.Errorf("rollout of %s in %s: the prepared overlay did not become healthy: %w", r.plan.App, r.plan.Environment, err)
	}
	return nil
}

// read returns what the target says the overlay holds at the head.
func (r *Runner) read(ctx context.Context) (Desired, error) {
	var d Desired
	_, err := r.repo.Apply(ctx, gitops.Change{Message: "read", Edits: []gitops.Edit{gitops.EditFunc(func(t *gitops.Tree) error {
		var err error
		d, err = r.target.Read(t)
		return err
	})}})
	if err != nil {
		return Desired{}, fmt.Errorf("rollout of %s in %s: reading %s: %w", r.plan.App, r.plan.Environment, r.ov.Dir, err)
	}
	return d, nil
}

// interrupt is returned by a step that a command or a background analysis
// cut short; the run goes on from st.
type interrupt struct {
	st    Status
	abort string
	cause string
	pause string
}

func (i *interrupt) Error() string { return "interrupted" }

// drive carries the run on from st until it ends.
func (r *Runner) drive(ctx context.Context, st Status) (Status, error) {
	bg := r.newBackground(ctx)
	defer bg.stop()
	if st.Phase == PhaseProgressing || st.Phase == PhasePaused {
		for j := 0; j < min(st.Step, st.Plan.Finish); j++ {
			if a := st.Plan.Steps[j].Analysis; a != nil && a.Background && !st.FullyPromoted {
				bg.start(st, j)
			}
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		var err error
		if ev, ok := bg.poll(); ok {
			err = r.backgroundResult(st, ev)
		} else if st.Step >= st.Plan.Finish {
			// Background analyses guard the steps, not the finish.
			bg.stop()
		}
		if err == nil {
			switch {
			case st.Phase == PhaseCompleted:
				r.m.runs.WithLabelValues(string(st.Plan.Strategy), string(PhaseCompleted)).Inc()
				return st, nil
			case st.Phase == PhaseAborted:
				if st, err = r.finishAbort(ctx, st, bg); err == nil {
					r.m.runs.WithLabelValues(string(st.Plan.Strategy), string(PhaseAborted)).Inc()
					return st, r.abortedError(st)
				}
			case st.AbortRequested != "":
				st, err = r.abort(ctx, st, bg, st.AbortRequested, causeManual)
			case st.PromoteFull && st.Step < st.Plan.Finish:
				st = r.promoteFull(st, bg)
			case st.Phase == PhasePaused && st.Pause != nil && st.Pause.Background:
				st, err = r.waitPause(ctx, st, bg)
			case st.Step >= len(st.Plan.Steps):
				st, err = r.commit(ctx, st, func(n *Status) { n.Phase, n.Message = PhaseCompleted, "" }, ActionStep)
				if err == nil {
					r.emit(EventCompleted, st, "")
				}
			default:
				st, err = r.step(ctx, st, bg)
			}
		}
		var in *interrupt
		for errors.As(err, &in) {
			st, err = in.st, nil
			switch {
			case in.abort != "":
				st, err = r.abort(ctx, st, bg, in.abort, in.cause)
			case in.pause != "":
				reason := in.pause
				st, err = r.commit(ctx, st, func(n *Status) {
					n.Phase, n.Message = PhasePaused, reason
					n.Pause = &PauseState{Reason: reason, Since: r.now(), Background: true}
				}, ActionStep)
				if err == nil {
					r.emit(EventPaused, st, reason+": promote to go on, or abort")
				}
			}
		}
		if err != nil {
			return st, err
		}
	}
}

// step carries out the step the run is at.
func (r *Runner) step(ctx context.Context, st Status, bg *background) (Status, error) {
	s := st.Plan.Steps[st.Step]
	if st.FullyPromoted && st.Step >= st.Plan.Finish && (s.Pause != nil || s.Analysis != nil) {
		return r.advance(st), nil
	}
	switch s.Kind() {
	case StepSetWeight, StepSetCanaryScale:
		return r.stages(ctx, st, bg, r.weightStage)
	case StepSwitchActive:
		return r.stages(ctx, st, bg, r.switchStage)
	case StepPause:
		if st.Stage == 0 {
			p := &PauseState{Reason: "pause step", Since: r.now()}
			if d := s.Pause.Duration; d != nil {
				p.Until = p.Since.Add(time.Duration(*d))
			}
			var err error
			if st, err = r.enter(ctx, st, nil, func(n *Status) { n.Phase, n.Pause, n.Message = PhasePaused, p, "paused" }); err != nil {
				return st, err
			}
			r.emit(EventPaused, st, pauseText(p))
		}
		st, err := r.waitPause(ctx, st, bg)
		if err != nil {
			return st, err
		}
		return r.advance(st), nil
	case StepAnalysis:
		return r.analysisStep(ctx, st, bg)
	case StepScaleDown:
		return r.scaleDownStep(ctx, st, bg)
	}
	return st, fmt.Errorf("rollout of %s in %s: step %s: %w", st.App, st.Environment, s, ErrInvalidStrategy)
}

// stages commits the states of a step in turn, waiting for the app to be
// healthy on each; next gives the state of the stage st is at (computed
// from the record alone, so that another process carries on the same
// way), or false when the step is done. A stage that does not become
// healthy aborts the run.
func (r *Runner) stages(ctx context.Context, st Status, bg *background, next func(Status) (Desired, bool)) (Status, error) {
	for {
		if st.Stage > 0 {
			if err := r.settle(ctx, &st); err != nil {
				return r.abort(ctx, st, bg, fmt.Sprintf("step %s (%s) did not become healthy: %v", st.StepLabel(), st.Plan.Steps[st.Step], err), causeUnhealthy)
			}
		}
		d, ok := next(st)
		if !ok {
			return r.advance(st), nil
		}
		var err error
		if st, err = r.enter(ctx, st, &d, nil); err != nil {
			return st, err
		}
	}
}

// analysisStep runs an analysis step: a background one starts and the run
// moves on; an inline one blocks, and its verdict moves on (Successful),
// pauses (Inconclusive) or aborts (Failed, Error).
func (r *Runner) analysisStep(ctx context.Context, st Status, bg *background) (Status, error) {
	a := st.Plan.Steps[st.Step].Analysis
	names := templateNames(a.Analysis)
	var err error
	if st.Stage == 0 {
		msg := "analysis " + names + " running"
		if a.Background {
			msg = "background analysis " + names + " started"
		}
		if st, err = r.enter(ctx, st, nil, func(n *Status) { n.Message = msg }); err != nil {
			return st, err
		}
	}
	if a.Background {
		bg.start(st, st.Step)
		return r.advance(st), nil
	}
	if st.Stage == 1 {
		res, err := r.analyze(ctx, st, bg, st.Step)
		if err != nil {
			return st, err
		}
		switch res.Phase {
		case health.Successful:
			return r.advance(st), nil
		case health.Inconclusive:
			reason := fmt.Sprintf("analysis %s Inconclusive", names)
			if st, err = r.enter(ctx, st, nil, func(n *Status) {
				n.Phase, n.Message = PhasePaused, reason+": "+res.Message
				n.Pause = &PauseState{Reason: reason, Since: r.now()}
			}); err != nil {
				return st, err
			}
			r.emit(EventPaused, st, reason+": promote to go on, or abort")
		default:
			return r.abort(ctx, st, bg, analysisReason("analysis", names, res), causeAnalysis)
		}
	}
	if st, err = r.waitPause(ctx, st, bg); err != nil {
		return st, err
	}
	return r.advance(st), nil
}

// scaleDownStep waits the step's delay (recorded in a commit, so that
// another process keeps the same deadline) and scales the old workload
// down, which completes the run.
func (r *Runner) scaleDownStep(ctx context.Context, st Status, bg *background) (Status, error) {
	delay := time.Duration(st.Plan.Steps[st.Step].ScaleDown.Delay)
	var err error
	if st.Stage == 0 && delay > 0 {
		due := r.now().Add(delay)
		if st, err = r.enter(ctx, st, nil, func(n *Status) { n.Due, n.Message = due, "scaling down at "+due.UTC().Format(time.RFC3339) }); err != nil {
			return st, err
		}
	}
	if done := delay > 0 && st.Stage == 2 || delay == 0 && st.Stage == 1; !done {
		if st, err = r.waitUntil(ctx, st, bg, st.Due); err != nil {
			return st, err
		}
		final := r.finalDesired(st)
		if st, err = r.enter(ctx, st, &final, func(n *Status) { n.Phase, n.Due, n.Message = PhaseCompleted, time.Time{}, "" }); err != nil {
			return st, err
		}
	}
	if err := r.settle(ctx, &st); err != nil {
		return st, fmt.Errorf("rollout of %s in %s: completed, but the scale-down did not become healthy: %w", st.App, st.Environment, err)
	}
	r.emit(EventCompleted, st, "")
	return r.advance(st), nil
}

// advance moves the record (in memory) to the next step.
func (r *Runner) advance(st Status) Status {
	if s := st.Step; s < len(st.Plan.Steps) && !st.StepStarted.IsZero() {
		r.m.stepTime.WithLabelValues(string(st.Plan.Strategy), string(st.Plan.Steps[s].Kind())).Observe(r.now().Sub(st.StepStarted).Seconds())
	}
	st.Step++
	st.Stage = 0
	st.StepStarted = time.Time{}
	return st
}

// promoteFull jumps to the finish.
func (r *Runner) promoteFull(st Status, bg *background) Status {
	bg.stop()
	st.Step, st.Stage, st.StepStarted = st.Plan.Finish, 0, time.Time{}
	st.PromoteFull, st.FullyPromoted = false, true
	st.Phase, st.Pause, st.Promoted = PhaseProgressing, nil, st.Promotions
	r.emit(EventPromoted, st, "promoted fully: on to the finish, skipping every pause and analysis")
	return st
}

// waitPause waits for the pause the run is at to end: its time, or a
// Promote.
func (r *Runner) waitPause(ctx context.Context, st Status, bg *background) (Status, error) {
	for {
		if st.Promotions > st.Promoted {
			st.Promoted++
			reason := "pause"
			if st.Pause != nil {
				reason = st.Pause.Reason
			}
			st.Phase, st.Pause, st.Message = PhaseProgressing, nil, ""
			r.emit(EventPromoted, st, "promoted past "+reason)
			return st, nil
		}
		if st.Pause == nil {
			st.Phase = PhaseProgressing
			return st, nil
		}
		if until := st.Pause.Until; !until.IsZero() && !r.now().Before(until) {
			st.Phase, st.Pause, st.Message = PhaseProgressing, nil, ""
			return st, nil
		}
		var err error
		if st, _, err = r.await(ctx, st, bg, st.Pause.Until, nil); err != nil {
			return st, err
		}
	}
}

// waitUntil waits until due, taking commands meanwhile.
func (r *Runner) waitUntil(ctx context.Context, st Status, bg *background, due time.Time) (Status, error) {
	for r.now().Before(due) {
		var err error
		if st, _, err = r.await(ctx, st, bg, due, nil); err != nil {
			return st, err
		}
	}
	return st, nil
}

// await waits until due (zero: no deadline), done is closed, or
// something in Git or a background analysis needs the run: it reads the
// record every control poll and takes the commands it finds. It returns
// the record with the commands taken, whether done closed, and an
// *interrupt for a command or a verdict that ends the wait.
func (r *Runner) await(ctx context.Context, st Status, bg *background, due time.Time, done <-chan struct{}) (Status, bool, error) {
	wait := r.o.controlPoll
	if !due.IsZero() {
		left := due.Sub(r.now())
		if left <= 0 {
			return st, false, nil
		}
		wait = min(wait, left)
	}
	select {
	case <-ctx.Done():
		return st, false, ctx.Err()
	case <-done:
		return st, true, nil
	case ev := <-bg.events:
		return st, false, r.backgroundResult(st, ev)
	case <-r.o.clock.After(wait):
	}
	cur, err := r.Status(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return st, false, ctx.Err()
		}
		r.o.logger.WarnContext(ctx, "reading the rollout record", "err", err)
		return st, false, nil
	}
	if cur.Seq == st.Seq {
		return st, false, nil
	}
	next, interrupted, err := r.absorb(st, cur)
	if err != nil || interrupted {
		return st, false, err
	}
	return next, false, nil
}

// absorb takes into the record st (which this runner holds) the commands
// that cur (read from Git) carries. It returns an *interrupt when a
// command ends what the run is doing, and [ErrOtherRunner] when cur was
// written by another runner's step.
func (r *Runner) absorb(st, cur Status) (Status, bool, error) {
	if cur.Phase == PhaseProgressing && st.git.phase == PhaseAborted && cur.Step == 0 && cur.Stage == 0 && cur.Owner == st.git.owner {
		// Retried.
		cur.needsSync = true
		return st, true, &interrupt{st: cur}
	}
	if cur.position() != st.git {
		return st, false, fmt.Errorf("rollout of %s in %s: %w (%s at %s)", st.App, st.Environment, ErrOtherRunner, cur.Owner, cur.StepLabel())
	}
	next := st
	next.Seq, next.Promotions, next.raw = cur.Seq, cur.Promotions, cur.raw
	if cur.AbortRequested != "" && st.Phase != PhaseAborted {
		next.AbortRequested = cur.AbortRequested
		return next, true, &interrupt{st: next, abort: cur.AbortRequested, cause: causeManual}
	}
	if cur.PromoteFull && st.Step < st.Plan.Finish {
		next.PromoteFull = true
		return next, true, &interrupt{st: next}
	}
	return next, false, nil
}

// enter commits the next stage of the step the run is at.
func (r *Runner) enter(ctx context.Context, st Status, d *Desired, mutate func(*Status)) (Status, error) {
	first := st.Stage == 0
	next, err := r.commit(ctx, st, func(n *Status) {
		n.Stage++
		if first {
			n.StepStarted = r.now()
		}
		if d != nil {
			n.Desired = *d
		}
		if mutate != nil {
			mutate(n)
		}
	}, ActionStep)
	if err != nil {
		return next, err
	}
	if first {
		r.m.steps.WithLabelValues(string(next.Plan.Strategy), string(next.Plan.Steps[next.Step].Kind())).Inc()
	}
	r.emit(EventStep, next, "")
	return next, nil
}

// commit writes the record st changed by mutate, with the target's
// files for its Desired, as one commit that is made only if the record in
// Git is still the one st was read with. A commit that loses the
// compare-and-swap to a command takes the command in and is made again;
// one that loses to another runner stops with [ErrOtherRunner].
func (r *Runner) commit(ctx context.Context, st Status, mutate func(*Status), action gitops.Action) (Status, error) {
	for {
		next := st
		mutate(&next)
		next.Seq, next.Owner, next.Updated = st.Seq+1, r.o.id, r.now()
		tr := next.trailers(action)
		if next.Abort != nil && action == ActionAbort {
			tr.Extra.Set(gitops.TrailerReason, next.Abort.Reason)
		}
		edits := r.guards(tr)
		edits = append(edits, casEdit(next, st), gitops.EditFunc(func(t *gitops.Tree) error { return r.target.Write(t, next.Desired) }))
		raw, err := next.encode()
		if err != nil {
			return st, err
		}
		res, err := r.repo.Apply(ctx, gitops.Change{Message: r.message(next, action), Trailers: tr, Edits: edits})
		if err == nil {
			next.Commit, next.git, next.raw = res.Commit.String(), next.position(), raw
			next.needsSync = slices.ContainsFunc(res.Files, func(f string) bool { return f != StatusFile(next.App, next.Environment) })
			return next, nil
		}
		if !errors.Is(err, ErrRecordMoved) {
			return st, fmt.Errorf("rollout of %s in %s: step %s: %w", st.App, st.Environment, next.StepLabel(), err)
		}
		r.m.conflicts.WithLabelValues(string(st.Plan.Strategy)).Inc()
		cur, rerr := r.Status(ctx)
		if rerr != nil {
			return st, rerr
		}
		if cur.Seq == st.Seq {
			return st, fmt.Errorf("rollout of %s in %s: %w: %s in the tree is not the record of its last trusted commit", st.App, st.Environment, ErrTampered, StatusFile(st.App, st.Environment))
		}
		r.emit(EventConflict, st, fmt.Sprintf("the record moved to %d (%s); read again", cur.Seq, cur.StepLabel()))
		absorbed, interrupted, err := r.absorb(st, cur)
		if err != nil || interrupted {
			return st, err
		}
		st = absorbed
	}
}

func (r *Runner) message(st Status, action gitops.Action) string {
	what := "complete"
	if st.Step < len(st.Plan.Steps) {
		what = st.Plan.Steps[st.Step].String()
	}
	switch {
	case action == ActionAbort:
		what = "abort: " + st.Message
	case st.Phase == PhaseCompleted:
		what += ", completed"
	}
	return fmt.Sprintf("rollout %s to %s: %s %s", st.App, st.Environment, st.StepLabel(), what)
}

// guards returns the edit that checks a commit with trailers tr against
// the environment's hold and quarantine (gitops.HoldGuard; step commits
// are checked by gitops itself) and the runner's guards.
func (r *Runner) guards(tr gitops.Trailers) []gitops.Edit {
	guards := r.o.guards
	if !slices.Contains(gitops.HeldActions, tr.Action) {
		guards = append([]gitops.Guard{gitops.HoldGuard()}, guards...)
	}
	if len(guards) == 0 {
		return nil
	}
	return []gitops.Edit{gitops.GuardEdit(gitops.Intent{Target: r.gitopsTarget(), Trailers: tr}, guards...)}
}

func (r *Runner) gitopsTarget() gitops.Target {
	return gitops.Target{App: r.plan.App, Environment: flightdeck.Environment{Name: r.plan.Environment}, ImageName: r.ov.Image}
}

// settle syncs the run's last commit and waits for the app to be synced
// and healthy on exactly that revision.
func (r *Runner) settle(ctx context.Context, st *Status) error {
	if !st.needsSync || st.Commit == "" {
		return nil
	}
	start := r.now()
	if err := r.syncer.Sync(ctx, gitops.SyncRequest{App: r.o.syncApp, Revision: st.Commit, Prune: r.o.prune}); err != nil {
		return fmt.Errorf("sync %s to %s: %w", r.o.syncApp, st.Commit, err)
	}
	w := r.o.wait
	w.App, w.Revision, w.Clock = r.o.syncApp, st.Commit, r.o.clock
	if _, err := gitops.WaitFor(ctx, r.syncer, w); err != nil {
		return err
	}
	st.needsSync = false
	took := r.now().Sub(start)
	r.m.syncTime.WithLabelValues(string(st.Plan.Strategy)).Observe(took.Seconds())
	r.emitWith(EventSynced, *st, "", func(e *Event) { e.Took = took })
	return nil
}

// abort sends all traffic back to the stable release.
func (r *Runner) abort(ctx context.Context, st Status, bg *background, reason, cause string) (Status, error) {
	if !r.canAbort(st) {
		return st, fmt.Errorf("rollout of %s in %s at %s: %w (%s)", st.App, st.Environment, st.StepLabel(), ErrTooLate, reason)
	}
	bg.stop()
	for _, d := range r.abortStages(st) {
		at := r.now()
		traffic := d.Weight == 0
		var err error
		st, err = r.commit(ctx, st, func(n *Status) {
			n.Phase, n.Message, n.AbortRequested, n.Pause, n.Due, n.Desired = PhaseAborted, reason, "", nil, time.Time{}, d
			n.Abort = &AbortState{Reason: reason, ScaledDown: r.plan.Abort.ScaleDown != ScaleDownAfterDelay}
			if traffic {
				n.Abort.At = at
			}
		}, ActionAbort)
		if err != nil {
			return st, err
		}
		if traffic {
			r.m.aborts.WithLabelValues(string(st.Plan.Strategy), cause).Inc()
			r.emit(EventAborted, st, reason)
		}
		if err := r.settle(ctx, &st); err != nil {
			r.o.logger.ErrorContext(ctx, "abort commit not healthy", "commit", st.Commit, "err", err)
		}
	}
	return st, nil
}

// finishAbort completes an abort: traffic back (if a process died before)
// and, after the abort delay, the new release's pods scaled down.
func (r *Runner) finishAbort(ctx context.Context, st Status, bg *background) (Status, error) {
	if st.Abort == nil {
		st.Abort = &AbortState{Reason: st.Message}
	}
	if st.Abort.At.IsZero() {
		return r.abort(ctx, st, bg, st.Abort.Reason, causeUnhealthy)
	}
	if err := r.settle(ctx, &st); err != nil {
		r.o.logger.ErrorContext(ctx, "abort commit not healthy", "commit", st.Commit, "err", err)
	}
	if st.Abort.ScaledDown {
		return st, nil
	}
	st, err := r.waitUntil(ctx, st, bg, st.Abort.At.Add(time.Duration(st.Plan.Abort.Delay)))
	if err != nil {
		return st, err
	}
	d := st.Desired
	d.Canary = Workload{}
	if st, err = r.commit(ctx, st, func(n *Status) { n.Desired, n.Abort.ScaledDown = d, true }, ActionAbort); err != nil {
		return st, err
	}
	// Reported once committed, before its sync, as a step or an abort is.
	r.emit(EventScaledDown, st, "")
	if err := r.settle(ctx, &st); err != nil {
		r.o.logger.ErrorContext(ctx, "abort scale-down not healthy", "commit", st.Commit, "err", err)
	}
	return st, nil
}

func (r *Runner) abortedError(st Status) error {
	e := &AbortedError{App: st.App, Environment: st.Environment, Step: min(st.Step, len(st.Plan.Steps)-1)}
	e.StepText = st.Plan.Steps[e.Step].String()
	if st.Abort != nil {
		e.Reason = st.Abort.Reason
	}
	return e
}

// backgroundResult turns a background analysis's verdict into what the
// run does.
func (r *Runner) backgroundResult(st Status, ev bgEvent) error {
	names := templateNames(st.Plan.Steps[ev.step].Analysis.Analysis)
	r.m.analyses.WithLabelValues(string(st.Plan.Strategy), string(ev.res.Phase)).Inc()
	r.emitWith(EventAnalysis, st, "", func(e *Event) { e.Analysis = &ev.res; e.Step, e.StepText = ev.step, st.Plan.Steps[ev.step].String() })
	switch ev.res.Phase {
	case health.Successful:
		return nil
	case health.Inconclusive:
		return &interrupt{st: st, pause: fmt.Sprintf("background analysis %s Inconclusive", names)}
	}
	return &interrupt{st: st, abort: analysisReason("background analysis", names, ev.res), cause: causeAnalysis}
}

// analysisReason says why an analysis aborts a run: "analysis errors
// Failed: <the run's message>". A metric named like its template, which
// the run's message starts with ("errors Failed: …"), is not named twice.
func analysisReason(what, names string, res health.RunResult) string {
	head := fmt.Sprintf("%s %s %s", what, names, res.Phase)
	msg := strings.TrimPrefix(res.Message, fmt.Sprintf("%s %s: ", names, res.Phase))
	if msg == "" {
		return head
	}
	return head + ": " + msg
}

// analyze runs the inline analysis of step i, taking commands meanwhile.
func (r *Runner) analyze(ctx context.Context, st Status, bg *background, i int) (health.RunResult, error) {
	a, err := r.resolve(ctx, st, i)
	if err != nil {
		return health.RunResult{Phase: health.Error, Message: err.Error()}, nil
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	var res health.RunResult
	go func() {
		defer close(done)
		var err error
		if res, err = r.o.analysis.Run(actx, a); err != nil {
			res = health.RunResult{Phase: health.Error, Message: err.Error(), Err: err}
		}
	}()
	for {
		next, finished, err := r.await(ctx, st, bg, time.Time{}, done)
		if err != nil {
			cancel()
			<-done
			var in *interrupt
			if errors.As(err, &in) {
				return health.RunResult{}, err
			}
			return health.RunResult{}, err
		}
		st = next
		if finished {
			break
		}
	}
	r.m.analyses.WithLabelValues(string(st.Plan.Strategy), string(res.Phase)).Inc()
	r.emitWith(EventAnalysis, st, "", func(e *Event) { e.Analysis = &res })
	return res, nil
}

// resolve builds the analysis of step i from its templates.
func (r *Runner) resolve(ctx context.Context, st Status, i int) (health.Analysis, error) {
	step := st.Plan.Steps[i].Analysis
	args := map[string]string{}
	for _, a := range step.Args {
		switch {
		case a.ValueFrom == nil:
			args[a.Name] = a.Value
		case a.ValueFrom.PodTemplateHashValue == PodTemplateHashStable:
			args[a.Name] = st.Stable.Digest
		default:
			args[a.Name] = st.Release.Digest
		}
	}
	var out health.Analysis
	for _, t := range step.Templates {
		tpl := r.o.templates[t.TemplateName]
		if tpl == nil {
			return out, fmt.Errorf("%w: %s", ErrNoTemplate, t.TemplateName)
		}
		a, err := tpl.Analysis(ctx, AnalysisInput{
			App: st.App, Environment: st.Environment, Template: t.TemplateName, Args: args,
			Step: i, Background: step.Background, Desired: st.Desired,
			Stable: st.Stable.Release(), Release: st.Release.Release(),
		})
		if err != nil {
			return out, fmt.Errorf("analysis template %s: %w", t.TemplateName, err)
		}
		out.Metrics = append(out.Metrics, a.Metrics...)
		out.Duration = max(out.Duration, a.Duration)
	}
	for _, d := range step.DryRun {
		for j := range out.Metrics {
			if out.Metrics[j].Name == d.MetricName {
				out.Metrics[j].DryRun = true
			}
		}
	}
	return out, nil
}

func templateNames(a Analysis) string {
	names := ""
	for i, t := range a.Templates {
		if i > 0 {
			names += ", "
		}
		names += t.TemplateName
	}
	return names
}

func pauseText(p *PauseState) string {
	if p.Until.IsZero() {
		return "until promoted"
	}
	return "for " + p.Until.Sub(p.Since).String()
}

func (r *Runner) now() time.Time { return r.o.clock.Now().UTC() }

func (r *Runner) emit(kind EventKind, st Status, msg string) { r.emitWith(kind, st, msg, nil) }

func (r *Runner) emitWith(kind EventKind, st Status, msg string, fn func(*Event)) {
	e := Event{
		Kind: kind, Time: r.now(), App: st.App, Environment: st.Environment, Strategy: st.Plan.Strategy,
		Release: st.Release.Release(), Stable: st.Stable.Release(),
		Step: st.Step, Steps: len(st.Plan.Steps), Desired: st.Desired, Commit: st.Commit, Phase: st.Phase, Message: msg,
	}
	if st.Step < len(st.Plan.Steps) {
		e.StepText = st.Plan.Steps[st.Step].String()
	}
	if fn != nil {
		fn(&e)
	}
	r.o.logger.Info("rollout "+string(kind), "step", e.Step+1, "of", e.Steps, "what", e.StepText, "phase", e.Phase, "msg", msg, "commit", e.Commit)
	for _, o := range r.o.observers {
		o.Observe(e)
	}
}

// bgEvent is the verdict of a background analysis.
type bgEvent struct {
	step int
	res  health.RunResult
}

// background runs a run's background analyses.
type background struct {
	r      *Runner
	ctx    context.Context
	events chan bgEvent

	mu      sync.Mutex
	running map[int]context.CancelFunc
	wg      sync.WaitGroup
}

func (r *Runner) newBackground(ctx context.Context) *background {
	return &background{r: r, ctx: ctx, events: make(chan bgEvent, 16), running: map[int]context.CancelFunc{}}
}

// start runs the background analysis of step i unless it runs already.
func (b *background) start(st Status, i int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.running[i]; ok {
		return
	}
	a, err := b.r.resolve(b.ctx, st, i)
	if err != nil {
		b.running[i] = func() {}
		select {
		case b.events <- bgEvent{step: i, res: health.RunResult{Phase: health.Error, Message: err.Error()}}:
		default:
		}
		return
	}
	ctx, cancel := context.WithCancel(b.ctx)
	b.running[i] = cancel
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		res, err := b.r.o.analysis.Run(ctx, a)
		if ctx.Err() != nil {
			return // stopped: the run finished or aborted
		}
		if err != nil {
			res = health.RunResult{Phase: health.Error, Message: err.Error(), Err: err}
		}
		select {
		case b.events <- bgEvent{step: i, res: res}:
		case <-ctx.Done():
		}
	}()
}

// poll returns a verdict if one is waiting.
func (b *background) poll() (bgEvent, bool) {
	select {
	case ev := <-b.events:
		return ev, true
	default:
		return bgEvent{}, false
	}
}

// stop ends every background analysis and waits for them.
func (b *background) stop() {
	b.mu.Lock()
	for i, cancel := range b.running {
		cancel()
		delete(b.running, i)
	}
	b.mu.Unlock()
	b.wg.Wait()
	for {
		if _, ok := b.poll(); !ok {
			return
		}
	}
}
