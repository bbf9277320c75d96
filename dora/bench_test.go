package dora_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/dora/doratest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// BenchmarkReader reads a generated history of 100 apps x 3
// environments and 3,000 commits through a gitops.Repo: "warm" is a read
// on an open Reader (one page of History, then the figures of 300
// targets), "first" a new Reader on the filled cache (the whole history
// walked), "compute" the figures alone from a listed history. bench/dora.sh
// measures 1000 apps x 30,000 commits beside a git log + awk script.
func BenchmarkReader(b *testing.B) {
	ctx := context.Background()
	dir := filepath.Join(b.TempDir(), "repo.git")
	require.NoError(b, doratest.Generate(dir, doratest.Spec{Apps: 100, Commits: 3000, RollbackEvery: 41, VerifyEvery: 7}))
	repo, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(b.TempDir(), "cache")))
	require.NoError(b, err)
	r := dora.NewReader(repo)
	rep, err := r.Report(ctx, dora.Query{})
	require.NoError(b, err)
	require.Equal(b, 300, len(rep.Targets))

	b.Run("warm", func(b *testing.B) {
		for b.Loop() {
			if _, err := r.Report(ctx, dora.Query{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("first", func(b *testing.B) {
		for b.Loop() {
			if _, err := dora.NewReader(repo).Report(ctx, dora.Query{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	entries, err := r.Entries(ctx)
	require.NoError(b, err)
	b.Run("compute", func(b *testing.B) {
		for b.Loop() {
			dora.Compute(entries, dora.Query{})
		}
	})
}
