package promote

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Policy decides whether a promotion may go. A Policy is evaluated when a
// promotion is planned or explained and again inside the push attempt
// that promotes (see [Promoter.Promote]), on the tree the commit is built
// on, so a policy that reads the repository (approvals, holds) sees what
// the push will replace.
//
// Evaluate must not block beyond what ctx allows, and must answer
// blocked, not allowed, when it cannot tell (a failed read, a scanner
// that did not run): every policy fails safe.
type Policy interface {
	// Name is a short name for explanations and metrics: "approvals",
	// "soak", "window".
	Name() string
	// Evaluate answers for one promotion.
	Evaluate(ctx context.Context, in *Input) Verdict
}

// Verdict is one policy's answer.
type Verdict struct {
	// Policy is the policy's Name.
	Policy string
	// Allowed reports whether the policy lets the promotion go now.
	Allowed bool
	// Reason says why, in a sentence: what was found, what is missing.
	Reason string
	// NotBefore, when the promotion is blocked, is the earliest time the
	// policy may allow it by waiting alone (soak left, a window
	// reopening); zero when waiting alone does not help (approvals
	// missing, a hold to lift).
	NotBefore time.Time
}

// String returns "policy: allowed|blocked: reason[ (not before t)]"; the
// time is left out when the reason already names it.
func (v Verdict) String() string {
	s := "blocked"
	if v.Allowed {
		s = "allowed"
	}
	return fmt.Sprintf("%s: %s: %s", v.Policy, s, v.why())
}

// why returns the reason, with " (not before t)" when v blocks until t
// and the reason does not already name t.
func (v Verdict) why() string {
	if !v.Allowed && !v.NotBefore.IsZero() {
		if t := v.NotBefore.Format(time.RFC3339); !strings.Contains(v.Reason, t) {
			return v.Reason + " (not before " + t + ")"
		}
	}
	return v.Reason
}

func allow(p Policy, format string, args ...any) Verdict {
	return Verdict{Policy: p.Name(), Allowed: true, Reason: fmt.Sprintf(format, args...)}
}

func block(p Policy, format string, args ...any) Verdict {
	return Verdict{Policy: p.Name(), Reason: fmt.Sprintf(format, args...)}
}

// Trigger says what asks for a promotion.
type Trigger string

// Triggers.
const (
	// TriggerCommit is a new commit on a branch of the source
	// repository (the pipeline's deploy to the first environment).
	TriggerCommit Trigger = "commit"
	// TriggerManual is a person or tool asking by hand.
	TriggerManual Trigger = "manual"
)

// Input is what a policy judges.
type Input struct {
	// Plan is the promotion.
	Plan *Plan
	// Now is the time of the decision, from the Promoter's clock.
	Now time.Time
	// Trigger and Branch say what asked: a commit on Branch, or a hand.
	Trigger Trigger
	Branch  string
	// Actor is who asks, and Roles the roles the embedding tool vouches
	// the actor has (for window overrides).
	Actor string
	Roles []string
	// Rollback is set when the change being judged is a rollback rather
	// than a promotion (see [Windows.GateRollbacks]).
	Rollback bool
	// Tree is the repository's tree the decision is made on: the head
	// when explaining, the tree being built inside a push attempt.
	Tree *gitops.Tree
	// History reads the repository's flightdeck commits.
	History gitops.Historian
	// Writer, when set, lets a policy record what it learned as a
	// commit of its own (the [Scan] policy keeps its results so). It is
	// set only when the policy is evaluated before a push attempt, never
	// on the tree an attempt is building.
	Writer gitops.Writer
}

// Auto is the policy of an environment that every commit to a branch
// (main) reaches by itself: it allows a promotion triggered by a commit
// on Branch, and one asked for by hand.
type Auto struct {
	// Branch is the source branch; empty means "main".
	Branch string
}

func (a Auto) branch() string {
	if a.Branch == "" {
		return "main"
	}
	return a.Branch
}

// Name returns "auto".
func (Auto) Name() string { return "auto" }

// Evaluate implements [Policy].
func (a Auto) Evaluate(_ context.Context, in *Input) Verdict {
	switch {
	case in.Trigger == TriggerManual:
		return allow(a, "promoted by hand by %s", actor(in))
	case in.Branch == a.branch():
		return allow(a, "every commit to %s goes here by itself", a.branch())
	}
	return block(a, "only commits to %s go here by themselves, not ones to %q", a.branch(), in.Branch)
}

// Manual is the policy of an environment that releases reach only when
// someone promotes them by hand.
type Manual struct{}

// Name returns "manual".
func (Manual) Name() string { return "manual" }

// Evaluate implements [Policy].
func (m Manual) Evaluate(_ context.Context, in *Input) Verdict {
	if in.Trigger == TriggerManual {
		return allow(m, "promoted by hand by %s", actor(in))
	}
	return block(m, "waits for someone to promote it by hand")
}

func actor(in *Input) string {
	if in.Actor == "" {
		return "an unnamed caller"
	}
	return in.Actor
}

