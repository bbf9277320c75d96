package doratest

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// ErrNoCommit is returned by the [Recorder]'s methods when the change
// left the tree as it was, so nothing was committed (for example a
// deploy of the release already pinned there).
var ErrNoCommit = errors.New("doratest: nothing to commit")

// Release returns release number n of app: its image is
// gitopstest.Image(app) (the image of gitopstest.KustomizeLayout), its
// digest and source revision are derived from app and n, its tag is
// "1.0.<n>", and its source commit time is sourceTime.
func Release(app string, n int, sourceTime time.Time) flightdeck.Release {
	return flightdeck.Release{
		App:        app,
		Image:      gitopstest.Image(app),
		Digest:     fmt.Sprintf("sha256:%x", sha256.Sum256(fmt.Appendf(nil, "%s/%d", app, n))),
		Tag:        fmt.Sprintf("1.0.%d", n),
		SourceRepo: "https://git.example.com/team/" + app,
		Revision:   fmt.Sprintf("%x", sha1.Sum(fmt.Appendf(nil, "%s/%d", app, n))),
		Time:       sourceTime,
	}
}

// Recorder writes the commits dora reads through W, in the layout of
// gitopstest.KustomizeLayout (overlays/<environment> of each app). The
// commits' times are those of W's clock: give gitopstest.Fake a
// clocktest.Clock and advance it between calls. A Recorder is safe for
// concurrent use.
type Recorder struct {
	W gitops.Writer

	mu sync.Mutex
	n  int
}

// NewRecorder returns a Recorder writing through w.
func NewRecorder(w gitops.Writer) *Recorder { return &Recorder{W: w} }

// Deploy deploys rel to env (action deploy, planned) and returns the
// commit.
func (r *Recorder) Deploy(ctx context.Context, env string, rel flightdeck.Release) (plumbing.Hash, error) {
	return r.deploy(ctx, gitops.ActionDeploy, env, rel, nil)
}

// Promote deploys rel to env with action promote, from the environment
// from.
func (r *Recorder) Promote(ctx context.Context, from, env string, rel flightdeck.Release) (plumbing.Hash, error) {
	return r.deploy(ctx, gitops.ActionPromote, env, rel, gitops.Extra{{Key: gitops.TrailerFrom, Value: from}})
}

// Fix deploys rel to env as an unplanned change (Flightdeck-Change:
// unplanned): a fix made because the deployment before it failed.
func (r *Recorder) Fix(ctx context.Context, env string, rel flightdeck.Release, reason string) (plumbing.Hash, error) {
	x := gitops.Extra{{Key: gitops.TrailerChange, Value: gitops.ChangeUnplanned}}
	if reason != "" {
		x = append(x, gitops.Trailer{Key: gitops.TrailerReason, Value: reason})
	}
	return r.deploy(ctx, gitops.ActionDeploy, env, rel, x)
}

// Rollback puts rel (an earlier release) back into env with action
// rollback, unplanned, naming the deploy it reverts (when not zero) and
// the reason, as package rollback records a rollback.
func (r *Recorder) Rollback(ctx context.Context, env string, rel flightdeck.Release, reverts plumbing.Hash, reason string) (plumbing.Hash, error) {
	x := gitops.Extra{}
	if !reverts.IsZero() {
		x = append(x, gitops.Trailer{Key: gitops.TrailerReverts, Value: reverts.String()})
	}
	if reason != "" {
		x = append(x, gitops.Trailer{Key: gitops.TrailerReason, Value: reason})
	}
	x = append(x, gitops.Trailer{Key: gitops.TrailerChange, Value: gitops.ChangeUnplanned})
	return r.deploy(ctx, gitops.ActionRollback, env, rel, x)
}

func (r *Recorder) deploy(ctx context.Context, action gitops.Action, env string, rel flightdeck.Release, x gitops.Extra) (plumbing.Hash, error) {
	res, err := gitops.DeployRelease(ctx, r.W, gitops.DeployRequest{
		Target:  gitops.Target{App: rel.App, Environment: flightdeck.Environment{Name: env}},
		Release: rel, Action: action, Extra: x,
	})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !res.Changed {
		return plumbing.ZeroHash, fmt.Errorf("%w: %s %s to %s", ErrNoCommit, action, rel.Ref(), env)
	}
	return res.Commit, nil
}

// Verify writes a verification marker for app in env as package
// rollback writes one: a commit with action dora.ActionVerify, the
// Flightdeck-Verified trailer set to verdict (dora.VerdictVerified,
// dora.VerdictFailed or dora.VerdictInconclusive), the Flightdeck-Deploy
// trailer naming deploy (when not zero) and, when rel is not zero, rel's
// trailers. The commit writes .flightdeck/verifications/<app>/<env>.
func (r *Recorder) Verify(ctx context.Context, app, env string, deploy plumbing.Hash, rel flightdeck.Release, verdict string) (plumbing.Hash, error) {
	r.mu.Lock()
	r.n++
	n := r.n
	r.mu.Unlock()
	tr := gitops.Trailers{Action: dora.ActionVerify, App: app, Environment: env}
	if rel.Digest != "" {
		tr = gitops.ReleaseTrailers(dora.ActionVerify, env, rel)
	}
	tr.Extra = gitops.Extra{{Key: gitops.TrailerVerified, Value: verdict}}
	if !deploy.IsZero() {
		tr.Extra = append(tr.Extra, gitops.Trailer{Key: dora.TrailerDeploy, Value: deploy.String()})
	}
	res, err := r.W.Apply(ctx, gitops.Change{
		Message:  fmt.Sprintf("%s %s in %s", verdict, app, env),
		Trailers: tr,
		Edits: []gitops.Edit{gitops.WriteFile{
			Path: ".flightdeck/verifications/" + app + "/" + env,
			Data: fmt.Appendf(nil, "%s %s #%d\n", verdict, rel.Ref(), n),
		}},
	})
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("verify %s in %s: %w", app, env, err)
	}
	if !res.Changed {
		return plumbing.ZeroHash, fmt.Errorf("%w: marker of %s in %s", ErrNoCommit, app, env)
	}
	return res.Commit, nil
}
