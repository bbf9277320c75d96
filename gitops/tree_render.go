package gitops

import "context"

// Render renders the kustomization in dir of t exactly as [Repo.Render]
// renders one at a revision: with krusty over an in-memory file system
// holding only what the overlay needs, including edits made to t and not
// yet written. It lets code that holds a Tree (an [Edit], a [Guard], a
// fake repository) render without a Repo. A Tree given to edits by
// [Repo.Apply] shares the Repo's render cache, which is keyed by the
// hashes of every input of the render (each directory and file the
// overlay reads, transitively): rendering an overlay whose inputs did not
// change since any earlier render of the Repo costs a few tree lookups,
// and any change to an input renders again. Errors are those of
// [Repo.Render].
func (t *Tree) Render(ctx context.Context, dir string) ([]byte, error) {
	return render(ctx, t, dir, "tree", nil)
}
