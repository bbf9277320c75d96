package postdeploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/deploy"
)

// Errors of the stage.
var (
	// ErrInvalidSpec is wrapped (marked [pipeline.Permanent]) when a
	// [Spec] lacks a suite name or a runner, names an endpoint that
	// cannot be an environment variable, or the target has no valid app,
	// environment or digest.
	ErrInvalidSpec = errors.New("postdeploy: invalid spec")
	// ErrNotReady is wrapped when the environment did not become ready
	// (the wait for Synced and Healthy failed, or the readiness function
	// returned an error); the tests did not run and nothing is recorded.
	ErrNotReady = errors.New("postdeploy: environment not ready")
	// ErrTestsFailed is wrapped by the [*FailError] the stage returns
	// when the suite failed.
	ErrTestsFailed = errors.New("postdeploy: tests failed")
)

// FailError reports a suite that ran and failed against an environment.
type FailError struct {
	// Suite, App and Environment say what failed where.
	Suite, App, Environment string
	// Failures names the failing tests.
	Failures []string
	// Detail is the output tail of the first failure.
	Detail string
}

// Error returns "suite e2e against shop in staging: 2 failed: a, b"
// followed by the first failure's output tail.
func (e *FailError) Error() string {
	msg := fmt.Sprintf("suite %s against %s in %s: %d failed: %s", e.Suite, e.App, e.Environment, len(e.Failures), strings.Join(e.Failures, ", "))
	if e.Detail != "" {
		msg += "\n" + e.Detail
	}
	return msg
}

// Unwrap returns [ErrTestsFailed].
func (e *FailError) Unwrap() error { return ErrTestsFailed }

// Target is the deployed release the tests run against.
type Target struct {
	// Release is the release; App, Image and Digest are required.
	Release flightdeck.Release
	// Environment is the environment's name.
	Environment string
	// Deploy is the deploy commit, when known; the wait for the
	// environment requires that revision to be synced.
	Deploy string
}

// TargetFunc chooses the stage's target from the run's state.
type TargetFunc func(ctx context.Context, st *pipeline.State) (Target, error)

// FromDeployment returns a TargetFunc that tests the deployment the
// deploy stage put under k (zero means [deploy.Deployed]); the step must
// need k.
func FromDeployment(k pipeline.Key[deploy.Deployment]) TargetFunc {
	if k.Name() == "" {
		k = deploy.Deployed
	}
	return func(_ context.Context, st *pipeline.State) (Target, error) {
		d, err := k.Get(st)
		if err != nil {
			return Target{}, err
		}
		return Target{Release: d.Release, Environment: d.Environment, Deploy: d.Commit}, nil
	}
}

// Current returns a TargetFunc that tests what t's environment runs at
// the head of the GitOps repository ([gitops.CurrentRelease]), for suites
// run on a schedule rather than after a deploy.
func Current(h gitops.Historian, t gitops.Target) TargetFunc {
	return func(ctx context.Context, _ *pipeline.State) (Target, error) {
		cur, err := gitops.CurrentRelease(ctx, h, t, "")
		if err != nil {
			return Target{}, err
		}
		tg := Target{Release: cur.Release, Environment: t.Environment.Name}
		if cur.Deploy != nil {
			tg.Deploy = cur.Deploy.Commit.String()
		}
		return tg, nil
	}
}

// Spec says which suite runs against what. The zero value of every field
// but Suite and Tests is the default.
type Spec struct {
	// Suite names the suite in the report and the Flightdeck-Tests
	// trailer ("e2e", "smoke"); the promote Tests policy asks for it by
	// this name. A lower-case name as [flightdeck.ValidName] accepts.
	// Required.
	Suite string
	// Tests runs the suite: [Command] or [GoTest]. Required.
	Tests Runner
	// Target chooses the release and environment; nil means
	// FromDeployment(deploy.Deployed).
	Target TargetFunc
	// Endpoints are the environment's endpoints by name, handed to the
	// tests as FLIGHTDECK_ENDPOINT_<NAME>=<url> (NAME upper-cased, "-"
	// and "." as "_"). Names are letters, digits, "-", "_" and ".".
	Endpoints map[string]string
}

// Stage runs a suite against a deployed environment and records its
// report. Make one with [New].
type Stage struct {
	w    gitops.Writer
	spec Spec
	o    options
	// fromDeploy is set when the target is the default, the deployment
	// under deploy.Deployed.
	fromDeploy bool
}

var _ pipeline.Stage = (*Stage)(nil)

type options struct {
	syncer gitops.Syncer
	wait   gitops.WaitOptions
	ready  func(ctx context.Context, t Target) error
	clock  clock.Clock
	log    *slog.Logger
	report pipeline.Key[*Report]
	name   string
	notify notify.Notifier
	src    notify.Source
}

