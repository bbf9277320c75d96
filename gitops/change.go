package gitops

import "context"

// Validate checks c as [Repo.Apply] does before it touches anything: it
// has edits and none is nil, its trailers are valid ([Trailers.Validate]),
// and its message neither has a scissors line nor smuggles Flightdeck-*
// trailers in when c.Trailers is empty. Errors wrap [ErrInvalidChange].
func (c Change) Validate() error { return c.validate() }

// ApplyEdits applies c's edits to t in order, as each attempt of
// [Repo.Apply] does, and returns the first edit's error or the context's.
func (c Change) ApplyEdits(ctx context.Context, t *Tree) error {
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
