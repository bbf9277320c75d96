package gitops

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/kustomize/kyaml/utils"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/flightdeck-dev/flightdeck"
)

// Edit is one change to a repository tree. Edits must be deterministic
// functions of the tree they are given: [Repo.Apply] re-applies the same
// edits to the new head when a push loses a race.
type Edit interface {
	// Apply changes t. An edit that finds nothing to change leaves t
	// as it is and returns nil.
	Apply(t *Tree) error
}

// EditFunc adapts a function to [Edit].
type EditFunc func(t *Tree) error

// Apply calls f(t).
func (f EditFunc) Apply(t *Tree) error { return f(t) }

var (
	_ Edit = EditFunc(nil)
	_ Edit = SetImage{}
	_ Edit = SetField{}
	_ Edit = WriteFile{}
	_ Edit = RemoveFile{}
	_ Edit = CopyDir{}
)

// kustomizationFileNames are the file names kustomize accepts for a
// kustomization, in the order it looks for them.
var kustomizationFileNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// KustomizationFile returns the path of the kustomization file in dir, or
// "" if dir has none.
func (t *Tree) KustomizationFile(dir string) string {
	for _, n := range kustomizationFileNames {
		p := path.Join(dir, n)
		if t.Exists(p) && !t.IsDir(p) {
			return p
		}
	}
	return ""
}

// KeepCurrent, given as the NewName, NewTag or Digest of a [SetImage],
// keeps the value the images: entry has (and sets none if it has none),
// as "*" does for `kustomize edit set image`.
const KeepCurrent = "*"

// SetImage sets the image override for Name in the `images:` list of the
// kustomization in Dir as `kustomize edit set image` (v5.7.1) does: the
// entry whose name is Name is replaced by exactly what the SetImage says
// (or appended if there is none). A field left empty is not in the new
// entry, so NewTag alone drops the entry's newName and digest, NewName
// alone drops its newTag and digest, and keys kustomize would drop
// (tagSuffix and any other) go too; [KeepCurrent] keeps the entry's value
// of that field.
//
// One deliberate difference from the CLI: an entry that ends up with a
// digest gets no newTag (NewTag, or a tag kept with [KeepCurrent], is
// dropped), because kustomize renders "name:tag@digest" when both are
// present and flightdeck pins by digest alone.
//
// Comments, key order and sequence indentation of the file are kept,
// every document of a multi-document file is kept, and the comments of a
// key that the edit removes move to the key that takes its place (digest
// for newTag and the other way round), else to the key before it. Other
// entries are left as they are (the CLI sorts them by name and rewrites
// the file).
//
// Name, NewName and the tag must parse with go-containerregistry's name
// package, and a digest must satisfy [flightdeck.ValidateDigest];
// otherwise Apply returns an error wrapping [ErrInvalidImage] (and
// [flightdeck.ErrInvalidDigest] for the digest). A SetImage with none of
// NewName, NewTag and Digest is refused (the CLI would write an entry
// that overrides nothing), and so is a list with two entries for Name.
type SetImage struct {
	// Dir is the kustomization directory, for example
	// "apps/checkout/overlays/prod".
	Dir string
	// Name is the image name the override matches, as in the manifests
	// ("registry.example.com/team/checkout"). Required.
	Name string
	// NewName is the image name to use instead of Name.
	NewName string
	// NewTag is the tag to set; dropped when the entry gets a digest.
	NewTag string
	// Digest is the manifest digest "sha256:<64 lower-case hex>" to pin.
	Digest string
}

