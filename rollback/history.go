package rollback

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// deployActions are the actions whose commits put a release (or a step of
// one) into an environment: the commits a rollback can revert or restore,
// and a verification can judge.
var deployActions = []gitops.Action{gitops.ActionDeploy, gitops.ActionPromote, gitops.ActionRollback, gitops.ActionStep}

// maxHistoryPage caps how many entries one History read asks for.
const maxHistoryPage = 64

// each calls fn with the entries of q from revision on, newest first,
// until fn returns false or history ends. It reads in pages that start
// at one entry and double: History walks until it has filled a page, so
// a small first page keeps the common case (the answer is the newest
// match) from walking the whole history.
func (c *Controller) each(ctx context.Context, q gitops.HistoryQuery, fn func(gitops.Entry) (bool, error)) error {
	q.Limit = 1
	for {
		entries, err := c.rw.History(ctx, q)
		if err != nil {
			return err
		}
		for _, e := range entries {
			more, err := fn(e)
			if err != nil || !more {
				return err
			}
		}
		if len(entries) < q.Limit || entries[len(entries)-1].Parent.IsZero() {
			return nil
		}
		q.Revision = entries[len(entries)-1].Parent.String()
		q.Limit = min(2*q.Limit, maxHistoryPage)
	}
}

// Current returns the environment's current deploy at revision ("" for
// the branch head): the newest deploy, promote, rollback or strategy step
// commit flightdeck wrote for the app and environment. It returns an
// error wrapping [ErrNoDeploy] when there is none.
func (c *Controller) Current(ctx context.Context, t gitops.Target, revision string) (gitops.Entry, error) {
	entries, err := c.rw.History(ctx, gitops.HistoryQuery{App: t.App, Environment: t.Environment.Name,
		Actions: deployActions, Revision: revision, Limit: 1})
	if err != nil {
		return gitops.Entry{}, fmt.Errorf("current deploy of %s: %w", t, err)
	}
	if len(entries) == 0 {
		return gitops.Entry{}, fmt.Errorf("current deploy of %s: %w", t, ErrNoDeploy)
	}
	return entries[0], nil
}

// Deploy returns the deploy commit named by commit (a full or
// abbreviated hash) if it is a deploy, promote, rollback or step commit
// of t reachable from revision; otherwise an error wrapping
// [ErrNotADeploy].
func (c *Controller) Deploy(ctx context.Context, t gitops.Target, commit, revision string) (gitops.Entry, error) {
	e, err := c.deployEntry(ctx, t, commit)
	if err != nil {
		return e, err
	}
	// It must be on the branch the environment is read from. The walk
	// looks for deploys of the same release only, so it stops at e
	// after few matches.
	found := false
	q := gitops.HistoryQuery{App: t.App, Environment: t.Environment.Name, Actions: deployActions, Revision: revision,
		Image: e.Trailers.Image, Digest: e.Trailers.Digest}
	err = c.each(ctx, q, func(x gitops.Entry) (bool, error) {
		found = x.Commit == e.Commit
		return !found, nil
	})
	if err != nil {
		return gitops.Entry{}, fmt.Errorf("deploy %s of %s: %w", commit, t, err)
	}
	if !found {
		return gitops.Entry{}, fmt.Errorf("%w: %s is not on the branch", ErrNotADeploy, commit)
	}
	return e, nil
}

// deployEntry returns the entry of commit if it is a deploy, promote,
// rollback or step commit of t.
func (c *Controller) deployEntry(ctx context.Context, t gitops.Target, commit string) (gitops.Entry, error) {
	entries, err := c.rw.History(ctx, gitops.HistoryQuery{Revision: commit, AllActions: true, Limit: 1})
	switch {
	case errors.Is(err, gitops.ErrNotExist):
		return gitops.Entry{}, fmt.Errorf("%w: %s: no such commit", ErrNotADeploy, commit)
	case err != nil:
		return gitops.Entry{}, fmt.Errorf("deploy %s of %s: %w", commit, t, err)
	}
	if len(entries) == 0 || !strings.HasPrefix(entries[0].Commit.String(), strings.ToLower(commit)) {
		return gitops.Entry{}, fmt.Errorf("%w: %s is not a commit flightdeck wrote", ErrNotADeploy, commit)
	}
	e := entries[0]
	q := gitops.HistoryQuery{App: t.App, Environment: t.Environment.Name, Actions: deployActions}
	if !q.Matches(e) {
		return gitops.Entry{}, fmt.Errorf("%w: %s is a %s of %s in %s, not a deploy of %s", ErrNotADeploy, commit,
			e.Trailers.Action, e.Trailers.App, e.Trailers.Environment, t)
	}
	return e, nil
}

