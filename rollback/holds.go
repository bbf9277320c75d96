package rollback

import (
	"context"
	"fmt"
	"strings"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// HoldRequest asks to place, lift or clear a hold. Target and Reason are
// required.
type HoldRequest struct {
	// Target is the app and environment.
	Target gitops.Target
	// Digest is the quarantined digest to clear ([Controller.Clear]
	// only).
	Digest string
	// By is who asks; empty means the Controller's actor.
	By string
	// Reason says why; it is recorded in the commit.
	Reason string
}

func (c *Controller) holdChange(req HoldRequest, what, subject string, edit gitops.Edit) (gitops.Change, error) {
	t := req.Target
	if !validTarget(t) {
		return gitops.Change{}, fmt.Errorf("%w: app %q, environment %q", ErrInvalidRequest, t.App, t.Environment.Name)
	}
	if strings.TrimSpace(req.Reason) == "" {
		return gitops.Change{}, fmt.Errorf("%w: %s needs a reason", ErrInvalidRequest, subject)
	}
	by := req.By
	if by == "" {
		by = c.o.actor
	}
	tr := gitops.Trailers{Action: ActionHold, App: t.App, Environment: t.Environment.Name}
	tr.Extra.Set(TrailerHold, what)
	tr.Extra.Set(gitops.TrailerReason, oneLine(req.Reason))
	msg := fmt.Sprintf("%s\n\n%s by %s: %s\n", subject, strings.ToUpper(what[:1])+strings.ReplaceAll(what[1:], "-", " "), by, oneLine(req.Reason))
	return gitops.Change{Message: msg, Trailers: tr, Edits: []gitops.Edit{edit}}, nil
}

// Hold places a hold on the environment by hand (a rollback places its
// own): every flightdeck writer refuses to deploy there until it is
// lifted. A hold already there is replaced.
func (c *Controller) Hold(ctx context.Context, req HoldRequest) (gitops.Result, error) {
	t := req.Target
	by := req.By
	if by == "" {
		by = c.o.actor
	}
	h := gitops.Hold{App: t.App, Environment: t.Environment.Name, By: by, At: c.now(), Reason: oneLine(req.Reason), Trigger: string(TriggerManual)}
	ch, err := c.holdChange(req, HoldPlaced, fmt.Sprintf("hold %s in %s", t.App, t.Environment.Name), gitops.EditFunc(func(tree *gitops.Tree) error {
		data, err := h.Marshal()
		if err != nil {
			return err
		}
		return tree.WriteFile(gitops.HoldPath(t.App, t.Environment.Name), data)
	}))
	if err != nil {
		return gitops.Result{}, fmt.Errorf("hold %s: %w", t, err)
	}
	res, err := c.rw.Apply(ctx, ch)
	if err != nil {
		return res, fmt.Errorf("hold %s: %w", t, err)
	}
	c.emit(ctx, Event{Kind: EventHold, Target: t, Verdict: HoldPlaced, Commit: res.Commit.String(), Message: h.String()})
	return res, nil
}

// Lift lifts the environment's hold: the hold file is removed, in a
// commit saying who and why, and the next deploy goes through (a digest
// still quarantined there stays refused; see [Controller.Clear]). It
// returns an error wrapping [ErrNoHold] when there is none.
func (c *Controller) Lift(ctx context.Context, req HoldRequest) (gitops.Result, error) {
	t := req.Target
	var lifted *gitops.Hold
	ch, err := c.holdChange(req, HoldLifted, fmt.Sprintf("lift the hold of %s in %s", t.App, t.Environment.Name), gitops.EditFunc(func(tree *gitops.Tree) error {
		h, _ := gitops.ReadHold(tree, t.App, t.Environment.Name)
		if h == nil {
			return fmt.Errorf("%w: %s has no hold", ErrNoHold, t)
		}
		lifted = h
		return tree.Remove(gitops.HoldPath(t.App, t.Environment.Name))
	}))
	if err != nil {
		return gitops.Result{}, fmt.Errorf("lift %s: %w", t, err)
	}
	res, err := c.rw.Apply(ctx, ch)
	if err != nil {
		return res, fmt.Errorf("lift %s: %w", t, err)
	}
	by := req.By
	if by == "" {
		by = c.o.actor
	}
	// "by jo: the fix is ready (the hold since … by …: reason)": who
	// lifted it and why, then the hold that was lifted.
	msg := fmt.Sprintf("by %s: %s", by, oneLine(req.Reason))
	if lifted != nil {
		msg += " (the hold" + strings.TrimPrefix(lifted.String(), fmt.Sprintf("%s in %s is on hold", lifted.App, lifted.Environment)) + ")"
	}
	c.emit(ctx, Event{Kind: EventHold, Target: t, Verdict: HoldLifted, Commit: res.Commit.String(), Message: msg})
	return res, nil
}

// Clear takes req.Digest out of the environment's quarantine, so it may
// be deployed there again. It returns an error wrapping [ErrNoHold] when
// the digest is not quarantined there.
func (c *Controller) Clear(ctx context.Context, req HoldRequest) (gitops.Result, error) {
	t := req.Target
	if req.Digest == "" {
		return gitops.Result{}, fmt.Errorf("clear quarantine of %s: %w: no digest", t, ErrInvalidRequest)
	}
	ch, err := c.holdChange(req, QuarantineCleared, fmt.Sprintf("clear %s from the quarantine of %s in %s", req.Digest, t.App, t.Environment.Name),
		gitops.EditFunc(func(tree *gitops.Tree) error {
			q, err := gitops.ReadQuarantine(tree, t.App, t.Environment.Name)
			if err != nil {
				return err
			}
			if q.Find(req.Digest) == nil {
				return fmt.Errorf("%w: %s is not quarantined for %s", ErrNoHold, req.Digest, t)
			}
			keep := q.Digests[:0]
			for _, d := range q.Digests {
				if d.Digest != req.Digest {
					keep = append(keep, d)
				}
			}
			p := gitops.QuarantinePath(t.App, t.Environment.Name)
			if len(keep) == 0 {
				return tree.Remove(p)
			}
			q.Digests = keep
			data, err := q.Marshal()
			if err != nil {
				return err
			}
			return tree.WriteFile(p, data)
		}))
	if err != nil {
		return gitops.Result{}, fmt.Errorf("clear quarantine of %s: %w", t, err)
	}
	res, err := c.rw.Apply(ctx, ch)
	if err != nil {
		return res, fmt.Errorf("clear quarantine of %s: %w", t, err)
	}
	c.emit(ctx, Event{Kind: EventHold, Target: t, Verdict: QuarantineCleared, Commit: res.Commit.String(), Message: req.Digest})
	return res, nil
}

func validTarget(t gitops.Target) bool {
	return flightdeck.ValidName(t.App) && flightdeck.ValidName(t.Environment.Name)
}
