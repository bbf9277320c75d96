package gitops

import (
	"container/list"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Rendering. A render builds one kustomization with krusty over an
// in-memory file system that holds only what the overlay reads: the
// subtree of its directory and every directory or file its kustomization
// files name, transitively. It happens in two steps:
//
//   - plan reads tree objects only (and kustomization files, through the
//     content-addressed index of render_deps.go) to find those inputs and
//     the key that identifies them: the tree hash of every directory and
//     the blob hash of every file loaded;
//   - run, only when the render cache does not know the key, copies the
//     inputs into memory and runs kustomize, which needs no Repo lock.
//
// So rendering an overlay whose inputs did not change costs a few tree
// lookups, wherever in history it is asked for.

// mountRepo is where the repository's tree appears in the in-memory file
// system; remote resources are mounted beside it, under mountRemote, so
// that no path of the repository can collide with them.
const (
	mountRepo   = "/repo"
	mountRemote = "/remote"
)

// renderEnv is what a render needs from the Repo besides trees.
type renderEnv struct {
	log    *slog.Logger
	remote bool         // fetch remote resources instead of refusing them
	http   *http.Client // for remote files; nil is http.DefaultClient
	// fetched holds the remote resources fetched for this operation, by
	// entry as written.
	fetched map[string]*remoteTree
}

// source is one tree mounted in the in-memory file system.
type source struct {
	t        *Tree         // for copying files, on a cache miss
	root     plumbing.Hash // the root tree of t, unless t holds edits (see live)
	mount    string
	desc     string // how errors name it: "" for the repository
	confined bool   // a remote: its kustomizations may not name paths outside it
	// live is set for a tree that holds edits not yet written: paths are
	// then resolved through its nodes, and the edited directories a
	// render reads are encoded (into t's object store, a memory layer)
	// when reached, once each, rather than the whole tree.
	live map[*tnode]plumbing.Hash
}

// resolve returns the entry at the clean path q of src (see
// [renderCache.resolve]).
func (p *planner) resolve(src *source, q string) (object.TreeEntry, bool, error) {
	if src.live == nil {
		return p.c.resolve(src.t.s, src.root, q)
	}
	return src.resolveLive(p.c, q)
}

// resolveLive resolves q through the nodes of an edited tree: through
// the edited directories on its way, and from the first directory the
// edits did not reach through the cached tree objects.
func (s *source) resolveLive(c *renderCache, q string) (object.TreeEntry, bool, error) {
	n := s.t.root
	rest := q
	for n.dirty {
		if rest == "" {
			h, ok := s.live[n]
			if !ok {
				var keep bool
				var err error
				if h, keep, err = s.t.encode(n); err != nil {
					return object.TreeEntry{}, false, err
				}
				if !keep && n != s.t.root {
					h = plumbing.ZeroHash // left empty: Git records no such directory
				}
				s.live[n] = h
			}
			if h.IsZero() && n != s.t.root {
				return object.TreeEntry{}, false, nil
			}
			return object.TreeEntry{Mode: filemode.Dir, Hash: h}, true, nil
		}
		part, after, _ := strings.Cut(rest, "/")
		ch := n.children[part] // a dirty directory has its children loaded
		if ch == nil {
			return object.TreeEntry{}, false, nil
		}
		if ch.mode != filemode.Dir {
			if after != "" {
				return object.TreeEntry{}, false, nil
			}
			h := ch.hash
			if ch.data != nil {
				h = plumbing.ComputeHash(plumbing.BlobObject, ch.data)
			}
			return object.TreeEntry{Name: part, Mode: ch.mode, Hash: h}, true, nil
		}
		if !ch.dirty {
			if ch.hash.IsZero() {
				return object.TreeEntry{}, false, nil // made for a write that failed: not a directory Git records
			}
			e, ok, err := c.resolve(s.t.s, ch.hash, after)
			if after == "" {
				e.Name, e.Mode = part, ch.mode
			}
			return e, ok, err
		}
		n, rest = ch, after
	}
	return c.resolve(s.t.s, n.hash, rest)
}

func (s *source) fsPath(p string) string {
	if p == "" {
		return s.mount
	}
	return s.mount + "/" + p
}

// renderPlan is what one render reads, and the key of its result.
type renderPlan struct {
	dir     string
	key     plumbing.Hash
	loads   []planLoad
	kusts   []planKust
	need    []remoteRef // remote resources not fetched yet
	refusal error       // why the render cannot run, before kustomize
	mounts  []*source
}

type planLoad struct {
	src *source
	p   string
	dir bool
}

type planKust struct {
	src   *source
	file  string // path inside src
	info  *kustInfo
	remap map[string]string // remote entry -> path of its mount, relative to the file's directory
}

type planner struct {
	c      *renderCache
	env    *renderEnv
	plan   *renderPlan
	loaded map[*source]map[string]bool
	parts  []string
}

// plan finds the inputs of the kustomization in dir of the repository
// tree t. An error is a failure to read the object store; a render that
// cannot run (no such directory, a refused remote resource) is reported
// in the plan's refusal.
func (c *renderCache) plan(t *Tree, dir string, env *renderEnv) (*renderPlan, error) {
	p := &planner{c: c, env: env, plan: &renderPlan{dir: dir}, loaded: map[*source]map[string]bool{}}
	repo := &source{t: t, root: t.root.hash, mount: mountRepo}
	if t.root.dirty {
		repo.live = map[*tnode]plumbing.Hash{}
	}
	if e, ok, err := p.resolve(repo, dir); err != nil {
		return nil, err
	} else if !ok || e.Mode != filemode.Dir {
		p.plan.refusal = reasonf(ErrNotExist, "no such directory")
		return p.plan, nil
	}
	if err := p.visit(repo, dir); err != nil {
		return nil, err
	}
	sort.Strings(p.parts)
	var b strings.Builder
	b.WriteString("render v2\x00" + dir + "\n")
	for _, s := range p.parts {
		b.WriteString(s + "\n")
	}
	p.plan.key = plumbing.ComputeHash(plumbing.BlobObject, []byte(b.String()))
	return p.plan, nil
}

func (p *planner) covered(src *source, d string) bool {
	m := p.loaded[src]
	for q := d; ; q = path.Dir(q) {
		if m[cleanRoot(q)] {
			return true
		}
		if q == "." || q == "" || q == "/" {
			return false
		}
	}
}

func (p *planner) visit(src *source, d string) error {
	if p.covered(src, d) {
		return nil
	}
	n, ok, err := p.resolve(src, d)
	if err != nil {
		return err
	}
	if !ok || n.Mode != filemode.Dir {
		return nil
	}
	if p.loaded[src] == nil {
		p.loaded[src] = map[string]bool{}
	}
	p.loaded[src][d] = true
	p.plan.loads = append(p.plan.loads, planLoad{src: src, p: d, dir: true})
	p.parts = append(p.parts, "d\x00"+src.fsPath(d)+"\x00"+n.Hash.String())
	sum, err := p.c.summary(src.t.s, n.Hash)
	if err != nil {
		return err
	}
	return p.kustomizations(src, d, sum)
}

// kustomizations follows the kustomization files of the summary sum of
// directory d, in a fixed order.
func (p *planner) kustomizations(src *source, d string, sum *dirSummary) error {
	if sum == nil {
		return nil
	}
	if sum.kust != nil {
		if err := p.follow(src, d, sum.kust); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(sum.children))
	for name := range sum.children {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := p.kustomizations(src, path.Join(d, name), sum.children[name]); err != nil {
			return err
		}
	}
	return nil
}

func (p *planner) follow(src *source, kdir string, k *kustEntry) error {
	info, err := p.c.kustomization(src.t.s, k.blob)
	if err != nil {
		return err
	}
	pk := planKust{src: src, file: path.Join(kdir, k.file), info: info}
	for _, r := range info.refs {
		q := path.Join(kdir, r)
		if climbs(q) {
			if src.confined && p.plan.refusal == nil {
				p.plan.refusal = reasonf(ErrRemoteResource, "%s names %q, outside the remote", src.desc+"//"+pk.file, r)
			}
			continue
		}
		q = cleanRoot(q)
		if p.covered(src, q) {
			continue
		}
		n, ok, err := p.resolve(src, q)
		if err != nil {
			return err
		}
		switch {
		case !ok:
		case n.Mode == filemode.Dir:
			if err := p.visit(src, q); err != nil {
				return err
			}
		case isRegular(n.Mode):
			p.plan.loads = append(p.plan.loads, planLoad{src: src, p: q})
			p.parts = append(p.parts, "f\x00"+src.fsPath(q)+"\x00"+n.Hash.String())
		}
	}
	for _, rem := range info.remotes {
		if err := p.remote(src, kdir, &pk, rem); err != nil {
			return err
		}
	}
	p.plan.kusts = append(p.plan.kusts, pk)
	return nil
}

func (p *planner) remote(src *source, kdir string, pk *planKust, rem remoteRef) error {
	where := pk.file
	if src.desc != "" {
		where = src.desc + "//" + pk.file
	}
	switch {
	case !p.env.remote:
		if p.plan.refusal == nil {
			p.plan.refusal = reasonf(ErrRemoteResource, "kustomization %s: %s entry %q is remote, and remote resources are off (see WithRemoteResources)",
				where, rem.field, RedactURL(rem.value))
		}
		return nil
	case rem.loadOnly:
		if p.plan.refusal == nil {
			p.plan.refusal = reasonf(ErrRemoteResource, "kustomization %s: %s entry %q is remote, and only resources, bases and components may be",
				where, rem.field, RedactURL(rem.value))
		}
		return nil
	}
	rt := p.env.fetched[rem.value]
	if rt == nil {
		p.plan.need = append(p.plan.need, rem)
		return nil
	}
	rs := p.mount(rt)
	if pk.remap == nil {
		pk.remap = map[string]string{}
	}
	pk.remap[rem.value] = relPath(src.fsPath(kdir), rs.fsPath(rt.dir))
	p.parts = append(p.parts, "r\x00"+rem.value+"\x00"+rt.id)
	return p.visit(rs, rt.dir)
}

func (p *planner) mount(rt *remoteTree) *source {
	for _, s := range p.plan.mounts {
		if s.t == rt.t {
			return s
		}
	}
	s := &source{t: rt.t, root: rt.t.root.hash, mount: mountRemote + "/" + rt.id, desc: rt.desc, confined: true}
	p.plan.mounts = append(p.plan.mounts, s)
	return s
}

// relPath returns the slash path that leads from directory from to to.
func relPath(from, to string) string {
	f := strings.Split(strings.Trim(from, "/"), "/")
	t := strings.Split(strings.Trim(to, "/"), "/")
	i := 0
	for i < len(f) && i < len(t) && f[i] == t[i] {
		i++
	}
	parts := make([]string, 0, len(f)-i+len(t)-i)
	for range f[i:] {
		parts = append(parts, "..")
	}
	parts = append(parts, t[i:]...)
	if len(parts) == 0 {
		return "."
	}
	return strings.Join(parts, "/")
}

// materialize copies the inputs of p into a new in-memory file system,
// with each kustomization file fixed for kustomize (see fixKustomization).
// It reads the object store.
func (p *renderPlan) materialize(log *slog.Logger) (filesys.FileSystem, error) {
	fs := filesys.MakeFsInMemory()
	for _, l := range p.loads {
		if l.dir {
			err := l.src.t.files(l.p, func(q string, _ plumbing.Hash, data []byte) error {
				return fs.WriteFile(l.src.fsPath(q), data)
			})
			if err != nil {
				return nil, err
			}
			continue
		}
		data, err := l.src.t.ReadFile(l.p)
		if err != nil {
			return nil, err
		}
		if err := fs.WriteFile(l.src.fsPath(l.p), data); err != nil {
			return nil, err
		}
	}
	for _, k := range p.kusts {
		name := k.src.fsPath(k.file)
		data, err := fs.ReadFile(name)
		if err != nil {
			continue
		}
		kdir := path.Dir(name)
		exists := func(rel string) ([]byte, bool) {
			b, err := fs.ReadFile(path.Join(kdir, rel))
			return b, err == nil
		}
		fixed, warnings := fixKustomization(data, k.remap, exists)
		where := k.file
		if k.src.desc != "" {
			where = k.src.desc + "//" + k.file
		}
		for _, w := range warnings {
			log.Warn("kustomize: "+w, "kustomization", where)
		}
		if fixed != nil {
			if err := fs.WriteFile(name, fixed); err != nil {
				return nil, err
			}
		}
	}
	return fs, nil
}

// run renders the materialized plan. The error is kustomize's, shortened.
func (p *renderPlan) run(fs filesys.FileSystem) ([]byte, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(fs, mountRepo+"/"+p.dir)
	if err != nil {
		return nil, kustomizeCause(err, mountRepo+"/"+p.dir, p.mounts)
	}
	out, err := rm.AsYaml()
	if err != nil {
		return nil, kustomizeCause(err, mountRepo+"/"+p.dir, p.mounts)
	}
	return out, nil
}

// renderTree renders the kustomization in dir of the repository tree t;
// revision names it in errors. Remote resources the plan needs and
// env.fetched lacks are reported in need, with nothing rendered: the
// caller fetches them (without holding the Repo's lock) and calls again.
// kustomize runs inside unlocked, if not nil, which releases the Repo's
// lock around it. A failed render is a *RenderError wrapping [ErrRender].
func (c *renderCache) renderTree(ctx context.Context, t *Tree, dir, revision string, env *renderEnv, unlocked func(func())) (out []byte, need []remoteRef, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	cd, err := cleanPath(dir)
	if err != nil {
		return nil, nil, &PathError{Op: "render", Path: dir, Err: err}
	}
	p, err := c.plan(t, cd, env)
	if err != nil {
		return nil, nil, &RenderError{Dir: dir, Revision: revision, Err: err, Failures: []RenderFailure{{Dir: dir, Err: err}}}
	}
	if len(p.need) > 0 && p.refusal == nil {
		return nil, p.need, nil
	}
	out, err = c.execute(ctx, p, env, unlocked)
	if err != nil {
		return nil, nil, newRenderError(revision, []RenderFailure{{Dir: dir, Err: err}})
	}
	return out, nil, nil
}

// execute returns the output of plan p, from the cache or by running
// kustomize (inside unlocked, if not nil). Its error is the cause of the failure, for a RenderFailure.
func (c *renderCache) execute(ctx context.Context, p *renderPlan, env *renderEnv, unlocked func(func())) ([]byte, error) {
	if p.refusal != nil {
		return nil, p.refusal
	}
	if r, ok := c.outputs.get(p.key); ok {
		return r.out, r.err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fs, err := p.materialize(env.log)
	if err != nil {
		return nil, err
	}
	if unlocked == nil {
		return c.run(p, fs)
	}
	var out []byte
	unlocked(func() { out, err = c.run(p, fs) })
	return out, err
}

// run runs kustomize on the materialized plan p and caches the result.
func (c *renderCache) run(p *renderPlan, fs filesys.FileSystem) ([]byte, error) {
	c.runs.Add(1)
	out, err := p.run(fs)
	c.outputs.put(p.key, renderResult{out: out, err: err})
	return out, err
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

// reasonError is a cause worded on its own (without the sentinel's
// text, which the error that wraps it already names) that still matches
// a sentinel, and any error given to reasonf with %w.
type reasonError struct {
	msg  string
	errs []error
}

func (e *reasonError) Error() string   { return e.msg }
func (e *reasonError) Unwrap() []error { return e.errs }

func reasonf(sentinel error, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	errs := []error{sentinel}
	if u, ok := err.(interface{ Unwrap() error }); ok {
		errs = append(errs, u.Unwrap())
	} else if u, ok := err.(interface{ Unwrap() []error }); ok {
		errs = append(errs, u.Unwrap()...)
	}
	return &reasonError{msg: err.Error(), errs: errs}
}

// renderResult is a cached render: its output or kustomize's error.
type renderResult struct {
	out []byte
	err error
}

// cost is what a result counts against renderCacheBytes: its output and
// a fixed overhead, so that failures, which have none, are bounded too.
func (r renderResult) cost() int { return len(r.out) + 256 }

// renderCache is what rendering learns, all of it keyed by content so it
// never goes stale: render results by the key of their inputs (bounded by
// size, least recently used first out), and the summaries of trees and
// parsed kustomization files of the dependency index. It is safe for
// concurrent use; the zero value is ready.
type renderCache struct {
	outputs   lru
	summaries boundedMap[*dirSummary]
	kusts     boundedMap[*kustInfo]
	climbs    boundedMap[[]string]
	trees     boundedMap[*treeEntries]
	runs      atomic.Int64 // kustomize runs, for tests and benchmarks
}

// Bounds of the render cache.
const (
	renderCacheBytes = 64 << 20 // rendered output kept
	// indexWeight bounds each map of the index, in entries: a summary
	// weighs one plus its children, a decoded tree one plus its entries.
	indexWeight = 1 << 20
)

// boundedMap is a map from object hash to a value derived from the
// object, forgotten all at once when the weights of its values reach
// indexWeight (what it forgets is read again when needed).
type boundedMap[V any] struct {
	mu     sync.Mutex
	m      map[plumbing.Hash]V
	weight int
}

func (b *boundedMap[V]) get(h plumbing.Hash) (V, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.m[h]
	return v, ok
}

func (b *boundedMap[V]) clear() {
	b.mu.Lock()
	b.m, b.weight = nil, 0
	b.mu.Unlock()
}

func (b *boundedMap[V]) put(h plumbing.Hash, v V, weight int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil || b.weight+weight > indexWeight {
		b.m, b.weight = map[plumbing.Hash]V{}, 0
	}
	if _, ok := b.m[h]; !ok {
		b.weight += weight
	}
	b.m[h] = v
}

// lru holds render results up to renderCacheBytes of output.
type lru struct {
	mu    sync.Mutex
	m     map[plumbing.Hash]*list.Element
	order list.List // front is most recent
	size  int
}

type lruEntry struct {
	key plumbing.Hash
	r   renderResult
}

func (l *lru) get(k plumbing.Hash) (renderResult, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[k]
	if !ok {
		return renderResult{}, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*lruEntry).r, true
}

func (l *lru) clear() {
	l.mu.Lock()
	l.m, l.size = nil, 0
	l.order.Init()
	l.mu.Unlock()
}

func (l *lru) put(k plumbing.Hash, r renderResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[plumbing.Hash]*list.Element{}
	}
	if e, ok := l.m[k]; ok {
		l.size -= e.Value.(*lruEntry).r.cost()
		l.order.Remove(e)
	}
	l.m[k] = l.order.PushFront(&lruEntry{key: k, r: r})
	l.size += r.cost()
	for l.size > renderCacheBytes && l.order.Len() > 1 {
		e := l.order.Back()
		l.order.Remove(e)
		delete(l.m, e.Value.(*lruEntry).key)
		l.size -= e.Value.(*lruEntry).r.cost()
	}
}

// render renders the kustomization in dir of t, which may hold edits not
// yet written: the edited directories the render reads are encoded into
// a memory layer over t's object store, which stays untouched. The
// results go to cache, or, when it is nil, to the cache of the Repo
// whose [Repo.Apply] made t (see [Tree.Render]), or to one for this
// render only. Everything cached is keyed by the hashes of the render's
// inputs, so a cached result never hides a changed input. Remote
// resources are refused. It serves [Tree.Render].
func render(ctx context.Context, t *Tree, dir, revision string, cache *renderCache) ([]byte, error) {
	if cache == nil {
		cache = t.renders
	}
	if cache == nil {
		cache = &renderCache{}
	}
	layer := &layerStorer{EncodedObjectStorer: t.s, mem: memory.NewStorage()}
	lt := &Tree{s: layer, root: t.root, changed: map[string]struct{}{}}
	env := &renderEnv{log: slog.New(slog.DiscardHandler), fetched: map[string]*remoteTree{}}
	out, _, err := cache.renderTree(ctx, lt, dir, revision, env, nil)
	return out, err
}

// layerStorer writes objects to memory and reads them from memory, then
// from the store below.
type layerStorer struct {
	storer.EncodedObjectStorer
	mem *memory.Storage
}

func (l *layerStorer) NewEncodedObject() plumbing.EncodedObject { return l.mem.NewEncodedObject() }

func (l *layerStorer) SetEncodedObject(o plumbing.EncodedObject) (plumbing.Hash, error) {
	return l.mem.SetEncodedObject(o)
}

func (l *layerStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if o, err := l.mem.EncodedObject(t, h); err == nil {
		return o, nil
	}
	return l.EncodedObjectStorer.EncodedObject(t, h)
}

func (l *layerStorer) HasEncodedObject(h plumbing.Hash) error {
	if l.mem.HasEncodedObject(h) == nil {
		return nil
	}
	return l.EncodedObjectStorer.HasEncodedObject(h)
}

func (l *layerStorer) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if n, err := l.mem.EncodedObjectSize(h); err == nil {
		return n, nil
	}
	return l.EncodedObjectStorer.EncodedObjectSize(h)
}
