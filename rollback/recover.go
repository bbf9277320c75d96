package rollback

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/health"
)

// Recovery methods, the values of [Outcome.Recovery].
const (
	// RecoverSync: the rollback commit was synced by revision.
	RecoverSync = "sync"
	// RecoverSyncTarget: auto-sync is on, so Argo CD syncs only its
	// target revision; the application was refreshed and synced to it,
	// and the wait required the rollback commit.
	RecoverSyncTarget = "sync-target"
	// RecoverArgoRollback: Argo CD's own rollback API restored the
	// restored deploy's revision.
	RecoverArgoRollback = "argocd-rollback"
)

// recover brings the environment back after the rollback commit: a sync
// of exactly that revision (or, with auto-sync on, of the target
// revision, waiting for that commit), or Argo CD's rollback when asked
// and allowed, then a wait for Synced and Healthy.
func (c *Controller) recover(ctx context.Context, req Request, out *Outcome) error {
	if c.o.syncer == nil {
		return nil
	}
	app := c.o.appName(req.Target)
	where := fmt.Sprintf("recover %s (app %q) at %s", req.Target, app, out.Commit.String()[:12])
	if req.ArgoRollback && c.o.argo != nil {
		done, err := c.argoRollback(ctx, app, out)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrRecovery, where, err)
		}
		if done {
			c.recovered(out)
			return nil
		}
	}
	commit := out.Commit.String()
	method, err := c.syncCommit(ctx, app, commit)
	out.Recovery = method
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRecovery, where, err)
	}
	st, err := gitops.WaitFor(ctx, c.o.syncer, c.waitOptions(app, commit))
	out.Status = &st
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrRecovery, where, err)
	}
	c.recovered(out)
	return nil
}

// syncCommit asks the Syncer to sync app to commit, and says how: by
// revision ([RecoverSync]) or, when auto-sync is on and Argo CD refuses
// any revision but its target, by a refresh and a sync of the target
// revision ([RecoverSyncTarget]), which the caller's wait then requires
// to be commit. An operation already in progress (auto-sync got there
// first) is left to the wait.
func (c *Controller) syncCommit(ctx context.Context, app, commit string) (string, error) {
	method := RecoverSync
	err := c.o.syncer.Sync(ctx, gitops.SyncRequest{App: app, Revision: commit, Prune: c.o.prune})
	if errors.Is(err, argocd.ErrAutoSyncRevision) {
		method = RecoverSyncTarget
		if r, ok := c.o.syncer.(gitops.Refresher); ok {
			if err := r.Refresh(ctx, app); err != nil {
				c.o.logger.WarnContext(ctx, "refresh before the sync failed", "app", app, "err", err)
			}
		}
		err = c.o.syncer.Sync(ctx, gitops.SyncRequest{App: app, Prune: c.o.prune})
	}
	if errors.Is(err, argocd.ErrOperationInProgress) {
		err = nil
	}
	return method, err
}

func (c *Controller) recovered(out *Outcome) {
	out.Recovered = c.now()
	c.m.duration.WithLabelValues(string(out.Trigger), "recovered").Observe(out.Recovered.Sub(out.Started).Seconds())
}

func recoveredMessage(out Outcome) string {
	if out.Recovered.IsZero() {
		return "rollback committed"
	}
	return fmt.Sprintf("recovered by %s in %s", out.Recovery, out.Recovered.Sub(out.Started).Round(time.Millisecond))
}

// argoRollback recovers with Argo CD's rollback API to the restored
// deploy's revision. It reports false, and does nothing, when auto-sync
// is on (Argo CD refuses the rollback then) or Argo CD's history has no
// sync of that revision.
func (c *Controller) argoRollback(ctx context.Context, app string, out *Outcome) (bool, error) {
	a, err := c.o.argo.Get(ctx, app, "")
	if err != nil {
		return false, err
	}
	if a.Spec.SyncPolicy != nil && a.Spec.SyncPolicy.Automated != nil {
		c.o.logger.InfoContext(ctx, "auto-sync is on, so Argo CD refuses its rollback API; syncing the rollback commit instead", "app", app)
		return false, nil
	}
	want := out.Restored.Commit.String()
	id := int64(-1)
	for _, h := range a.Status.History {
		if gitops.RevisionMatches(want, h.Revision) || h.Revision == want {
			id = h.ID
		}
	}
	if id < 0 {
		c.o.logger.InfoContext(ctx, "Argo CD never synced the restored revision; syncing the rollback commit instead", "app", app, "revision", want)
		return false, nil
	}
	if err := c.o.argo.Rollback(ctx, app, id, argocd.RollbackOptions{}); err != nil {
		return false, err
	}
	out.Recovery = RecoverArgoRollback
	st, err := c.waitRolledBack(ctx, app, want)
	out.Status = &st
	return err == nil, err
}

// waitRolledBack waits until Argo CD's rollback to revision has
// succeeded and the application has been Healthy for the wait's
// StableFor. (gitops.WaitFor cannot: after Argo CD's rollback the
// application's compared revision stays the target revision while the
// operation synced an older one.)
func (c *Controller) waitRolledBack(ctx context.Context, app, revision string) (gitops.AppStatus, error) {
	w := c.waitOptions(app, revision)
	clk := clock.Or(w.Clock)
	poll, stable := w.PollInterval, w.StableFor
	if poll <= 0 {
		poll = gitops.DefaultPollInterval
	}
	if stable == 0 {
		stable = gitops.DefaultStableFor
	}
	deadline := clk.Now().Add(w.Timeout)
	var since time.Time
	var last gitops.AppStatus
	for {
		a, err := c.o.argo.Get(ctx, app, "")
		if err != nil {
			return last, err
		}
		last = argocd.ToAppStatus(a)
		op := a.Status.OperationState
		switch {
		case op == nil || op.SyncResult == nil || !gitops.RevisionMatches(revision, op.SyncResult.Revision) && op.SyncResult.Revision != revision:
			since = time.Time{}
		case op.Phase == gitops.OpFailed || op.Phase == gitops.OpError:
			return last, fmt.Errorf("%w: Argo CD's rollback to %s: %s", gitops.ErrOperationFailed, revision, op.Message)
		case op.Phase == gitops.OpSucceeded && last.Health == health.Healthy:
			if since.IsZero() {
				since = clk.Now()
			}
			if clk.Now().Sub(since) >= stable {
				return last, nil
			}
		default:
			since = time.Time{}
		}
		if w.Timeout > 0 && !clk.Now().Before(deadline) {
			return last, fmt.Errorf("%w: Argo CD's rollback to %s: health %s", gitops.ErrWaitTimeout, revision, last.Health)
		}
		if err := clock.Sleep(ctx, clk, poll); err != nil {
			return last, err
		}
	}
}