// Option configures a [Stage].
type Option func(*options)

// WithSyncer makes the stage wait, before the tests, until the GitOps
// controller reports the app Synced and Healthy ([gitops.WaitFor] on s
// with wait). Empty fields of wait are filled in: App with
// "<app>-<environment>", Revision with the target's deploy commit, Clock
// with the stage's. Default: no wait.
func WithSyncer(s gitops.Syncer, wait gitops.WaitOptions) Option {
	return func(o *options) { o.syncer, o.wait = s, wait }
}

// WithReady sets a function that must return nil before the tests run,
// after the syncer's wait if there is one: a probe of the environment's
// health endpoint, a wait of your own. Default: none.
func WithReady(ready func(ctx context.Context, t Target) error) Option {
	return func(o *options) { o.ready = ready }
}

// WithClock sets the clock that stamps the report and bounds the wait.
// Default (and nil): the system clock.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithReport makes the stage put its [*Report] under k, also when the
// suite fails; list k in the step's Provides. Default: not put.
func WithReport(k pipeline.Key[*Report]) Option { return func(o *options) { o.report = k } }

// WithNotify makes the stage tell stakeholders, through n, what the wait
// for the environment found, with Argo CD notifications' meaning of each
// trigger: [notify.Deployed] (on-deployed) once the environment is
// Synced and Healthy at the deploy (before the tests run),
// [notify.Degraded] (on-health-degraded) when the wait ended Degraded
// ([gitops.ErrDegraded]), and [notify.SyncFailed] (on-sync-failed) when
// the sync operation failed ([gitops.ErrOperationFailed]). Each event's
// ID is the deploy commit (else the digest), so a retried stage reports
// once. src adds the actor, links and a logger; give it a
// [notify.Fanout], whose Notify only queues, so a slow receiver never
// slows the pipeline. Default: none.
func WithNotify(n notify.Notifier, src notify.Source) Option {
	return func(o *options) { o.notify, o.src = n, src }
}

// WithName sets the stage's name. Default "test-<suite>".
func WithName(name string) Option { return func(o *options) { o.name = name } }

// New returns a stage that runs spec's suite against the target once the
// environment is ready, and records the report through w (nil: the
// report is only put into the run's state; see [WithReport]).
func New(w gitops.Writer, spec Spec, opts ...Option) *Stage {
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	o.clock = clock.Or(o.clock)
	if o.log == nil {
		o.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.name == "" {
		o.name = "test-" + spec.Suite
	}
	fromDeploy := spec.Target == nil
	if fromDeploy {
		spec.Target = FromDeployment(deploy.Deployed)
	}
	return &Stage{w: w, spec: spec, o: o, fromDeploy: fromDeploy}
}

// Name returns the stage's name.
func (s *Stage) Name() string { return s.o.name }

// Step returns the stage in a step that needs needs and, when the spec
// tests the deployment (no Target set), [deploy.Deployed], and provides
// the report key when set ([WithReport]); set further policy on the
// returned value.
func (s *Stage) Step(needs ...pipeline.AnyKey) pipeline.Step {
	st := pipeline.Step{Stage: s, Needs: needs}
	if s.fromDeploy {
		st.Needs = append([]pipeline.AnyKey{deploy.Deployed}, needs...)
	}
	if s.o.report.Name() != "" {
		st.Provides = []pipeline.AnyKey{s.o.report}
	}
	return st
}

var endpointName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// EnvName returns the variable an endpoint named name is handed in,
// "FLIGHTDECK_ENDPOINT_<NAME>".
func EnvName(name string) string {
	return "FLIGHTDECK_ENDPOINT_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(name))
}

func (s *Stage) validate() error {
	sp := s.spec
	if !flightdeck.ValidName(sp.Suite) {
		return fmt.Errorf("%w: suite name %q", ErrInvalidSpec, sp.Suite)
	}
	if sp.Tests == nil {
		return fmt.Errorf("%w: suite %s has no runner", ErrInvalidSpec, sp.Suite)
	}
	seen := map[string]string{}
	for name := range sp.Endpoints {
		if !endpointName.MatchString(name) {
			return fmt.Errorf("%w: suite %s: endpoint name %q (letters, digits, -, _ and .)", ErrInvalidSpec, sp.Suite, name)
		}
		if other, dup := seen[EnvName(name)]; dup {
			return fmt.Errorf("%w: suite %s: endpoints %q and %q are both %s", ErrInvalidSpec, sp.Suite, other, name, EnvName(name))
		}
		seen[EnvName(name)] = name
	}
	return nil
}

func validTarget(t Target) error {
	switch {
	case !flightdeck.ValidName(t.Release.App):
		return fmt.Errorf("%w: app name %q", ErrInvalidSpec, t.Release.App)
	case !flightdeck.ValidName(t.Environment):
		return fmt.Errorf("%w: environment name %q", ErrInvalidSpec, t.Environment)
	}
	if err := t.Release.Validate(); err != nil {
		return fmt.Errorf("%w: %s in %s: %w", ErrInvalidSpec, t.Release.App, t.Environment, err)
	}
	return nil
}

// Env returns the variables the tests get for t: FLIGHTDECK_APP,
// FLIGHTDECK_ENV, FLIGHTDECK_RELEASE (image@digest), FLIGHTDECK_DIGEST,
// FLIGHTDECK_SUITE and one FLIGHTDECK_ENDPOINT_<NAME> per endpoint,
// sorted by name.
func (s *Stage) Env(t Target) []string {
	env := []string{
		"FLIGHTDECK_APP=" + t.Release.App,
		"FLIGHTDECK_ENV=" + t.Environment,
		"FLIGHTDECK_RELEASE=" + t.Release.Ref(),
		"FLIGHTDECK_DIGEST=" + t.Release.Digest,
		"FLIGHTDECK_SUITE=" + s.spec.Suite,
	}
	names := make([]string, 0, len(s.spec.Endpoints))
	for n := range s.spec.Endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		env = append(env, EnvName(n)+"="+s.spec.Endpoints[n])
	}
	return env
}

