package gitops

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Tree is a mutable view of a commit's tree, the thing an [Edit] changes.
// It loads directories and files from the object store only when an edit
// reaches them, and [Tree] writes back only the directories on the path
// of a change, so the cost of a change is about the files it touches, not
// the size of the repository. No worktree is checked out.
//
// Paths are slash-separated and relative to the repository root, and are
// judged as Git judges them: a path that is absolute, has a ".."
// component, has a component that Git, macOS or Windows reads as ".git",
// or goes through a symbolic link in the tree is refused with
// [ErrPathEscape]; an empty or malformed path (NUL or control bytes,
// "a//b", "./a", "a/") or one that would create ".gitmodules" is refused
// with [ErrInvalidPath]. "." names the root where a directory is meant.
//
// A symbolic link is never followed. The link itself can be removed
// ([Tree.Remove]) or replaced by a regular file ([Tree.WriteFile]) or a
// copy ([Tree.Copy]); reading it, listing it or editing through it is
// refused with [ErrPathEscape].
//
// A Tree is not safe for concurrent use; [Repo.Apply] gives each attempt
// its own.
type Tree struct {
	s       storer.EncodedObjectStorer
	root    *tnode
	changed map[string]struct{}
	// renders is the render cache of the Repo that made the tree, for
	// [Tree.Render]; nil for a tree made by [NewTree].
	renders *renderCache
}

type tnode struct {
	mode     filemode.FileMode
	hash     plumbing.Hash     // stored object; zero for new content
	children map[string]*tnode // directories, once loaded
	data     []byte            // new file content; nil means "hash"
	dirty    bool
	// base is the decoded tree object children were loaded from, when
	// the render cache decoded it: Write orders the entries by it.
	base *treeEntries
}

func (n *tnode) isDir() bool { return n.mode == filemode.Dir }

// NewTree returns a Tree over the tree object root in s. A zero root is
// the empty tree.
func NewTree(s storer.EncodedObjectStorer, root plumbing.Hash) *Tree {
	return &Tree{s: s, root: &tnode{mode: filemode.Dir, hash: root}, changed: map[string]struct{}{}}
}

func (t *Tree) load(n *tnode) error {
	if n.children != nil {
		return nil
	}
	n.children = map[string]*tnode{}
	if n.hash.IsZero() {
		return nil
	}
	if t.renders != nil {
		// The render cache decodes each tree object once, for every Tree
		// of the Repo and for the render check.
		m, err := t.renders.entries(t.s, n.hash)
		if err != nil {
			return fmt.Errorf("read tree %s: %w", n.hash, err)
		}
		n.children = make(map[string]*tnode, len(m.sorted))
		for _, e := range m.sorted {
			n.children[e.Name] = &tnode{mode: e.Mode, hash: e.Hash}
		}
		n.base = m
		return nil
	}
	tr, err := object.GetTree(t.s, n.hash)
	if err != nil {
		return fmt.Errorf("read tree %s: %w", n.hash, err)
	}
	for _, e := range tr.Entries {
		n.children[e.Name] = &tnode{mode: e.Mode, hash: e.Hash}
	}
	return nil
}

// walk returns the node at the clean path p ("" is the root) and the
// directories leading to it, root first. With create, missing directories
// are made. A missing node is returned as nil without error. A symbolic
// link on the way is refused; one at p itself is returned, for the
// caller to refuse or replace.
func (t *Tree) walk(p string, create bool) (*tnode, []*tnode, error) {
	n := t.root
	var dirs []*tnode
	if p == "" {
		return n, nil, nil
	}
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if n.mode == filemode.Symlink {
			return nil, nil, errSymlink(strings.Join(parts[:i], "/"))
		}
		if !n.isDir() {
			return nil, nil, fmt.Errorf("%w: %s is a file, not a directory", ErrNotExist, strings.Join(parts[:i], "/"))
		}
		if err := t.load(n); err != nil {
			return nil, nil, err
		}
		dirs = append(dirs, n)
		c := n.children[part]
		if c == nil {
			if !create {
				return nil, dirs, nil
			}
			if i == len(parts)-1 {
				return nil, dirs, nil
			}
			c = &tnode{mode: filemode.Dir, children: map[string]*tnode{}}
			n.children[part] = c
		}
		n = c
	}
	return n, dirs, nil
}

