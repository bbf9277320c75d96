package gitops

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEncodeTreeIsGitsEncoding(t *testing.T) {
	var entries []object.TreeEntry
	for i, name := range []string{"a", "a.b", "a-b", "a0", "ab", "b", "app0001", "app0010", "kustomization.yaml", "x"} {
		mode := filemode.Regular
		if i%3 == 0 {
			mode = filemode.Dir
		}
		if i == 4 {
			mode = filemode.Executable
		}
		entries = append(entries, object.TreeEntry{Name: name, Mode: mode, Hash: plumbing.ComputeHash(plumbing.BlobObject, []byte(fmt.Sprint(i)))})
	}
	// "a" as a directory sorts after "a.b" and "a-b" ("a/" > "a."), as Git
	// orders trees.
	want := slices.Clone(entries)
	sort.Sort(object.TreeEntrySorter(want))
	got := slices.Clone(entries)
	slices.Reverse(got)
	slices.SortFunc(got, compareEntries)
	require.Equal(t, want, got)

	a, b := &plumbing.MemoryObject{}, &plumbing.MemoryObject{}
	require.NoError(t, (&object.Tree{Entries: want}).Encode(a))
	require.NoError(t, encodeTree(b, got))
	assert.Equal(t, a.Hash(), b.Hash())
	assert.Equal(t, plumbing.TreeObject, b.Type())
	ra, err := a.Reader()
	require.NoError(t, err)
	rb, err := b.Reader()
	require.NoError(t, err)
	da, _ := io.ReadAll(ra)
	db, _ := io.ReadAll(rb)
	assert.Equal(t, da, db)

	assert.Error(t, encodeTree(&plumbing.MemoryObject{}, []object.TreeEntry{{Name: "a\x00b", Mode: filemode.Regular}}))
}

func TestWriteInTheOrderOfTheLoadedTreeIsGitsOrder(t *testing.T) {
	s := memory.NewStorage()
	base := NewTree(s, plumbing.ZeroHash)
	for _, p := range []string{"a", "a-b", "b/x", "c", "d/e/f", "z"} {
		require.NoError(t, base.WriteFile(p, []byte(p)))
	}
	root, err := base.Write()
	require.NoError(t, err)
	edits := func(tr *Tree) {
		require.NoError(t, tr.WriteFile("c", []byte("changed")))
		require.NoError(t, tr.WriteFile("a.b", []byte("new")))     // a new name between others
		require.NoError(t, tr.Remove("a"))                         // a file ...
		require.NoError(t, tr.WriteFile("a/x", []byte("now dir"))) // ... that becomes a directory, sorting after "a.b"
		require.NoError(t, tr.Remove("z"))
		require.NoError(t, tr.WriteFile("d/e/g", []byte("g")))
	}
	plain := NewTree(s, root)
	edits(plain)
	want, err := plain.Write()
	require.NoError(t, err)

	cached := NewTree(s, root)
	cached.renders = &renderCache{}
	edits(cached)
	got, err := cached.Write()
	require.NoError(t, err)
	assert.Equal(t, want, got)

	// Git agrees with the order: the tree reads back sorted.
	tr, err := object.GetTree(s, got)
	require.NoError(t, err)
	assert.True(t, sort.IsSorted(object.TreeEntrySorter(tr.Entries)))
	var names []string
	for _, e := range tr.Entries {
		names = append(names, e.Name)
	}
	assert.Equal(t, []string{"a-b", "a.b", "a", "b", "c", "d"}, names)
}
