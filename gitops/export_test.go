package gitops

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
)

// RenderRuns returns how many times r ran kustomize.
func RenderRuns(r *Repo) int64 { return r.renders.runs.Load() }

// ForgetRenders empties the cache of rendered outputs of r; with index,
// the dependency index too.
func ForgetRenders(r *Repo, index bool) {
	r.renders.outputs.clear()
	if index {
		r.renders.summaries.clear()
		r.renders.kusts.clear()
		r.renders.climbs.clear()
	}
}

// CheckChange runs the render check of Apply for edits applied to the
// tree root (zero: the head the cache holds), without fetching, committing
// or pushing, with extra rendered besides, and returns the new tree, which stays readable by r, and
// the overlays rendered.
func CheckChange(ctx context.Context, r *Repo, root plumbing.Hash, extra []string, edits ...Edit) (plumbing.Hash, []string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.open(); err != nil {
		return plumbing.ZeroHash, nil, err
	}
	if root.IsZero() {
		ref, err := r.repo.Reference(r.remoteRef(), true)
		if err != nil {
			return plumbing.ZeroHash, nil, err
		}
		c, err := r.repo.CommitObject(ref.Hash())
		if err != nil {
			return plumbing.ZeroHash, nil, err
		}
		root = c.TreeHash
	}
	t := NewTree(r.repo.Storer, root)
	for _, e := range edits {
		if err := e.Apply(t); err != nil {
			return plumbing.ZeroHash, nil, err
		}
	}
	after, err := t.Write()
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	if after == root {
		return after, nil, fmt.Errorf("no change")
	}
	rep, err := r.checkRenders(ctx, renderCheck{before: root, after: after, files: t.Changed(), extra: extra,
		unlocked: func(fetch func()) error { r.mu.Unlock(); fetch(); r.mu.Lock(); _, err := t.Write(); return err }})
	return after, rep.overlays, err
}

// MaxBatch is how many changes one push carries at most.
const MaxBatch = maxBatch
