package gitops_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
