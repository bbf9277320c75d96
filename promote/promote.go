package promote

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Errors of promotion.
var (
	// ErrBlocked means a policy blocks the promotion; the *BlockedError
	// says which, why and when it may go. It wraps gitops.ErrRefused.
	ErrBlocked = fmt.Errorf("%w: promotion blocked", gitops.ErrRefused)
	// ErrDrift means the promotion no longer matches its plan (the
	// source moved, the target's manifests changed); the *DriftError
	// names what changed. It wraps gitops.ErrRefused.
	ErrDrift = fmt.Errorf("%w: plan drifted", gitops.ErrRefused)
	// ErrUnknownEnvironment means an environment is not on the ladder,
	// or is its first rung where a previous one is needed.
	ErrUnknownEnvironment = errors.New("environment not on the ladder")
)

// BlockedError is the refusal of a promotion by its policies.
type BlockedError struct {
	App, Environment string
	// Verdicts are every policy's verdict; at least one is blocked.
	Verdicts []Verdict
}

func (e *BlockedError) Error() string {
	var b []string
	for _, v := range e.Verdicts {
		if !v.Allowed {
			// "blocked by approvals: approvals 0 of 2 …": the policy
			// and its reason, without the verdict's own "blocked".
			b = append(b, v.Policy+": "+v.why())
		}
	}
	return fmt.Sprintf("promote %s to %s: blocked by %s", e.App, e.Environment, strings.Join(b, "; "))
}

// Unwrap returns [ErrBlocked].
func (e *BlockedError) Unwrap() error { return ErrBlocked }

// DriftError is the refusal of a promotion whose plan no longer holds.
type DriftError struct {
	App, Environment string
	// Changes say what changed since the plan, one a field.
	Changes []string
}

func (e *DriftError) Error() string {
	return fmt.Sprintf("promote %s to %s: the plan drifted: %s; plan again (approvals of the old plan do not carry over)",
		e.App, e.Environment, strings.Join(e.Changes, "; "))
}

// Unwrap returns [ErrDrift].
func (e *DriftError) Unwrap() error { return ErrDrift }

// Rung is one environment of the ladder.
type Rung struct {
	// Name is the environment's name; Path its overlay directory inside
	// an app's directory (empty: "overlays/<Name>").
	Name string
	Path string
	// Policies must all allow a promotion into this environment.
	Policies []Policy
	// Image, when set, gives the image repository a release takes in
	// this environment (its registry) when something else copies the
	// image there; the digest never changes.
	Image func(rel flightdeck.Release) string
	// Copy, when set, copies the release's image by digest into this
	// environment's registry before the promotion is pushed (see
	// [CopyImage]) and names the repository the release takes there; it
	// takes precedence over Image.
	Copy ImageCopier
	// Syncer, when set, is asked to sync the environment's application
	// after a promotion, and Wait says how to wait for it (App is
	// filled in as "<app>-<env>" unless set by AppName).
	Syncer  gitops.Syncer
	Wait    gitops.WaitOptions
	AppName func(app string) string
}

// Environment returns the rung as a flightdeck.Environment.
func (r Rung) Environment() flightdeck.Environment {
	return flightdeck.Environment{Name: r.Name, Path: r.Path}
}

// Ladder is the environments in promotion order.
type Ladder []Rung

// DefaultLadder returns dev (every commit to main), staging (by hand)
// and prod (by hand), with no further policies.
func DefaultLadder() Ladder {
	return Ladder{
		{Name: flightdeck.Dev, Policies: []Policy{Auto{}}},
		{Name: flightdeck.Staging, Policies: []Policy{Manual{}}},
		{Name: flightdeck.Prod, Policies: []Policy{Manual{}}},
	}
}

