package gitops

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// render builds the kustomization in dir of t with krusty over an
// in-memory file system holding only what the overlay needs: the subtree
// of dir, and every directory or file its kustomization files refer to
// (resources, components, patches, generator inputs), transitively. A
// failure is a *RenderError wrapping [ErrRender].
func render(ctx context.Context, t *Tree, dir, revision string, cache *renderCache) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := cleanPath(dir)
	if err != nil {
		return nil, &PathError{Op: "render", Path: dir, Err: err}
	}
	if !t.IsDir(c) {
		return nil, &RenderError{Dir: dir, Revision: revision, Err: fmt.Errorf("%w: no such directory", ErrNotExist)}
	}
	fs := filesys.MakeFsInMemory()
	l := &fsLoader{t: t, fs: fs, loaded: map[string]bool{}, inputs: map[string]plumbing.Hash{}}
	if err := l.dir(c); err != nil {
		return nil, &RenderError{Dir: dir, Revision: revision, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := l.key(c)
	if out, ok := cache.get(key); ok {
		return out, nil
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(fs, "/"+c)
	if err != nil {
		return nil, &RenderError{Dir: dir, Revision: revision, Err: err}
	}
	out, err := rm.AsYaml()
	if err != nil {
		return nil, &RenderError{Dir: dir, Revision: revision, Err: err}
	}
	cache.put(key, out)
	return out, nil
}

// renderCache maps the exact inputs of a render (the overlay directory
// and the path and blob hash of every file loaded for it) to its output.
// Replaying a change after a lost race renders the same inputs again, so
// replays hit the cache. It holds at most renderCacheSize entries and is
// safe for concurrent use; a nil cache caches nothing.
type renderCache struct {
	mu sync.Mutex
	m  map[plumbing.Hash][]byte
}

const renderCacheSize = 256

func (c *renderCache) get(k plumbing.Hash) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out, ok := c.m[k]
	return out, ok
}

func (c *renderCache) put(k plumbing.Hash, out []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= renderCacheSize {
		c.m = map[plumbing.Hash][]byte{}
	}
	c.m[k] = out
}

type fsLoader struct {
	t      *Tree
	fs     filesys.FileSystem
	loaded map[string]bool          // directories whose subtree is in fs
	inputs map[string]plumbing.Hash // every file loaded, by path
}

// key identifies the render of dir from exactly the loaded files.
func (l *fsLoader) key(dir string) plumbing.Hash {
	paths := make([]string, 0, len(l.inputs))
	for p := range l.inputs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var b strings.Builder
	b.WriteString("render\x00" + dir + "\x00")
	for _, p := range paths {
		b.WriteString(p + "\x00" + l.inputs[p].String() + "\n")
	}
	return plumbing.ComputeHash(plumbing.BlobObject, []byte(b.String()))
}

func (l *fsLoader) covered(p string) bool {
	for q := p; ; q = path.Dir(q) {
		if l.loaded[q] {
			return true
		}
		if q == "." || q == "" || q == "/" {
			return false
		}
	}
}

func (l *fsLoader) dir(d string) error {
	if l.covered(d) {
		return nil
	}
	l.loaded[d] = true
	var kfiles []string
	err := l.t.files(d, func(p string, h plumbing.Hash, data []byte) error {
		l.inputs[p] = h
		if err := l.fs.WriteFile("/"+p, data); err != nil {
			return err
		}
		for _, n := range kustomizationFileNames {
			if path.Base(p) == n {
				kfiles = append(kfiles, p)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, kf := range kfiles {
		data, _ := l.fs.ReadFile("/" + kf)
		if err := l.follow(path.Dir(kf), data); err != nil {
			return err
		}
	}
	return nil
}

// follow loads every path outside the loaded subtrees that a scalar of the
// kustomization at kdir names. It looks at all scalars rather than a list
// of fields, so new kustomize fields need no change here; values that do
// not name an existing path are ignored.
func (l *fsLoader) follow(kdir string, data []byte) error {
	rn, err := yaml.Parse(string(data))
	if err != nil {
		return nil // krusty reports the parse error with its own context
	}
	var refs []string
	var visit func(n *yaml.Node)
	visit = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode {
			v := n.Value
			if i := strings.Index(v, "="); i >= 0 {
				v = v[i+1:]
			}
			if v != "" && !strings.Contains(v, "://") && !strings.ContainsAny(v, "\n\t ") {
				refs = append(refs, v)
			}
		}
		for _, c := range n.Content {
			visit(c)
		}
	}
	visit(rn.YNode())
	for _, r := range refs {
		p, err := cleanPath(path.Join(kdir, r))
		if err != nil || p == "" || l.covered(p) {
			continue
		}
		switch {
		case l.t.IsDir(p):
			if err := l.dir(p); err != nil {
				return err
			}
		case l.t.Exists(p):
			data, err := l.t.ReadFile(p)
			if err != nil {
				continue
			}
			l.inputs[p] = plumbing.ComputeHash(plumbing.BlobObject, data)
			if err := l.fs.WriteFile("/"+p, data); err != nil {
				return err
			}
		}
	}
	return nil
}

// files calls fn for every regular file under dir, loading directories
// as it goes. Symbolic links and submodules are skipped: they are never
// followed.
func (t *Tree) files(dir string, fn func(p string, h plumbing.Hash, data []byte) error) error {
	n, _, err := t.walk(dir, false)
	if err != nil {
		return err
	}
	if n == nil {
		return ErrNotExist
	}
	return t.filesNode(dir, n, fn)
}

func (t *Tree) filesNode(p string, n *tnode, fn func(string, plumbing.Hash, []byte) error) error {
	switch n.mode {
	case filemode.Dir:
		if err := t.load(n); err != nil {
			return err
		}
		for name, c := range n.children {
			if err := t.filesNode(path.Join(p, name), c, fn); err != nil {
				return err
			}
		}
		return nil
	case filemode.Regular, filemode.Executable, filemode.Deprecated:
		data, err := t.blob(n)
		if err != nil {
			return err
		}
		h := n.hash
		if n.data != nil {
			h = plumbing.ComputeHash(plumbing.BlobObject, n.data)
		}
		return fn(p, h, data)
	default:
		return nil
	}
}

// kustomizationDir returns the nearest directory at or above p that holds
// a kustomization file in t, or "" if there is none.
func kustomizationDir(t *Tree, p string) string {
	for d := p; ; d = path.Dir(d) {
		if t.IsDir(d) && t.KustomizationFile(d) != "" {
			return d
		}
		if d == "." || d == "/" || d == "" {
			return ""
		}
	}
}
