package gitops_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// packs returns the number of objects in each pack of the cache, by
// index file name.
func packs(t *testing.T, cache string) map[string]int64 {
	t.Helper()
	idx, err := filepath.Glob(filepath.Join(cache, "objects", "pack", "*.idx"))
	require.NoError(t, err)
	out := map[string]int64{}
	for _, p := range idx {
		f, err := os.Open(p)
		require.NoError(t, err)
		m := idxfile.NewMemoryIndex()
		require.NoError(t, idxfile.NewDecoder(f).Decode(m))
		require.NoError(t, f.Close())
		n, err := m.Count()
		require.NoError(t, err)
		out[filepath.Base(p)] = n
	}
	return out
}

// fetched returns a bare repository of files, and a Repo that has
// fetched it into the cache directory cache.
func fetched(t *testing.T, files gitopstest.Files) (dir, cache string, r *gitops.Repo) {
	t.Helper()
	dir = gitopstest.NewBareRepo(t, files)
	cache = filepath.Join(t.TempDir(), "cache")
	r, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(cache))
	require.NoError(t, err)
	_, err = r.Fetch(context.Background())
	require.NoError(t, err)
	return dir, cache, r
}

// The first use clones into the cache; later fetches bring only the
// objects of the new commits.
func TestFetchIsIncremental(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout(appNames(16)...))
	srv := gitopstest.Serve(t, dir)
	cache := filepath.Join(t.TempDir(), "cache")
	r, err := gitops.New(srv.URL(), gitops.WithCacheDir(cache))
	require.NoError(t, err)
	ctx := context.Background()

	_, err = r.Fetch(ctx)
	require.NoError(t, err)
	first := packs(t, cache)
	require.Len(t, first, 1, "the clone is one pack")
	for _, n := range first {
		assert.Greater(t, n, int64(200), "the clone holds the whole layout")
	}

	head := gitopstest.Commit(t, dir, gitopstest.Files{"apps/app03/overlays/prod/replicas.yaml": "changed\n"}, nil, "another writer")
	got, err := r.Fetch(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, got)
	second := packs(t, cache)
	require.Len(t, second, 2, "the fetch added one pack")
	for name, n := range second {
		if _, ok := first[name]; !ok {
			assert.LessOrEqual(t, n, int64(7), "one commit, one blob and the five trees above it")
		}
	}

	// Up to date: nothing new is stored.
	_, err = r.Fetch(ctx)
	require.NoError(t, err)
	assert.Equal(t, second, packs(t, cache))
}

// Reads of the head or of a commit by hash keep what they fetched in
// memory, so that a long-lived reader does not write a pack per new
// commit; a read that resolves a revision against the cache's ref writes
// them first, and Close writes what is left.
func TestReadsKeepFetchedObjectsInMemory(t *testing.T) {
	dir, cache, r := fetched(t, gitopstest.KustomizeLayout("shop"))
	ctx := context.Background()
	cloned := packs(t, cache)

	var heads []string
	for i := range 3 {
		head := gitopstest.Commit(t, dir, gitopstest.Files{"apps/shop/NOTES": fmt.Sprintf("n: %d\n", i)}, nil, "another writer")
		heads = append(heads, head.String())
		got, err := r.ReadFile(ctx, head.String(), "apps/shop/NOTES")
		require.NoError(t, err, "a commit by hash")
		assert.Equal(t, fmt.Sprintf("n: %d\n", i), string(got))
		_, err = r.Render(ctx, "", "apps/shop/overlays/prod")
		require.NoError(t, err, "the head")
	}
	assert.Equal(t, cloned, packs(t, cache), "nothing written yet")

	got, err := r.ReadFile(ctx, "HEAD~1", "apps/shop/NOTES")
	require.NoError(t, err)
	assert.Equal(t, "n: 1\n", string(got), "resolved against the cache's ref")
	after := packs(t, cache)
	assert.Len(t, after, len(cloned)+1, "the three commits' objects in one pack")

	require.NoError(t, r.Close())
	gitFsck(t, cache)
	out, err := exec.Command("git", "-C", cache, "cat-file", "-t", heads[2]).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "commit\n", string(out))
}