// HealthChecker tells whether the source environment is healthy now;
// the [Health] policy asks it.
type HealthChecker interface {
	// Healthy reports whether app is healthy in env, with a reason.
	Healthy(ctx context.Context, app, env string) (bool, string, error)
}

// HealthFunc adapts a function to [HealthChecker].
type HealthFunc func(ctx context.Context, app, env string) (bool, string, error)

// Healthy calls f.
func (f HealthFunc) Healthy(ctx context.Context, app, env string) (bool, string, error) {
	return f(ctx, app, env)
}

// Health is the policy that the release is healthy in the environment
// it is promoted from. A checker that fails or is missing blocks.
type Health struct {
	Checker HealthChecker
}

// Name returns "health".
func (Health) Name() string { return "health" }

// Evaluate implements [Policy].
func (h Health) Evaluate(ctx context.Context, in *Input) Verdict {
	p := in.Plan
	if h.Checker == nil {
		return block(h, "no health checker is configured")
	}
	ok, why, err := h.Checker.Healthy(ctx, p.App, p.From)
	switch {
	case err != nil:
		return block(h, "health of %s in %s is unknown: %v", p.App, p.From, err)
	case !ok:
		return block(h, "%s is not healthy in %s: %s", p.App, p.From, why)
	}
	return allow(h, "%s is healthy in %s: %s", p.App, p.From, why)
}

// HoldChecker tells whether a change to an environment is held: the
// environment is on hold, or the digest quarantined there. It returns nil
// when nothing holds, or an error that names the hold (who placed it,
// since when, why). The default is [gitops.CheckHold] with no override:
// the hold files package rollback writes under .flightdeck/.
type HoldChecker interface {
	CheckHold(t *gitops.Tree, app, env, digest string) error
}

// HoldCheckFunc adapts a function to [HoldChecker].
type HoldCheckFunc func(t *gitops.Tree, app, env, digest string) error

// CheckHold calls f.
func (f HoldCheckFunc) CheckHold(t *gitops.Tree, app, env, digest string) error {
	return f(t, app, env, digest)
}

// Holds is the policy of holds and quarantined digests: the promotion is
// blocked while the target environment is on hold or the release's
// digest is quarantined there (and, with Source set, while the source
// environment is on hold: a release rolled back there is not a release to
// promote).
type Holds struct {
	Checker HoldChecker
	// Source also checks the source environment's hold.
	Source bool
}

// Name returns "holds".
func (Holds) Name() string { return "holds" }

// Evaluate implements [Policy].
func (h Holds) Evaluate(_ context.Context, in *Input) Verdict {
	p := in.Plan
	check := h.Checker
	if check == nil {
		check = HoldCheckFunc(func(t *gitops.Tree, app, env, digest string) error {
			return gitops.CheckHold(t, app, env, digest, gitops.Override{})
		})
	}
	if in.Tree == nil {
		return block(h, "no repository tree to read holds from")
	}
	if err := check.CheckHold(in.Tree, p.App, p.To, p.Release.Digest); err != nil {
		return block(h, "%v", err)
	}
	if h.Source {
		if err := check.CheckHold(in.Tree, p.App, p.From, ""); err != nil {
			return block(h, "source environment: %v", err)
		}
	}
	return allow(h, "no hold on %s in %s and %s is not quarantined there", p.App, p.To, short(p.Release.Digest))
}

// TrailerTests is the Extra trailer that records test suites a release
// passed or failed in an environment: "suite=passed,other=failed". A
// test stage (pipeline/postdeploy) or a verification marker writes it on
// a commit that names the app, environment and release; the [Tests]
// policy reads it. It is [gitops.TrailerTests], kept here under its
// earlier name.
const TrailerTests = gitops.TrailerTests

// Tests is the policy that the release passed the named test suites in
// the environment it is promoted from, as recorded with the release
// ([TrailerTests] on flightdeck commits for that app, environment and
// digest; the newest result of each suite counts).
type Tests struct {
	Suites []string
}

// Name returns "tests".
func (Tests) Name() string { return "tests" }

// Evaluate implements [Policy].
func (ts Tests) Evaluate(ctx context.Context, in *Input) Verdict {
	p := in.Plan
	if in.History == nil {
		return block(ts, "no history to read test results from")
	}
	entries, err := in.History.History(ctx, gitops.HistoryQuery{App: p.App, Environment: p.From, AllActions: true, Digest: p.Release.Digest})
	if err != nil {
		return block(ts, "test results of %s in %s cannot be read: %v", p.App, p.From, err)
	}
	got := map[string]string{}
	for _, e := range entries { // newest first
		v, ok := e.Trailers.Extra.Get(TrailerTests)
		if !ok {
			continue
		}
		for _, kv := range strings.Split(v, ",") {
			k, r, _ := strings.Cut(strings.TrimSpace(kv), "=")
			if _, seen := got[k]; !seen && k != "" {
				got[k] = r
			}
		}
	}
	var missing, failed []string
	for _, s := range ts.Suites {
		switch got[s] {
		case "passed":
		case "":
			missing = append(missing, s)
		default:
			failed = append(failed, s+" "+got[s])
		}
	}
	switch {
	case len(failed) > 0:
		return block(ts, "in %s %s: %s", p.From, short(p.Release.Digest), strings.Join(failed, ", "))
	case len(missing) > 0:
		return block(ts, "no result recorded in %s for %s: %s", p.From, short(p.Release.Digest), strings.Join(missing, ", "))
	}
	return allow(ts, "passed in %s: %s", p.From, strings.Join(ts.Suites, ", "))
}