// Validate checks names (valid, distinct, at least one rung) and every
// policy that has a Validate method.
func (l Ladder) Validate() error {
	if len(l) == 0 {
		return errors.New("ladder has no environments")
	}
	seen := map[string]bool{}
	for _, r := range l {
		if !flightdeck.ValidName(r.Name) {
			return fmt.Errorf("ladder: environment name %q is not a valid name", r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("ladder: environment %s given twice", r.Name)
		}
		seen[r.Name] = true
		for _, p := range r.Policies {
			if v, ok := p.(interface{ Validate() error }); ok {
				if err := v.Validate(); err != nil {
					return fmt.Errorf("ladder: environment %s: policy %s: %w", r.Name, p.Name(), err)
				}
			}
		}
	}
	return nil
}

func (l Ladder) index(env string) int {
	return slices.IndexFunc(l, func(r Rung) bool { return r.Name == env })
}

// Event is something a Promoter did, for observers.
type Event struct {
	// Kind is what happened: planned, blocked, approved or promoted.
	Kind EventKind
	// Time is when the Promoter emitted the event, by its clock.
	Time time.Time
	// App is the application promoted.
	App string
	// From is the environment the release comes from ("" when a commit
	// delivers it to the first environment, see [Promoter.OnCommit]),
	// To the environment it goes to.
	From, To string
	// Release is the release the plan ships, and Commits its release
	// notes (the plan's source commits, newest first).
	Release flightdeck.Release
	Commits []SourceCommit
	// PlanHash is the plan's [Plan].Hash, which approvals are bound to
	// ("" for a delivery on commit, which has no plan to approve).
	PlanHash string
	// Actor is who asked (the request's Actor, or "commit <sha>" for a
	// delivery on commit); Approver, on an approved event, who decided.
	Actor    string
	Approver string
	// Verdicts are the policies' verdicts on a blocked or promoted event.
	Verdicts []Verdict
	// Commit is the GitOps commit the event wrote: the promotion's on a
	// promoted event, the approval record's on an approved one.
	Commit string
	// Err is why a blocked event was blocked (wrapping a [*BlockedError]).
	Err error
}

// EventKind is what an [Event] reports.
type EventKind string

// Kinds of events.
const (
	EventPlanned  EventKind = "planned"
	EventBlocked  EventKind = "blocked"
	EventApproved EventKind = "approved"
	EventPromoted EventKind = "promoted"
)

type options struct {
	clock    clock.Clock
	logger   *slog.Logger
	reg      prometheus.Registerer
	observer func(Event)
	notes    ReleaseNotes
	appDir   func(app string) string
}

// Option configures a [Promoter].
type Option func(*options)

// WithClock sets the clock of decisions and approvals; nil means the
// system clock.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = clock.Or(c) } }

// WithLogger sets the logger; nil (the default) discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the Promoter's metrics with reg; nil (the
// default) registers none.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithObserver calls fn with every [Event], synchronously.
func WithObserver(fn func(Event)) Option { return func(o *options) { o.observer = fn } }

// WithReleaseNotes sets how plans read source commits; the default is
// [GitNotes]. Nil reads none (plans then know no authors beyond none).
func WithReleaseNotes(n ReleaseNotes) Option { return func(o *options) { o.notes = n } }

// WithAppDir sets an app's directory in the repository; the default is
// "apps/<app>".
func WithAppDir(fn func(app string) string) Option { return func(o *options) { o.appDir = fn } }

// Promoter promotes releases up a ladder through a GitOps repository.
// It is safe for concurrent use; several Promoters (in one process or
// many) on the same repository coordinate through the push.
type Promoter struct {
	rw     gitops.ReadWriter
	ladder Ladder
	o      options
	m      *metrics
}

// New returns a Promoter over rw for ladder. It fails if the ladder does
// not validate.
func New(rw gitops.ReadWriter, ladder Ladder, opts ...Option) (*Promoter, error) {
	o := options{clock: clock.System(), notes: GitNotes{}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if err := ladder.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(o.reg)
	if err != nil {
		return nil, err
	}
	return &Promoter{rw: rw, ladder: slices.Clone(ladder), o: o, m: m}, nil
}

func (p *Promoter) emit(e Event) {
	e.Time = p.o.clock.Now()
	if p.o.observer != nil {
		p.o.observer(e)
	}
}

func (p *Promoter) target(app string, r Rung) gitops.Target {
	t := gitops.Target{App: app, Environment: r.Environment()}
	if p.o.appDir != nil {
		t.AppDir = p.o.appDir(app)
	}
	return t
}

// rungs returns the rung of env and the one before it.
func (p *Promoter) rungs(env string) (from, to Rung, err error) {
	i := p.ladder.index(env)
	if i < 0 {
		return from, to, fmt.Errorf("%w: %s", ErrUnknownEnvironment, env)
	}
	if i == 0 {
		return from, to, fmt.Errorf("%w: %s is the first environment; releases reach it from a commit (see OnCommit)", ErrUnknownEnvironment, env)
	}
	return p.ladder[i-1], p.ladder[i], nil
}

// Next returns the environment after env on the ladder, or "".
func (p *Promoter) Next(env string) string {
	i := p.ladder.index(env)
	if i < 0 || i+1 >= len(p.ladder) {
		return ""
	}
	return p.ladder[i+1].Name
}

var errInspected = errors.New("inspected")

// Plan computes the promotion of app into env from the environment before
// it: the release the previous environment runs, what env runs, the
// rendered manifests of env's overlay before and after, their diff, the
// source commits between the two releases and their authors, and the
// hash (see [HashInput]). It changes nothing. Errors name the app and
// environments and wrap [ErrUnknownEnvironment] or those of
// gitops.CurrentRelease and of the release notes.
func (p *Promoter) Plan(ctx context.Context, app, env string) (*Plan, error) {
	plans, err := p.PlanAll(ctx, env, app)
	if err != nil {
		return nil, err
	}
	return plans[0], nil
}

// PlanAll plans the promotion of many apps into env in one read of the
// repository (see [Promoter.Plan]); it fails if any plan fails.
func (p *Promoter) PlanAll(ctx context.Context, env string, apps ...string) ([]*Plan, error) {
	fromR, toR, err := p.rungs(env)
	if err != nil {
		return nil, err
	}
	plans := make([]*Plan, len(apps))
	var edits []gitops.Edit
	var failed error // an edit's own error, returned as it is
	if len(apps) == 1 {
		plans[0], err = p.readPlan(ctx, p.rw, apps[0], fromR, toR)
		if err != nil {
			return nil, err
		}
		if edits, err = p.planEdits(ctx, plans[0], toR); err != nil {
			return nil, err
		}
	} else {
		// One walk of the history serves every app's release lookups,
		// and the files are read from the tree the plans render, inside
		// one dry run: no app costs a walk of the history or a read of
		// the repository's head of its own.
		all, err := p.rw.History(ctx, gitops.HistoryQuery{AllActions: true})
		if err != nil {
			return nil, fmt.Errorf("plan promotion to %s: %w", env, err)
		}
		pre := newPreloaded(p.rw, all)
		for i, app := range apps {
			edits = append(edits, gitops.EditFunc(func(t *gitops.Tree) error {
				pl, err := p.readPlan(ctx, treeHistory{pre, t}, app, fromR, toR)
				if err == nil {
					var ed []gitops.Edit
					if ed, err = p.planEdits(ctx, pl, toR); err == nil {
						err = gitops.Change{Edits: ed}.ApplyEdits(ctx, t)
					}
				}
				if err != nil {
					failed = err
					return err
				}
				plans[i] = pl
				return nil
			}))
		}
	}
	res, err := p.rw.Apply(ctx, gitops.Change{Message: "plan promotion to " + env, Edits: edits, DryRun: true})
	if err != nil {
		if failed != nil && errors.Is(err, failed) {
			return nil, failed
		}
		return nil, fmt.Errorf("plan promotion to %s: %w", env, err)
	}
	diffs := splitDiff(res.Diff)
	for _, pl := range plans {
		if err := p.releaseNotes(ctx, pl); err != nil {
			return nil, err
		}
		pl.Base = res.Parent.String()
		pl.Diff = diffs[p.target(pl.App, toR).Overlay()]
		pl.Unchanged = pl.Current.Digest == pl.Release.Digest && pl.Current.Image == pl.Release.Image
		pl.Hash = pl.HashInput().hash()
		p.m.plans.WithLabelValues(env).Inc()
		p.emit(Event{Kind: EventPlanned, App: pl.App, Release: pl.Release, Commits: pl.Commits, From: pl.From, To: pl.To, PlanHash: pl.Hash})
	}
	return plans, nil
}

// readPlan reads the releases of one plan: what the source environment
// runs, and what the target does.
func (p *Promoter) readPlan(ctx context.Context, h gitops.Historian, app string, fromR, toR Rung) (*Plan, error) {
	fromT, toT := p.target(app, fromR), p.target(app, toR)
	src, err := gitops.CurrentRelease(ctx, h, fromT, "")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", planWhere(app, fromR, toR), err)
	}
	pl := &Plan{App: app, From: fromR.Name, To: toR.Name, Release: src.Release, ImageName: src.ImageName}
	switch {
	case toR.Copy != nil:
		pl.Release.Image = toR.Copy.Repository(pl.Release)
	case toR.Image != nil:
		pl.Release.Image = toR.Image(pl.Release)
	}
	cur, err := gitops.CurrentRelease(ctx, h, toT, "")
	switch {
	case err == nil:
		pl.Current = cur.Release
	case errors.Is(err, gitops.ErrNoRelease):
	default:
		return nil, fmt.Errorf("%s: %w", planWhere(app, fromR, toR), err)
	}
	return pl, nil
}

func planWhere(app string, fromR, toR Rung) string {
	return fmt.Sprintf("plan %s from %s to %s", app, fromR.Name, toR.Name)
}

// releaseNotes reads the source commits of a plan and their authors.
func (p *Promoter) releaseNotes(ctx context.Context, pl *Plan) error {
	if p.o.notes == nil || pl.Release.SourceRepo == "" || pl.Release.Revision == "" {
		return nil
	}
	var err error
	pl.Commits, err = p.o.notes.Commits(ctx, pl.Release.SourceRepo, pl.Current.Revision, pl.Release.Revision)
	if err != nil {
		return fmt.Errorf("plan %s from %s to %s: release notes: %w", pl.App, pl.From, pl.To, err)
	}
	for _, c := range pl.Commits {
		if !slices.Contains(pl.Authors, c.Author) {
			pl.Authors = append(pl.Authors, c.Author)
		}
	}
	return nil
}

// planEdits returns the edits of a dry run that render the target of pl
// before and after its promotion.
func (p *Promoter) planEdits(ctx context.Context, pl *Plan, toR Rung) ([]gitops.Edit, error) {
	toT := p.target(pl.App, toR)
	ch, err := p.deployRequest(pl, toT, pl.ImageName).Change()
	if err != nil {
		return nil, fmt.Errorf("plan %s from %s to %s: %w", pl.App, pl.From, pl.To, err)
	}
	overlay := toT.Overlay()
	edits := []gitops.Edit{gitops.EditFunc(func(t *gitops.Tree) (err error) {
		pl.Before, err = t.Render(ctx, overlay)
		return err
	})}
	edits = append(edits, ch.Edits...)
	edits = append(edits, gitops.EditFunc(func(t *gitops.Tree) (err error) {
		pl.After, err = t.Render(ctx, overlay)
		return err
	}))
	return edits, nil
}

// treeHistory answers history queries from a preloaded walk and reads
// files from a tree (inside an edit, where the repository must not be
// called).
type treeHistory struct {
	h preloaded
	t *gitops.Tree
}

func (th treeHistory) History(ctx context.Context, q gitops.HistoryQuery) ([]gitops.Entry, error) {
	if q.Revision != "" || len(q.Committers) > 0 {
		return nil, errors.New("history at a revision is not read inside a plan")
	}
	return th.h.History(ctx, q)
}

func (th treeHistory) ReadFile(_ context.Context, _, p string) ([]byte, error) {
	return th.t.ReadFile(p)
}

func (p *Promoter) deployRequest(pl *Plan, to gitops.Target, imageName string) gitops.DeployRequest {
	to.ImageName = imageName
	d := gitops.DeployRequest{Target: to, Release: pl.Release, Action: gitops.ActionPromote,
		Message: fmt.Sprintf("promote %s to %s", pl.App, pl.To)}
	d.Release.App = pl.App
	if pl.From != "" {
		d.Extra.Set(gitops.TrailerFrom, pl.From)
	}
	return d
}

// preloaded answers history queries at the head from one walk, indexed
// by app and environment so that a query for one app reads only that
// app's entries.
type preloaded struct {
	gitops.Historian
	entries []gitops.Entry
	byApp   map[[2]string][]gitops.Entry // by app and environment, newest first
}

func newPreloaded(h gitops.Historian, entries []gitops.Entry) preloaded {
	p := preloaded{Historian: h, entries: entries, byApp: map[[2]string][]gitops.Entry{}}
	for _, e := range entries {
		k := [2]string{e.Trailers.App, e.Trailers.Environment}
		p.byApp[k] = append(p.byApp[k], e)
	}
	return p
}

func (p preloaded) History(ctx context.Context, q gitops.HistoryQuery) ([]gitops.Entry, error) {
	if q.Revision != "" || len(q.Committers) > 0 {
		return p.Historian.History(ctx, q)
	}
	entries := p.entries
	if q.App != "" && q.Environment != "" {
		entries = p.byApp[[2]string{q.App, q.Environment}]
	}
	var out []gitops.Entry
	for _, e := range entries {
		if q.Matches(e) {
			out = append(out, e)
			if q.Limit > 0 && len(out) >= q.Limit {
				break
			}
		}
	}
	return out, nil
}

// splitDiff splits a rendered diff of many overlays ("--- a/<dir>"
// headed) by overlay.
func splitDiff(d string) map[string]string {
	out := map[string]string{}
	var cur string
	var b strings.Builder
	flush := func() {
		if cur != "" {
			out[cur] = b.String()
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(d, "\n") {
		if name, ok := strings.CutPrefix(line, "--- a/"); ok {
			flush()
			cur = strings.TrimSpace(name)
		}
		b.WriteString(line)
	}
	flush()
	return out
}

// Request says who asks for a decision, and how.
type Request struct {
	// Actor is who asks; Roles the roles the caller vouches for.
	Actor string
	Roles []string
	// Trigger is TriggerManual unless set.
	Trigger Trigger
	Branch  string
	// Reason is recorded in the promotion's commit.
	Reason string
}

// Explanation is every policy's verdict on a plan.
type Explanation struct {
	Plan     *Plan
	Verdicts []Verdict
	// Allowed reports whether every policy allows the promotion now.
	Allowed bool
	// NotBefore, when blocked, is the earliest time waiting alone could
	// let it go (the latest NotBefore of the blocked verdicts), zero when
	// some blocked policy needs more than waiting.
	NotBefore time.Time
}

// String lists the verdicts, one a line.
func (e Explanation) String() string {
	var b strings.Builder
	state := "blocked"
	if e.Allowed {
		state = "allowed"
	}
	fmt.Fprintf(&b, "promote %s from %s to %s: %s\n", e.Plan.App, e.Plan.From, e.Plan.To, state)
	for _, v := range e.Verdicts {
		fmt.Fprintf(&b, "  %s\n", v)
	}
	if !e.Allowed && !e.NotBefore.IsZero() {
		fmt.Fprintf(&b, "  may go at %s\n", e.NotBefore.Format(time.RFC3339))
	}
	return b.String()
}

func explain(pl *Plan, vs []Verdict) Explanation {
	e := Explanation{Plan: pl, Verdicts: vs, Allowed: true}
	waitOnly := true
	for _, v := range vs {
		if v.Allowed {
			continue
		}
		e.Allowed = false
		if v.NotBefore.IsZero() {
			waitOnly = false
		} else if v.NotBefore.After(e.NotBefore) {
			e.NotBefore = v.NotBefore
		}
	}
	if e.Allowed || !waitOnly {
		e.NotBefore = time.Time{}
	}
	return e
}

// memoHistory records the history reads of policies before a push and
// answers them again inside the push attempt, where the repository must
// not be called (it is building the commit).
type memoHistory struct {
	h      gitops.Historian
	mu     sync.Mutex
	m      map[string][]gitops.Entry
	frozen bool
}

func (m *memoHistory) History(ctx context.Context, q gitops.HistoryQuery) ([]gitops.Entry, error) {
	key := fmt.Sprintf("%#v", q)
	m.mu.Lock()
	e, ok := m.m[key]
	frozen := m.frozen
	m.mu.Unlock()
	if ok {
		return e, nil
	}
	if frozen {
		return nil, errors.New("history was not read before the push")
	}
	e, err := m.h.History(ctx, q)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	m.m[key] = e
	m.mu.Unlock()
	return e, nil
}

func (m *memoHistory) ReadFile(ctx context.Context, revision, path string) ([]byte, error) {
	m.mu.Lock()
	frozen := m.frozen
	m.mu.Unlock()
	if frozen {
		return nil, errors.New("files are read from the tree inside the push")
	}
	return m.h.ReadFile(ctx, revision, path)
}

// decider evaluates one plan's policies: once before the push (reading
// history, running scans) and then on trees.
type decider struct {
	p    *Promoter
	plan *Plan
	rung Rung
	req  Request
	memo *memoHistory
}

func (p *Promoter) decider(ctx context.Context, pl *Plan, rung Rung, req Request) *decider {
	if req.Trigger == "" {
		req.Trigger = TriggerManual
	}
	d := &decider{p: p, plan: pl, rung: rung, req: req, memo: &memoHistory{h: p.rw, m: map[string][]gitops.Entry{}}}
	d.evaluate(ctx, nil) // warm: history reads and scans happen outside the push
	d.memo.mu.Lock()
	d.memo.frozen = true
	d.memo.mu.Unlock()
	return d
}

func (d *decider) evaluate(ctx context.Context, t *gitops.Tree) []Verdict {
	in := &Input{Plan: d.plan, Now: d.p.o.clock.Now(), Trigger: d.req.Trigger, Branch: d.req.Branch,
		Actor: d.req.Actor, Roles: d.req.Roles, Tree: t, History: d.memo}
	if t == nil {
		in.Writer = d.p.rw
	}
	out := make([]Verdict, 0, len(d.rung.Policies))
	for _, pol := range d.rung.Policies {
		v := pol.Evaluate(ctx, in)
		v.Policy = pol.Name()
		out = append(out, v)
	}
	return out
}

// Explain returns every policy's verdict on the plan now, on the
// repository's head, with the earliest time it may go. It changes no
// environment; a policy may record what it learned as a commit of its
// own (the [Scan] policy keeps a scan it ran, see [ScanPath]).
func (p *Promoter) Explain(ctx context.Context, pl *Plan, req Request) (Explanation, error) {
	_, toR, err := p.rungs(pl.To)
	if err != nil {
		return Explanation{}, err
	}
	d := p.decider(ctx, pl, toR, req)
	var vs []Verdict
	_, err = p.rw.Apply(ctx, gitops.Change{Message: "explain", DryRun: true, Edits: []gitops.Edit{
		gitops.EditFunc(func(t *gitops.Tree) error {
			vs = d.evaluate(ctx, t)
			return errInspected
		})}})
	if err != nil && !errors.Is(err, errInspected) {
		return Explanation{}, fmt.Errorf("explain promotion of %s to %s: %w", pl.App, pl.To, err)
	}
	return explain(pl, vs), nil
}

// Outcome is the result of one app's promotion.
type Outcome struct {
	Plan        *Plan
	Explanation Explanation
	Result      gitops.Result
	// Synced is the controller's status after the wait, when the rung
	// has a Syncer.
	Synced *gitops.AppStatus
	Err    error
}

// Promote promotes each plan's release to its environment. For every
// plan it re-checks, inside the push attempt and on the tree the commit
// is built on (so atomically with the push, and again after a lost
// race): that the source environment still runs the planned release,
// every policy of the target environment, and, after the edit, that the
// plan's hash still holds (the rendered manifests included). A plan
// that drifted is refused with a *DriftError naming what changed, a
// blocked one with a *BlockedError. Each promotion is one commit with
// action promote and the Flightdeck-Plan-Hash and Flightdeck-From
// trailers. The plans are prepared concurrently and their changes then
// applied together in one call: when the Promoter's writer is a
// gitops.BatchWriter (a *gitops.Repo is), their commits go in exactly
// one push (up to 1024 commits per push; more are split into as few
// pushes as that allows, see gitops Repo.ApplyAll), and a plan refused
// at the push leaves the others in it; another writer gets one Apply per
// plan, concurrently. Two promoters racing on the same plan make one commit:
// the loser's replay finds the release already there and changes
// nothing. Then each promoted app's environment is synced and waited for
// when its rung has a Syncer. When the rung has a Copy, the image is
// first copied by digest into its registry and checked there, if the
// policies allow the promotion at that moment; a failed copy pushes
// nothing for its plan and answers it with an error wrapping
// [ErrImageCopy].
//
// It returns one Outcome per plan, in order, and the errors joined.
func (p *Promoter) Promote(ctx context.Context, req Request, plans ...*Plan) ([]Outcome, error) {
	start := p.o.clock.Now()
	out := make([]Outcome, len(plans))
	// Each plan is prepared on its own (the image copy may take a while);
	// the changes of all wait for one another and are applied together.
	chs := make([]*gitops.Change, len(plans))
	var wg sync.WaitGroup
	for i, pl := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if chs[i] = p.prepare(ctx, req, pl, &out[i]); chs[i] == nil {
				p.observe(out[i], start)
			}
		}()
	}
	wg.Wait()
	var batch []gitops.Change
	var at []int
	for i, ch := range chs {
		if ch != nil {
			batch, at = append(batch, *ch), append(at, i)
		}
	}
	results, errs := applyAll(ctx, p.rw, batch)
	for j, i := range at {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.finish(ctx, req, &out[i], results[j], errs[j])
			p.observe(out[i], start)
		}()
	}
	wg.Wait()
	var all []error
	for _, o := range out {
		if o.Err != nil {
			all = append(all, o.Err)
		}
	}
	return out, errors.Join(all...)
}

