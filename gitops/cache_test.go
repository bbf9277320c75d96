package gitops_test

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// gitFsck checks a cache directory with git itself.
func gitFsck(t *testing.T, dir string) {
	t.Helper()
	out, err := exec.Command("git", "-C", dir, "fsck", "--full", "--no-dangling").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.NotContains(t, string(out), "error")
}

// Two Repos on one cache directory, writing at the same time, both land
// every change and leave a sound cache.
func TestTwoReposShareACacheDir(t *testing.T) {
	t.Parallel()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout(appNames(4)...))
	url := gitopstest.FileURL(dir)
	cache := filepath.Join(t.TempDir(), "cache")
	repos := make([]*gitops.Repo, 2)
	for i := range repos {
		r, err := gitops.New(url, gitops.WithCacheDir(cache), gitops.WithRetry(50, time.Millisecond, 20*time.Millisecond))
		require.NoError(t, err)
		repos[i] = r
	}
	var wg sync.WaitGroup
	for i, r := range repos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 6 {
				app := appNames(4)[(i*2+j)%4]
				_, err := r.Apply(context.Background(), deploy(app, "prod", digestN(100*i+j+1)))
				assert.NoError(t, err)
			}
		}()
	}
	wg.Wait()
	log := gitopstest.Log(t, dir)
	assert.Len(t, log, 13, "every change landed once")
	for _, r := range repos {
		require.NoError(t, r.Close())
	}
	gitFsck(t, cache)

	// The cache knows the last commit, whichever Repo made it.
	r, err := gitops.New(url, gitops.WithCacheDir(cache))
	require.NoError(t, err)
	out, err := r.ReadFile(context.Background(), log[0].Hash.String(), "apps/"+trailersOf(t, log[0].Message).App+"/overlays/prod/kustomization.yaml")
	require.NoError(t, err)
	assert.Contains(t, string(out), trailersOf(t, log[0].Message).Digest)
}

// A Repo that finds the cache locked waits on its clock and gives up when
// its context ends, with a cache error, not a remote one.
func TestCacheLockWaitEndsWithContext(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	cache := filepath.Join(t.TempDir(), "cache")
	holder, err := gitops.New(srv.URL(), gitops.WithCacheDir(cache))
	require.NoError(t, err)
	release := make(chan struct{})
	inPush := make(chan struct{})
	srv.BeforeNextPush(func() { close(inPush); <-release })
	done := make(chan error, 1)
	go func() {
		_, err := holder.Apply(context.Background(), deploy("shop", "dev", digestA))
		done <- err
	}()
	<-inPush // holder holds the cache lock until its push ends

	clk := clocktest.New(time.Now())
	waiter, err := gitops.New(srv.URL(), gitops.WithCacheDir(cache), gitops.WithClock(clk))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan error, 1)
	go func() {
		_, err := waiter.Fetch(ctx)
		got <- err
	}()
	require.NoError(t, clk.WaitForTimers(context.Background(), 1), "the waiter polls the lock on its clock")
	cancel()
	err = <-got
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrCache)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, gitops.ErrRemote)
	var ce *gitops.CacheError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "lock", ce.Op)
	assert.Equal(t, cache, ce.Dir)
	assert.Contains(t, err.Error(), "another Repo or process")

	close(release)
	require.NoError(t, <-done)
	// Once free, the lock is taken (the holder releases it just after its
	// Apply returns, so a Repo on the system clock waits a moment).
	other, err := gitops.New(srv.URL(), gitops.WithCacheDir(cache))
	require.NoError(t, err)
	head, err := other.Fetch(context.Background())
	require.NoError(t, err)
	assert.Equal(t, gitopstest.Head(t, dir), head)
}

// A cache that cannot be created is a cache error naming the directory.
func TestUnwritableCacheDir(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o600))
	cases := map[string]string{"under a file": filepath.Join(file, "cache")}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(t.TempDir(), "read-only")
		require.NoError(t, os.Mkdir(ro, 0o500))
		cases["read-only parent"] = filepath.Join(ro, "cache")
	}
	for name, cache := range cases {
		t.Run(name, func(t *testing.T) {
			r, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(cache))
			require.NoError(t, err)
			_, err = r.Apply(context.Background(), deploy("shop", "dev", digestA))
			require.Error(t, err)
			assert.ErrorIs(t, err, gitops.ErrCache)
			assert.NotErrorIs(t, err, gitops.ErrRemote)
			assert.Contains(t, err.Error(), cache)
			assert.Contains(t, err.Error(), "WithCacheDir", "the error says what to do")
			_, err = r.Fetch(context.Background())
			assert.ErrorIs(t, err, gitops.ErrCache)
		})
	}
}

