package gitops

import "context"

// Render renders the kustomization in dir of t exactly as [Repo.Render]
// renders one at a revision: with krusty over an in-memory file system
// holding only what the overlay needs. It lets code that holds a Tree
// (an [Edit], a [Guard], a fake repository) render without a Repo. Errors
// are those of [Repo.Render].
func (t *Tree) Render(ctx context.Context, dir string) ([]byte, error) {
	return render(ctx, t, dir, "tree", nil)
}
