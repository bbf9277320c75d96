package rollback

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Request asks [Controller.Rollback] to roll an environment back. The
// zero value of every field but Target (and Reason, for a manual
// rollback) is the default.
type Request struct {
	// Target is the app and environment.
	Target gitops.Target
	// To names the deploy to restore by commit (full or abbreviated
	// hash); empty means the last-known-good (see
	// [Controller.LastKnownGood]).
	To string
	// Reverts names the deploy being undone; empty means the current one.
	// A trigger sets it to the deploy it judged, so that it never undoes
	// a deploy it did not see.
	Reverts string
	// Trigger is what asks; empty means [TriggerManual].
	Trigger Trigger
	// Reason says why. Required for a manual rollback.
	Reason string
	// By is who asks; empty means the Controller's actor.
	By string
	// Evidence is what the trigger saw; it goes into the commit's body.
	Evidence *Evidence
	// Force rolls back although a rollout or promotion is in flight. Only
	// a manual rollback may force.
	Force bool
	// NoHold leaves the environment without a hold, and NoQuarantine the
	// digest rolled back from out of quarantine. By default a rollback
	// places both.
	NoHold, NoQuarantine bool
	// ArgoRollback recovers with Argo CD's own rollback API instead of a
	// sync of the rollback commit, when the Controller has one
	// ([WithArgoRollback]) and the application's auto-sync is off; the
	// rollback is written to Git all the same.
	ArgoRollback bool
	// DryRun computes the rollback commit and pushes nothing.
	DryRun bool
}

// Decision is what a rollback request came to.
type Decision string

// Decisions.
const (
	// RolledBack: the rollback commit was pushed.
	RolledBack Decision = "rolled_back"
	// AlreadyRolledBack: another process rolled the same deploy back
	// first; its commit is the outcome's.
	AlreadyRolledBack Decision = "already_rolled_back"
	// Superseded: the deploy the trigger judged is no longer the
	// environment's current one; nothing was done.
	Superseded Decision = "superseded"
	// Unchanged: the environment already is what the target deploy
	// left; nothing was done.
	Unchanged Decision = "unchanged"
	// Refused: a rollout or promotion is in flight, or there is nothing
	// to roll back to; the error says which.
	Refused Decision = "refused"
	// NotTriggered: a trigger fired no rollback (a verification that
	// passed, a policy that only records); see the trigger's result.
	NotTriggered Decision = "not_triggered"
)

// Outcome is the result of a rollback request.
type Outcome struct {
	// Target is the app and environment; Trigger what asked.
	Target  gitops.Target
	Trigger Trigger
	// Decision is what was done.
	Decision Decision
	// Reverted is the deploy undone, and Restored the deploy whose
	// overlay was restored.
	Reverted, Restored gitops.Entry
	// From is the release rolled back from, and Release the release
	// restored (zero where the overlay pins no digest).
	From, Release flightdeck.Release
	// Commit is the rollback commit (for AlreadyRolledBack, the other
	// process's); zero when none was made.
	Commit plumbing.Hash
	// Tree is the restored overlay's tree hash, equal to the restored
	// deploy's.
	Tree plumbing.Hash
	// Shared lists the inputs outside the overlay (a shared base, say)
	// that changed since the restored deploy and were left alone.
	Shared []gitops.SharedInput
	// Hold is the hold placed, nil with NoHold.
	Hold *gitops.Hold
	// Quarantined is the digest quarantined, "" when none.
	Quarantined string
	// Evidence is what the trigger saw.
	Evidence *Evidence
	// Status is the application's status after recovery; nil without a
	// Syncer.
	Status *gitops.AppStatus
	// Recovery says how the environment was brought back: "sync" (the
	// rollback commit), "sync-target" (the target revision, auto-sync on),
	// "argocd-rollback", or "" (no Syncer).
	Recovery string
	// Started, Committed and Recovered time the rollback on the
	// Controller's clock: the request, the push, and Synced/Healthy.
	Started, Committed, Recovered time.Time
}

// staleAttempts bounds how often a rollback decides again after another
// writer changed the environment under it.
const staleAttempts = 3

