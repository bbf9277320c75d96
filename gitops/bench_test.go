package gitops_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// BenchmarkApplyWarm measures one image bump (fetch, edit, render before
// and after, commit, push) with a warm cache on a 50-app repository over
// file://.
func BenchmarkApplyWarm(b *testing.B) {
	r := warmRepo(b, 50)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		app := fmt.Sprintf("app%02d", i%50)
		if _, err := r.Apply(ctx, deploy(app, "prod", digestN(i+1))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTreeSetImage measures the in-memory part of a bump: SetImage
// on a 1000-app tree and writing the new tree objects.
func BenchmarkTreeSetImage(b *testing.B) {
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("app%04d", i)
	}
	s := memory.NewStorage()
	t := gitops.NewTree(s, plumbing.ZeroHash)
	for p, c := range gitopstest.KustomizeLayout(names...) {
		if err := t.WriteFile(p, []byte(c)); err != nil {
			b.Fatal(err)
		}
	}
	root, err := t.Write()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		t := gitops.NewTree(s, root)
		app := names[i%1000]
		e := gitops.SetImage{Dir: "apps/" + app + "/overlays/prod", Name: gitopstest.Image(app), Digest: digestN(i + 1)}
		if err := e.Apply(t); err != nil {
			b.Fatal(err)
		}
		if _, err := t.Write(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender measures rendering one overlay at a commit already in
// the cache, with a new Repo each time (opening the cache included) so the
// per-Repo render cache never answers.
func BenchmarkRender(b *testing.B) {
	dir := gitopstest.NewBareRepo(b, gitopstest.KustomizeLayout(appNames(8)...))
	cache := filepath.Join(b.TempDir(), "cache")
	r, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(cache))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	head, err := r.Fetch(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		r, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(cache))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Render(ctx, head.String(), fmt.Sprintf("apps/app%02d/overlays/prod", i%8)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBumpRender measures the render check of a warm image bump:
// everything Apply does to decide that a change renders, and to diff it,
// without the fetch and push. A Repo bumps ten apps of the repository in
// turn, each bump on the tree the previous one made, as a bot deploying a
// handful of services does. "uncached" forgets every render before each
// bump, so both the overlay before the bump and after it run kustomize, as
// every bump did before renders were cached; "cached" is what Apply does.
// "index-cold" also forgets the dependency index, as the first bump of a
// new Repo pays it.
func BenchmarkBumpRender(b *testing.B) {
	for _, size := range []int{50, 1000} {
		names := make([]string, size)
		for i := range names {
			names[i] = fmt.Sprintf("app%04d", i)
		}
		dir := gitopstest.NewBareRepo(b, gitopstest.KustomizeLayout(names...))
		for _, mode := range []string{"uncached", "cached", "index-cold"} {
			b.Run(fmt.Sprintf("apps=%d/%s", size, mode), func(b *testing.B) {
				r, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(b.TempDir(), "cache")))
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				if _, err := r.Fetch(ctx); err != nil {
					b.Fatal(err)
				}
				var tree plumbing.Hash
				bump := func(i int) {
					app := names[i%10]
					e := gitops.SetImage{Dir: "apps/" + app + "/overlays/prod", Name: gitopstest.Image(app), Digest: digestN(i + 1)}
					if tree, _, err = gitops.CheckChange(ctx, r, tree, nil, e); err != nil {
						b.Fatal(err)
					}
				}
				// One bump per app before timing: the first render in a
				// process pays kustomize's one-time schema setup, and the
				// first check of a Repo builds its dependency index.
				for i := range 10 {
					bump(i)
				}
				runs := gitops.RenderRuns(r)
				b.ResetTimer()
				for i := range b.N {
					if mode != "cached" {
						b.StopTimer()
						gitops.ForgetRenders(r, mode == "index-cold")
						b.StartTimer()
					}
					bump(10 + i)
				}
				b.ReportMetric(float64(gitops.RenderRuns(r)-runs)/float64(b.N), "kustomize-runs/op")
			})
		}
	}
}

// warmRepo returns a Repo on a new repository of apps apps over file://
// that has fetched and made one bump.
func warmRepo(b *testing.B, apps int) *gitops.Repo {
	dir := gitopstest.NewBareRepo(b, gitopstest.KustomizeLayout(appNames(apps)...))
	r, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(b.TempDir(), "cache")))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Apply(context.Background(), deploy("app00", "prod", digestN(1<<30))); err != nil {
		b.Fatal(err)
	}
	return r
}

// BenchmarkApplyShared measures changes landed by one Repo shared by 64
// goroutines (a bot serving many apps) on a 64-app repository over
// file://: every change is its own commit, and changes submitted while a
// push is on the wire go together in the next one.
func BenchmarkApplyShared(b *testing.B) {
	r := warmRepo(b, 64)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(64 / max(1, runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			if _, err := r.Apply(ctx, deploy(fmt.Sprintf("app%02d", i%64), "prod", digestN(i))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFetchCold measures the first fetch of a packed 200-app
// repository with 200 commits into an empty cache: receiving and indexing
// the pack.
func BenchmarkFetchCold(b *testing.B) {
	dir := gitopstest.NewBareRepo(b, gitopstest.KustomizeLayout(appNames(200)...))
	for i := range 200 {
		app := fmt.Sprintf("app%02d", i%100)
		gitopstest.Commit(b, dir, gitopstest.Files{"apps/" + app + "/overlays/prod/note.txt": fmt.Sprintf("bump %d\n", i)}, nil, "bump")
	}
	// Packed, as a server's repository is.
	if out, err := exec.Command("git", "-C", dir, "repack", "-adq").CombinedOutput(); err != nil {
		b.Fatalf("repack: %v: %s", err, out)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		r, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(b.TempDir(), fmt.Sprint("cache", i))))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Fetch(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
