package gitops

import (
	"bytes"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// This file holds the dependency index: what each kustomization in a tree
// names, and, for any path, which kustomizations read it. Everything in it
// depends only on object content, so it is cached by object hash and never
// goes stale: a new commit shares the summaries of every directory it did
// not change, and only the directories on the path of a change are read
// again.

// kustInfo is what flightdeck reads from one kustomization file.
type kustInfo struct {
	// refs are the clean paths, relative to the file's directory, that its
	// scalar values name; they may climb with "..". Every value is taken,
	// whatever its field, so fields kustomize adds later need no change
	// here; values that name no path only cost a lookup.
	refs []string
	// remotes are the references kustomize would fetch over the network.
	remotes []remoteRef
	// component is true for "kind: Component", which is rendered only
	// through the kustomizations that include it.
	component bool
}

// baseFields are the kustomization fields whose entries kustomize builds
// as kustomizations when they are not files, so that an entry may be a
// remote git base.
var baseFields = map[string]bool{
	"resources": true, "bases": true, "components": true,
	"generators": true, "transformers": true, "validators": true,
}

// loadKeys are the keys (or, for lists of paths, the fields) whose values
// kustomize loads as files, over HTTP when they are URLs.
var loadKeys = map[string]bool{
	"path": true, "files": true, "envs": true, "env": true,
	"crds": true, "configurations": true, "patchesstrategicmerge": true,
}

// parseKustomization reads a kustomization file. A file that is not YAML
// names nothing: kustomize reports the error when it renders.
func parseKustomization(data []byte) *kustInfo {
	info := &kustInfo{}
	rn, err := yaml.Parse(string(data))
	if err != nil {
		return info
	}
	root := rn.YNode()
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return info
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		field := strings.ToLower(root.Content[i].Value)
		val := root.Content[i+1]
		if field == "kind" && val.Value == "Component" {
			info.component = true
		}
		if baseFields[field] && val.Kind == yaml.SequenceNode {
			for _, it := range val.Content {
				if it.Kind == yaml.ScalarNode {
					if git, ok := remoteBase(it.Value); ok {
						info.remotes = append(info.remotes, remoteRef{field: root.Content[i].Value, value: it.Value, git: git})
					}
				}
			}
		}
		collectScalars(val, field, func(key, v string) {
			if !baseFields[field] && (loadKeys[key] || loadKeys[field]) && remoteFile(v) {
				info.remotes = append(info.remotes, remoteRef{field: root.Content[i].Value, value: v, loadOnly: true})
			}
			if r, ok := refOf(v); ok {
				info.refs = append(info.refs, r)
			}
		})
	}
	sort.Strings(info.refs)
	info.refs = compactStrings(info.refs)
	return info
}