// Rollback rolls t's environment back to an earlier deploy (the request's
// To, or the last-known-good): it restores the overlay directory exactly
// as it was at that deploy's commit (configuration included; shared
// inputs such as a base edited since are left alone and listed), places a
// hold naming the release rolled back from, quarantines that digest, and
// pushes all of it as one commit whose trailers say what it is (action
// rollback, Flightdeck-Reverts, Flightdeck-Restores, Flightdeck-Reason,
// Flightdeck-Change unplanned, Flightdeck-Trigger) and whose body carries
// the evidence. Then, with a Syncer, it syncs exactly that revision and
// waits for it to be Synced and Healthy (see [Outcome.Recovery]).
//
// It is safe against other writers: the decision is made on one head,
// and the commit is refused if the overlay changed before the push
// (another process rolled it back first: [AlreadyRolledBack]; a new
// deploy: [Superseded]); two processes rolling back the same deploy make
// one commit. No trigger acts while a rollout or promotion is in flight
// (see [Controller.InFlight]); a manual request may Force.
//
// Errors wrap [ErrInvalidRequest], [ErrInFlight] (and gitops.ErrRefused),
// [ErrNoKnownGood], [ErrNotADeploy], [ErrNoDeploy], what the repository
// returns, or [ErrRecovery] after a pushed commit whose sync failed (the
// outcome then has the commit).
func (c *Controller) Rollback(ctx context.Context, req Request) (Outcome, error) {
	if req.Trigger == "" {
		req.Trigger = TriggerManual
	}
	out := Outcome{Target: req.Target, Trigger: req.Trigger, Evidence: req.Evidence, Started: c.now()}
	c.m.triggers.WithLabelValues(string(req.Trigger)).Inc()
	c.emit(ctx, Event{Kind: EventTrigger, Target: req.Target, Trigger: req.Trigger, Message: req.Reason})
	out, err := c.rollback(ctx, req, out)
	c.decided(ctx, &out, err)
	if err != nil || out.Decision != RolledBack || req.DryRun {
		return out, err
	}
	if err := c.recover(ctx, req, &out); err != nil {
		c.emit(ctx, Event{Kind: EventResult, Target: req.Target, Trigger: req.Trigger, Decision: out.Decision, Release: out.From, Outcome: &out, Commit: out.Commit.String(), Err: err})
		return out, err
	}
	c.emit(ctx, Event{Kind: EventResult, Target: req.Target, Trigger: req.Trigger, Decision: out.Decision, Release: out.From, Outcome: &out,
		Commit: out.Commit.String(), Message: recoveredMessage(out)})
	return out, nil
}

func (c *Controller) validate(req Request) error {
	t := req.Target
	if !validTarget(t) {
		return fmt.Errorf("%w: app %q, environment %q: want valid names", ErrInvalidRequest, t.App, t.Environment.Name)
	}
	switch req.Trigger {
	case TriggerManual:
		if strings.TrimSpace(req.Reason) == "" {
			return fmt.Errorf("%w: a manual rollback of %s needs a reason", ErrInvalidRequest, t)
		}
	case TriggerVerification, TriggerDegradation:
		if req.Force {
			return fmt.Errorf("%w: only a manual rollback may force past a rollout in flight", ErrInvalidRequest)
		}
	default:
		if strings.TrimSpace(string(req.Trigger)) == "" || strings.ContainsAny(string(req.Trigger), "\n\r") {
			return fmt.Errorf("%w: trigger %q", ErrInvalidRequest, req.Trigger)
		}
	}
	return nil
}