// applyAll applies chs through w in one call when w is a
// gitops.BatchWriter (so that their commits share a push), else each
// with its own Apply, concurrently.
func applyAll(ctx context.Context, w gitops.Writer, chs []gitops.Change) ([]gitops.Result, []error) {
	if len(chs) == 0 {
		return nil, nil
	}
	if bw, ok := w.(gitops.BatchWriter); ok {
		return bw.ApplyAll(ctx, chs)
	}
	results, errs := make([]gitops.Result, len(chs)), make([]error, len(chs))
	var wg sync.WaitGroup
	for i, ch := range chs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = w.Apply(ctx, ch)
		}()
	}
	wg.Wait()
	return results, errs
}

// observe records o, promoted since start, in the metrics.
func (p *Promoter) observe(o Outcome, start time.Time) {
	result := "promoted"
	switch {
	case errors.Is(o.Err, ErrBlocked):
		result = "blocked"
	case errors.Is(o.Err, ErrDrift):
		result = "drifted"
	case o.Err != nil:
		result = "error"
	case !o.Result.Changed:
		result = "unchanged"
	}
	p.m.promotions.WithLabelValues(o.Plan.To, result).Inc()
	p.m.duration.WithLabelValues(o.Plan.To).Observe(p.o.clock.Now().Sub(start).Seconds())
}

