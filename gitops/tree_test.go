package gitops_test

import (
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

func memTree(t *testing.T, files map[string]string) (*memory.Storage, plumbing.Hash) {
	t.Helper()
	s := memory.NewStorage()
	tr := gitops.NewTree(s, plumbing.ZeroHash)
	for p, c := range files {
		require.NoError(t, tr.WriteFile(p, []byte(c)))
	}
	h, err := tr.Write()
	require.NoError(t, err)
	return s, h
}

func subtreeHash(t *testing.T, s *memory.Storage, root plumbing.Hash, dir string) plumbing.Hash {
	t.Helper()
	tr, err := object.GetTree(s, root)
	require.NoError(t, err)
	e, err := tr.FindEntry(dir)
	require.NoError(t, err)
	return e.Hash
}

func TestTreeWriteTouchesOnlyChangedPath(t *testing.T) {
	s, root := memTree(t, map[string]string{
		"apps/a/overlays/dev/k.yaml": "a",
		"apps/b/overlays/dev/k.yaml": "b",
		"README.md":                  "hi",
	})
	tr := gitops.NewTree(s, root)
	require.NoError(t, tr.WriteFile("apps/a/overlays/dev/k.yaml", []byte("a2")))
	newRoot, err := tr.Write()
	require.NoError(t, err)
	assert.NotEqual(t, root, newRoot)
	assert.Equal(t, subtreeHash(t, s, root, "apps/b"), subtreeHash(t, s, newRoot, "apps/b"), "untouched subtree keeps its hash")
	assert.NotEqual(t, subtreeHash(t, s, root, "apps/a"), subtreeHash(t, s, newRoot, "apps/a"))

	got, err := gitops.NewTree(s, newRoot).ReadFile("apps/a/overlays/dev/k.yaml")
	require.NoError(t, err)
	assert.Equal(t, "a2", string(got))
	assert.Equal(t, []string{"apps/a/overlays/dev/k.yaml"}, tr.Changed())
}

func TestTreeSameContentIsNoChange(t *testing.T) {
	s, root := memTree(t, map[string]string{"a/b.txt": "x"})
	tr := gitops.NewTree(s, root)
	require.NoError(t, tr.WriteFile("a/b.txt", []byte("x")))
	h, err := tr.Write()
	require.NoError(t, err)
	assert.Equal(t, root, h)
	assert.Empty(t, tr.Changed())
}

func TestTreeMatchesGitOrder(t *testing.T) {
	// Git sorts "a.b" before the directory "a" ("a/") and "a" before "a0".
	s, root := memTree(t, map[string]string{"a/x": "1", "a.b": "2", "a0": "3"})
	tr, err := object.GetTree(s, root)
	require.NoError(t, err)
	var names []string
	for _, e := range tr.Entries {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"a.b", "a", "a0"}, names)
}

func TestTreeRemoveDropsEmptyDirs(t *testing.T) {
	s, root := memTree(t, map[string]string{"a/b/c.txt": "x", "d.txt": "y"})
	tr := gitops.NewTree(s, root)
	require.NoError(t, tr.Remove("a/b/c.txt"))
	h, err := tr.Write()
	require.NoError(t, err)
	after := gitops.NewTree(s, h)
	assert.False(t, after.Exists("a"), "empty directories are not recorded")
	assert.True(t, after.Exists("d.txt"))

	err = gitops.NewTree(s, root).Remove("nope")
	assert.ErrorIs(t, err, gitops.ErrNotExist)
}

func TestTreeCopyReplacesDestination(t *testing.T) {
	s, root := memTree(t, map[string]string{
		"env/staging/k.yaml": "staging",
		"env/prod/k.yaml":    "prod",
		"env/prod/old.yaml":  "gone",
	})
	tr := gitops.NewTree(s, root)
	require.NoError(t, tr.Copy("env/staging", "env/prod"))
	h, err := tr.Write()
	require.NoError(t, err)
	assert.Equal(t, subtreeHash(t, s, h, "env/staging"), subtreeHash(t, s, h, "env/prod"))
	names, err := gitops.NewTree(s, h).ReadDir("env/prod")
	require.NoError(t, err)
	assert.Equal(t, []string{"k.yaml"}, names)

	assert.Error(t, gitops.NewTree(s, root).Copy("env", "env/prod/x"), "overlapping copy is refused")
}

func TestTreeRefusesEscapes(t *testing.T) {
	s, root := memTree(t, map[string]string{"a/b.txt": "x"})
	// Add a symlink "link" -> "/etc" to the root.
	rootTree, err := object.GetTree(s, root)
	require.NoError(t, err)
	blob := s.NewEncodedObject()
	blob.SetType(plumbing.BlobObject)
	w, _ := blob.Writer()
	_, _ = w.Write([]byte("/etc"))
	require.NoError(t, w.Close())
	bh, err := s.SetEncodedObject(blob)
	require.NoError(t, err)
	entries := append([]object.TreeEntry{}, rootTree.Entries...)
	entries = append(entries, object.TreeEntry{Name: "link", Mode: filemode.Symlink, Hash: bh})
	obj := s.NewEncodedObject()
	require.NoError(t, (&object.Tree{Entries: entries}).Encode(obj))
	withLink, err := s.SetEncodedObject(obj)
	require.NoError(t, err)

	for _, p := range []string{"/etc/passwd", "../x", "a/../../x", ".git/config", "a/.git/hooks/x", "", "link/passwd", "link", `a\b`} {
		t.Run(p, func(t *testing.T) {
			tr := gitops.NewTree(s, withLink)
			err := tr.WriteFile(p, []byte("x"))
			require.Error(t, err)
			assert.ErrorIs(t, err, gitops.ErrPathEscape)
			var pe *gitops.PathError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, p, pe.Path)
			_, err = tr.ReadFile(p)
			assert.ErrorIs(t, err, gitops.ErrPathEscape)
			assert.Empty(t, tr.Changed())
		})
	}
	// A clean ".." inside the tree is fine.
	tr := gitops.NewTree(s, withLink)
	got, err := tr.ReadFile("a/../a/b.txt")
	require.NoError(t, err)
	assert.Equal(t, "x", string(got))
}

func TestTreeWriteOverDirectoryRefused(t *testing.T) {
	s, root := memTree(t, map[string]string{"a/b.txt": "x"})
	tr := gitops.NewTree(s, root)
	assert.ErrorContains(t, tr.WriteFile("a", []byte("x")), "is a directory")
	assert.ErrorIs(t, tr.WriteFile("a/b.txt/c", []byte("x")), gitops.ErrNotExist)
}