func (c *Controller) rollback(ctx context.Context, req Request, out Outcome) (Outcome, error) {
	t := req.Target
	where := fmt.Sprintf("roll back %s", t)
	if err := c.validate(req); err != nil {
		out.Decision = Refused
		return out, err
	}
	reverts := req.Reverts
	for attempt := 1; ; attempt++ {
		rev, head, err := c.head(ctx)
		if err != nil {
			return out, fmt.Errorf("%s: %w", where, err)
		}
		cur, err := c.Current(ctx, t, rev)
		if err != nil {
			out.Decision = Refused
			return out, fmt.Errorf("%s: %w", where, err)
		}
		if reverts == "" {
			reverts = cur.Commit.String()
		} else if len(reverts) < len(plumbing.ZeroHash.String()) {
			if full, err := c.Deploy(ctx, t, reverts, rev); err == nil {
				reverts = full.Commit.String()
			}
		}
		if cur.Commit.String() != reverts {
			// Someone acted since the trigger judged, or since the last
			// attempt.
			if r, _ := cur.Trailers.Extra.Get(gitops.TrailerReverts); cur.Trailers.Action == gitops.ActionRollback && r == reverts {
				out.Decision, out.Commit, out.Restored = AlreadyRolledBack, cur.Commit, cur
				out.Release, _ = cur.Release()
				return out, nil
			}
			out.Decision = Superseded
			out.Reverted = cur
			return out, nil
		}
		out.Reverted = cur
		out.From, _ = cur.Release()
		if !req.Force {
			why, err := c.InFlight(ctx, t, rev)
			if err != nil {
				return out, fmt.Errorf("%s: %w", where, err)
			}
			if why != "" {
				out.Decision = Refused
				return out, fmt.Errorf("%s: %w: %w: %s", where, gitops.ErrRefused, ErrInFlight, why)
			}
		}
		var to gitops.Entry
		if req.To != "" {
			to, err = c.Deploy(ctx, t, req.To, rev)
		} else {
			exclude := []string{cur.Commit.String()}
			if r, ok := cur.Trailers.Extra.Get(TrailerRestores); ok && cur.Trailers.Action == gitops.ActionRollback {
				exclude = append(exclude, r) // rolling a rollback back: what it restored is no good either
			}
			to, err = c.LastKnownGood(ctx, t, rev, exclude...)
		}
		if err != nil {
			out.Decision = Refused
			return out, fmt.Errorf("%s: %w", where, err)
		}
		if to.Commit == cur.Commit {
			out.Decision = Unchanged
			return out, nil
		}
		out.Restored = to
		if head.IsZero() {
			// The ReadWriter cannot say its head: the decision is on the
			// current deploy's commit.
			head = cur.Commit
		}
		restored, err := gitops.RestoreRelease(ctx, c.rw, c.restoreRequest(req, &out, head))
		out.Tree, out.Shared, out.Release = restored.Tree, restored.Shared, restored.Release
		switch {
		case err == nil:
		case errors.Is(err, gitops.ErrStale) && attempt < staleAttempts:
			c.o.logger.DebugContext(ctx, "environment changed under the rollback; deciding again", "target", t.String(), "attempt", attempt)
			continue
		default:
			if errors.Is(err, ErrInFlight) || errors.Is(err, gitops.ErrStale) {
				out.Decision = Refused
			}
			return out, fmt.Errorf("%s: %w", where, err)
		}
		if !restored.Result.Changed {
			out.Decision, out.Hold, out.Quarantined = Unchanged, nil, ""
			return out, nil
		}
		out.Decision, out.Commit, out.Committed = RolledBack, restored.Result.Commit, c.now()
		if req.DryRun {
			out.Commit = plumbing.ZeroHash
		}
		return out, nil
	}
}

// restoreRequest builds the restore of a rollback: trailers, message,
// hold and quarantine edits, the lock guard.
func (c *Controller) restoreRequest(req Request, out *Outcome, head plumbing.Hash) gitops.RestoreRequest {
	t := req.Target
	by := req.By
	if by == "" {
		by = c.o.actor
	}
	reason := strings.TrimSpace(req.Reason)
	if reason == "" {
		reason = string(req.Trigger)
		if req.Evidence != nil && req.Evidence.Summary != "" {
			reason = req.Evidence.Summary
		}
	}
	reason = oneLine(reason)
	var x gitops.Extra
	x.Set(gitops.TrailerReverts, out.Reverted.Commit.String())
	x.Set(TrailerRestores, out.Restored.Commit.String())
	x.Set(gitops.TrailerReason, reason)
	x.Set(gitops.TrailerChange, gitops.ChangeUnplanned)
	x.Set(TrailerTrigger, string(req.Trigger))

	now := c.now()
	var edits []gitops.Edit
	out.Hold, out.Quarantined = nil, ""
	if !req.NoHold {
		h := gitops.Hold{App: t.App, Environment: t.Environment.Name, By: by, At: now, Reason: reason,
			Reverts: out.Reverted.Commit.String(), Restored: out.Restored.Commit.String(), Trigger: string(req.Trigger)}
		if rel, ok := out.Reverted.Release(); ok {
			h.From = rel.Ref()
		}
		out.Hold = &h
		edits = append(edits, gitops.EditFunc(func(tree *gitops.Tree) error {
			data, err := h.Marshal()
			if err != nil {
				return err
			}
			return tree.WriteFile(gitops.HoldPath(t.App, t.Environment.Name), data)
		}))
	}
	from, ok := out.Reverted.Release()
	restored, _ := out.Restored.Release()
	if !req.NoQuarantine && ok && from.Digest != restored.Digest {
		out.Quarantined = from.Digest
		edits = append(edits, quarantineEdit(t, gitops.QuarantinedDigest{Digest: from.Digest, Image: from.Image, By: by, At: now, Reason: reason}))
	}
	return gitops.RestoreRequest{
		Target: t, To: out.Restored.Commit, DecidedAt: head,
		Message: c.rollbackMessage(req, out, reason, by),
		Extra:   x, Edits: edits, Guards: []gitops.Guard{lockGuard(t)}, DryRun: req.DryRun,
	}
}

