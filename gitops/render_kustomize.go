package gitops

import (
	"path"
	"regexp"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/kio"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// Deprecation warnings. kustomize v0.20.1 prints its deprecation warnings
// (bases, commonLabels, imageTags, patchesJson6902, patchesStrategicMerge,
// vars) with fmt.Fprintf(os.Stderr, ...) in KustTarget.Load, not through
// the log package, so no logger setting reaches them, and swapping
// os.Stderr would be a process-wide race. flightdeck instead asks
// kustomize's own types.Kustomization.CheckDeprecatedFields for the same
// messages, logs them through the Repo's logger, and hands kustomize a
// kustomization in which each deprecated field is written in its current
// form wherever that form renders the same, so kustomize has nothing to
// print:
//
//   - bases and imageTags are appended to resources and images, exactly
//     what kustomize's FixKustomization does right after printing;
//   - commonLabels becomes a last labels entry with includeSelectors,
//     which kustomize configures with the same field specs (unless the
//     kustomization has configurations, which could add label field
//     specs);
//   - patchesStrategicMerge becomes leading patches entries, which run in
//     the same order, unless a patch deletes ($patch) or does not parse as
//     resources, or buildMetadata records transformers.
//
// patchesJson6902 and vars have no equivalent that renders the same
// (json6902 patches run after the name and label transformers, patches
// before), so kustomize still prints their warnings itself.

var deprecatedKey = regexp.MustCompile(`(?im)^(bases|commonlabels|imagetags|patchesjson6902|patchesstrategicmerge|vars)\s*:`)

// fixKustomization returns kustomize's deprecation warnings for the
// kustomization data, and the content to render instead (nil: data as
// it is): remote entries replaced by remap, deprecated fields in their
// current form where that renders the same. read returns a file relative
// to the kustomization's directory.
func fixKustomization(data []byte, remap map[string]string, read func(rel string) ([]byte, bool)) ([]byte, []string) {
	dep := deprecatedKey.Match(data)
	if !dep && len(remap) == 0 {
		return nil, nil
	}
	var warnings []string
	if dep {
		var k types.Kustomization
		if k.Unmarshal(data) == nil {
			warnings = *k.CheckDeprecatedFields()
		}
	}
	rn, err := yaml.Parse(string(data))
	if err != nil {
		return nil, warnings
	}
	m := rn.YNode()
	if m.Kind != yaml.MappingNode {
		return nil, warnings
	}
	changed := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !baseFields[strings.ToLower(m.Content[i].Value)] || m.Content[i+1].Kind != yaml.SequenceNode {
			continue
		}
		for _, it := range m.Content[i+1].Content {
			if to, ok := remap[it.Value]; ok && it.Kind == yaml.ScalarNode {
				it.Value, it.Style, it.Tag = to, yaml.DoubleQuotedStyle, ""
				changed = true
			}
		}
	}
	if dep {
		changed = moveList(m, "bases", "resources", false) || changed
		changed = moveList(m, "imageTags", "images", false) || changed
		changed = fixCommonLabels(m) || changed
		changed = fixStrategicMerge(m, read) || changed
	}
	if !changed {
		return nil, warnings
	}
	out, err := rn.String()
	if err != nil {
		return nil, warnings
	}
	return []byte(out), warnings
}

// field returns the index of the value of key in mapping m, matched
// without regard to case as kustomize's decoder does, or -1.
func field(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if strings.EqualFold(m.Content[i].Value, key) {
			return i + 1
		}
	}
	return -1
}

func removeField(m *yaml.Node, key string) {
	if i := field(m, key); i > 0 {
		m.Content = append(m.Content[:i-1], m.Content[i+1:]...)
	}
}

// seqField returns the sequence under key, made if missing; nil if key holds
// something else.
func seqField(m *yaml.Node, key string) *yaml.Node {
	if i := field(m, key); i > 0 {
		v := m.Content[i]
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			*v = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		}
		if v.Kind != yaml.SequenceNode {
			return nil
		}
		return v
	}
	v := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, v)
	return v
}

// moveList moves the items of the list under from to the end (or, with
// front, the start) of the list under to.
func moveList(m *yaml.Node, from, to string, front bool) bool {
	i := field(m, from)
	if i < 0 {
		return false
	}
	v := m.Content[i]
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		removeField(m, from)
		return true
	}
	if v.Kind != yaml.SequenceNode {
		return false
	}
	dst := seqField(m, to)
	if dst == nil {
		return false
	}
	if front {
		dst.Content = append(append([]*yaml.Node(nil), v.Content...), dst.Content...)
	} else {
		dst.Content = append(dst.Content, v.Content...)
	}
	removeField(m, from)
	return true
}

func fixCommonLabels(m *yaml.Node) bool {
	i := field(m, "commonLabels")
	if i < 0 || field(m, "configurations") >= 0 || m.Content[i].Kind != yaml.MappingNode {
		return false
	}
	pairs := m.Content[i]
	labels := seqField(m, "labels")
	if labels == nil {
		return false
	}
	labels.Content = append(labels.Content, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "pairs"}, pairs,
		{Kind: yaml.ScalarNode, Tag: "!!str", Value: "includeSelectors"}, {Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"},
	}})
	removeField(m, "commonLabels")
	return true
}