// services returns the git services of the requests from the n-th on.
func services(srv *gitopstest.Server, from int) []string {
	var out []string
	for _, r := range srv.Requests()[from:] {
		out = append(out, r.Method+" "+r.Service)
	}
	return out
}

// A Repo that made the last commit itself pushes the next one without
// fetching: it only asks where the branch is, then pushes.
func TestWarmApplyNeedsNoFetch(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	r := newRepo(t, srv.URL())
	ctx := context.Background()
	_, err := r.Apply(ctx, deploy("shop", "dev", digestA))
	require.NoError(t, err)

	n := len(srv.Requests())
	res, err := r.Apply(ctx, deploy("shop", "staging", digestA))
	require.NoError(t, err)
	assert.Equal(t, []string{"GET git-receive-pack", "POST git-receive-pack"}, services(srv, n))
	assert.Equal(t, gitopstest.Head(t, dir), res.Commit)
}

// A Repo whose cache is behind (another writer pushed) learns it from the
// push's first exchange and fetches before building; as other writers are
// busy, it asks again where the branch is before sending the pack. Its
// first push lands.
func TestStaleCacheFetchesBeforeBuilding(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	r := newRepo(t, srv.URL())
	ctx := context.Background()
	_, err := r.Fetch(ctx)
	require.NoError(t, err)
	other := gitopstest.Commit(t, dir, gitopstest.Files{"docs/note.md": "other writer\n"}, nil, "other writer")

	n := len(srv.Requests())
	res, err := r.Apply(ctx, deploy("shop", "dev", digestA))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Attempts)
	assert.Equal(t, other, res.Parent)
	assert.Equal(t, []string{"GET git-receive-pack", "GET git-upload-pack", "POST git-upload-pack",
		"GET git-receive-pack", "POST git-receive-pack"}, services(srv, n))
	assert.Equal(t, "other writer\n", gitopstest.ReadFile(t, dir, "docs/note.md"))
}

// The backoff between attempts waits on the Repo's clock.
func TestRetryWaitsOnTheClock(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	clk := clocktest.NewAuto(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	r := newRepo(t, srv.URL(), gitops.WithClock(clk), gitops.WithRetry(3, time.Hour, 4*time.Hour))
	srv.RejectNextPush()
	res, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.NoError(t, err)
	assert.Equal(t, 2, res.Attempts)
	require.Len(t, clk.Waits(), 1, "one wait between the two attempts")
	assert.GreaterOrEqual(t, clk.Waits()[0], 30*time.Minute)
	assert.Less(t, clk.Waits()[0], time.Hour)
	c := gitopstest.Log(t, dir)[0]
	assert.Equal(t, clk.Now().Unix(), c.Committer.When.Unix(), "the commit is stamped by the clock, after the wait")
}

// A fetch may bring a thin pack, whose deltas refer to objects the cache
// already has; the cache stores it completed, so that every pack stands
// alone (git verify-pack accepts it).
func TestThinPackIsCompleted(t *testing.T) {
	var big strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&big, "line %d of a large file that changes a little\n", i)
	}
	layout := gitopstest.KustomizeLayout("shop")
	layout["docs/big.txt"] = big.String()
	dir, cache, r := fetched(t, layout)
	ctx := context.Background()

	changed := strings.Replace(big.String(), "line 2000 of", "line 2000 (edited) of", 1)
	head := gitopstest.Commit(t, dir, gitopstest.Files{"docs/big.txt": changed}, nil, "edit")
	got, err := r.Fetch(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, got)
	data, err := r.ReadFile(ctx, head.String(), "docs/big.txt")
	require.NoError(t, err)
	assert.Equal(t, changed, string(data))

	second := packs(t, cache)
	require.Len(t, second, 2)
	for name, n := range second {
		t.Logf("%s: %d objects", name, n)
		out, err := exec.Command("git", "verify-pack", filepath.Join(cache, "objects", "pack", name)).CombinedOutput()
		assert.NoError(t, err, "%s: %s", name, out)
	}
	gitFsck(t, cache)
}