// ParseSetImage returns the SetImage for Dir that `kustomize edit set
// image ARG` performs, for every argument shape the CLI accepts:
// "name:tag", "name@digest", "name:tag@digest", "name=newName",
// "name=newName:tag", "name=newName@digest", "name=newName:tag@digest",
// with "*" in place of the new name, tag or digest to keep the current
// one ("name=*:tag", "name:*", "name@*"). A registry port is not a tag
// ("localhost:5000/app:v1"). It returns an error wrapping
// [ErrInvalidImage] for an argument the CLI refuses ("name" alone) and
// for "name=" (see [SetImage]); the references themselves are checked
// when the edit is applied.
func ParseSetImage(dir, arg string) (SetImage, error) {
	key, value, hasKey := strings.Cut(arg, "=")
	if !hasKey {
		value = arg
	}
	img, tag, digest := splitImage(value)
	if !hasKey && img == arg {
		return SetImage{}, fmt.Errorf("%w: %q: want name:tag, name@digest, name=newName[:tag][@digest]", ErrInvalidImage, arg)
	}
	s := SetImage{Dir: dir, Name: img, NewTag: tag, Digest: digest}
	if hasKey {
		s.Name, s.NewName = key, img
	}
	if s.NewName == "" && s.NewTag == "" && s.Digest == "" {
		return SetImage{}, fmt.Errorf("%w: %q sets nothing", ErrInvalidImage, arg)
	}
	return s, nil
}

// splitImage splits "[host[:port]/]path[:tag][@digest]" as kustomize
// does: a colon counts as a tag separator only after the first slash,
// and an "@" before any tag colon starts the digest.
func splitImage(ref string) (name, tag, digest string) {
	off := 0
	if i := strings.IndexByte(ref, '/'); i > 0 {
		off = i
	}
	at := strings.IndexByte(ref[off:], '@')
	colon := strings.IndexByte(ref[off:], ':')
	switch {
	case at < 0 && colon < 0:
		return ref, "", ""
	case at >= 0 && (colon < 0 || at < colon):
		return ref[:off+at], "", ref[off+at+1:]
	case at >= 0:
		return ref[:off+colon], ref[off+colon+1 : off+at], ref[off+at+1:]
	default:
		return ref[:off+colon], ref[off+colon+1:], ""
	}
}

func (s SetImage) validate() error {
	if s.Name == "" {
		return fmt.Errorf("%w: empty image name", ErrInvalidImage)
	}
	if s.NewTag == "" && s.Digest == "" && s.NewName == "" {
		return fmt.Errorf("%w: nothing to set for %s: give NewName, NewTag or Digest", ErrInvalidImage, s.Name)
	}
	if _, err := name.NewRepository(s.Name); err != nil {
		return fmt.Errorf("%w: name %q: %w", ErrInvalidImage, s.Name, err)
	}
	return nil
}

// imageEntry is the override an images: entry says: the values of
// newName, newTag and digest, "" where absent.
type imageEntry struct {
	newName, newTag, digest string
}

// resolve returns the entry s asks for given the entry old that the
// list has: [KeepCurrent] takes old's value, and a digest drops the tag.
func (s SetImage) resolve(old imageEntry) imageEntry {
	keep := func(v, cur string) string {
		if v == KeepCurrent {
			return cur
		}
		return v
	}
	e := imageEntry{newName: keep(s.NewName, old.newName), newTag: keep(s.NewTag, old.newTag), digest: keep(s.Digest, old.digest)}
	if e.digest != "" {
		e.newTag = ""
	}
	return e
}

// check validates the reference the resolved entry e makes.
func (s SetImage) check(e imageEntry) error {
	repo := s.Name
	if e.newName != "" {
		if _, err := name.NewRepository(e.newName); err != nil {
			return fmt.Errorf("%w: newName %q: %w", ErrInvalidImage, e.newName, err)
		}
		repo = e.newName
	}
	if s.NewTag != "" && s.NewTag != KeepCurrent {
		// A tag the digest drops must still be a tag.
		if _, err := name.NewTag(repo + ":" + s.NewTag); err != nil {
			return fmt.Errorf("%w: %s:%s: %w", ErrInvalidImage, repo, s.NewTag, err)
		}
	}
	switch {
	case e.digest != "":
		if err := flightdeck.ValidateDigest(e.digest); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidImage, repo, err)
		}
		if _, err := name.NewDigest(repo + "@" + e.digest); err != nil {
			return fmt.Errorf("%w: %s@%s: %w", ErrInvalidImage, repo, e.digest, err)
		}
	case e.newTag != "":
		if _, err := name.NewTag(repo + ":" + e.newTag); err != nil {
			return fmt.Errorf("%w: %s:%s: %w", ErrInvalidImage, repo, e.newTag, err)
		}
	}
	return nil
}

