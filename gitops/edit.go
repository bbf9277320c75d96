package gitops

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/kustomize/kyaml/utils"
	"sigs.k8s.io/kustomize/kyaml/yaml"
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

// SetImage sets an image override in the `images:` list of the
// kustomization in Dir exactly as `kustomize edit set image` does: the
// entry whose name is Name is updated (or appended if there is none);
// NewName replaces newName when set; Digest sets digest and removes
// newTag; otherwise NewTag sets newTag and removes digest. Comments, key
// order and sequence indentation of the file are kept.
//
// The resulting reference (NewName or Name, with the tag or digest) must
// parse with go-containerregistry's name package, and a digest must be
// "sha256:" followed by 64 hex digits; otherwise Apply returns an error
// wrapping [ErrInvalidImage].
type SetImage struct {
	// Dir is the kustomization directory, for example
	// "apps/checkout/overlays/prod".
	Dir string
	// Name is the image name the override matches, as in the manifests
	// ("registry.example.com/team/checkout"). Required.
	Name string
	// NewName replaces the image name; empty keeps the current one.
	NewName string
	// NewTag is the tag to set; ignored when Digest is set.
	NewTag string
	// Digest is the manifest digest "sha256:<64 hex>" to pin.
	Digest string
}

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

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
	repo := s.Name
	if s.NewName != "" {
		if _, err := name.NewRepository(s.NewName); err != nil {
			return fmt.Errorf("%w: newName %q: %w", ErrInvalidImage, s.NewName, err)
		}
		repo = s.NewName
	}
	switch {
	case s.Digest != "":
		if !digestRE.MatchString(s.Digest) {
			return fmt.Errorf("%w: digest %q: want sha256:<64 lower-case hex>", ErrInvalidImage, s.Digest)
		}
		if _, err := name.NewDigest(repo + "@" + s.Digest); err != nil {
			return fmt.Errorf("%w: %s@%s: %w", ErrInvalidImage, repo, s.Digest, err)
		}
	case s.NewTag != "":
		if _, err := name.NewTag(repo + ":" + s.NewTag); err != nil {
			return fmt.Errorf("%w: %s:%s: %w", ErrInvalidImage, repo, s.NewTag, err)
		}
	}
	return nil
}

// Apply implements [Edit]. Errors wrap [ErrInvalidImage], [ErrInvalidYAML],
// [ErrNotExist] (no kustomization in Dir) or [ErrPathEscape].
func (s SetImage) Apply(t *Tree) error {
	if err := s.validate(); err != nil {
		return &PathError{Op: "set-image", Path: s.Dir, Err: err}
	}
	if _, err := cleanPath(s.Dir); err != nil {
		return &PathError{Op: "set-image", Path: s.Dir, Err: err}
	}
	file := t.KustomizationFile(s.Dir)
	if file == "" {
		if err := escapes(t, s.Dir); err != nil {
			return &PathError{Op: "set-image", Path: s.Dir, Err: err}
		}
		return &PathError{Op: "set-image", Path: s.Dir, Err: fmt.Errorf("%w: no kustomization file", ErrNotExist)}
	}
	return editYAML(t, "set-image", file, func(rn *yaml.RNode) error {
		images, err := rn.Pipe(yaml.LookupCreate(yaml.SequenceNode, "images"))
		if err != nil {
			return fmt.Errorf("%w: images: %w", ErrInvalidYAML, err)
		}
		if images.YNode().Kind != yaml.SequenceNode {
			return fmt.Errorf("%w: images is not a list", ErrInvalidYAML)
		}
		elem, err := images.Pipe(yaml.MatchElement("name", s.Name))
		if err != nil {
			return fmt.Errorf("%w: images: %w", ErrInvalidYAML, err)
		}
		if elem == nil {
			elem = yaml.NewMapRNode(nil)
			setScalar(elem, "name", s.Name)
			images.YNode().Content = append(images.YNode().Content, elem.YNode())
		}
		if s.NewName != "" {
			setScalar(elem, "newName", s.NewName)
		}
		if s.Digest != "" {
			setScalar(elem, "digest", s.Digest)
			_, err = elem.Pipe(yaml.Clear("newTag"))
		} else if s.NewTag != "" {
			setScalar(elem, "newTag", s.NewTag)
			_, err = elem.Pipe(yaml.Clear("digest"))
		}
		return err
	})
}