// prepare copies pl's image when its rung asks for it and returns the
// change that promotes pl, whose edits re-check it on the tree the
// commit is built on and record the policies' explanation in o; or it
// sets o.Err and returns nil.
func (p *Promoter) prepare(ctx context.Context, req Request, pl *Plan, o *Outcome) *gitops.Change {
	o.Plan = pl
	fromR, toR, err := p.rungs(pl.To)
	if err != nil {
		o.Err = err
		return nil
	}
	if err := p.copyImage(ctx, req, pl, fromR, toR); err != nil {
		o.Err = err
		return nil
	}
	fromT, toT := p.target(pl.App, fromR), p.target(pl.App, toR)
	d := p.decider(ctx, pl, toR, req)
	dr := p.deployRequest(pl, toT, pl.ImageName)
	dr.Extra.Set(gitops.TrailerPlanHash, pl.Hash)
	if req.Reason != "" {
		dr.Extra.Set(gitops.TrailerReason, req.Reason)
	}
	want := pl.HashInput()
	check := gitops.EditFunc(func(t *gitops.Tree) error {
		img, err := pinnedIn(t, fromT)
		if err != nil {
			return &DriftError{App: pl.App, Environment: pl.To, Changes: []string{"source environment " + pl.From + ": " + err.Error()}}
		}
		var changes []string
		if img.name != pl.ImageName {
			changes = append(changes, fmt.Sprintf("%s pins the image as %s, not %s", pl.From, img.name, pl.ImageName))
		}
		if img.digest != pl.Release.Digest {
			changes = append(changes, fmt.Sprintf("%s now runs %s, not %s", pl.From, img.digest, pl.Release.Digest))
		}
		if len(changes) > 0 {
			return &DriftError{App: pl.App, Environment: pl.To, Changes: changes}
		}
		vs := d.evaluate(ctx, t)
		o.Explanation = explain(pl, vs)
		if !o.Explanation.Allowed {
			return &BlockedError{App: pl.App, Environment: pl.To, Verdicts: vs}
		}
		return nil
	})
	ch, err := dr.Change()
	if err != nil {
		o.Err = fmt.Errorf("promote %s to %s: %w", pl.App, pl.To, err)
		return nil
	}
	verify := gitops.EditFunc(func(t *gitops.Tree) error {
		after, err := t.Render(ctx, toT.Overlay())
		if err != nil {
			return err
		}
		now := *pl
		now.After = after
		if got := now.HashInput(); got != want {
			return &DriftError{App: pl.App, Environment: pl.To, Changes: want.drift(got)}
		}
		return nil
	})
	ch.Edits = append(append([]gitops.Edit{check}, ch.Edits...), verify)
	return &ch
}