// Run waits for the environment, runs the suite, puts the report into
// the state (with [WithReport]) and records it. It returns a
// [*FailError] (wrapping [ErrTestsFailed]) when the suite failed, after
// recording it; an error wrapping [ErrNotReady] when the environment did
// not become ready; [ErrInvalidSpec] marked permanent; the runner's
// error when the suite could not run; and the repository's error when
// the report could not be recorded (joined with the FailError when the
// suite also failed).
func (s *Stage) Run(ctx context.Context, st *pipeline.State) error {
	if err := s.validate(); err != nil {
		return pipeline.Permanent(fmt.Errorf("stage %s: %w", s.o.name, err))
	}
	t, err := s.spec.Target(ctx, st)
	if err != nil {
		return fmt.Errorf("stage %s: %w", s.o.name, err)
	}
	if err := validTarget(t); err != nil {
		return pipeline.Permanent(fmt.Errorf("stage %s: %w", s.o.name, err))
	}
	where := fmt.Sprintf("stage %s: suite %s against %s in %s", s.o.name, s.spec.Suite, t.Release.App, t.Environment)
	if err := s.waitReady(ctx, t); err != nil {
		s.tell(ctx, t, err)
		return fmt.Errorf("%s: %w: %w", where, ErrNotReady, err)
	}
	s.tell(ctx, t, nil)
	started := s.o.clock.Now()
	out, err := s.spec.Tests.RunTests(ctx, s.Env(t))
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	rep := s.report(t, out, started, s.o.clock.Now())
	if s.o.report.Name() != "" && st != nil {
		s.o.report.Put(st, rep)
	}
	s.o.log.InfoContext(ctx, "suite ran", "suite", rep.Suite, "app", rep.App, "environment", rep.Environment,
		"result", rep.Result, "passed", rep.Passed, "failed", rep.Failed, "skipped", rep.Skipped)
	var errs []error
	if !rep.OK() {
		errs = append(errs, &FailError{Suite: rep.Suite, App: rep.App, Environment: rep.Environment, Failures: rep.Failures, Detail: out.Detail})
	}
	if s.w != nil {
		if _, err := Record(ctx, s.w, rep); err != nil {
			errs = append(errs, fmt.Errorf("%s: record the report: %w", where, err))
		}
	}
	if len(errs) == 1 && !rep.OK() {
		return fmt.Errorf("stage %s: %w", s.o.name, errs[0])
	}
	return errors.Join(errs...)
}

// tell reports the outcome of the wait for the environment ([WithNotify]).
func (s *Stage) tell(ctx context.Context, t Target, waitErr error) {
	if s.o.notify == nil {
		return
	}
	ne := notify.Event{App: t.Release.App, Environment: t.Environment, Release: t.Release, Time: s.o.clock.Now(),
		Details: map[string]string{"stage": s.o.name}}
	id := t.Deploy
	if id == "" {
		id = t.Release.Digest
	}
	if t.Deploy != "" {
		ne.Details["commit"] = t.Deploy
	}
	v := notify.Version(t.Release)
	switch {
	case waitErr == nil:
		ne.Kind = notify.Deployed
		ne.Summary = fmt.Sprintf("%s %s deployed to %s: Synced and Healthy", t.Release.App, v, t.Environment)
	case errors.Is(waitErr, gitops.ErrDegraded):
		ne.Kind = notify.Degraded
		ne.Summary = fmt.Sprintf("%s %s in %s is Degraded: %v", t.Release.App, v, t.Environment, waitErr)
	case errors.Is(waitErr, gitops.ErrOperationFailed):
		ne.Kind = notify.SyncFailed
		ne.Summary = fmt.Sprintf("%s %s: the sync of %s failed: %v", t.Release.App, v, t.Environment, waitErr)
	default:
		return
	}
	ne.ID = fmt.Sprintf("postdeploy/%s/%s/%s/%s", ne.Kind, t.Release.App, t.Environment, id)
	s.o.src.Send(ctx, s.o.notify, "pipeline", ne)
}

