package gitops

import "context"

// Validate checks c as [Repo.Apply] does before it touches anything: it
// has edits and none is nil, its trailers are valid ([Trailers.Validate]),
// and its message neither has a scissors line nor smuggles Flightdeck-*
// trailers in when c.Trailers is empty. Errors wrap [ErrInvalidChange].
func (c Change) Validate() error { return c.validate() }

// ApplyEdits applies c's edits to t in order, as each attempt of
// [Repo.Apply] does, and returns the first edit's error or the context's.
//
// First it checks holds: a change whose trailers name an app and an
// environment with one of the [HeldActions] (deploy, promote, step) is
// refused with a *[HoldError] while t holds a hold for them, or lists
// the change's digest in their quarantine, unless the trailers override
// it ([OverrideOf]). Because every attempt runs this on the head it is
// built on, a hold pushed by another writer meanwhile is seen on the
// replay, atomically with the push.
func (c Change) ApplyEdits(ctx context.Context, t *Tree) error {
	if err := c.checkHold(t); err != nil {
		return err
	}
	for _, e := range c.Edits {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := e.Apply(t); err != nil {
			return err
		}
	}
	return nil
}