// finish answers o with the outcome of its change, emits its event, and
// syncs and waits for its environment when its rung has a Syncer.
func (p *Promoter) finish(ctx context.Context, req Request, o *Outcome, res gitops.Result, err error) {
	pl := o.Plan
	_, toR, _ := p.rungs(pl.To) // prepare found them
	o.Result = res
	if err != nil {
		o.Err = err
		var de *DriftError
		var be *BlockedError
		if !errors.As(err, &be) && !errors.As(err, &de) {
			o.Err = fmt.Errorf("promote %s to %s: %w", pl.App, pl.To, err)
		}
		if errors.As(err, &be) {
			for _, v := range be.Verdicts {
				if !v.Allowed {
					p.m.blocked.WithLabelValues(pl.To, v.Policy).Inc()
				}
			}
			p.emit(Event{Kind: EventBlocked, Actor: req.Actor, App: pl.App, Release: pl.Release, Commits: pl.Commits, From: pl.From, To: pl.To, PlanHash: pl.Hash, Verdicts: be.Verdicts, Err: err})
		}
		return
	}
	p.emit(Event{Kind: EventPromoted, Actor: req.Actor, App: pl.App, Release: pl.Release, Commits: pl.Commits, From: pl.From, To: pl.To, PlanHash: pl.Hash,
		Verdicts: o.Explanation.Verdicts, Commit: o.Result.Commit.String()})
	if toR.Syncer != nil && o.Result.Changed {
		o.Synced, o.Err = p.syncWait(ctx, toR, pl.App, o.Result.Commit.String())
	}
}