func (s *Stage) waitReady(ctx context.Context, t Target) error {
	if s.o.syncer != nil {
		w := s.o.wait
		if w.App == "" {
			w.App = t.Release.App + "-" + t.Environment
		}
		if w.Revision == "" {
			w.Revision = t.Deploy
		}
		if w.Clock == nil {
			w.Clock = s.o.clock
		}
		if _, err := gitops.WaitFor(ctx, s.o.syncer, w); err != nil {
			return err
		}
	}
	if s.o.ready != nil {
		return s.o.ready(ctx, t)
	}
	return nil
}

func (s *Stage) report(t Target, out Outcome, started, finished time.Time) *Report {
	rep := &Report{
		Suite: s.spec.Suite, App: t.Release.App, Environment: t.Environment,
		Release: t.Release.Ref(), Image: t.Release.Image, Digest: t.Release.Digest, Tag: t.Release.Tag,
		SourceRepo: t.Release.SourceRepo, SourceRevision: t.Release.Revision, SourceTime: t.Release.Time.UTC(), Deploy: t.Deploy,
		Started: started.UTC(), Finished: finished.UTC(), Seconds: finished.Sub(started).Seconds(),
		Tests: out.Tests, Result: Passed,
	}
	if rep.Tests == nil {
		rep.Tests = []Test{}
	}
	for _, tc := range out.Tests {
		switch tc.Status {
		case StatusPass:
			rep.Passed++
		case StatusSkip:
			rep.Skipped++
		default:
			rep.Failed++
			rep.Failures = append(rep.Failures, tc.String())
		}
	}
	if rep.Failed > 0 {
		rep.Result = Failed
	}
	for n, u := range s.spec.Endpoints {
		if rep.Endpoints == nil {
			rep.Endpoints = map[string]string{}
		}
		rep.Endpoints[n] = safeURL(u)
	}
	return rep
}

// safeURL drops user info, query and fragment, which may carry
// credentials. A value that is not a URL with a host ("db:5432") is kept
// unless it has an "@" or a "?".
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		if strings.ContainsAny(raw, "@?") {
			return "(redacted)"
		}
		return raw
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment = nil, "", "", ""
	return u.String()
}

// Record commits rep to the GitOps repository through w: one commit,
// action test ([gitops.ActionTest]), with the release trailers of the
// app, environment and digest tested and the Flightdeck-Tests trailer
// "<suite>=passed|failed" that the promote Tests policy reads, writing
// the report to [Path]. Its message names the suite, the result and the
// failing tests. Errors are what w returns, or wrap [ErrInvalidSpec] for
// a report without a valid app, environment, suite or digest.
func Record(ctx context.Context, w gitops.Writer, rep *Report) (gitops.Result, error) {
	rel := rep.ReleaseOf()
	if err := rel.Validate(); err != nil {
		return gitops.Result{}, fmt.Errorf("%w: report of suite %q: %w", ErrInvalidSpec, rep.Suite, err)
	}
	if !flightdeck.ValidName(rep.Environment) || !flightdeck.ValidName(rep.Suite) {
		return gitops.Result{}, fmt.Errorf("%w: report of suite %q for %s in environment %q", ErrInvalidSpec, rep.Suite, rep.App, rep.Environment)
	}
	data, err := rep.Marshal()
	if err != nil {
		return gitops.Result{}, err
	}
	tr := gitops.ReleaseTrailers(gitops.ActionTest, rep.Environment, rel)
	tr.Extra.Set(gitops.TrailerTests, rep.Trailer())
	var msg strings.Builder
	fmt.Fprintf(&msg, "test %s in %s: %s", rep.App, rep.Environment, rep.Summary())
	if len(rep.Failures) > 0 {
		msg.WriteString("\n\nFailed:\n")
		for _, f := range rep.Failures {
			fmt.Fprintf(&msg, "- %s\n", f)
		}
	}
	return w.Apply(ctx, gitops.Change{
		Message:  strings.TrimRight(msg.String(), "\n"),
		Trailers: tr,
		Edits:    []gitops.Edit{gitops.WriteFile{Path: Path(rep.App, rep.Environment, rep.Digest, rep.Suite), Data: data}},
	})
}
