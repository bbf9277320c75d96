package gitops_test

import (
	"fmt"
	"os/exec"
	"strings"
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
	withLink := addSymlink(t, s, root, "link", "/etc")

	for _, p := range []string{"/etc/passwd", "../x", "a/../../x", "a/../a/b.txt", ".git/config", "a/.git/hooks/x", "link/passwd", `a\b`, "C:/x"} {
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
}

// Every path rule, for reading and for writing a file: nil means the
// path is accepted.
func TestTreePathRules(t *testing.T) {
	cases := []struct {
		path  string
		read  error // ReadFile on a tree that has a/b.txt
		write error
	}{
		{"a/b.txt", nil, nil},
		{"a/b c.txt", gitops.ErrNotExist, nil},
		{"apps/web/overlays/prod/kustomization.yaml", gitops.ErrNotExist, nil},
		{".github/workflows/ci.yaml", gitops.ErrNotExist, nil},
		{".gitignore", gitops.ErrNotExist, nil},
		{".gitkeep", gitops.ErrNotExist, nil},
		{"a/.gitattributes", gitops.ErrNotExist, nil},
		{"git~2", gitops.ErrNotExist, nil},
		{".git-crypt/key", gitops.ErrNotExist, nil},
		{"x.git", gitops.ErrNotExist, nil},
		{"…/b", gitops.ErrNotExist, nil},
		// Escapes: absolute, "..", backslash, drive letter.
		{"/etc/passwd", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{"..", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{"a/../a/b.txt", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{`a\b.txt`, gitops.ErrPathEscape, gitops.ErrPathEscape},
		{"c:/x", gitops.ErrPathEscape, gitops.ErrPathEscape},
		// .git and what Git, macOS and Windows read as .git.
		{".git", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{".git/config", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{"a/.GIT/hooks/pre-commit", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{".git./config", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{".git /config", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{".git . ./config", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{"GIT~1/config", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{"git~1./config", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{".git::$INDEX_ALLOCATION/config", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{".g\u200cit/config", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{"\u200e.git\ufeff/config", gitops.ErrPathEscape, gitops.ErrPathEscape},
		{".GI\u206aT", gitops.ErrPathEscape, gitops.ErrPathEscape},
		// Malformed paths.
		{"", gitops.ErrInvalidPath, gitops.ErrInvalidPath},
		{"a/", gitops.ErrInvalidPath, gitops.ErrInvalidPath},
		{"a/b.txt/", gitops.ErrInvalidPath, gitops.ErrInvalidPath},
		{"a//b.txt", gitops.ErrInvalidPath, gitops.ErrInvalidPath},
		{"./a/b.txt", gitops.ErrInvalidPath, gitops.ErrInvalidPath},
		{"a/./b.txt", gitops.ErrInvalidPath, gitops.ErrInvalidPath},
		{"a/b\x00.txt", gitops.ErrInvalidPath, gitops.ErrInvalidPath},
		{"a/b\n.txt", gitops.ErrInvalidPath, gitops.ErrInvalidPath},
		{"a/b\x7f", gitops.ErrInvalidPath, gitops.ErrInvalidPath},
		// .gitmodules in any spelling can be read but not written.
		{".gitmodules", gitops.ErrNotExist, gitops.ErrInvalidPath},
		{"sub/.GitModules", gitops.ErrNotExist, gitops.ErrInvalidPath},
		{".gitmodules ", gitops.ErrNotExist, gitops.ErrInvalidPath},
		{".gitmodules.", gitops.ErrNotExist, gitops.ErrInvalidPath},
		{"GITMOD~1", gitops.ErrNotExist, gitops.ErrInvalidPath},
		{"gi7eba~9", gitops.ErrNotExist, gitops.ErrInvalidPath},
		{".gitmodules/x", gitops.ErrNotExist, gitops.ErrInvalidPath},
		{".git\u200cmodules", gitops.ErrNotExist, gitops.ErrInvalidPath},
		// A .gitattributes directory is an fsck error; the file is fine.
		{".gitattributes/x", gitops.ErrNotExist, gitops.ErrInvalidPath},
		{"GI7D29~1/x", gitops.ErrNotExist, gitops.ErrInvalidPath},
	}
	s, root := memTree(t, map[string]string{"a/b.txt": "x"})
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q", c.path), func(t *testing.T) {
			tr := gitops.NewTree(s, root)
			_, err := tr.ReadFile(c.path)
			checkErr(t, c.read, err)
			err = tr.WriteFile(c.path, []byte("y"))
			checkErr(t, c.write, err)
			if c.write != nil {
				assert.Empty(t, tr.Changed(), "a refused write changes nothing")
				var pe *gitops.PathError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, c.path, pe.Path)
				assert.Equal(t, 1, strings.Count(err.Error(), "gitops:"), "the package is named once: %s", err)
			}
		})
	}
}

func checkErr(t *testing.T, want, err error) {
	t.Helper()
	if want == nil {
		assert.NoError(t, err)
		return
	}
	assert.ErrorIs(t, err, want)
}

// The names the Tree refuses as .git aliases and malformed names are
// exactly those that `git fsck --strict` refuses in a tree, and every
// name it accepts passes fsck. Names that Git allows but the Tree
// refuses to write (.gitmodules, control characters) are listed apart.
func TestTreePathRulesMatchGitFsck(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is required")
	}
	type verdict int
	const (
		ok verdict = iota
		refused
		stricter // Git accepts it in a tree; flightdeck does not write it
	)
	names := map[string]verdict{
		"x": ok, "a b": ok, ".gitignore": ok, ".gitkeep": ok, "git~2": ok, "x.git": ok, ".git-crypt": ok,
		"CON": ok, ".github": ok, "gitmod~5": ok,
		".git": refused, ".GIT": refused, ".git.": refused, ".git ": refused, ".git. .": refused,
		"git~1": refused, "GIT~1": refused, "git~1 ": refused, ".git:x": refused,
		".g\u200cit": refused, "\ufeff.git": refused, ".gi\u202et": refused,
		".": refused, "..": refused,
		".gitmodules": stricter, "GITMOD~1": stricter, ".gitmodules ": stricter, "gi7eba~1": stricter,
		"a\tb": stricter,
	}
	for n, want := range names {
		t.Run(fmt.Sprintf("%q", n), func(t *testing.T) {
			tr := gitops.NewTree(memory.NewStorage(), plumbing.ZeroHash)
			ours := tr.WriteFile(n, []byte("x"))
			fsck := fsckTreeWithEntry(t, n)
			switch want {
			case ok:
				assert.NoError(t, ours)
				assert.NoError(t, fsck)
			case refused:
				assert.Error(t, ours)
				assert.Error(t, fsck, "git fsck accepts %q", n)
			case stricter:
				assert.Error(t, ours)
				assert.NoError(t, fsck)
			}
		})
	}
}

// fsckTreeWithEntry builds, in a fresh bare repository, a tree holding
// one regular file named name and returns what `git fsck --strict` says.
func fsckTreeWithEntry(t *testing.T, name string) error {
	t.Helper()
	dir := t.TempDir()
	git := func(stdin string, args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), nil
	}
	_, err := git("", "init", "-q", "--bare", ".")
	require.NoError(t, err)
	blob, err := git("x", "hash-object", "-w", "--stdin")
	require.NoError(t, err)
	_, err = git("100644 blob "+blob+"\t"+name+"\n", "mktree")
	require.NoError(t, err)
	_, err = git("", "fsck", "--strict", "--no-dangling")
	return err
}

// A symbolic link already in the tree is never followed, but the link
// itself can be removed or replaced by an explicit edit of its path.
func TestTreeSymlinkIsEditedNotFollowed(t *testing.T) {
	s, root := memTree(t, map[string]string{"a/b.txt": "x", "dir/f.txt": "f"})
	root = addSymlink(t, s, root, "link", "a")

	t.Run("read, list and edit through are refused", func(t *testing.T) {
		tr := gitops.NewTree(s, root)
		_, err := tr.ReadFile("link")
		assert.ErrorIs(t, err, gitops.ErrPathEscape)
		assert.ErrorContains(t, err, "link is a symbolic link")
		_, err = tr.ReadDir("link")
		assert.ErrorIs(t, err, gitops.ErrPathEscape)
		assert.ErrorIs(t, tr.WriteFile("link/b.txt", []byte("y")), gitops.ErrPathEscape)
		assert.ErrorIs(t, tr.Copy("link", "elsewhere"), gitops.ErrPathEscape)
		assert.ErrorIs(t, gitops.CopyDir{From: "link", To: "p"}.Apply(tr), gitops.ErrPathEscape)
		assert.True(t, tr.Exists("link"))
		assert.False(t, tr.IsDir("link"))
		assert.Empty(t, tr.Changed())
	})
	t.Run("remove the link", func(t *testing.T) {
		tr := gitops.NewTree(s, root)
		require.NoError(t, gitops.RemoveFile{Path: "link"}.Apply(tr))
		h, err := tr.Write()
		require.NoError(t, err)
		after := gitops.NewTree(s, h)
		assert.False(t, after.Exists("link"))
		got, err := after.ReadFile("a/b.txt")
		require.NoError(t, err)
		assert.Equal(t, "x", string(got), "the target is untouched")
	})
	t.Run("replace the link by a file", func(t *testing.T) {
		tr := gitops.NewTree(s, root)
		require.NoError(t, gitops.WriteFile{Path: "link", Data: []byte("now a file")}.Apply(tr))
		h, err := tr.Write()
		require.NoError(t, err)
		assert.Equal(t, filemode.Regular, entryMode(t, s, h, "link"))
		got, err := gitops.NewTree(s, h).ReadFile("a/b.txt")
		require.NoError(t, err)
		assert.Equal(t, "x", string(got), "the target is untouched")
	})
	t.Run("replace the link by a directory copy", func(t *testing.T) {
		tr := gitops.NewTree(s, root)
		require.NoError(t, gitops.CopyDir{From: "dir", To: "link"}.Apply(tr))
		h, err := tr.Write()
		require.NoError(t, err)
		assert.Equal(t, filemode.Dir, entryMode(t, s, h, "link"))
		got, err := gitops.NewTree(s, h).ReadFile("link/f.txt")
		require.NoError(t, err)
		assert.Equal(t, "f", string(got))
	})
}

func entryMode(t *testing.T, s *memory.Storage, root plumbing.Hash, name string) filemode.FileMode {
	t.Helper()
	tr, err := object.GetTree(s, root)
	require.NoError(t, err)
	e, err := tr.FindEntry(name)
	require.NoError(t, err)
	return e.Mode
}

func TestTreeRootAndRemovingGitmodules(t *testing.T) {
	s, root := memTree(t, map[string]string{"a/b.txt": "x"})
	tr := gitops.NewTree(s, root)
	names, err := tr.ReadDir(".")
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, names)
	assert.True(t, tr.IsDir("."))
	assert.ErrorIs(t, tr.WriteFile(".", nil), gitops.ErrInvalidPath)
	assert.ErrorIs(t, tr.Remove("."), gitops.ErrInvalidPath)

	// A .gitmodules that is there can be read and removed.
	withModules := addFile(t, s, root, ".gitmodules", "[submodule \"x\"]\n")
	tr = gitops.NewTree(s, withModules)
	_, err = tr.ReadFile(".gitmodules")
	require.NoError(t, err)
	require.NoError(t, tr.Remove(".gitmodules"))
	assert.False(t, tr.Exists(".gitmodules"))
}

// addFile returns root plus a regular file at the top level, written
// around the Tree (which refuses some names).
func addFile(t *testing.T, s *memory.Storage, root plumbing.Hash, name, content string) plumbing.Hash {
	t.Helper()
	return addEntry(t, s, root, name, filemode.Regular, content)
}

func TestTreeWriteOverDirectoryRefused(t *testing.T) {
	s, root := memTree(t, map[string]string{"a/b.txt": "x"})
	tr := gitops.NewTree(s, root)
	assert.ErrorContains(t, tr.WriteFile("a", []byte("x")), "is a directory")
	assert.ErrorIs(t, tr.WriteFile("a/b.txt/c", []byte("x")), gitops.ErrNotExist)
}