func (p *Promoter) syncWait(ctx context.Context, r Rung, app, commit string) (*gitops.AppStatus, error) {
	name := app + "-" + r.Name
	if r.AppName != nil {
		name = r.AppName(app)
	}
	if err := r.Syncer.Sync(ctx, gitops.SyncRequest{App: name, Revision: commit}); err != nil {
		return nil, fmt.Errorf("promote %s to %s: sync %s: %w", app, r.Name, name, err)
	}
	w := r.Wait
	w.App, w.Revision = name, commit
	if w.Clock == nil {
		w.Clock = p.o.clock
	}
	st, err := gitops.WaitFor(ctx, r.Syncer, w)
	if err != nil {
		return &st, fmt.Errorf("promote %s to %s: wait for %s: %w", app, r.Name, name, err)
	}
	return &st, nil
}

type pinned struct{ name, image, digest string }

// pinnedIn reads the release t's overlay pins in tree.
func pinnedIn(tree *gitops.Tree, t gitops.Target) (pinned, error) {
	file := tree.KustomizationFile(t.Overlay())
	if file == "" {
		return pinned{}, fmt.Errorf("overlay %s has no kustomization: %w", t.Overlay(), gitops.ErrNotExist)
	}
	cur, err := gitops.CurrentRelease(context.Background(), treeFiles{tree}, t, "")
	if err != nil {
		return pinned{}, err
	}
	return pinned{name: cur.ImageName, image: cur.Release.Image, digest: cur.Release.Digest}, nil
}