func short(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

// Mark is one event in the life of a release in an environment, read by
// [Soak].
type Mark struct {
	Time   time.Time
	Digest string
	Kind   MarkKind
	Commit string
}

// MarkKind is what a [Mark] says.
type MarkKind int

// Kinds of marks.
const (
	// Arrived: the digest was deployed, promoted or rolled back to.
	Arrived MarkKind = iota
	// Verified: a post-deploy verification passed.
	Verified
	// Failed: a post-deploy verification failed.
	Failed
)

// Marks reads the marks of an app in an environment, oldest first.
// [HistoryMarks] reads them from the repository; package rollback's
// verification markers are flightdeck commits with a
// gitops.TrailerVerified trailer, which HistoryMarks reads.
type Marks interface {
	Marks(ctx context.Context, h gitops.Historian, app, env string) ([]Mark, error)
}

// HistoryMarks reads marks from flightdeck's commits: a deploy, promote or
// rollback commit is an arrival of its digest; any commit with a
// gitops.TrailerVerified trailer is a verification of its digest (or of
// the digest the environment ran then, when it names none): "verified"
// or "passed" is a pass, anything else a failure.
type HistoryMarks struct{}

// Marks implements [Marks].
func (HistoryMarks) Marks(ctx context.Context, h gitops.Historian, app, env string) ([]Mark, error) {
	entries, err := h.History(ctx, gitops.HistoryQuery{App: app, Environment: env, AllActions: true})
	if err != nil {
		return nil, err
	}
	var out []Mark
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		m := Mark{Time: e.Time, Digest: e.Trailers.Digest, Commit: e.Commit.String()}
		if v, ok := e.Trailers.Extra.Get(gitops.TrailerVerified); ok {
			m.Kind = Failed
			if v == "verified" || v == "passed" {
				m.Kind = Verified
			}
			out = append(out, m)
			continue
		}
		if slices.Contains([]gitops.Action{gitops.ActionDeploy, gitops.ActionPromote, gitops.ActionRollback}, e.Trailers.Action) && m.Digest != "" {
			m.Kind = Arrived
			out = append(out, m)
		}
	}
	return out, nil
}

// Soak is the policy that the release stayed verified and healthy in the
// environment it is promoted from for at least Duration: the longest
// continuous stay counts, as Kargo's requiredSoakTime. A stay begins at a
// passed verification of the digest while the environment runs it, and
// ends at a failed verification, when another digest arrives, or now.
type Soak struct {
	Duration time.Duration
	// Marks reads the environment's marks; nil means [HistoryMarks].
	Marks Marks
}

// Name returns "soak".
func (Soak) Name() string { return "soak" }

// Evaluate implements [Policy].
func (s Soak) Evaluate(ctx context.Context, in *Input) Verdict {
	p := in.Plan
	src := s.Marks
	if src == nil {
		src = HistoryMarks{}
	}
	if in.History == nil {
		return block(s, "no history to read verifications from")
	}
	marks, err := src.Marks(ctx, in.History, p.App, p.From)
	if err != nil {
		return block(s, "verifications of %s in %s cannot be read: %v", p.App, p.From, err)
	}
	longest, open := longestStay(marks, p.Release.Digest, in.Now)
	if longest >= s.Duration {
		return allow(s, "verified and healthy in %s for %s (needs %s)", p.From, round(longest), s.Duration)
	}
	if open.IsZero() {
		if longest == 0 {
			return block(s, "%s is not verified in %s (needs %s verified there)", short(p.Release.Digest), p.From, s.Duration)
		}
		return block(s, "longest verified stay in %s was %s, needs %s; not verified there now", p.From, round(longest), s.Duration)
	}
	v := block(s, "verified in %s for %s, %s left of %s", p.From, round(longest), round(s.Duration-in.Now.Sub(open)), s.Duration)
	v.NotBefore = open.Add(s.Duration)
	return v
}

func round(d time.Duration) time.Duration { return d.Round(time.Second) }

// longestStay returns the longest verified stay of digest and the start
// of the stay still open at now (zero if none).
func longestStay(marks []Mark, digest string, now time.Time) (time.Duration, time.Time) {
	var current string
	var start time.Time
	var longest time.Duration
	end := func(t time.Time) {
		if !start.IsZero() {
			longest = max(longest, t.Sub(start))
			start = time.Time{}
		}
	}
	for _, m := range marks {
		if m.Time.After(now) {
			break
		}
		d := m.Digest
		switch m.Kind {
		case Arrived:
			if d != current {
				end(m.Time)
			}
			current = d
		case Verified:
			if d == "" {
				d = current
			}
			if d == digest && current == digest && start.IsZero() {
				start = m.Time
			}
		case Failed:
			if d == "" || d == current {
				end(m.Time)
			}
		}
	}
	open := start
	end(now)
	return longest, open
}