// Apply implements [Edit]. Errors wrap [ErrInvalidImage], [ErrInvalidYAML]
// (the file does not parse, images is not a list, two entries for Name,
// or several documents of the file are kustomizations), [ErrNotExist]
// (no kustomization in Dir), [ErrPathEscape] or [ErrInvalidPath].
func (s SetImage) Apply(t *Tree) error {
	if err := s.validate(); err != nil {
		return &PathError{Op: "set-image", Path: s.Dir, Err: err}
	}
	file, err := t.kustomizationIn("set-image", s.Dir)
	if err != nil {
		return err
	}
	return editYAML(t, "set-image", file, pickKustomization, func(rn *yaml.RNode) error {
		images, err := rn.Pipe(yaml.LookupCreate(yaml.SequenceNode, "images"))
		if err != nil {
			return fmt.Errorf("%w: images: %w", ErrInvalidYAML, err)
		}
		if n := images.YNode(); n.Kind == yaml.ScalarNode && n.ShortTag() == yaml.NodeTagNull {
			n.Kind, n.Tag, n.Value = yaml.SequenceNode, yaml.NodeTagSeq, ""
		}
		if images.YNode().Kind != yaml.SequenceNode {
			return fmt.Errorf("%w: images is not a list", ErrInvalidYAML)
		}
		var elem *yaml.Node
		for _, e := range images.YNode().Content {
			if e.Kind != yaml.MappingNode || scalarField(e, "name") != s.Name {
				continue
			}
			if elem != nil {
				return fmt.Errorf("%w: images has more than one entry named %s", ErrInvalidYAML, s.Name)
			}
			elem = e
		}
		var old imageEntry
		if elem != nil {
			old = imageEntry{newName: scalarField(elem, "newName"), newTag: scalarField(elem, "newTag"), digest: scalarField(elem, "digest")}
		}
		e := s.resolve(old)
		if err := s.check(e); err != nil {
			return err
		}
		want := []keyValue{{"name", s.Name}, {"newName", e.newName}, {"newTag", e.newTag}, {"digest", e.digest}}
		if elem == nil {
			elem = &yaml.Node{Kind: yaml.MappingNode, Tag: yaml.NodeTagMap}
			images.YNode().Content = append(images.YNode().Content, elem)
		}
		replaceMapping(elem, want)
		return nil
	})
}

// kustomizationIn returns the kustomization file of the directory dir.
func (t *Tree) kustomizationIn(op, dir string) (string, error) {
	c, err := t.dirPath(op, dir)
	if err != nil {
		return "", err
	}
	file := t.KustomizationFile(c)
	if file == "" {
		return "", &PathError{Op: op, Path: dir, Err: fmt.Errorf("%w: no kustomization file", ErrNotExist)}
	}
	return file, nil
}

// dirPath returns the clean form of dir, refusing (as a *PathError for
// op) a dir that is not a directory of the tree.
func (t *Tree) dirPath(op, dir string) (string, error) {
	c, err := cleanPath(dir)
	if err == nil {
		var n *tnode
		n, _, err = t.walk(c, false)
		switch {
		case err != nil:
		case n == nil:
			err = fmt.Errorf("%w: no such directory", ErrNotExist)
		case n.mode == filemode.Symlink:
			err = errSymlink(c)
		case !n.isDir():
			err = fmt.Errorf("%w: not a directory", ErrNotExist)
		}
	}
	if err != nil {
		return "", &PathError{Op: op, Path: dir, Err: err}
	}
	return c, nil
}

// pickKustomization chooses the kustomization document of a file: the
// only mapping whose kind is Kustomization, Component or absent.
func pickKustomization(docs []*yamlDoc) (*yamlDoc, error) {
	found, err := mappings(docs, func(kind, _ string) bool {
		return kind == "" || kind == "Kustomization" || kind == "Component"
	})
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: no document is a Kustomization", ErrInvalidYAML)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("%w: ambiguous: %d documents could be the kustomization: %s", ErrInvalidYAML, len(found), describeAll(found))
}

type keyValue struct{ key, value string }

// scalarField returns the value of the scalar field key of the mapping
// m, or "".
func scalarField(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.ScalarNode {
			return m.Content[i+1].Value
		}
	}
	return ""
}

