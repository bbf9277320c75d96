package gitops

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chainStore is an object store that records delta bases, as the cache
// does.
type chainStore struct {
	*memory.Storage
	bases map[plumbing.Hash]plumbing.Hash
	order []plumbing.Hash
}

func (c *chainStore) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	h, err := c.Storage.SetEncodedObject(o)
	c.order = append(c.order, h)
	return h, err
}

func (c *chainStore) setDeltaBase(obj, base plumbing.Hash) { c.bases[obj] = base }

func (c *chainStore) base(h plumbing.Hash) (plumbing.Hash, bool) {
	b, ok := c.bases[h]
	return b, ok
}

// chainOfCommits writes n commits on a tree of apps directories, each
// changing one app's file, as a chain of promotions does.
func chainOfCommits(t *testing.T, apps, n int) (*chainStore, []plumbing.Hash) {
	t.Helper()
	s := &chainStore{Storage: memory.NewStorage(), bases: map[plumbing.Hash]plumbing.Hash{}}
	tr := NewTree(s, plumbing.ZeroHash)
	for i := range apps {
		require.NoError(t, tr.WriteFile(fmt.Sprintf("apps/app%04d/overlays/prod/kustomization.yaml", i), []byte("images: []\n")))
	}
	root, err := tr.Write()
	require.NoError(t, err)
	s.order = nil // the base tree is on the receiver already: not in the pack
	var parent plumbing.Hash
	for i := range n {
		tr := NewTree(s, root)
		require.NoError(t, tr.WriteFile(fmt.Sprintf("apps/app%04d/overlays/prod/kustomization.yaml", (i*7)%apps), []byte(fmt.Sprintf("images: [%d]\n", i))))
		if root, err = tr.Write(); err != nil {
			t.Fatal(err)
		}
		c := &object.Commit{Message: fmt.Sprintf("c%d\n", i), TreeHash: root}
		if !parent.IsZero() {
			c.ParentHashes = []plumbing.Hash{parent}
		}
		obj := s.NewEncodedObject()
		require.NoError(t, c.Encode(obj))
		parent, err = s.SetEncodedObject(obj)
		require.NoError(t, err)
	}
	return s, s.order
}

func TestWritePackDeltasAChainOfTrees(t *testing.T) {
	s, objs := chainOfCommits(t, 300, 120)
	for _, refDeltas := range []bool{false, true} {
		var pack bytes.Buffer
		require.NoError(t, writePack(&pack, s, objs, s.base, refDeltas))

		// Every object reads back as it was written.
		got := memory.NewStorage()
		parser, err := packfile.NewParserWithStorage(packfile.NewScanner(bytes.NewReader(pack.Bytes())), got)
		require.NoError(t, err)
		_, err = parser.Parse()
		require.NoError(t, err, "refDeltas %v", refDeltas)
		for _, h := range objs {
			want, err := s.EncodedObject(plumbing.AnyObject, h)
			require.NoError(t, err)
			obj, err := got.EncodedObject(plumbing.AnyObject, h)
			require.NoError(t, err, "object %s", h)
			a, _ := objectData(want)
			b, _ := objectData(obj)
			assert.Equal(t, a, b)
			assert.Equal(t, want.Type(), obj.Type())
		}

		// The apps/ tree (300 entries) is a delta against the one before
		// it, in chains of at most packDeltaDepth.
		var full bytes.Buffer
		require.NoError(t, writePack(&full, s, objs, func(plumbing.Hash) (plumbing.Hash, bool) { return plumbing.ZeroHash, false }, false))
		assert.Less(t, pack.Len()*4, full.Len(), "deltas make the pack %d bytes, %d without", pack.Len(), full.Len())

		// Git reads it too.
		if git, err := exec.LookPath("git"); err == nil {
			dir := t.TempDir()
			out, err := exec.Command(git, "init", "-q", "--bare", dir).CombinedOutput()
			require.NoError(t, err, string(out))
			file := filepath.Join(dir, "test.pack")
			require.NoError(t, os.WriteFile(file, pack.Bytes(), 0o644))
			out, err = exec.Command(git, "-C", dir, "index-pack", file).CombinedOutput()
			require.NoError(t, err, string(out))
			out, err = exec.Command(git, "-C", dir, "verify-pack", "-v", file).CombinedOutput()
			require.NoError(t, err, string(out))
			assert.Contains(t, string(out), "chain length = 50", "chains are bounded")
			assert.NotContains(t, string(out), "chain length = 51")
		}
	}
}

func TestPrefixSuffixDelta(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<12) // 64 KiB: copies past one size byte
	for _, c := range [][2][]byte{
		{[]byte("abcdef"), []byte("abXYZdef")},
		{[]byte("abc"), []byte("abc")},
		{[]byte("old"), []byte("")},
		{[]byte("aaaa"), []byte("aa")},
		{big, append(append(append([]byte(nil), big[:40000]...), bytes.Repeat([]byte("x"), 300)...), big[40000:]...)},
	} {
		d := prefixSuffixDelta(c[0], c[1])
		got, err := packfile.PatchDelta(c[0], d)
		require.NoError(t, err, "%q -> %q", c[0][:min(len(c[0]), 8)], c[1][:min(len(c[1]), 8)])
		assert.Equal(t, string(c[1]), string(got))
	}
}
