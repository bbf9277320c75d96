package dora

import (
	"slices"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// ActionVerify is the action of the verification markers package
// rollback writes after a deploy (rollback.ActionVerify): a commit with
// a [gitops.TrailerVerified] trailer, the app and environment, the
// deploy's release trailers and a [TrailerDeploy] trailer naming the
// deploy. dora reads a marker of any action; it needs the
// Flightdeck-Verified trailer only.
const ActionVerify gitops.Action = "verify"

// The actions and trailers of package strategy's rollout commits
// (strategy.ActionStep, strategy.ActionAbort, strategy.TrailerPhase and
// strategy.PhaseCompleted): each step of a progressive rollout is a
// commit with the release's trailers, the plan's hash and the run's
// phase after it; an abort sends all traffic back to the stable release.
const (
	ActionRolloutStep   = gitops.ActionStep
	ActionRolloutAbort  = gitops.ActionAbort
	TrailerRolloutPhase = gitops.TrailerRolloutPhase
	RolloutCompleted    = gitops.RolloutCompleted
)

// TrailerDeploy is the key of the trailer in which a verification marker
// names the full hash of the deploy commit it judged, as package
// rollback writes it (rollback.TrailerDeploy). Without it, a marker is
// about the newest deployment with the marker's digest.
const TrailerDeploy = "Flightdeck-Deploy"

// Verdicts of the [gitops.TrailerVerified] trailer, as package rollback
// writes them.
const (
	// VerdictVerified means the deploy reached Synced/Healthy and passed
	// its verification: the marker's commit time is when it was good.
	VerdictVerified = "verified"
	// VerdictFailed means the deploy failed its verification: it is a
	// failed deployment even if no rollback follows.
	VerdictFailed = "failed"
	// VerdictInconclusive means the verification could not tell; dora
	// reads it as no verdict.
	VerdictInconclusive = "inconclusive"
)

// Query selects the deployments of a [Report].
type Query struct {
	// Since and Until bound the period: a deployment counts when its
	// commit time t is Since <= t < Until. Commits at or after Until are
	// not read at all, so the report says what was known at Until.
	// A zero Since is the time of the first deployment in the history;
	// a zero Until is the end of the second of now ([Reader]) or of the
	// newest commit ([Compute]).
	Since, Until time.Time
	// Apps and Environments, when set, list the apps and environments to
	// report; empty means all.
	Apps         []string
	Environments []string
}

// Report holds the five DORA figures of each app in each environment
// over a period, and of all of them together.
type Report struct {
	// Since and Until are the period, as resolved from the [Query].
	Since, Until time.Time
	// Targets are the figures of each app and environment that has a
	// deployment before Until, by app then environment.
	Targets []Stats
	// Total pools the deployments of all Targets: its medians are over
	// all their values, its rates over all their deployments, and its
	// frequency is their sum. Its Deployments are those of the Targets
	// in their order (by target, then oldest first), and each target's
	// Deployments share its memory.
	Total Stats
}

// Days returns the length of the period in days, at least 1: the
// denominator of the deployment frequency.
func (r Report) Days() float64 { return periodDays(r.Since, r.Until) }

func periodDays(since, until time.Time) float64 {
	return max(float64(until.Sub(since))/float64(Day), 1)
}

// Stats are the DORA figures of one app in one environment (or, in
// [Report.Total], of many).
type Stats struct {
	App, Environment string
	// Deployments are the deployments in the period, oldest first.
	Deployments []Deployment
	// Frequency is how many deployments there were, per day.
	Frequency Frequency
	// LeadTime is the median change lead time over the deployments that
	// have one (see [Deployment.LeadTime]); values <= 0 are left out,
	// as Four Keys does.
	LeadTime Timing
	// ChangeFailRate is the share of deployments that failed
	// ([Deployment.Failed]).
	ChangeFailRate Rate
	// Recovery is the median failed deployment recovery time over the
	// failed deployments that recovered before Until; Unrecovered counts
	// the others.
	Recovery    Timing
	Unrecovered int
	// ReworkRate is the share of deployments that were unplanned
	// ([Deployment.Unplanned]).
	ReworkRate Rate
}

// Frequency is a deployment count over a period.
type Frequency struct {
	// Deployments is the count, PerDay the count over the period's days
	// ([Report.Days]).
	Deployments int
	PerDay      float64
	Band        Band
}

// Timing is the median of a set of durations and how many there were.
// With no value, Median is 0 and Band empty.
type Timing struct {
	Median time.Duration
	Count  int
	Band   Band
}

// Rate is Count out of Of. With Of zero, Value is 0 and Band empty.
type Rate struct {
	Count, Of int
	Value     float64
	Band      Band
}

// Deployment is one deploy, promote or rollback commit of an app in an
// environment, or one progressive rollout of package strategy (from its
// first step commit) or its abort, as dora reads it.
type Deployment struct {
	// Commit is the deploy commit, or a rollout's first step commit, or
	// the first commit of its abort.
	Commit           plumbing.Hash
	App, Environment string
	Action           gitops.Action
	// Time is the commit time.
	Time time.Time
	// Release is the image pinned by digest the commit put there
	// ("image@sha256:…"), Revision and SourceTime the source commit it
	// was built from and that commit's time; each may be empty.
	Release    string
	Revision   string
	SourceTime time.Time
	// Unplanned is set for a rollback (unless its Flightdeck-Change
	// trailer says planned), for the abort of a rollout, and for a
	// commit whose Flightdeck-Change trailer says unplanned: a fix made
	// because of a failure.
	Unplanned bool
	// VerifiedAt is the commit time of the first "verified" marker of
	// this deployment (see [VerdictVerified]): when it reached
	// Synced/Healthy and passed verification. Zero without one.
	VerifiedAt time.Time
	// Completed is, for a progressive rollout, the time of the step
	// commit that completed it: when the release took all the traffic.
	// Zero for other deployments and for rollouts that did not complete.
	Completed time.Time
	// LeadTime is the time from SourceTime to the deployment being good:
	// VerifiedAt, else Completed, else Time (a rollout that did not
	// complete has none). It is set only for a deploy, promote or rollout
	// that brings a change new to the environment (a source revision, or
	// without one a release, not delivered there before: deployed, or
	// rolled out to completion) and only when positive; zero otherwise.
	LeadTime time.Duration
	// Failed is set when the deployment needed a rollback or an
	// unplanned fix, or failed its verification; FailedBy is the commit
	// that says so (the rollback, the fix or the marker).
	Failed   bool
	FailedBy plumbing.Hash
	// RecoveredBy is the first later deployment of the app in the
	// environment that did not fail, and RecoveredAt when it was good
	// (its VerifiedAt, else its Completed, else its Time); zero while
	// unrecovered. Recovery is RecoveredAt minus Time.
	RecoveredBy plumbing.Hash
	RecoveredAt time.Time
	Recovery    time.Duration
}

// Recovered reports whether a failed deployment was recovered.
func (d Deployment) Recovered() bool { return !d.RecoveredAt.IsZero() }

// goodAt is when the deployment was good: VerifiedAt, else Completed,
// else Time.
func (d Deployment) goodAt() time.Time {
	t, _ := d.delivered()
	if t.IsZero() {
		return d.Time
	}
	return t
}

// delivered returns when the deployment's change reached the
// environment whole: VerifiedAt, else Completed, else Time for a commit
// that is not a rollout; false for a rollout that did not complete.
func (d Deployment) delivered() (time.Time, bool) {
	switch {
	case !d.VerifiedAt.IsZero():
		return d.VerifiedAt, true
	case !d.Completed.IsZero():
		return d.Completed, true
	case d.Action == ActionRolloutStep:
		return time.Time{}, false
	}
	return d.Time, true
}

// IsDeployment reports whether an entry is a deployment: a deploy,
// promote or rollback commit naming an app and an environment.
func IsDeployment(e gitops.Entry) bool {
	t := e.Trailers
	if t.App == "" || t.Environment == "" {
		return false
	}
	return t.Action == gitops.ActionDeploy || t.Action == gitops.ActionPromote || t.Action == gitops.ActionRollback
}

// Verdict returns the value of an entry's [gitops.TrailerVerified]
// trailer, lower-cased, when the entry is a verification marker: not a
// deployment itself, and naming an app and an environment.
func Verdict(e gitops.Entry) (string, bool) {
	t := e.Trailers
	if t.App == "" || t.Environment == "" || IsDeployment(e) {
		return "", false
	}
	v, ok := t.Extra.Get(gitops.TrailerVerified)
	return strings.ToLower(strings.TrimSpace(v)), ok
}

// unplanned reports whether a deployment entry is unplanned.
func unplanned(e gitops.Entry) bool {
	c, ok := e.Trailers.Extra.Get(gitops.TrailerChange)
	c = strings.ToLower(strings.TrimSpace(c))
	if e.Trailers.Action == gitops.ActionRollback {
		return !ok || c != gitops.ChangePlanned
	}
	return c == gitops.ChangeUnplanned
}

// Compute returns the report of q over entries, as [gitops.Repo.History]
// lists them (newest first; list every action, with
// HistoryQuery.AllActions, so that verification markers are read). It is
// what [Reader.Report] computes, for callers that hold a history
// already.
func Compute(entries []gitops.Entry, q Query) Report {
	old := slices.Clone(entries)
	slices.Reverse(old)
	if q.Until.IsZero() && len(old) > 0 {
		q.Until = endOfSecond(old[len(old)-1].Time)
	}
	return compute(old, groupTargets(old), q)
}

// endOfSecond returns the start of the second after t's.
func endOfSecond(t time.Time) time.Time { return t.Truncate(time.Second).Add(time.Second) }

// target is one app in one environment and the positions of its entries
// in the history, oldest first.
type target struct {
	app, env string
	idx      []int
	// newest is the latest commit time of the entries, and deps their
	// analysis over all of them (nil until made, and after an entry is
	// added): valid for any Until after newest.
	newest time.Time
	deps   []Deployment
}

// deployments returns the target's deployments committed before until,
// analysed, from the cache when it holds them all.
func (t *target) deployments(entries []gitops.Entry, until time.Time) []Deployment {
	if !t.newest.Before(until) {
		return analyse(entries, t.idx, until)
	}
	if t.deps == nil {
		t.deps = analyse(entries, t.idx, until)
		if t.deps == nil {
			t.deps = []Deployment{}
		}
	}
	return t.deps
}

type targetKey struct{ app, env string }

// groupTargets groups entries (oldest first) by app and environment,
// keeping deployments and markers only.
func groupTargets(entries []gitops.Entry) map[targetKey]*target {
	m := map[targetKey]*target{}
	for i := range entries {
		addEntry(m, entries, i)
	}
	return m
}

// addEntry adds entries[i] to its target if it is a deployment or a
// marker.
func addEntry(m map[targetKey]*target, entries []gitops.Entry, i int) {
	e := &entries[i]
	if kindOf(*e) == kindOther {
		return
	}
	k := targetKey{e.Trailers.App, e.Trailers.Environment}
	t := m[k]
	if t == nil {
		t = &target{app: k.app, env: k.env}
		m[k] = t
	}
	t.idx = append(t.idx, i)
	t.deps = nil
	if e.Time.After(t.newest) {
		t.newest = e.Time
	}
}

// compute builds the report of q over the targets of entries (oldest
// first). q.Until is set.
func compute(entries []gitops.Entry, targets map[targetKey]*target, q Query) Report {
	keys := make([]targetKey, 0, len(targets))
	for k := range targets {
		if (len(q.Apps) == 0 || slices.Contains(q.Apps, k.app)) &&
			(len(q.Environments) == 0 || slices.Contains(q.Environments, k.env)) {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b targetKey) int {
		if c := strings.Compare(a.app, b.app); c != 0 {
			return c
		}
		return strings.Compare(a.env, b.env)
	})
	all := make([][]Deployment, 0, len(keys))
	since := q.Since
	for _, k := range keys {
		deps := targets[k].deployments(entries, q.Until)
		if len(deps) == 0 {
			continue
		}
		if q.Since.IsZero() && (since.IsZero() || deps[0].Time.Before(since)) {
			since = deps[0].Time
		}
		all = append(all, deps)
	}
	if since.IsZero() || since.After(q.Until) {
		since = q.Until
	}
	rep := Report{Since: since, Until: q.Until}
	days := periodDays(since, q.Until)
	n := 0
	for _, deps := range all {
		n += len(deps)
	}
	pooled := make([]Deployment, 0, n)
	rep.Targets = make([]Stats, 0, len(all))
	for _, deps := range all {
		start := len(pooled)
		pooled = appendInPeriod(pooled, deps, since, q.Until)
		// Each target's deployments are a part of the pooled ones.
		st := stats(pooled[start:len(pooled):len(pooled)], days)
		st.App, st.Environment = deps[0].App, deps[0].Environment
		rep.Targets = append(rep.Targets, st)
	}
	rep.Total = stats(pooled, days)
	return rep
}

// appendInPeriod appends to out the deployments committed in [since,
// until). Commit times on a branch need not be in order, so it looks at
// them all.
func appendInPeriod(out, deps []Deployment, since, until time.Time) []Deployment {
	for _, d := range deps {
		if !d.Time.Before(since) && d.Time.Before(until) {
			out = append(out, d)
		}
	}
	return out
}

// analyse reads the deployments of one target from its entries (at idx
// in entries, oldest first) that were committed before until, and
// resolves their lead times, failures and recoveries.
func analyse(entries []gitops.Entry, idx []int, until time.Time) []Deployment {
	var deps []Deployment
	byCommit := map[string]int{}
	changes := map[string]bool{}
	fail := func(i int, by plumbing.Hash) {
		if !deps[i].Failed {
			deps[i].Failed, deps[i].FailedBy = true, by
		}
	}
	// rollout is the run of package strategy the target is in: its plan
	// and release, and its deployment; -1 when none is under way.
	rolloutKey, rollout := "", -1
	add := func(e *gitops.Entry, unplannedDeploy bool) int {
		t := e.Trailers
		d := Deployment{
			Commit: e.Commit, App: t.App, Environment: t.Environment, Action: t.Action,
			Time: e.Time, Release: t.Ref(), Revision: t.SourceRevision, SourceTime: t.SourceTime,
			Unplanned: unplannedDeploy,
		}
		change := changeOf(d)
		newChange := change != "" && !changes[change] && !isRollback(d.Action)
		// A rollout delivers its change when it completes; its abort's
		// trailers name the release it failed to deliver.
		if change != "" && d.Action != ActionRolloutStep && d.Action != ActionRolloutAbort {
			changes[change] = true
		}
		if newChange && !d.SourceTime.IsZero() {
			d.LeadTime = -1 // resolved below, once markers are read
		}
		byCommit[e.Commit.String()] = len(deps)
		deps = append(deps, d)
		return len(deps) - 1
	}
	for _, j := range idx {
		e := &entries[j]
		if !e.Time.Before(until) {
			continue
		}
		t := e.Trailers
		switch kindOf(*e) {
		case kindMarker:
			v, _ := Verdict(*e)
			i := markedDeployment(deps, byCommit, t)
			switch {
			case i < 0:
			case v == VerdictVerified:
				if deps[i].VerifiedAt.IsZero() {
					deps[i].VerifiedAt = e.Time
				}
			case v == VerdictFailed:
				fail(i, e.Commit)
			}
		case kindDeploy:
			rolloutKey, rollout = "", -1
			u := unplanned(*e)
			if u {
				reverts, _ := t.Extra.Get(gitops.TrailerReverts)
				if i := culprit(deps, byCommit, reverts); i >= 0 {
					fail(i, e.Commit)
				}
			}
			add(e, u)
		case kindRolloutStep:
			key := rolloutOf(t)
			if rollout < 0 || key != rolloutKey {
				rolloutKey, rollout = key, add(e, false)
			}
			if phase, _ := t.Extra.Get(TrailerRolloutPhase); phase == RolloutCompleted {
				deps[rollout].Completed = e.Time
				if c := changeOf(deps[rollout]); c != "" {
					changes[c] = true
				}
				rolloutKey, rollout = "", -1
			}
		case kindRolloutAbort:
			if rollout < 0 || rolloutOf(t) != rolloutKey {
				break // a later commit of an abort already counted, or of no run read
			}
			fail(rollout, e.Commit)
			add(e, true)
			rolloutKey, rollout = "", -1
		}
	}
	// Lead times and recoveries, now that every marker and failure is
	// known. next is the index of the first later deployment that did
	// not fail.
	next := -1
	for i := len(deps) - 1; i >= 0; i-- {
		d := &deps[i]
		if d.LeadTime < 0 {
			d.LeadTime = 0
			good, ok := d.delivered()
			if lt := good.Sub(d.SourceTime); ok && lt > 0 {
				d.LeadTime = lt
			}
		}
		if d.Failed && next >= 0 {
			r := deps[next]
			d.RecoveredBy, d.RecoveredAt = r.Commit, r.goodAt()
			d.Recovery = max(d.RecoveredAt.Sub(d.Time), 0)
		}
		if !d.Failed {
			next = i
		}
	}
	return deps
}

// changeOf identifies the change a deployment brings: its source
// revision, else its release.
func changeOf(d Deployment) string {
	if d.Revision != "" {
		return d.Revision
	}
	return d.Release
}

func isRollback(a gitops.Action) bool { return a == gitops.ActionRollback || a == ActionRolloutAbort }

// rolloutOf identifies the run a rollout commit belongs to: its plan and
// release.
func rolloutOf(t gitops.Trailers) string {
	h, _ := t.Extra.Get(gitops.TrailerPlanHash)
	return h + " " + t.Ref()
}

type entryKind int

const (
	kindOther entryKind = iota
	kindDeploy
	kindRolloutStep
	kindRolloutAbort
	kindMarker
)

// hasPlan reports whether t names the plan of a rollout: a step or abort
// commit without one is not part of a progressive rollout.
func hasPlan(t gitops.Trailers) bool {
	v, ok := t.Extra.Get(gitops.TrailerPlanHash)
	return ok && v != ""
}

// kindOf says what an entry is to dora.
func kindOf(e gitops.Entry) entryKind {
	t := e.Trailers
	if t.App == "" || t.Environment == "" {
		return kindOther
	}
	switch {
	case IsDeployment(e):
		return kindDeploy
	case t.Action == ActionRolloutStep && hasPlan(t):
		return kindRolloutStep
	case t.Action == ActionRolloutAbort && hasPlan(t):
		return kindRolloutAbort
	}
	if _, ok := Verdict(e); ok {
		return kindMarker
	}
	return kindOther
}

// markedDeployment returns the deployment a marker with trailers t is
// about: the one its Flightdeck-Deploy trailer names, else the newest one
// with the marker's digest when it records one, else the newest; -1 when
// there is none.
func markedDeployment(deps []Deployment, byCommit map[string]int, t gitops.Trailers) int {
	if c, ok := t.Extra.Get(TrailerDeploy); ok {
		if i, ok := byCommit[strings.ToLower(strings.TrimSpace(c))]; ok {
			return i
		}
	}
	for i := len(deps) - 1; i >= 0; i-- {
		if t.Digest == "" || strings.HasSuffix(deps[i].Release, "@"+t.Digest) {
			return i
		}
	}
	return -1
}

// culprit returns the deployment an unplanned one repairs: the one its
// Flightdeck-Reverts trailer names, else the newest planned one; -1 when
// there is none.
func culprit(deps []Deployment, byCommit map[string]int, reverts string) int {
	if i, ok := byCommit[strings.ToLower(strings.TrimSpace(reverts))]; ok {
		return i
	}
	for i := len(deps) - 1; i >= 0; i-- {
		if !deps[i].Unplanned {
			return i
		}
	}
	return -1
}

// stats computes the figures of deployments (in the period) over days.
func stats(deps []Deployment, days float64) Stats {
	st := Stats{Deployments: deps}
	n := len(deps)
	st.Frequency = Frequency{Deployments: n, PerDay: float64(n) / days}
	st.Frequency.Band = FrequencyBand(st.Frequency.PerDay)
	var lead, rec []time.Duration
	failed, unpl := 0, 0
	for _, d := range deps {
		if d.LeadTime > 0 {
			lead = append(lead, d.LeadTime)
		}
		if d.Failed {
			failed++
			if d.Recovered() {
				rec = append(rec, d.Recovery)
			} else {
				st.Unrecovered++
			}
		}
		if d.Unplanned {
			unpl++
		}
	}
	st.LeadTime = timing(lead, LeadTimeBand)
	st.Recovery = timing(rec, RecoveryBand)
	st.ChangeFailRate = rate(failed, n, ChangeFailRateBand)
	st.ReworkRate = rate(unpl, n, ReworkRateBand)
	return st
}

func timing(v []time.Duration, band func(time.Duration) Band) Timing {
	if len(v) == 0 {
		return Timing{}
	}
	m := Median(v)
	return Timing{Median: m, Count: len(v), Band: band(m)}
}

func rate(count, of int, band func(float64) Band) Rate {
	if of == 0 {
		return Rate{}
	}
	v := float64(count) / float64(of)
	return Rate{Count: count, Of: of, Value: v, Band: band(v)}
}

// Median returns the median of v as SQL's PERCENTILE_CONT(v, 0.5)
// computes it (what Four Keys uses): the middle value, or the mean of the
// two middle values when there is an even number of them; 0 for none.
// It does not change v.
func Median(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	a, b := s[n/2-1], s[n/2]
	return a + (b-a)/2
}