// slot groups the keys of an images: entry that can take each other's
// place.
func slot(key string) string {
	switch key {
	case "newTag", "digest", "tagSuffix":
		return "version"
	}
	return key
}

// replaceMapping makes the mapping m hold exactly the pairs of want that
// have a value, in place: a key that stays keeps its node (and so its
// comments and position); a key that goes hands its position and
// comments to a new key of its slot, else to a new key still without a
// place, else its comments to the key before it; new keys without a
// place are appended in the order of want.
func replaceMapping(m *yaml.Node, want []keyValue) {
	type pair struct{ k, v *yaml.Node }
	value := map[string]string{}
	for _, kv := range want {
		if kv.value != "" {
			value[kv.key] = kv.value
		}
	}
	// Pass 1: which pairs stay, which go.
	var old []pair
	stays := map[int]bool{}
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		p := pair{m.Content[i], m.Content[i+1]}
		if val, ok := value[p.k.Value]; ok && !seen[p.k.Value] && p.v.Kind == yaml.ScalarNode {
			p.v.Value, p.v.Tag, p.v.Style = val, yaml.NodeTagString, styleFor(p.v.Style)
			seen[p.k.Value] = true
			stays[len(old)] = true
		}
		old = append(old, p)
	}
	var fresh []pair
	for _, kv := range want {
		if kv.value != "" && !seen[kv.key] {
			fresh = append(fresh, pair{
				&yaml.Node{Kind: yaml.ScalarNode, Tag: yaml.NodeTagString, Value: kv.key},
				yaml.NewStringRNode(kv.value).YNode(),
			})
		}
	}
	// Pass 2: give each gone pair's place to a fresh pair of its slot,
	// then the fresh pairs left to the gone pairs left, in order.
	heir := map[int]int{} // old index -> fresh index
	taken := make([]bool, len(fresh))
	for _, sameSlot := range []bool{true, false} {
		for oi, p := range old {
			if _, ok := heir[oi]; ok || stays[oi] {
				continue
			}
			for fi, f := range fresh {
				if !taken[fi] && (!sameSlot || slot(f.k.Value) == slot(p.k.Value)) {
					taken[fi], heir[oi] = true, fi
					moveComments(f.k, f.v, p.k, p.v)
					break
				}
			}
		}
	}
	// Pass 3: lay the mapping out; comments of a gone pair without an
	// heir go to the pair before it, or to the first pair.
	var out []*yaml.Node
	var orphans []pair
	for oi, p := range old {
		switch fi, ok := heir[oi]; {
		case stays[oi]:
			out = append(out, p.k, p.v)
		case ok:
			out = append(out, fresh[fi].k, fresh[fi].v)
		default:
			if len(out) > 0 {
				moveComments(out[len(out)-2], out[len(out)-1], p.k, p.v)
			} else {
				orphans = append(orphans, p)
			}
		}
	}
	for i, f := range fresh {
		if !taken[i] {
			out = append(out, f.k, f.v)
		}
	}
	for _, p := range orphans {
		if len(out) > 0 {
			moveComments(out[0], out[1], p.k, p.v)
		}
	}
	m.Content = out
}

// moveComments appends the comments of the pair (fk, fv) to those of
// (tk, tv).
func moveComments(tk, tv, fk, fv *yaml.Node) {
	join := func(a, b, sep string) string {
		switch {
		case a == "":
			return b
		case b == "":
			return a
		}
		return a + sep + b
	}
	tk.HeadComment = join(join(tk.HeadComment, fk.HeadComment, "\n"), fv.HeadComment, "\n")
	line := join(join(fk.LineComment, fv.LineComment, " "), collectComments(fv), " ")
	if tv.Kind == yaml.ScalarNode {
		tv.LineComment = join(tv.LineComment, line, " ")
	} else {
		tk.LineComment = join(tk.LineComment, line, " ")
	}
	tk.FootComment = join(join(tk.FootComment, fk.FootComment, "\n"), fv.FootComment, "\n")
}