func fixStrategicMerge(m *yaml.Node, read func(string) ([]byte, bool)) bool {
	i := field(m, "patchesStrategicMerge")
	if i < 0 || field(m, "buildMetadata") >= 0 || m.Content[i].Kind != yaml.SequenceNode {
		return false
	}
	var entries []*yaml.Node
	for _, it := range m.Content[i].Content {
		if it.Kind != yaml.ScalarNode {
			return false
		}
		key, content := "path", []byte(it.Value)
		if strings.Contains(it.Value, "\n") {
			key = "patch"
		} else if b, ok := read(it.Value); ok {
			content = b
		} else {
			return false
		}
		if !plainPatches(content) {
			return false
		}
		entries = append(entries, &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
			{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, {Kind: yaml.ScalarNode, Tag: "!!str", Value: it.Value},
		}})
	}
	patches := seqField(m, "patches")
	if patches == nil {
		return false
	}
	patches.Content = append(entries, patches.Content...)
	removeField(m, "patchesStrategicMerge")
	return true
}

// plainPatches reports whether content is one or more strategic-merge
// patches that both of kustomize's patch transformers apply alike:
// resources with a kind and a name, none deleting anything.
func plainPatches(content []byte) bool {
	if strings.Contains(string(content), "$patch") {
		return false
	}
	nodes, err := kio.FromBytes(content)
	if err != nil || len(nodes) == 0 {
		return false
	}
	for _, n := range nodes {
		if n.GetKind() == "" || n.GetName() == "" {
			return false
		}
	}
	return true
}

// kustomizeError is kustomize's error shortened to its cause. It unwraps
// to kustomize's own error.
type kustomizeError struct {
	msg string
	err error
}

func (e *kustomizeError) Error() string { return e.msg }
func (e *kustomizeError) Unwrap() error { return e.err }

var (
	builtinConfig = regexp.MustCompile("trouble configuring builtin (\\w+) with config: `[^`]*`: ")
	blankLines    = regexp.MustCompile(`\s*\n\s*`)
)

// kustomizeCause shortens a kustomize error to its cause. kustomize
// wraps the failure of a nested kustomization in one layer per level
// ("accumulating resources: accumulation err='<tried as a file>':
// recursed accumulation of path '<dir>': ..."), and for an entry that is
// neither a file nor a directory reports both attempts. The cause is the
// innermost failure: of the directory if the entry is one, of the file if
// it is one, the missing path otherwise. Paths are made relative to the
// repository, and remote mounts are named by their entry.
func kustomizeCause(err error, dir string, mounts []*source) error {
	msg := err.Error()
	for {
		msg = strings.TrimPrefix(msg, "accumulating resources: ")
		if c, ok := strings.CutPrefix(msg, "accumulating components: accumulateDirectory: "); ok {
			if u, err := strconv.Unquote(c); err == nil {
				c = u
			}
			msg = c
		}
		if c, ok := strings.CutPrefix(msg, "recursed accumulation of path '"); ok {
			if j := strings.Index(c, "': "); j >= 0 {
				dir, msg = c[:j], c[j+3:]
				continue
			}
		}
		rest, ok := strings.CutPrefix(msg, "accumulation err='")
		if !ok {
			break
		}
		asFile, asDir, ok := splitAttempts(rest)
		if !ok {
			break
		}
		switch {
		case strings.HasPrefix(asDir, "recursed accumulation of path '"):
			p := asDir[len("recursed accumulation of path '"):]
			j := strings.Index(p, "': ")
			if j < 0 {
				msg = asDir
				break
			}
			dir, msg = p[:j], p[j+3:]
			continue
		case strings.HasSuffix(asDir, "file is not directory"):
			msg = asFile
		default:
			msg = strings.TrimPrefix(asDir, "must build at directory: ")
			msg = strings.TrimPrefix(msg, "not a valid directory: ")
		}
		break
	}
	if from, ok := strings.CutPrefix(msg, "accumulating resources from '"); ok {
		if j := strings.Index(from, "': "); j > 0 && !strings.Contains(from[:j], "://") {
			name := from[:j]
			msg = path.Join(dir, name) + ": " + strings.TrimSuffix(from[j+3:], " in File: "+name)
		}
	}
	msg = builtinConfig.ReplaceAllString(msg, "$1: ")
	msg = blankLines.ReplaceAllString(strings.TrimSpace(msg), "; ")
	for _, s := range mounts {
		msg = strings.ReplaceAll(msg, s.mount+"/", s.desc+"//")
		msg = strings.ReplaceAll(msg, s.mount, s.desc)
	}
	msg = strings.ReplaceAll(msg, mountRepo+"/", "")
	msg = strings.ReplaceAll(msg, "'"+mountRepo+"'", "'.'")
	return &kustomizeError{msg: msg, err: err}
}

// splitAttempts splits the text after "accumulation err='" into the error
// of loading the entry as a file and the error of building it as a
// directory, which starts at the first of kustomize's directory
// messages.
func splitAttempts(s string) (asFile, asDir string, ok bool) {
	best := -1
	for _, m := range []string{"': recursed accumulation of path '", "': must build at directory: "} {
		if i := strings.Index(s, m); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		return "", "", false
	}
	return s[:best], s[best+3:], true
}