// treeFiles reads a tree as a Historian without history.
type treeFiles struct{ t *gitops.Tree }

func (f treeFiles) History(context.Context, gitops.HistoryQuery) ([]gitops.Entry, error) {
	return nil, nil
}
func (f treeFiles) ReadFile(_ context.Context, _, p string) ([]byte, error) { return f.t.ReadFile(p) }

// Approve stores a decision on a plan in the repository, at
// [ApprovalPath] with the signature beside it, in one commit (action
// "approve", with the plan hash trailer). It first checks the approval
// as the environment's [Approvals] policy will: it must name the plan's
// app, environment and hash ([ErrStalePlan]), verify ([ErrUnverified]),
// not come from an author of the change ([ErrSelfApproval]), and be the
// approver's first decision on the plan ([ErrDuplicateApproval], checked
// atomically with the push). An environment without an Approvals policy
// takes none.
func (p *Promoter) Approve(ctx context.Context, pl *Plan, a Approval, sig []byte) (gitops.Result, error) {
	where := fmt.Sprintf("approval of %s to %s", pl.App, pl.To)
	_, toR, err := p.rungs(pl.To)
	if err != nil {
		return gitops.Result{}, fmt.Errorf("%s: %w", where, err)
	}
	var ap *Approvals
	for _, pol := range toR.Policies {
		if x, ok := pol.(Approvals); ok {
			ap = &x
			break
		}
	}
	if ap == nil {
		return gitops.Result{}, fmt.Errorf("%s: %w: %s takes no approvals", where, ErrInvalidApproval, pl.To)
	}
	data, err := a.Marshal()
	if err != nil {
		return gitops.Result{}, fmt.Errorf("%s: %w", where, err)
	}
	file := ApprovalPath(pl.App, pl.To, pl.Hash, a.Approver)
	if _, err := ap.Check(pl, Signed{Path: file, Data: data, Signature: sig}); err != nil {
		return gitops.Result{}, fmt.Errorf("%s: %w", where, err)
	}
	edits := []gitops.Edit{
		gitops.EditFunc(func(t *gitops.Tree) error {
			if t.Exists(file) {
				return fmt.Errorf("%w: %s already decided on plan %s (%s)", ErrDuplicateApproval, a.Approver, pl.Hash, file)
			}
			return nil
		}),
		gitops.WriteFile{Path: file, Data: data},
	}
	if len(sig) > 0 {
		edits = append(edits, gitops.WriteFile{Path: file + ".sig", Data: sig})
	}
	tr := gitops.Trailers{Action: ActionApprove, App: pl.App, Environment: pl.To}
	tr.Extra.Set(gitops.TrailerPlanHash, pl.Hash)
	res, err := p.rw.Apply(ctx, gitops.Change{
		Message:  fmt.Sprintf("%s %s of %s to %s", a.Approver, verb(a.Decision), pl.App, pl.To),
		Trailers: tr, Edits: edits})
	if err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}
	p.m.approvals.WithLabelValues(pl.To, string(a.Decision)).Inc()
	p.emit(Event{Kind: EventApproved, App: pl.App, Release: pl.Release, Commits: pl.Commits, From: pl.From, To: pl.To, PlanHash: pl.Hash, Approver: a.Approver, Commit: res.Commit.String()})
	return res, nil
}

