package gitops

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gitCmd(t *testing.T, dir string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "git %v: %s", args, stderr.String())
	return out
}

// thinPackRepo makes a repository with two commits of one large file and
// returns its path and the two commits.
func thinPackRepo(t *testing.T) (dir string, old, new string, content string) {
	dir = t.TempDir()
	gitCmd(t, dir, nil, "init", "-q")
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, "line %d of a file that changes a little\n", i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.txt"), []byte(b.String()), 0o600))
	gitCmd(t, dir, nil, "add", "big.txt")
	gitCmd(t, dir, nil, "commit", "-q", "-m", "one")
	old = strings.TrimSpace(string(gitCmd(t, dir, nil, "rev-parse", "HEAD")))
	content = strings.Replace(b.String(), "line 1500 of", "line 1500 (edited) of", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "big.txt"), []byte(content), 0o600))
	gitCmd(t, dir, nil, "commit", "-q", "-a", "-m", "two")
	new = strings.TrimSpace(string(gitCmd(t, dir, nil, "rev-parse", "HEAD")))
	return dir, old, new, content
}

func testStorage(t *testing.T) (*overlayStorage, string) {
	dir := filepath.Join(t.TempDir(), "cache")
	st := newOverlayStorage(filesystem.NewStorage(newPrivateFS(dir), cache.NewObjectLRUDefault()), dir)
	_, err := git.Init(st, nil)
	require.NoError(t, err)
	return st, dir
}

// A thin pack (git pack-objects --thin: a delta against an object the
// receiver has) is stored completed with that base, so that git itself
// accepts the pack alone.
// cachedBase returns a cache holding the first commit of src and a thin
// pack of the second.
func cachedBase(t *testing.T, src, old, new string) (st *overlayStorage, dir string, thin []byte) {
	st, dir = testStorage(t)
	full := gitCmd(t, src, []byte(old+"\n"), "pack-objects", "--revs", "--stdout")
	require.NoError(t, indexPack(st, bytes.NewReader(full), false))
	return st, dir, gitCmd(t, src, []byte(new+"\n^"+old+"\n"), "pack-objects", "--revs", "--thin", "--stdout", "--delta-base-offset")
}

func TestIndexThinPack(t *testing.T) {
	src, old, new, content := thinPackRepo(t)
	st, dir, thin := cachedBase(t, src, old, new)
	// git refuses it as it is: it is thin.
	packDir := filepath.Join(t.TempDir(), "p.git")
	gitCmd(t, "", nil, "init", "-q", "--bare", packDir)
	cmd := exec.Command("git", "-C", packDir, "index-pack", "--stdin")
	cmd.Stdin = bytes.NewReader(thin)
	out, err := cmd.CombinedOutput()
	require.Error(t, err, "the fixture must be a thin pack")
	require.Contains(t, string(out), "unresolved delta")

	require.NoError(t, indexPack(st, bytes.NewReader(thin), false))
	c, err := object.GetCommit(st, plumbing.NewHash(new))
	require.NoError(t, err)
	data, err := NewTree(st, c.TreeHash).ReadFile("big.txt")
	require.NoError(t, err)
	assert.Equal(t, content, string(data))

	idx, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.idx"))
	require.NoError(t, err)
	require.Len(t, idx, 2)
	for _, p := range idx {
		out, err := exec.Command("git", "verify-pack", p).CombinedOutput()
		assert.NoError(t, err, "%s: %s", p, out)
	}
}

// A thin pack whose base the cache lacks, and a damaged pack, are
// refused and leave nothing behind.
func TestIndexPackRefusesBadPacks(t *testing.T) {
	src, old, new, _ := thinPackRepo(t)
	thin := gitCmd(t, src, []byte(new+"\n^"+old+"\n"), "pack-objects", "--revs", "--thin", "--stdout")
	st, dir := testStorage(t)
	err := indexPack(st, bytes.NewReader(thin), false)
	require.Error(t, err)
	assert.ErrorIs(t, err, errPackFormat)
	assert.ErrorContains(t, err, "neither in the pack nor in the cache")

	full := gitCmd(t, src, []byte(new+"\n"), "pack-objects", "--revs", "--stdout")
	bad := bytes.Clone(full)
	bad[len(bad)/2] ^= 0xff
	assert.ErrorIs(t, indexPack(st, bytes.NewReader(bad), false), errPackFormat)
	assert.ErrorIs(t, indexPack(st, bytes.NewReader(full[:len(full)-5]), false), errPackFormat, "truncated")

	left, err := os.ReadDir(filepath.Join(dir, "objects", "pack"))
	require.NoError(t, err)
	assert.Empty(t, left, "no pack, index or temporary file is left")
}

// A small pack a fetch brings stays in memory, thin or not, and reaches
// the disk as one pack with the next flush.
func TestIndexSmallPackInMemory(t *testing.T) {
	src, old, new, content := thinPackRepo(t)
	st, dir, thin := cachedBase(t, src, old, new)
	require.NoError(t, indexPack(st, bytes.NewReader(thin), true))

	packs := func() []string {
		p, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
		require.NoError(t, err)
		return p
	}
	assert.Len(t, packs(), 1, "nothing written yet")
	assert.Equal(t, 3, st.keptCount(), "commit, tree and blob in memory")
	c, err := object.GetCommit(st, plumbing.NewHash(new))
	require.NoError(t, err)
	data, err := NewTree(st, c.TreeHash).ReadFile("big.txt")
	require.NoError(t, err)
	assert.Equal(t, content, string(data))

	require.NoError(t, st.flush())
	assert.Zero(t, st.keptCount())
	require.Len(t, packs(), 2)
	for _, p := range packs() {
		out, err := exec.Command("git", "verify-pack", strings.TrimSuffix(p, ".pack")+".idx").CombinedOutput()
		assert.NoError(t, err, "%s: %s", p, out)
	}
	c, err = object.GetCommit(st, plumbing.NewHash(new))
	require.NoError(t, err, "read back from disk")
	assert.Equal(t, "two\n", c.Message)
}