// collectComments returns, as one line, the comments inside a gone
// value that is not a scalar (a list or mapping under a key the edit
// removes).
func collectComments(n *yaml.Node) string {
	var parts []string
	for _, c := range n.Content {
		for _, s := range []string{c.HeadComment, c.LineComment, c.FootComment} {
			if s != "" {
				parts = append(parts, strings.ReplaceAll(s, "\n", " "))
			}
		}
		if sub := collectComments(c); sub != "" {
			parts = append(parts, sub)
		}
	}
	return strings.Join(parts, " ")
}

// styleFor keeps quoting styles and drops block styles that a one-line
// value cannot have.
func styleFor(s yaml.Style) yaml.Style {
	if s == yaml.DoubleQuotedStyle || s == yaml.SingleQuotedStyle {
		return s
	}
	return 0
}

// SetField sets a scalar field by path in a YAML file, for example
// `image.tag` in a Helm values.yaml, keeping comments, key order and
// every other document of the file. Path elements are separated by "."
// and may select list elements as kyaml does
// ("spec.template.spec.containers.[name=app].image"). Missing mappings on
// the way are created; a list selector that matches no element is an
// error wrapping [ErrNotExist] unless Create is set, which appends the
// element.
//
// In a file with several documents (a Deployment and a Service), Kind
// and Name choose the document by its kind and metadata.name. Without
// them, or when several documents still match, the document is the one
// that already has the field; if none or more than one has it, the edit
// is refused as ambiguous (an error wrapping [ErrInvalidYAML]) rather
// than guessed.
//
// The value keeps the type of the field it replaces: a string stays a
// string (quoted if it would otherwise read as a number, such as "1.10"),
// and a number or boolean stays unquoted. A new field is written as a
// string.
type SetField struct {
	// File is the YAML file. Required.
	File string
	// Field is the dotted path of the field. Required.
	Field string
	// Value is the new value.
	Value string
	// Kind, if set, limits the edit to documents of this kind.
	Kind string
	// Name, if set, limits the edit to documents whose metadata.name is
	// Name.
	Name string
	// Create appends list elements that a selector in Field
	// ("[name=app]") does not find, instead of failing with [ErrNotExist].
	Create bool
}

// Apply implements [Edit]. Errors wrap [ErrInvalidYAML] (the file does
// not parse, the path crosses a value that is not a mapping, or the
// document is ambiguous), [ErrNotExist] (no such file, no document of
// Kind and Name, or a list selector that matches nothing),
// [ErrPathEscape] or [ErrInvalidPath].
func (s SetField) Apply(t *Tree) error {
	parts := utils.SmarterPathSplitter(s.Field, ".")
	if err := checkFieldPath(s.Field, parts); err != nil {
		return &PathError{Op: "set-field", Path: s.File, Err: err}
	}
	parentPath, last := parts[:len(parts)-1], parts[len(parts)-1]
	return editYAML(t, "set-field", s.File, s.pick(parts), func(rn *yaml.RNode) error {
		parent, err := s.parent(rn, parentPath)
		if err != nil {
			return err
		}
		if f := parent.Field(last); f != nil && f.Value != nil {
			n := f.Value.YNode()
			if n.Kind != yaml.ScalarNode {
				return fmt.Errorf("%w: %s is not a scalar", ErrInvalidYAML, s.Field)
			}
			if n.ShortTag() == yaml.NodeTagString {
				n.Tag = yaml.NodeTagString
			} else {
				n.Tag = ""
			}
			n.Value, n.Style = s.Value, styleFor(n.Style)
			return nil
		}
		return parent.PipeE(yaml.SetField(last, yaml.NewStringRNode(s.Value)))
	})
}

// checkFieldPath refuses an empty path, an empty element, and a last
// element that is not a field name.
func checkFieldPath(field string, parts []string) error {
	if field == "" {
		return fmt.Errorf("%w: empty field path", ErrInvalidYAML)
	}
	for _, p := range parts {
		if p == "" {
			return fmt.Errorf("%w: field path %q has an empty element", ErrInvalidYAML, field)
		}
	}
	if isListPart(parts[len(parts)-1]) {
		return fmt.Errorf("%w: field path %q must end in a field name", ErrInvalidYAML, field)
	}
	return nil
}