// errSymlink is the cause given for a symbolic link at p that an
// operation would have to follow.
func errSymlink(p string) error {
	return fmt.Errorf("%w: %s is a symbolic link, which flightdeck does not follow", ErrPathEscape, p)
}

func (t *Tree) markDirty(dirs []*tnode) {
	for _, d := range dirs {
		d.dirty = true
	}
}

// ReadFile returns the content of the file at p. It returns an error
// wrapping [ErrNotExist] if there is no file at p and [ErrPathEscape] for
// a refused path.
func (t *Tree) ReadFile(p string) ([]byte, error) {
	c, err := cleanPath(p)
	if err != nil {
		return nil, &PathError{Op: "read", Path: p, Err: err}
	}
	n, _, err := t.walk(c, false)
	if err != nil {
		return nil, &PathError{Op: "read", Path: p, Err: err}
	}
	if n != nil && n.mode == filemode.Symlink {
		return nil, &PathError{Op: "read", Path: p, Err: errSymlink(c)}
	}
	if n == nil || n.isDir() || n.mode == filemode.Submodule {
		return nil, &PathError{Op: "read", Path: p, Err: ErrNotExist}
	}
	return t.blob(n)
}

func (t *Tree) blob(n *tnode) ([]byte, error) {
	if n.data != nil {
		return n.data, nil
	}
	b, err := object.GetBlob(t.s, n.hash)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", n.hash, err)
	}
	r, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// Exists reports whether a file, directory or symbolic link exists at
// p. Refused paths do not exist.
func (t *Tree) Exists(p string) bool {
	c, err := cleanPath(p)
	if err != nil {
		return false
	}
	n, _, err := t.walk(c, false)
	return err == nil && n != nil
}

// IsDir reports whether p is a directory.
func (t *Tree) IsDir(p string) bool {
	c, err := cleanPath(p)
	if err != nil {
		return false
	}
	n, _, err := t.walk(c, false)
	return err == nil && n != nil && n.isDir()
}