// Verdict is one verification marker read back from Git.
type Verdict struct {
	// Entry is the marker's commit.
	Entry gitops.Entry
	// Deploy is the hash of the deploy commit it judged.
	Deploy string
	// Verdict is [Verified], [Failed] or [Inconclusive].
	Verdict string
}

// Verdicts lists the verification markers of t from revision ("" for
// the branch head), newest first, at most limit (0: all).
func (c *Controller) Verdicts(ctx context.Context, t gitops.Target, revision string, limit int) ([]Verdict, error) {
	var out []Verdict
	err := c.each(ctx, gitops.HistoryQuery{App: t.App, Environment: t.Environment.Name, Actions: []gitops.Action{ActionVerify}, Revision: revision},
		func(e gitops.Entry) (bool, error) {
			v, _ := e.Trailers.Extra.Get(gitops.TrailerVerified)
			d, _ := e.Trailers.Extra.Get(TrailerDeploy)
			out = append(out, Verdict{Entry: e, Deploy: d, Verdict: v})
			return limit <= 0 || len(out) < limit, nil
		})
	if err != nil {
		return nil, fmt.Errorf("verdicts of %s: %w", t, err)
	}
	return out, nil
}

// LastKnownGood returns the last-known-good deploy of t at revision (""
// for the branch head): the newest deploy whose newest verification
// marker says [Verified], leaving out the commits in exclude and deploys
// of a digest quarantined for the environment. A rollback commit that
// failed its verification leaves out the deploy it restored too. It returns an error
// wrapping [ErrNoKnownGood] when there is none: the previous commit is
// never taken for a good one merely for being earlier.
func (c *Controller) LastKnownGood(ctx context.Context, t gitops.Target, revision string, exclude ...string) (gitops.Entry, error) {
	where := "last-known-good of " + t.String()
	q, err := gitops.ReadQuarantineAt(ctx, c.rw, revision, t.App, t.Environment.Name)
	if err != nil {
		return gitops.Entry{}, fmt.Errorf("%s: %w", where, err)
	}
	judged := map[string]bool{}
	for _, x := range exclude {
		judged[x] = true
	}
	var good string
	err = c.each(ctx, gitops.HistoryQuery{App: t.App, Environment: t.Environment.Name, Actions: []gitops.Action{ActionVerify}, Revision: revision},
		func(e gitops.Entry) (bool, error) {
			d, _ := e.Trailers.Extra.Get(TrailerDeploy)
			v, _ := e.Trailers.Extra.Get(gitops.TrailerVerified)
			if d == "" || judged[d] {
				return true, nil
			}
			judged[d] = true // the newest verdict of a deploy is its verdict
			if v != Verified {
				// A rollback that failed its verification condemns the
				// deploy it restored as well: that state failed now.
				if r, ok := e.Trailers.Extra.Get(TrailerRestores); ok {
					judged[r] = true
				}
				return true, nil
			}
			if q.Find(e.Trailers.Digest) != nil {
				return true, nil
			}
			good = d
			return false, nil
		})
	if err != nil {
		return gitops.Entry{}, fmt.Errorf("%s: %w", where, err)
	}
	if good == "" {
		return gitops.Entry{}, fmt.Errorf("%s: %w: no deploy there has been verified", where, ErrNoKnownGood)
	}
	// A marker reachable from revision names a deploy before it on the
	// same linear history.
	e, err := c.deployEntry(ctx, t, good)
	if err != nil {
		return gitops.Entry{}, fmt.Errorf("%s: %w", where, err)
	}
	return e, nil
}

// TrailerRolloutPhase is the trailer in which package strategy's runner
// records a run's phase after each of its commits (Progressing, Paused,
// Aborted, Completed); [Controller.InFlight] reads it.
const TrailerRolloutPhase = gitops.TrailerRolloutPhase