// quarantineEdit adds d to t's quarantine, as the tree holds it.
func quarantineEdit(t gitops.Target, d gitops.QuarantinedDigest) gitops.Edit {
	return gitops.EditFunc(func(tree *gitops.Tree) error {
		q, err := gitops.ReadQuarantine(tree, t.App, t.Environment.Name)
		if err != nil {
			return err
		}
		if q == nil {
			q = &gitops.Quarantine{App: t.App, Environment: t.Environment.Name}
		}
		if q.Find(d.Digest) != nil {
			return nil
		}
		q.Digests = append(q.Digests, d)
		data, err := q.Marshal()
		if err != nil {
			return err
		}
		return tree.WriteFile(gitops.QuarantinePath(t.App, t.Environment.Name), data)
	})
}

// rollbackMessage is the rollback commit's message without trailers: a
// subject, what it does, and the evidence.
func (c *Controller) rollbackMessage(req Request, out *Outcome, reason, by string) string {
	t := req.Target
	var b strings.Builder
	fmt.Fprintf(&b, "rollback %s in %s to %s (%s)\n\n", t.App, t.Environment.Name, out.Restored.Commit.String()[:12], req.Trigger)
	fmt.Fprintf(&b, "Asked by %s (%s): %s\n", by, req.Trigger, reason)
	fmt.Fprintf(&b, "Reverts %s (%s)\n", out.Reverted.Commit.String()[:12], releaseText(out.Reverted))
	fmt.Fprintf(&b, "Restores the overlay %s exactly as at %s (%s)\n", t.Overlay(), out.Restored.Commit.String()[:12], releaseText(out.Restored))
	if !req.NoHold {
		fmt.Fprintf(&b, "Holds %s (%s) until lifted\n", t, gitops.HoldPath(t.App, t.Environment.Name))
	}
	if out.Quarantined != "" {
		fmt.Fprintf(&b, "Quarantines %s for %s\n", out.Quarantined, t)
	}
	if req.Evidence != nil {
		b.WriteString("\n")
		b.WriteString(req.Evidence.Text())
	}
	return b.String()
}

func releaseText(e gitops.Entry) string {
	if rel, ok := e.Release(); ok {
		return rel.Ref()
	}
	return string(e.Trailers.Action)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 300
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

// decided records the decision of a rollback request in events and
// metrics.
func (c *Controller) decided(ctx context.Context, out *Outcome, err error) {
	d := out.Decision
	if d == "" {
		d = "error"
	}
	c.m.decisions.WithLabelValues(string(out.Trigger), string(d)).Inc()
	ev := Event{Kind: EventDecision, Target: out.Target, Trigger: out.Trigger, Decision: out.Decision, Release: out.From, Outcome: out, Err: err}
	switch out.Decision {
	case RolledBack:
		ev.Commit = out.Commit.String()
		ev.Message = fmt.Sprintf("restored %s, reverting %s", out.Restored.Commit.String()[:12], out.Reverted.Commit.String()[:12])
		if len(out.Shared) > 0 {
			var paths []string
			for _, s := range out.Shared {
				paths = append(paths, s.Path)
			}
			ev.Message += "; left alone: " + strings.Join(paths, ", ")
		}
		if !out.Committed.IsZero() {
			c.m.duration.WithLabelValues(string(out.Trigger), "commit").Observe(out.Committed.Sub(out.Started).Seconds())
		}
	case AlreadyRolledBack:
		ev.Commit = out.Commit.String()
	}
	c.emit(ctx, ev)
}
