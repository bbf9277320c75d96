package gitops

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// yamlDoc is one document of a YAML stream, kept as text so that the
// documents an edit does not touch are written back byte for byte.
type yamlDoc struct {
	// index is the document's position in the file, from 1.
	index int
	// start is the "---" line that opens the document, newline
	// included, when that line holds nothing but the marker and a
	// comment; "" otherwise (the marker is then part of body).
	start string
	// body is the document's text.
	body string
	// end is a "..." document end marker and everything after it up to
	// the next document.
	end string
	// node is the parsed document; nil for one with no content (only
	// comments or directives).
	node *yaml.RNode
}

// describe names the document in messages: "document 2 (Service web)".
func (d *yamlDoc) describe() string {
	s := fmt.Sprintf("document %d", d.index)
	if d.node == nil || d.node.YNode().Kind != yaml.MappingNode {
		return s
	}
	kind, name := d.kindName()
	if kind == "" && name == "" {
		return s
	}
	return s + " (" + strings.TrimSpace(kind+" "+name) + ")"
}

// kindName returns the document's kind and metadata.name, "" where
// absent.
func (d *yamlDoc) kindName() (kind, name string) {
	if d.node == nil || d.node.YNode().Kind != yaml.MappingNode {
		return "", ""
	}
	if n := d.node.Field("kind"); n != nil && n.Value.YNode().Kind == yaml.ScalarNode {
		kind = n.Value.YNode().Value
	}
	if m, err := d.node.Pipe(yaml.Lookup("metadata", "name")); err == nil && m != nil && m.YNode().Kind == yaml.ScalarNode {
		name = m.YNode().Value
	}
	return kind, name
}

// isMapping reports whether the document's content is a mapping.
func (d *yamlDoc) isMapping() bool {
	return d.node != nil && d.node.YNode().Kind == yaml.MappingNode
}

// marker reports whether line (without its newline) is a document
// marker: "---" or "..." at the start of a line, alone or followed by
// white space.
func marker(line, m string) bool {
	return strings.HasPrefix(line, m) && (len(line) == 3 || line[3] == ' ' || line[3] == '\t')
}

// onlyComment reports whether s is blank or a comment.
func onlyComment(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || strings.HasPrefix(s, "#")
}

// splitDocuments splits a YAML stream into its documents at the "---"
// and "..." markers (which YAML forbids at the start of a line anywhere
// else) and parses each one. A file with no document at all (empty, or
// only comments) yields one document with no content.
func splitDocuments(data string) ([]*yamlDoc, error) {
	var docs []*yamlDoc
	cur := &yamlDoc{}
	inEnd := false
	flush := func() {
		if cur.start != "" || cur.body != "" || cur.end != "" {
			docs = append(docs, cur)
		}
	}
	for rest := data; rest != ""; {
		line := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		bare := strings.TrimRight(line, "\r\n")
		switch {
		case marker(bare, "---"):
			flush()
			cur, inEnd = &yamlDoc{}, false
			if onlyComment(bare[3:]) {
				cur.start = line
			} else {
				cur.body = line
			}
		case marker(bare, "...") || inEnd:
			cur.end += line
			inEnd = true
		default:
			cur.body += line
		}
	}
	flush()
	if len(docs) == 0 {
		docs = append(docs, cur)
	}
	for i, d := range docs {
		d.index = i + 1
		if onlyContentless(d.body) {
			continue
		}
		rn, err := yaml.Parse(d.body)
		if errors.Is(err, io.EOF) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidYAML, d.describe(), err)
		}
		d.node = rn
	}
	return docs, nil
}

// onlyContentless reports whether every line of s is blank, a comment or
// a directive ("%YAML 1.2").
func onlyContentless(s string) bool {
	for line := range strings.SplitSeq(s, "\n") {
		if !onlyComment(line) && !strings.HasPrefix(line, "%") {
			return false
		}
	}
	return true
}

// joinDocuments writes the documents back; edited names the one whose
// node was changed and is marshalled again, keeping its sequence
// indentation.
func joinDocuments(docs []*yamlDoc, edited *yamlDoc) ([]byte, error) {
	var b strings.Builder
	for _, d := range docs {
		b.WriteString(d.start)
		if d != edited {
			b.WriteString(d.body)
			b.WriteString(d.end)
			continue
		}
		style := yaml.DeriveSeqIndentStyle(d.body)
		out, err := yaml.MarshalWithOptions(d.node.Document(), &yaml.EncoderOptions{SeqIndent: yaml.SequenceIndentStyle(style)})
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalidYAML, d.describe(), err)
		}
		if d.start == "" && strings.HasPrefix(d.body, "---") {
			b.WriteString("---\n")
		}
		b.Write(out)
		b.WriteString(d.end)
	}
	return []byte(b.String()), nil
}

// editYAML reads file, lets pick choose one of its documents, lets fn
// change that document, and writes the file back with every other
// document, separator and comment as it was.
func editYAML(t *Tree, op, file string, pick func([]*yamlDoc) (*yamlDoc, error), fn func(*yaml.RNode) error) error {
	data, err := t.ReadFile(file)
	if err != nil {
		return &PathError{Op: op, Path: file, Err: errors.Unwrap(err)}
	}
	docs, err := splitDocuments(string(data))
	if err != nil {
		return &PathError{Op: op, Path: file, Err: err}
	}
	doc, err := pick(docs)
	if err != nil {
		return &PathError{Op: op, Path: file, Err: err}
	}
	if err := fn(doc.node); err != nil {
		if len(docs) > 1 {
			err = fmt.Errorf("%s: %w", doc.describe(), err)
		}
		return &PathError{Op: op, Path: file, Err: err}
	}
	out, err := joinDocuments(docs, doc)
	if err != nil {
		return &PathError{Op: op, Path: file, Err: err}
	}
	return t.WriteFile(file, out)
}

// mappings returns the documents whose content is a mapping and whose
// kind and metadata.name keep accepts, or an error wrapping
// [ErrInvalidYAML] if no document is a mapping.
func mappings(docs []*yamlDoc, keep func(kind, name string) bool) ([]*yamlDoc, error) {
	var out []*yamlDoc
	sawMapping := false
	for _, d := range docs {
		if !d.isMapping() {
			continue
		}
		sawMapping = true
		if keep(d.kindName()) {
			out = append(out, d)
		}
	}
	if !sawMapping {
		return nil, fmt.Errorf("%w: no document is a mapping", ErrInvalidYAML)
	}
	return out, nil
}

// describeAll lists documents for an ambiguity message.
func describeAll(docs []*yamlDoc) string {
	s := make([]string, len(docs))
	for i, d := range docs {
		s[i] = d.describe()
	}
	return strings.Join(s, ", ")
}