// rolloutActions are the actions of the commits that can start, move or
// end a rollout: releases put in place, and package strategy's abort and
// control commits.
var rolloutActions = append(append([]gitops.Action(nil), deployActions...), gitops.ActionAbort, gitops.ActionRolloutControl)

// InFlight says whether a rollout or a promotion is in progress for t at
// revision ("" for the branch head), and why. It reads Git only:
//
//   - a lock file at [gitops.LockPath] (written by a promotion or a
//     rollout when it starts, removed when it ends) means one is;
//   - otherwise the newest deploy, promote, rollback, strategy step,
//     abort or rollout-control commit of the app in the environment
//     decides: with a [TrailerRolloutPhase] trailer, the rollout is in
//     flight while that phase is Progressing or Paused (Completed and
//     Aborted end it); a step commit ([gitops.ActionStep]) without one
//     is in flight while its [gitops.TrailerStep] "n/m" is short of the
//     plan's last step (n < m), or unreadable. Any later deploy, promote
//     or rollback ends it.
//
// It returns "" when nothing is in flight.
func (c *Controller) InFlight(ctx context.Context, t gitops.Target, revision string) (string, error) {
	data, err := c.rw.ReadFile(ctx, revision, gitops.LockPath(t.App, t.Environment.Name))
	switch {
	case err == nil:
		return lockReason(t, data), nil
	case !errors.Is(err, gitops.ErrNotExist):
		return "", fmt.Errorf("in-flight state of %s: %w", t, err)
	}
	entries, err := c.rw.History(ctx, gitops.HistoryQuery{App: t.App, Environment: t.Environment.Name,
		Actions: rolloutActions, Revision: revision, Limit: 1})
	if err != nil {
		return "", fmt.Errorf("in-flight state of %s: %w", t, err)
	}
	if len(entries) == 0 {
		return "", nil
	}
	return rolloutInFlight(entries[0]), nil
}

// rolloutInFlight returns why the commit e leaves a rollout in flight, or
// "".
func rolloutInFlight(e gitops.Entry) string {
	step, _ := e.Trailers.Extra.Get(gitops.TrailerStep)
	where := fmt.Sprintf("a rollout of %s in %s", e.Trailers.App, e.Trailers.Environment)
	at := fmt.Sprintf("(commit %s)", e.Commit.String()[:12])
	if phase, ok := e.Trailers.Extra.Get(TrailerRolloutPhase); ok {
		switch phase {
		case gitops.RolloutProgressing, gitops.RolloutPaused:
			return fmt.Sprintf("%s is %s at step %q %s", where, phase, step, at)
		}
		return ""
	}
	if e.Trailers.Action != gitops.ActionStep {
		return ""
	}
	if n, m, ok := parseStep(step); ok && n >= m {
		return ""
	}
	return fmt.Sprintf("%s is at step %q %s", where, step, at)
}

func parseStep(s string) (n, m int, ok bool) {
	a, b, found := strings.Cut(strings.TrimSpace(s), "/")
	if !found {
		return 0, 0, false
	}
	n, err1 := strconv.Atoi(a)
	m, err2 := strconv.Atoi(b)
	return n, m, err1 == nil && err2 == nil && n >= 1 && m >= 1
}

// lockReason describes a lock file.
func lockReason(t gitops.Target, data []byte) string {
	var l struct {
		By     string `yaml:"by"`
		At     string `yaml:"at"`
		Reason string `yaml:"reason"`
	}
	_ = yaml.Unmarshal(data, &l)
	msg := fmt.Sprintf("%s is locked (%s)", t, gitops.LockPath(t.App, t.Environment.Name))
	if l.By != "" {
		msg += " by " + l.By
	}
	if l.At != "" {
		msg += " since " + l.At
	}
	if l.Reason != "" {
		msg += ": " + l.Reason
	}
	return msg
}

// lockGuard refuses a change while the tree holds a lock file for t,
// atomically with the push.
func lockGuard(t gitops.Target) gitops.Guard {
	return gitops.GuardFunc(func(tree *gitops.Tree, _ gitops.Intent) error {
		data, err := tree.ReadFile(gitops.LockPath(t.App, t.Environment.Name))
		if err != nil {
			return nil
		}
		return fmt.Errorf("%w: %w: %s", gitops.ErrRefused, ErrInFlight, lockReason(t, data))
	})
}