// ReadDir returns the sorted names of the entries of directory p; "." is
// the root.
func (t *Tree) ReadDir(p string) ([]string, error) {
	c, err := cleanPath(p)
	if err != nil {
		return nil, &PathError{Op: "readdir", Path: p, Err: err}
	}
	n, _, err := t.walk(c, false)
	if err != nil {
		return nil, &PathError{Op: "readdir", Path: p, Err: err}
	}
	if n != nil && n.mode == filemode.Symlink {
		return nil, &PathError{Op: "readdir", Path: p, Err: errSymlink(c)}
	}
	if n == nil || !n.isDir() {
		return nil, &PathError{Op: "readdir", Path: p, Err: ErrNotExist}
	}
	if err := t.load(n); err != nil {
		return nil, &PathError{Op: "readdir", Path: p, Err: err}
	}
	names := make([]string, 0, len(n.children))
	for name := range n.children {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// WriteFile sets the content of the regular file at p, creating missing
// parent directories. Writing the content a file already has changes
// nothing. A symbolic link at p is replaced by the file (the link's
// target is not written); a directory at p is not.
func (t *Tree) WriteFile(p string, data []byte) error {
	c, err := cleanPath(p)
	if err == nil && c == "" {
		err = fmt.Errorf("%w: the root is a directory", ErrInvalidPath)
	}
	if err == nil {
		err = checkWritable(c, false)
	}
	if err != nil {
		return &PathError{Op: "write", Path: p, Err: err}
	}
	n, dirs, err := t.walk(c, true)
	if err != nil {
		return &PathError{Op: "write", Path: p, Err: err}
	}
	if n != nil && n.isDir() {
		return &PathError{Op: "write", Path: p, Err: errors.New("is a directory")}
	}
	if n != nil && n.data == nil && n.mode == filemode.Regular {
		if old, err := t.blob(n); err == nil && bytes.Equal(old, data) {
			return nil
		}
	}
	if data == nil {
		data = []byte{}
	}
	parent := dirs[len(dirs)-1]
	mode := filemode.Regular
	if n != nil && n.mode == filemode.Executable {
		mode = filemode.Executable
	}
	parent.children[path.Base(c)] = &tnode{mode: mode, data: data}
	t.markDirty(dirs)
	t.changed[c] = struct{}{}
	return nil
}

// Remove deletes the file, directory or symbolic link at p (a link
// itself, never what it points to). It returns an error wrapping
// [ErrNotExist] if nothing is there.
func (t *Tree) Remove(p string) error {
	c, err := cleanPath(p)
	if err == nil && c == "" {
		err = fmt.Errorf("%w: cannot remove the root", ErrInvalidPath)
	}
	if err != nil {
		return &PathError{Op: "remove", Path: p, Err: err}
	}
	n, dirs, err := t.walk(c, false)
	if err != nil {
		return &PathError{Op: "remove", Path: p, Err: err}
	}
	if n == nil {
		return &PathError{Op: "remove", Path: p, Err: ErrNotExist}
	}
	delete(dirs[len(dirs)-1].children, path.Base(c))
	t.markDirty(dirs)
	t.changed[c] = struct{}{}
	return nil
}

// Copy copies the file or directory src to dst, replacing whatever was at
// dst (a symbolic link there is replaced, not followed). Copying a
// directory shares its stored objects: it costs one tree entry, not one
// write per file. A symbolic link is not copied.
func (t *Tree) Copy(src, dst string) error {
	cs, err := cleanPath(src)
	if err != nil {
		return &PathError{Op: "copy", Path: src, Err: err}
	}
	cd, err := cleanPath(dst)
	if err == nil && cd == "" {
		err = fmt.Errorf("%w: cannot replace the root", ErrInvalidPath)
	}
	if err == nil && cs != "" && (cd == cs || strings.HasPrefix(cd, cs+"/") || strings.HasPrefix(cs, cd+"/")) {
		err = errors.New("source and destination overlap")
	}
	if err != nil {
		return &PathError{Op: "copy", Path: dst, Err: err}
	}
	n, _, err := t.walk(cs, false)
	switch {
	case err != nil:
	case n == nil:
		err = ErrNotExist
	case n.mode == filemode.Symlink:
		err = errSymlink(cs)
	}
	if err != nil {
		return &PathError{Op: "copy", Path: src, Err: err}
	}
	if err := checkWritable(cd, n.isDir()); err != nil {
		return &PathError{Op: "copy", Path: dst, Err: err}
	}
	clone := cloneNode(n)
	d, dirs, err := t.walk(cd, true)
	if err != nil {
		return &PathError{Op: "copy", Path: dst, Err: err}
	}
	if d != nil && !d.dirty && d.data == nil && !clone.dirty && clone.data == nil && d.hash == clone.hash && d.mode == clone.mode {
		return nil
	}
	dirs[len(dirs)-1].children[path.Base(cd)] = clone
	t.markDirty(dirs)
	t.changed[cd] = struct{}{}
	return nil
}

func cloneNode(n *tnode) *tnode {
	c := &tnode{mode: n.mode, hash: n.hash, data: n.data, dirty: n.dirty}
	if n.children != nil && n.dirty {
		c.children = make(map[string]*tnode, len(n.children))
		for k, v := range n.children {
			c.children[k] = cloneNode(v)
		}
	}
	return c
}

// Changed returns the sorted paths that edits wrote, removed or copied
// to. A path may be listed although its content ended up unchanged.
func (t *Tree) Changed() []string {
	out := make([]string, 0, len(t.changed))
	for p := range t.changed {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Write stores the changed blobs and directories in the object store and
// returns the hash of the new root tree. Unchanged subtrees keep their
// hashes, so only the directories on the path of a change are written.
// Directories left empty are dropped, as Git cannot record them.
func (t *Tree) Write() (plumbing.Hash, error) {
	h, _, err := t.encode(t.root)
	return h, err
}

func (t *Tree) encode(n *tnode) (plumbing.Hash, bool, error) {
	if !n.isDir() {
		if n.data == nil {
			return n.hash, true, nil
		}
		obj := t.s.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		obj.SetSize(int64(len(n.data)))
		w, err := obj.Writer()
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		if _, err := w.Write(n.data); err != nil {
			return plumbing.ZeroHash, false, err
		}
		if err := w.Close(); err != nil {
			return plumbing.ZeroHash, false, err
		}
		h, err := t.s.SetEncodedObject(obj)
		return h, true, err
	}
	if !n.dirty {
		return n.hash, !n.hash.IsZero(), nil
	}
	entries, err := t.encodeChildren(n)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	obj := t.s.NewEncodedObject()
	if err := encodeTree(obj, entries); err != nil {
		return plumbing.ZeroHash, false, err
	}
	h, err := t.s.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	if db, ok := t.s.(deltaBaser); ok && !n.hash.IsZero() && n.hash != h {
		db.setDeltaBase(h, n.hash)
	}
	if t.renders != nil {
		t.renders.putEntries(h, entries) // the check reads it next
	}
	return h, len(entries) > 0 || n == t.root, nil
}

// encodeChildren encodes the children of directory n and returns their
// entries in tree order. Children that keep their place in the tree
// object n was loaded from are put in that order; only the others (new
// names, or a file that became a directory) are sorted in.
func (t *Tree) encodeChildren(n *tnode) ([]object.TreeEntry, error) {
	entries := make([]object.TreeEntry, 0, len(n.children))
	var slots []object.TreeEntry // by place in n.base; a zero Name is empty
	if n.base != nil {
		slots = make([]object.TreeEntry, len(n.base.sorted))
	}
	others := false
	for name, c := range n.children {
		h, keep, err := t.encode(c)
		if err != nil {
			return nil, err
		}
		if !keep {
			continue
		}
		e := object.TreeEntry{Name: name, Mode: c.mode, Hash: h}
		if i, ok := n.base.placeOf(name, c.mode); ok {
			slots[i] = e
			continue
		}
		entries = append(entries, e)
		others = true
	}
	if slots != nil {
		ordered := make([]object.TreeEntry, 0, len(n.children))
		for _, e := range slots {
			if e.Name != "" {
				ordered = append(ordered, e)
			}
		}
		entries = append(ordered, entries...)
		if !others {
			return entries, nil
		}
	}
	slices.SortFunc(entries, compareEntries)
	return entries, nil
}

// placeOf returns where an entry called name of mode sorts in m, if it
// sorts where m's entry of that name does (a directory sorts as if its
// name ended in "/"). A nil m has no places.
func (m *treeEntries) placeOf(name string, mode filemode.FileMode) (int, bool) {
	if m == nil {
		return 0, false
	}
	i, ok := m.at[name]
	if !ok || (m.sorted[i].Mode == filemode.Dir) != (mode == filemode.Dir) {
		return 0, false
	}
	return i, true
}

// compareEntries is Git's tree order: directories sort as if their name
// ended in "/".
func compareEntries(a, b object.TreeEntry) int {
	n := min(len(a.Name), len(b.Name))
	if c := strings.Compare(a.Name[:n], b.Name[:n]); c != 0 {
		return c
	}
	return cmp.Compare(entryByte(a, n), entryByte(b, n))
}

// entryByte is the byte at i of e's name in tree order (see
// compareEntries), -1 past its end.
func entryByte(e object.TreeEntry, i int) int {
	switch {
	case i < len(e.Name):
		return int(e.Name[i])
	case e.Mode == filemode.Dir:
		return '/'
	}
	return -1
}

// encodeTree writes the tree object of entries, sorted, to obj in one
// write: what [object.Tree.Encode] writes, without a write per field.
func encodeTree(obj plumbing.EncodedObject, entries []object.TreeEntry) error {
	size := 0
	for _, e := range entries {
		if strings.IndexByte(e.Name, 0) >= 0 {
			return fmt.Errorf("malformed file name %q", e.Name)
		}
		size += 8 + len(e.Name) + len(e.Hash)
	}
	buf := make([]byte, 0, size)
	for _, e := range entries {
		buf = strconv.AppendUint(buf, uint64(e.Mode), 8)
		buf = append(buf, ' ')
		buf = append(buf, e.Name...)
		buf = append(buf, 0)
		buf = append(buf, e.Hash[:]...)
	}
	obj.SetType(plumbing.TreeObject)
	obj.SetSize(int64(len(buf)))
	w, err := obj.Writer()
	if err != nil {
		return err
	}
	if _, err := w.Write(buf); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
