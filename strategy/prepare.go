package strategy

import (
	"context"
	"fmt"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// PrepareRequest is the input of [PrepareOverlay]. The zero value of
// every field but App and Environment is the default.
type PrepareRequest struct {
	// App and Environment name the overlay's app and environment, for the
	// trailers. Required.
	App, Environment string
	// Dir is the overlay directory to render; empty means the target's
	// own (the targets of this package know theirs).
	Dir string
	// Message is the commit message; empty means "prepare <app> in
	// <environment> for <strategy>".
	Message string
	// Trailers are the commit's trailers; nil means action
	// [ActionPrepare] with the app and environment.
	Trailers *gitops.Trailers
	// Guards run before the edit (see gitops.Guard), after the
	// environment's hold and quarantine (gitops.HoldGuard), which always
	// apply.
	Guards []gitops.Guard
	// DryRun computes the commit and pushes nothing.
	DryRun bool
}

// PrepareOverlay writes the manifests target needs into an app's overlay
// (a canary Deployment and Service and an HTTPRoute, or the blue-green
// colours and preview Service), modelled on the overlay as it renders at
// the head, as one commit. Nothing else of the overlay changes but the
// lines of its kustomization that list them. It is idempotent: an overlay
// already prepared makes no commit (Result.Changed false). A [Runner]
// calls it at the start of every run.
//
// Errors name the overlay and wrap [ErrOverlay], gitops' render and edit
// errors, a hold or a guard's refusal (gitops.ErrHeld, gitops.ErrRefused),
// or what repo returns.
func PrepareOverlay(ctx context.Context, repo Repository, target Target, req PrepareRequest) (gitops.Result, error) {
	dir := req.Dir
	if dir == "" {
		if t, ok := target.(overlaid); ok {
			dir = t.Overlay().Dir
		}
	}
	where := fmt.Sprintf("prepare %s in %s", req.App, req.Environment)
	if dir == "" {
		return gitops.Result{}, fmt.Errorf("%s: %w: no overlay directory", where, ErrOverlay)
	}
	rendered, err := repo.Render(ctx, "", dir)
	if err != nil {
		return gitops.Result{}, fmt.Errorf("%s: overlay %s: %w", where, dir, err)
	}
	tr := gitops.Trailers{Action: ActionPrepare, App: req.App, Environment: req.Environment}
	if req.Trailers != nil {
		tr = *req.Trailers
	}
	in := gitops.Intent{Target: gitops.Target{App: req.App, Environment: flightdeck.Environment{Name: req.Environment}}, Trailers: tr}
	edits := []gitops.Edit{gitops.GuardEdit(in, append([]gitops.Guard{gitops.HoldGuard()}, req.Guards...)...)}
	edits = append(edits, gitops.EditFunc(func(t *gitops.Tree) error { return target.Prepare(t, rendered) }))
	msg := req.Message
	if msg == "" {
		msg = fmt.Sprintf("prepare %s in %s for progressive delivery", req.App, req.Environment)
	}
	res, err := repo.Apply(ctx, gitops.Change{Message: msg, Trailers: tr, Edits: edits, DryRun: req.DryRun})
	if err != nil {
		return res, fmt.Errorf("%s: overlay %s: %w", where, dir, err)
	}
	return res, nil
}