// collectScalars calls fn for every scalar value (not mapping keys) under
// n, with the key of the mapping that holds it (or the field for list
// items directly under it).
func collectScalars(n *yaml.Node, key string, fn func(key, v string)) {
	switch n.Kind {
	case yaml.ScalarNode:
		fn(key, n.Value)
	case yaml.SequenceNode:
		for _, c := range n.Content {
			collectScalars(c, key, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			collectScalars(n.Content[i+1], strings.ToLower(n.Content[i].Value), fn)
		}
	}
}

// refOf returns the relative path a scalar may name: its text after a
// "key=" prefix (as in generator file sources), cleaned. URLs, absolute
// paths and text with blanks name no path.
func refOf(v string) (string, bool) {
	if i := strings.Index(v, "="); i >= 0 {
		v = v[i+1:]
	}
	if v == "" || strings.Contains(v, "://") || strings.ContainsAny(v, "\n\t \\") || strings.HasPrefix(v, "/") {
		return "", false
	}
	return path.Clean(v), true
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func climbs(p string) bool { return p == ".." || strings.HasPrefix(p, "../") }

// under reports whether p is dir or lies below it; "" is the root.
func under(p, dir string) bool {
	return dir == "" || p == dir || strings.HasPrefix(p, dir+"/")
}

// dirSummary is what the index knows about one tree object: the
// kustomizations in it and the paths outside it they name. It does not
// depend on where the tree sits, so copies share it. A nil summary means
// the tree holds no kustomization.
type dirSummary struct {
	kust     *kustEntry             // this directory's kustomization
	children map[string]*dirSummary // subdirectories that hold a kustomization
	// escapes are the paths outside this directory that kustomizations
	// in it name, relative to it ("../base"), sorted.
	escapes []string
}

type kustEntry struct {
	file string // file name in the directory
	blob plumbing.Hash
}

// summary returns the summary of the tree object h, from the cache or
// by reading it (and any subtree the cache does not know) from s.
func (c *renderCache) summary(s storer.EncodedObjectStorer, h plumbing.Hash) (*dirSummary, error) {
	if sum, ok := c.summaries.get(h); ok {
		return sum, nil
	}
	entries, err := c.entries(s, h)
	if err != nil {
		return nil, err
	}
	var sum dirSummary
	for _, e := range entries.sorted {
		switch {
		case e.Mode == filemode.Dir:
			ch, err := c.summary(s, e.Hash)
			if err != nil {
				return nil, err
			}
			if ch != nil {
				if sum.children == nil {
					sum.children = make(map[string]*dirSummary, len(entries.sorted))
				}
				sum.children[e.Name] = ch
			}
		case isRegular(e.Mode) && isKustomizationName(e.Name):
			if sum.kust != nil && kustRank(sum.kust.file) < kustRank(e.Name) {
				continue
			}
			sum.kust = &kustEntry{file: e.Name, blob: e.Hash}
		}
	}
	var out *dirSummary
	if sum.kust != nil || sum.children != nil {
		var esc []string
		if sum.kust != nil {
			refs, err := c.climbing(s, sum.kust.blob)
			if err != nil {
				return nil, err
			}
			esc = append(esc, refs...)
		}
		for name, ch := range sum.children {
			for _, e := range ch.escapes {
				if j := path.Join(name, e); climbs(j) {
					esc = append(esc, j)
				}
			}
		}
		sort.Strings(esc)
		sum.escapes = compactStrings(esc)
		out = &sum
	}
	c.summaries.put(h, out, 1+len(sum.children))
	return out, nil
}

// isRegular reports whether m is a file the renderer copies: symbolic
// links are never followed.
func isRegular(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated
}

func isKustomizationName(n string) bool { return kustRank(n) >= 0 }

func kustRank(n string) int {
	for i, k := range kustomizationFileNames {
		if n == k {
			return i
		}
	}
	return -1
}

// kustomization returns the parsed kustomization file with blob hash h.
func (c *renderCache) kustomization(s storer.EncodedObjectStorer, h plumbing.Hash) (*kustInfo, error) {
	if info, ok := c.kusts.get(h); ok {
		return info, nil
	}
	data, err := readBlob(s, h)
	if err != nil {
		return nil, err
	}
	info := parseKustomization(data)
	c.kusts.put(h, info, 1)
	return info, nil
}

// treeEntries is a decoded tree object: its entries in tree order, and
// where each is by name. It is shared: never changed once made.
type treeEntries struct {
	sorted []object.TreeEntry
	at     map[string]int
}

func newTreeEntries(sorted []object.TreeEntry) *treeEntries {
	m := &treeEntries{sorted: sorted, at: make(map[string]int, len(sorted))}
	for i, e := range sorted {
		m.at[e.Name] = i
	}
	return m
}

// get returns the entry called name.
func (m *treeEntries) get(name string) (object.TreeEntry, bool) {
	i, ok := m.at[name]
	if !ok {
		return object.TreeEntry{}, false
	}
	return m.sorted[i], true
}

// entries returns the decoded tree object h.
func (c *renderCache) entries(s storer.EncodedObjectStorer, h plumbing.Hash) (*treeEntries, error) {
	if m, ok := c.trees.get(h); ok {
		return m, nil
	}
	var sorted []object.TreeEntry
	if !h.IsZero() {
		tr, err := object.GetTree(s, h)
		if err != nil {
			return nil, err
		}
		sorted = tr.Entries
	}
	m := newTreeEntries(sorted)
	c.trees.put(h, m, 1+len(sorted))
	return m, nil
}

// putEntries caches the decoded tree object h, written with entries (in
// tree order, and not changed afterwards).
func (c *renderCache) putEntries(h plumbing.Hash, entries []object.TreeEntry) {
	if _, ok := c.trees.get(h); ok {
		return
	}
	c.trees.put(h, newTreeEntries(entries), 1+len(entries))
}

// resolve returns the entry at the clean path p ("" is the root) of the
// tree root, and false if nothing is there or the path goes through
// something other than a directory (a symbolic link is never followed).
func (c *renderCache) resolve(s storer.EncodedObjectStorer, root plumbing.Hash, p string) (object.TreeEntry, bool, error) {
	e := object.TreeEntry{Mode: filemode.Dir, Hash: root}
	if p == "" {
		return e, true, nil
	}
	for _, part := range strings.Split(p, "/") {
		if e.Mode != filemode.Dir {
			return e, false, nil
		}
		m, err := c.entries(s, e.Hash)
		if err != nil {
			return e, false, err
		}
		var ok bool
		if e, ok = m.get(part); !ok {
			return e, false, nil
		}
	}
	return e, true, nil
}

// climbing returns the paths outside its directory that the
// kustomization file with blob hash h may name: a superset of the
// climbing refs of its kustomInfo, found by scanning the text rather than
// parsing it, which a first index of a large repository would spend most
// of its time on. The file is parsed only when a query or a render
// reaches it. (A path written with YAML escapes, such as "\x2e\x2e/base"
// in double quotes, is not seen.)
func (c *renderCache) climbing(s storer.EncodedObjectStorer, h plumbing.Hash) ([]string, error) {
	if refs, ok := c.climbs.get(h); ok {
		return refs, nil
	}
	data, err := readBlob(s, h)
	if err != nil {
		return nil, err
	}
	refs := climbingRefs(data)
	c.climbs.put(h, refs, 1)
	return refs, nil
}

// climbingRefs returns the candidate refs of text that climb with "..":
// every blank-separated word, trimmed of YAML quotes and flow punctuation,
// and every piece of it between those characters.
func climbingRefs(data []byte) []string {
	if !bytes.Contains(data, []byte("..")) {
		return nil
	}
	var out []string
	add := func(w string) {
		if r, ok := refOf(w); ok && climbs(r) {
			out = append(out, r)
		}
	}
	const punct = "'\"[]{},"
	for _, w := range strings.Fields(string(data)) {
		if !strings.Contains(w, "..") {
			continue
		}
		add(strings.Trim(w, punct))
		for _, piece := range strings.FieldsFunc(w, func(r rune) bool { return strings.ContainsRune(punct, r) }) {
			add(piece)
		}
	}
	sort.Strings(out)
	return compactStrings(out)
}

func readBlob(s storer.EncodedObjectStorer, h plumbing.Hash) ([]byte, error) {
	t := &Tree{s: s}
	return t.blob(&tnode{mode: filemode.Regular, hash: h})
}

// includers returns the kustomization directories of the tree summarised
// by root that name x or a directory above it (with below, also a path
// below x, for a directory a change replaced or removed), and so read x
// when they render.
func (c *renderCache) includers(s storer.EncodedObjectStorer, root *dirSummary, x string, below bool) ([]string, error) {
	hit := func(q string) bool { return under(x, q) || below && under(q, x) }
	var out []string
	var visit func(n *dirSummary, p string) error
	visit = func(n *dirSummary, p string) error {
		if n.kust != nil {
			info, err := c.kustomization(s, n.kust.blob)
			if err != nil {
				return err
			}
			for _, r := range info.refs {
				if q := path.Join(p, r); !climbs(q) && hit(cleanRoot(q)) {
					out = append(out, p)
					break
				}
			}
		}
		for name, ch := range n.children {
			if len(ch.escapes) == 0 && !hitChild(x, p, name, below) {
				continue // most children of a large directory: no path built
			}
			cp := path.Join(p, name)
			if hit(cp) {
				if err := visit(ch, cp); err != nil {
					return err
				}
				continue
			}
			for _, e := range ch.escapes {
				if q := path.Join(cp, e); !climbs(q) && hit(cleanRoot(q)) {
					if err := visit(ch, cp); err != nil {
						return err
					}
					break
				}
			}
		}
		return nil
	}
	if root != nil {
		if err := visit(root, ""); err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// hitChild reports what hit reports in includers for the child name of
// directory p (p/name, name alone for the root), without building the
// path: whether x is the child or below it, or, with below, the child is
// below x.
func hitChild(x, p, name string, below bool) bool {
	rest := x
	if p != "" {
		if len(x) <= len(p) || x[:len(p)] != p || x[len(p)] != '/' {
			// x is not below p: the child can be below x only if p is.
			return below && under(p, x)
		}
		rest = x[len(p)+1:]
	}
	if rest == name || strings.HasPrefix(rest, name) && len(rest) > len(name) && rest[len(name)] == '/' {
		return true
	}
	return below && x == "" // every path is below the root
}

// kustomizationsUnder returns the kustomization directories at or below
// directory p of the tree summarised by s.
func (s *dirSummary) kustomizationsUnder(p string) []string {
	var out []string
	var walk func(n *dirSummary, d string)
	walk = func(n *dirSummary, d string) {
		if n.kust != nil {
			out = append(out, d)
		}
		for name, ch := range n.children {
			walk(ch, path.Join(d, name))
		}
	}
	if n := s.lookup(p); n != nil {
		walk(n, p)
	}
	sort.Strings(out)
	return out
}

// cleanRoot maps path.Join's "." for the root to "".
func cleanRoot(p string) string {
	if p == "." {
		return ""
	}
	return p
}

// dependents returns every kustomization directory of the tree summarised
// by root whose render reads one of paths, directly or through the
// kustomizations it includes, transitively.
func (c *renderCache) dependents(s storer.EncodedObjectStorer, root *dirSummary, paths []string) ([]string, error) {
	seen := map[string]bool{}
	queue := append([]string(nil), paths...)
	for i := 0; len(queue) > 0; i++ {
		x := queue[0]
		queue = queue[1:]
		ks, err := c.includers(s, root, x, i < len(paths))
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			if !seen[k] {
				seen[k] = true
				queue = append(queue, k)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

// nearest returns the nearest directory at or above p ("" is the root)
// that holds a kustomization in the tree summarised by s.
func (s *dirSummary) nearest(p string) (string, *kustEntry) {
	for d := p; ; d = cleanRoot(path.Dir(d)) {
		if n := s.lookup(d); n != nil && n.kust != nil {
			return d, n.kust
		}
		if d == "" {
			return "", nil
		}
	}
}

// lookup returns the summary of directory p ("" is the root) under root.
func (s *dirSummary) lookup(p string) *dirSummary {
	n := s
	if p == "" {
		return n
	}
	for _, part := range strings.Split(p, "/") {
		if n == nil {
			return nil
		}
		n = n.children[part]
	}
	return n
}