// A cache whose config is garbage is reported as such; one that lost the
// pack its ref needs is repaired by fetching again.
func TestCorruptCache(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	url := gitopstest.FileURL(dir)
	ctx := context.Background()
	fill := func(t *testing.T) string {
		cache := filepath.Join(t.TempDir(), "cache")
		r, err := gitops.New(url, gitops.WithCacheDir(cache))
		require.NoError(t, err)
		_, err = r.Fetch(ctx)
		require.NoError(t, err)
		require.NoError(t, r.Close())
		return cache
	}

	t.Run("garbage config", func(t *testing.T) {
		cache := fill(t)
		require.NoError(t, os.WriteFile(filepath.Join(cache, "config"), []byte("[[[ not a config\x00"), 0o600))
		r, err := gitops.New(url, gitops.WithCacheDir(cache))
		require.NoError(t, err)
		_, err = r.Apply(ctx, deploy("shop", "dev", digestA))
		require.Error(t, err)
		assert.ErrorIs(t, err, gitops.ErrCache)
		assert.NotErrorIs(t, err, gitops.ErrRemote)
		assert.Contains(t, err.Error(), cache)
		assert.Contains(t, err.Error(), "remove the directory")
		_, err = r.Render(ctx, "", "apps/shop/overlays/dev")
		assert.ErrorIs(t, err, gitops.ErrCache, "reads say so too")
	})

	t.Run("lost pack", func(t *testing.T) {
		cache := fill(t)
		packs, err := filepath.Glob(filepath.Join(cache, "objects", "pack", "*.pack"))
		require.NoError(t, err)
		require.NotEmpty(t, packs)
		for _, p := range packs {
			require.NoError(t, os.Remove(p))
		}
		var logs strings.Builder
		r, err := gitops.New(url, gitops.WithCacheDir(cache),
			gitops.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)
		res, err := r.Apply(ctx, deploy("shop", "dev", digestA))
		require.NoError(t, err, "repaired by fetching again")
		assert.True(t, res.Changed)
		assert.Contains(t, logs.String(), "fetching the history again")
		assert.Equal(t, res.Commit, gitopstest.Head(t, dir))
		require.NoError(t, r.Close())
		gitFsck(t, cache)
	})
}

// Two processes on one cache directory: this test runs itself a second
// time as a child process, and both write at once.
func TestTwoProcessesShareACacheDir(t *testing.T) {
	if url := os.Getenv("FLIGHTDECK_TEST_CHILD_URL"); url != "" {
		r, err := gitops.New(url, gitops.WithCacheDir(os.Getenv("FLIGHTDECK_TEST_CHILD_CACHE")),
			gitops.WithRetry(50, time.Millisecond, 20*time.Millisecond))
		require.NoError(t, err)
		for j := range 5 {
			_, err := r.Apply(context.Background(), deploy("app01", "dev", digestN(200+j)))
			require.NoError(t, err)
		}
		require.NoError(t, r.Close())
		return
	}
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout(appNames(2)...))
	url := gitopstest.FileURL(dir)
	cache := filepath.Join(t.TempDir(), "cache")
	child := exec.Command(os.Args[0], "-test.run=^TestTwoProcessesShareACacheDir$", "-test.count=1")
	child.Env = append(os.Environ(), "FLIGHTDECK_TEST_CHILD_URL="+url, "FLIGHTDECK_TEST_CHILD_CACHE="+cache)
	var out strings.Builder
	child.Stdout, child.Stderr = &out, &out
	require.NoError(t, child.Start())

	r, err := gitops.New(url, gitops.WithCacheDir(cache), gitops.WithRetry(50, time.Millisecond, 20*time.Millisecond))
	require.NoError(t, err)
	for j := range 5 {
		_, err := r.Apply(context.Background(), deploy("app00", "dev", digestN(100+j)))
		require.NoError(t, err)
	}
	require.NoError(t, child.Wait(), "child: %s", out.String())
	require.NoError(t, r.Close())

	log := gitopstest.Log(t, dir)
	assert.Len(t, log, 11, "both processes' changes landed")
	assert.Contains(t, gitopstest.ReadFile(t, dir, "apps/app00/overlays/dev/kustomization.yaml"), digestN(104))
	assert.Contains(t, gitopstest.ReadFile(t, dir, "apps/app01/overlays/dev/kustomization.yaml"), digestN(204))
	gitFsck(t, cache)
}