// escapes returns the error wrapping [ErrPathEscape] that refuses p (an
// absolute path, a ".." escape, a path through a symbolic link), or nil.
func escapes(t *Tree, p string) error {
	c, err := cleanPath(p)
	if err != nil {
		return err
	}
	if _, _, err := t.walk(c, false); errors.Is(err, ErrPathEscape) {
		return err
	}
	return nil
}

// setScalar sets field of the mapping m to the string value v. An
// existing scalar keeps its node, so its comments survive.
func setScalar(m *yaml.RNode, field, v string) {
	if f := m.Field(field); f != nil && f.Value != nil && f.Value.YNode().Kind == yaml.ScalarNode {
		n := f.Value.YNode()
		n.Value, n.Tag, n.Style = v, yaml.NodeTagString, styleFor(n.Style)
		return
	}
	_ = m.PipeE(yaml.SetField(field, yaml.NewStringRNode(v)))
}

// styleFor keeps quoting styles and drops block styles that a one-line
// value cannot have.
func styleFor(s yaml.Style) yaml.Style {
	if s == yaml.DoubleQuotedStyle || s == yaml.SingleQuotedStyle {
		return s
	}
	return 0
}

// editYAML reads file, parses it as one YAML document, lets fn change it,
// and writes it back with its sequence indentation preserved.
func editYAML(t *Tree, op, file string, fn func(*yaml.RNode) error) error {
	data, err := t.ReadFile(file)
	if err != nil {
		return &PathError{Op: op, Path: file, Err: errors.Unwrap(err)}
	}
	rn, err := yaml.Parse(string(data))
	if err != nil {
		return &PathError{Op: op, Path: file, Err: fmt.Errorf("%w: %w", ErrInvalidYAML, err)}
	}
	if rn.YNode().Kind != yaml.MappingNode {
		return &PathError{Op: op, Path: file, Err: fmt.Errorf("%w: top level is not a mapping", ErrInvalidYAML)}
	}
	if err := fn(rn); err != nil {
		return &PathError{Op: op, Path: file, Err: err}
	}
	style := yaml.DeriveSeqIndentStyle(string(data))
	out, err := yaml.MarshalWithOptions(rn.Document(), &yaml.EncoderOptions{SeqIndent: yaml.SequenceIndentStyle(style)})
	if err != nil {
		return &PathError{Op: op, Path: file, Err: fmt.Errorf("%w: %w", ErrInvalidYAML, err)}
	}
	if strings.HasPrefix(string(data), "---\n") && !strings.HasPrefix(string(out), "---") {
		out = append([]byte("---\n"), out...)
	}
	return t.WriteFile(file, out)
}

// SetField sets a scalar field by path in a YAML file, for example
// `image.tag` in a Helm values.yaml, creating missing mappings on the way
// and keeping comments and key order. Path elements are separated by "."
// and may select list elements as kyaml does ("containers.[name=app].image").
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
}

// Apply implements [Edit]. Errors wrap [ErrInvalidYAML] (the file does not
// parse, or the path crosses a value that is not a mapping),
// [ErrNotExist] or [ErrPathEscape].
func (s SetField) Apply(t *Tree) error {
	if s.Field == "" {
		return &PathError{Op: "set-field", Path: s.File, Err: fmt.Errorf("%w: empty field path", ErrInvalidYAML)}
	}
	parts := utils.SmarterPathSplitter(s.Field, ".")
	return editYAML(t, "set-field", s.File, func(rn *yaml.RNode) error {
		parent, err := rn.Pipe(yaml.LookupCreate(yaml.MappingNode, parts[:len(parts)-1]...))
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalidYAML, s.Field, err)
		}
		if parent == nil || parent.YNode().Kind != yaml.MappingNode {
			return fmt.Errorf("%w: %s: parent is not a mapping", ErrInvalidYAML, s.Field)
		}
		last := parts[len(parts)-1]
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

// CopyDir replaces the directory To with a copy of the directory From,
// for example to promote one environment's overlay to the next. Files in
// To that are not in From are removed.
type CopyDir struct {
	From, To string
}

// Apply implements [Edit]. It returns an error wrapping [ErrNotExist] if
// From is not a directory.
func (c CopyDir) Apply(t *Tree) error {
	if !t.IsDir(c.From) {
		if err := escapes(t, c.From); err != nil {
			return &PathError{Op: "copy", Path: c.From, Err: err}
		}
		return &PathError{Op: "copy", Path: c.From, Err: fmt.Errorf("%w: not a directory", ErrNotExist)}
	}
	return t.Copy(c.From, c.To)
}