// isListPart reports whether a path element selects a list element:
// "[name=app]", "[=value]", an index or "-".
func isListPart(p string) bool {
	if yaml.IsListIndex(p) || p == "-" {
		return true
	}
	_, err := strconv.Atoi(p)
	return err == nil
}

// parent returns the mapping that holds the field, creating missing
// mappings (and, with Create, missing list elements) on the way.
func (s SetField) parent(rn *yaml.RNode, path []string) (*yaml.RNode, error) {
	parent, err := rn.Pipe(yaml.Lookup(path...))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidYAML, s.Field, err)
	}
	if parent == nil && !s.Create {
		// Past the first missing element, everything is created; a list
		// element only when asked for.
		missing := len(path)
		for i := range path {
			if n, err := rn.Pipe(yaml.Lookup(path[:i+1]...)); err != nil || n == nil {
				missing = i
				break
			}
		}
		for i := missing; i < len(path); i++ {
			if isListPart(path[i]) {
				return nil, fmt.Errorf("%w: %s: no list element %s (set Create to append one)", ErrNotExist, strings.Join(path[:i+1], "."), path[i])
			}
		}
	}
	if parent == nil {
		if parent, err = rn.Pipe(yaml.LookupCreate(yaml.MappingNode, path...)); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidYAML, s.Field, err)
		}
	}
	if parent == nil || parent.YNode().Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: %s: parent is not a mapping", ErrInvalidYAML, s.Field)
	}
	return parent, nil
}

// pick returns the chooser of the document to edit: the mappings that
// match Kind and Name, narrowed, if there are several, to the one that
// has the field.
func (s SetField) pick(parts []string) func([]*yamlDoc) (*yamlDoc, error) {
	return func(docs []*yamlDoc) (*yamlDoc, error) {
		match, err := mappings(docs, func(kind, name string) bool {
			return (s.Kind == "" || kind == s.Kind) && (s.Name == "" || name == s.Name)
		})
		if err != nil {
			return nil, err
		}
		switch len(match) {
		case 0:
			return nil, fmt.Errorf("%w: no document with%s", ErrNotExist, s.selector())
		case 1:
			return match[0], nil
		}
		var has []*yamlDoc
		for _, d := range match {
			if n, err := d.node.Pipe(yaml.Lookup(parts...)); err == nil && n != nil {
				has = append(has, d)
			}
		}
		if len(has) == 1 {
			return has[0], nil
		}
		which := "none has"
		if len(has) > 1 {
			match, which = has, "each has"
		}
		return nil, fmt.Errorf("%w: ambiguous: %d documents match and %s %s (%s); set Kind and Name to choose one",
			ErrInvalidYAML, len(match), which, s.Field, describeAll(match))
	}
}

// selector describes Kind and Name for messages.
func (s SetField) selector() string {
	var b strings.Builder
	if s.Kind != "" {
		b.WriteString(" kind " + s.Kind)
	}
	if s.Name != "" {
		b.WriteString(" name " + s.Name)
	}
	return b.String()
}

// WriteFile writes Data to the regular file Path, creating directories.
type WriteFile struct {
	Path string
	Data []byte
}

// Apply implements [Edit]. Errors wrap [ErrPathEscape] or name a
// directory in the way.
func (w WriteFile) Apply(t *Tree) error { return t.WriteFile(w.Path, w.Data) }

// RemoveFile removes the file or directory Path.
type RemoveFile struct {
	Path string
}

// Apply implements [Edit]. It returns an error wrapping [ErrNotExist] if
// Path does not exist.
func (r RemoveFile) Apply(t *Tree) error { return t.Remove(r.Path) }

// CopyDir replaces the directory To with a copy of the directory From.
// Files in To that are not in From are removed. It copies everything,
// environment configuration included (namespace, replicas, config), so
// copying one environment's overlay over another's does not promote a
// release: it moves the target into the source's configuration. Use
// [CopyRelease] to move a release.
type CopyDir struct {
	From, To string
}

// Apply implements [Edit]. It returns an error wrapping [ErrNotExist] if
// From is not a directory, [ErrPathEscape] if it is a symbolic link.
func (c CopyDir) Apply(t *Tree) error {
	if _, err := t.dirPath("copy", c.From); err != nil {
		return err
	}
	return t.Copy(c.From, c.To)
}