func verb(d Decision) string {
	if d == Reject {
		return "rejects promotion"
	}
	return "approves promotion"
}

// ActionApprove is the action of the commits that store approvals.
const ActionApprove gitops.Action = "approve"

// OnCommit delivers a release built from a commit on branch to the first
// environment of the ladder, if its policies allow a commit there (the
// [Auto] policy): it deploys the release (gitops.DeployRelease) with the
// policies re-checked inside the push. A first environment that takes
// releases only by hand returns a *BlockedError.
func (p *Promoter) OnCommit(ctx context.Context, rel flightdeck.Release, branch string) (Outcome, error) {
	r := p.ladder[0]
	pl := &Plan{App: rel.App, To: r.Name, Release: rel}
	d := p.decider(ctx, pl, r, Request{Trigger: TriggerCommit, Branch: branch, Actor: "commit " + abbrev(rel.Revision)})
	o := Outcome{Plan: pl}
	guard := gitops.GuardFunc(func(t *gitops.Tree, _ gitops.Intent) error {
		vs := d.evaluate(ctx, t)
		o.Explanation = explain(pl, vs)
		if !o.Explanation.Allowed {
			return &BlockedError{App: pl.App, Environment: pl.To, Verdicts: vs}
		}
		return nil
	})
	res, err := gitops.DeployRelease(ctx, p.rw, gitops.DeployRequest{Target: p.target(rel.App, r), Release: rel, Guards: []gitops.Guard{guard}})
	o.Result, o.Err = res, err
	if err != nil {
		p.m.promotions.WithLabelValues(r.Name, "blocked").Inc()
		return o, err
	}
	p.m.promotions.WithLabelValues(r.Name, "promoted").Inc()
	p.emit(Event{Kind: EventPromoted, Actor: "commit " + abbrev(rel.Revision), App: pl.App, Release: pl.Release, Commits: pl.Commits, To: pl.To, Commit: res.Commit.String(), Verdicts: o.Explanation.Verdicts})
	if r.Syncer != nil && res.Changed {
		o.Synced, o.Err = p.syncWait(ctx, r, rel.App, res.Commit.String())
	}
	return o, o.Err
}
