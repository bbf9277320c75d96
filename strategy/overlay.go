package strategy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// ErrOverlay is wrapped by the errors targets return for an overlay they
// cannot work with: no kustomization, the app's Deployment or Service
// missing from the rendered overlay, an images entry that pins no
// digest, a resource of the target's that someone else already defines.
var ErrOverlay = errors.New("overlay not usable for the strategy")

// Labels and names flightdeck writes into an overlay.
const (
	// ComponentDir is the directory, inside an app's overlay, of the
	// kustomize Component that holds the manifests a target writes beside
	// the app's own: the canary or colour Deployments, the Services and
	// the HTTPRoute. Only flightdeck writes there.
	ComponentDir = "flightdeck"
	// TrackLabel is the pod label that tells a canary's pods
	// ("canary") from the stable ones ("stable").
	TrackLabel = "flightdeck.dev/track"
	// ColourLabel is the pod label of a blue-green colour ("blue" or
	// "green").
	ColourLabel = "flightdeck.dev/colour"
	// PlaceholderRegistry is the registry of the image names that stand,
	// in the manifests a target writes, for a release the overlay's
	// `images:` list pins ("flightdeck.local/canary/<app>"). It is never
	// pulled: kustomize replaces the name when it renders.
	PlaceholderRegistry = "flightdeck.local"
)

// Overlay names an app's overlay and the Deployment a target works on.
type Overlay struct {
	// Dir is the overlay directory, for example "apps/shop/overlays/prod"
	// (gitops.Target.Overlay). Required.
	Dir string
	// Deployment is the name of the app's Deployment as the overlay
	// renders it. Required.
	Deployment string
	// Image is the name the overlay's `images:` entry matches (the image
	// as the base manifests name it, gitops.Target.ImageName). Required.
	Image string
	// Replicas is the app's replica count, the 100% of every weight.
	// Required, at least 1.
	Replicas int32
}

func (o Overlay) validate() error {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, fmt.Errorf("%w: overlay directory required", ErrOverlay))
	}
	if !flightdeck.ValidName(o.Deployment) {
		errs = append(errs, fmt.Errorf("%w: Deployment name %q is not a valid name", ErrOverlay, o.Deployment))
	}
	if o.Image == "" {
		errs = append(errs, fmt.Errorf("%w: image name required", ErrOverlay))
	}
	if o.Replicas < 1 {
		errs = append(errs, fmt.Errorf("%w: replicas must be at least 1, got %d", ErrOverlay, o.Replicas))
	}
	return errors.Join(errs...)
}

func (o Overlay) component() string       { return path.Join(o.Dir, ComponentDir) }
func (o Overlay) file(name string) string { return path.Join(o.Dir, ComponentDir, name) }

// placeholder returns the stand-in image name of role ("canary",
// "blue", "green") for this overlay's app.
func (o Overlay) placeholder(role string) string {
	return PlaceholderRegistry + "/" + role + "/" + o.Deployment
}

// object is one Kubernetes object in unstructured form.
type object = map[string]any

// parseObjects decodes multi-document YAML (a rendered overlay) into
// objects, skipping empty documents.
func parseObjects(data []byte) ([]object, error) {
	dec := yamlDecoder(data)
	var out []object
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", gitops.ErrInvalidYAML, err)
		}
		if o != nil {
			out = append(out, o)
		}
	}
}

func yamlDecoder(data []byte) *yaml.Decoder { return yaml.NewDecoder(bytes.NewReader(data)) }

// find returns the object of kind and name, or nil.
func find(objs []object, kind, name string) object {
	for _, o := range objs {
		if str(o, "kind") == kind && str(o, "metadata", "name") == name {
			return o
		}
	}
	return nil
}

// str returns the string at the path of keys, or "".
func str(o object, keys ...string) string {
	s, _ := get(o, keys...).(string)
	return s
}

// get returns the value at the path of keys, or nil.
func get(o object, keys ...string) any {
	var v any = o
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// mapAt returns the map at the path of keys, creating it (and the maps
// above it) when absent.
func mapAt(o object, keys ...string) map[string]any {
	m := o
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	return m
}

// deepCopy copies an unstructured value.
func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// toInt32 reads a YAML number.
func toInt32(v any) (int32, bool) {
	switch n := v.(type) {
	case int:
		return int32(n), true
	case int64:
		return int32(n), true
	case uint64:
		return int32(n), true
	case float64:
		return int32(n), n == float64(int32(n))
	}
	return 0, false
}

// header is the comment every file in the component starts with.
const header = "# Written by flightdeck for progressive delivery; flightdeck rewrites this file at every step.\n"

// writeObject writes o as a YAML file of the component.
func writeObject(t *gitops.Tree, file string, o object) error {
	b, err := yaml.Marshal(o)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", file, err)
	}
	return t.WriteFile(file, append([]byte(header), b...))
}

// readObject reads one YAML object the component holds; nil, nil when
// the file does not exist.
func readObject(t *gitops.Tree, file string) (object, error) {
	b, err := t.ReadFile(file)
	if errors.Is(err, gitops.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var o object
	if err := yaml.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", file, gitops.ErrInvalidYAML, err)
	}
	return o, nil
}

// componentSpec lists the files of the flightdeck directory the
// overlay's kustomization takes as resources and as patches.
type componentSpec struct {
	resources []string
	patches   []string
}

// writeComponent makes the overlay's kustomization list exactly the
// flightdeck directory's resources and patches of c, after its own, and
// nothing else of that directory. (The directory has no kustomization of
// its own: its files are the overlay's, so kustomize applies the
// overlay's images, namespace and labels to them, and a render check of
// the directory is a render check of the overlay.)
func writeComponent(t *gitops.Tree, o Overlay, c componentSpec) error {
	prefix := ComponentDir + "/"
	return editKustomization(t, o.Dir, func(k *yaml.RNode) error {
		if err := syncList(k, "resources", prefix, c.resources, func(n *yaml.Node) string { return n.Value },
			func(f string) *yaml.Node { return yaml.NewStringRNode(prefix + f).YNode() }); err != nil {
			return err
		}
		return syncList(k, "patches", prefix, c.patches, func(n *yaml.Node) string { return mappingValue(n, "path") },
			func(f string) *yaml.Node { return yaml.NewMapRNode(&map[string]string{"path": prefix + f}).YNode() })
	})
}

// syncList makes the list field of k hold, among its entries whose key
// starts with prefix, exactly prefix+want (in that order, after the
// others), leaving the other entries alone.
func syncList(k *yaml.RNode, field, prefix string, want []string, key func(*yaml.Node) string, entry func(string) *yaml.Node) error {
	var content []*yaml.Node
	if f := k.Field(field); f != nil {
		if f.Value.YNode().Kind != yaml.SequenceNode {
			return fmt.Errorf("%w: %s is not a list", gitops.ErrInvalidYAML, field)
		}
		content = f.Value.YNode().Content
	}
	var keep, ours []*yaml.Node
	have := map[string]*yaml.Node{}
	for _, n := range content {
		if v := key(n); strings.HasPrefix(v, prefix) {
			have[strings.TrimPrefix(v, prefix)] = n
			continue
		}
		keep = append(keep, n)
	}
	for _, f := range want {
		if n, ok := have[f]; ok {
			ours = append(ours, n)
		} else {
			ours = append(ours, entry(f))
		}
	}
	next := append(keep, ours...)
	if slices.Equal(next, content) {
		return nil
	}
	if len(next) == 0 {
		_, err := k.Pipe(yaml.Clear(field))
		return err
	}
	list, err := k.Pipe(yaml.LookupCreate(yaml.SequenceNode, field))
	if err != nil {
		return err
	}
	list.YNode().Content = next
	return nil
}

// kustomizationFile returns the kustomization file of dir in t.
func kustomizationFile(t *gitops.Tree, dir string) (string, error) {
	f := t.KustomizationFile(dir)
	if f == "" {
		return "", fmt.Errorf("%w: %s has no kustomization file", ErrOverlay, dir)
	}
	return f, nil
}

// editKustomization parses the overlay's kustomization (one document),
// lets fn change it and writes it back with its comments.
func editKustomization(t *gitops.Tree, dir string, fn func(k *yaml.RNode) error) error {
	file, err := kustomizationFile(t, dir)
	if err != nil {
		return err
	}
	data, err := t.ReadFile(file)
	if err != nil {
		return err
	}
	k, err := yaml.Parse(string(data))
	if err != nil {
		return fmt.Errorf("%s: %w: %v", file, gitops.ErrInvalidYAML, err)
	}
	before := k.MustString()
	if err := fn(k); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	after, err := k.String()
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if after == before {
		return nil
	}
	return t.WriteFile(file, []byte(after))
}

// imageEntry is one entry of a kustomization's `images:` list.
type imageEntry struct {
	Name    string `yaml:"name"`
	NewName string `yaml:"newName"`
	NewTag  string `yaml:"newTag"`
	Digest  string `yaml:"digest"`
}

// kustomization is what targets read of an overlay's kustomization.
type kustomization struct {
	Images   []imageEntry `yaml:"images"`
	Replicas []struct {
		Name  string `yaml:"name"`
		Count int32  `yaml:"count"`
	} `yaml:"replicas"`
}

func readKustomization(t *gitops.Tree, dir string) (kustomization, error) {
	file, err := kustomizationFile(t, dir)
	if err != nil {
		return kustomization{}, err
	}
	data, err := t.ReadFile(file)
	if err != nil {
		return kustomization{}, err
	}
	var k kustomization
	if err := yaml.Unmarshal(data, &k); err != nil {
		return kustomization{}, fmt.Errorf("%s: %w: %v", file, gitops.ErrInvalidYAML, err)
	}
	return k, nil
}

// pinned returns the release the images entry name pins, zero when there
// is no such entry, and an error when the entry pins no digest.
func (k kustomization) pinned(name string) (flightdeck.Release, int, error) {
	for i, e := range k.Images {
		if e.Name != name {
			continue
		}
		if e.Digest == "" {
			return flightdeck.Release{}, i, fmt.Errorf("%w: images entry %s pins no digest (tag %q); deploy a release by digest first", ErrOverlay, name, e.NewTag)
		}
		img := e.NewName
		if img == "" {
			img = e.Name
		}
		return flightdeck.Release{Image: img, Digest: e.Digest}, i, nil
	}
	return flightdeck.Release{}, -1, nil
}

// replicasOf returns the count of the `replicas:` entry name, if any.
func (k kustomization) replicasOf(name string) (int32, bool) {
	for _, r := range k.Replicas {
		if r.Name == name {
			return r.Count, true
		}
	}
	return 0, false
}

// pin makes the images entry name pin rel, appended after every other
// entry when it is new: kustomize applies the entries in order, so a
// stand-in's entry must come after the entry of the image it becomes.
func pin(t *gitops.Tree, dir, name string, rel flightdeck.Release) error {
	if err := flightdeck.ValidateDigest(rel.Digest); err != nil {
		return fmt.Errorf("pinning %s: %w", name, err)
	}
	set := gitops.SetImage{Dir: dir, Name: name, Digest: rel.Digest}
	if rel.Image != name {
		set.NewName = rel.Image
	}
	return set.Apply(t)
}

// unpin removes the images entry name, if present.
func unpin(t *gitops.Tree, dir, name string) error {
	return editKustomization(t, dir, func(k *yaml.RNode) error {
		return removeEntry(k, "images", name)
	})
}

// removeEntry removes the entries named name from the list field.
func removeEntry(k *yaml.RNode, field, name string) error {
	list := k.Field(field)
	if list == nil || list.Value.YNode().Kind != yaml.SequenceNode {
		return nil
	}
	n := list.Value.YNode()
	n.Content = slices.DeleteFunc(n.Content, func(e *yaml.Node) bool {
		return e.Kind == yaml.MappingNode && mappingValue(e, "name") == name
	})
	if len(n.Content) == 0 {
		_, err := k.Pipe(yaml.Clear(field))
		return err
	}
	return nil
}

func mappingValue(m *yaml.Node, key string) string {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1].Value
		}
	}
	return ""
}

// setReplicas sets the `replicas:` entry of name to count, or removes it
// when count is nil.
func setReplicas(t *gitops.Tree, dir, name string, count *int32) error {
	return editKustomization(t, dir, func(k *yaml.RNode) error {
		if count == nil {
			return removeEntry(k, "replicas", name)
		}
		list, err := k.Pipe(yaml.LookupCreate(yaml.SequenceNode, "replicas"))
		if err != nil {
			return err
		}
		value := yaml.NewScalarRNode(fmt.Sprint(*count))
		value.YNode().Tag = yaml.NodeTagInt
		for _, e := range list.YNode().Content {
			if e.Kind == yaml.MappingNode && mappingValue(e, "name") == name {
				return yaml.NewRNode(e).PipeE(yaml.SetField("count", value))
			}
		}
		entry := yaml.NewMapRNode(&map[string]string{"name": name})
		if err := entry.PipeE(yaml.SetField("count", value)); err != nil {
			return err
		}
		list.YNode().Content = append(list.YNode().Content, entry.YNode())
		return nil
	})
}

// setImage sets the image of every container of the Deployment d whose
// image is ref (the release the overlay pins, as rendered) to image.
func setContainerImages(d object, match func(string) bool, image string) int {
	n := 0
	for _, key := range []string{"containers", "initContainers"} {
		cs, _ := get(d, "spec", "template", "spec", key).([]any)
		for _, c := range cs {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			if img, _ := m["image"].(string); match(img) {
				m["image"] = image
				n++
			}
		}
	}
	return n
}

// imageIs reports whether a container image is repo, with or without a
// tag or digest.
func imageIs(repo string) func(string) bool {
	return func(img string) bool {
		return img == repo || strings.HasPrefix(img, repo+"@") || strings.HasPrefix(img, repo+":") && !strings.Contains(img[len(repo)+1:], "/")
	}
}

// workload returns a copy of the app's rendered Deployment as a new
// Deployment named name, with the extra label on its selector and pod
// template, the containers that run the app's release using image, and
// no status or server-set metadata.
func workload(base object, name string, extra map[string]string, releaseImage, image string) (object, error) {
	d, _ := deepCopy(base).(map[string]any)
	delete(d, "status")
	md := mapAt(d, "metadata")
	for _, k := range []string{"uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"} {
		delete(md, k)
	}
	md["name"] = name
	labels := mapAt(d, "metadata", "labels")
	sel := mapAt(d, "spec", "selector", "matchLabels")
	tmpl := mapAt(d, "spec", "template", "metadata", "labels")
	for k, v := range extra {
		labels[k], sel[k], tmpl[k] = v, v, v
	}
	pinRollingUpdate(d, base)
	if setContainerImages(d, imageIs(releaseImage), image) == 0 {
		return nil, fmt.Errorf("%w: Deployment %s runs no container of image %s", ErrOverlay, str(base, "metadata", "name"), releaseImage)
	}
	return d, nil
}

// pinRollingUpdate writes into d the rolling update bounds of the app's
// Deployment base as pod counts: its maxSurge and maxUnavailable (25%
// each by default) resolved against its replicas, as Kubernetes resolves
// them. The copies flightdeck writes, and the app's own Deployment once a
// strategy scales it, often run with 0 replicas, where percentages
// resolve to nothing (and the simulated cluster refuses a Deployment
// whose bounds are both zero); as counts, they roll as the app does at
// full scale.
func pinRollingUpdate(d, base object) {
	if t, _ := get(base, "spec", "strategy", "type").(string); t != "" && t != "RollingUpdate" {
		return
	}
	replicas := int32(1)
	if n, ok := toInt32(get(base, "spec", "replicas")); ok {
		replicas = n
	}
	ru, _ := get(base, "spec", "strategy", "rollingUpdate").(map[string]any)
	bound := func(key string, roundUp bool) int32 {
		v := Percent(DefaultMaxSurgePercent)
		switch x := ru[key].(type) {
		case int:
			v = Pods(int32(x))
		case string:
			_ = v.UnmarshalJSON([]byte(`"` + x + `"`))
		}
		return v.Scaled(replicas, roundUp)
	}
	surge, unavailable := bound("maxSurge", true), bound("maxUnavailable", false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	out := mapAt(d, "spec", "strategy", "rollingUpdate")
	out["maxSurge"], out["maxUnavailable"] = int64(surge), int64(unavailable)
}

// stablePatch returns a strategic-merge patch of the app's Deployment
// that pins its rolling update bounds as counts (see pinRollingUpdate)
// and adds labels to its pod template.
func stablePatch(base object, name string, labels map[string]string) object {
	p := object{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name}}
	if len(labels) > 0 {
		l := mapAt(p, "spec", "template", "metadata", "labels")
		for k, v := range labels {
			l[k] = v
		}
	}
	pinRollingUpdate(p, base)
	return p
}

// service returns a copy of the rendered Service base named name whose
// selector also requires the extra labels.
func service(base object, name string, extra map[string]string) object {
	s, _ := deepCopy(base).(map[string]any)
	delete(s, "status")
	md := mapAt(s, "metadata")
	for _, k := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields"} {
		delete(md, k)
	}
	md["name"] = name
	spec := mapAt(s, "spec")
	for _, k := range []string{"clusterIP", "clusterIPs"} {
		delete(spec, k)
	}
	sel := mapAt(s, "spec", "selector")
	for k, v := range extra {
		sel[k] = v
	}
	return s
}

// selectorPatch returns a strategic-merge patch that adds labels to the
// selector of Service name.
func selectorPatch(name string, labels map[string]string) object {
	sel := map[string]any{}
	for k, v := range labels {
		sel[k] = v
	}
	return object{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name}, "spec": map[string]any{"selector": sel}}
}

// rendered parses a rendered overlay and finds the app's Deployment.
func (o Overlay) rendered(manifests []byte) ([]object, object, error) {
	objs, err := parseObjects(manifests)
	if err != nil {
		return nil, nil, err
	}
	d := find(objs, "Deployment", o.Deployment)
	if d == nil {
		return nil, nil, fmt.Errorf("%w: the rendered overlay %s has no Deployment %s", ErrOverlay, o.Dir, o.Deployment)
	}
	return objs, d, nil
}

// mine reports whether the component holds file, so that a resource the
// rendered overlay shows is one flightdeck wrote rather than the app's.
func (o Overlay) mine(t *gitops.Tree, file string) bool { return t.Exists(o.file(file)) }

// stable reads the release the overlay's own images entry pins.
func (o Overlay) stable(k kustomization) (flightdeck.Release, error) {
	rel, i, err := k.pinned(o.Image)
	switch {
	case err != nil:
		return flightdeck.Release{}, err
	case i < 0:
		return flightdeck.Release{}, fmt.Errorf("%w: %s has no images entry named %s", ErrOverlay, o.Dir, o.Image)
	}
	return rel, nil
}

// setStable pins the app's own images entry to rel.
func (o Overlay) setStable(t *gitops.Tree, rel flightdeck.Release) error {
	return pin(t, o.Dir, o.Image, rel)
}

// setTrack pins (or, for a zero release, unpins) the stand-in image of
// role.
func (o Overlay) setTrack(t *gitops.Tree, role string, rel flightdeck.Release) error {
	if rel.Digest == "" {
		return unpin(t, o.Dir, o.placeholder(role))
	}
	return pin(t, o.Dir, o.placeholder(role), rel)
}

// track reads the release the stand-in image of role is pinned to (zero
// when it is not pinned).
func (o Overlay) track(k kustomization, role string) (flightdeck.Release, error) {
	rel, _, err := k.pinned(o.placeholder(role))
	return rel, err
}

// replicasIn reads a Deployment file's spec.replicas.
func replicasIn(d object) int32 {
	n, _ := toInt32(get(d, "spec", "replicas"))
	return n
}

// setDeploymentReplicas rewrites the replicas of a Deployment file of
// the component.
func setDeploymentReplicas(t *gitops.Tree, file string, n int32) error {
	d, err := readPrepared(t, file)
	if err != nil {
		return err
	}
	mapAt(d, "spec")["replicas"] = int64(n)
	return writeObject(t, file, d)
}

// readPrepared reads a file of the component that Prepare writes: its
// absence is an [ErrOverlay].
func readPrepared(t *gitops.Tree, file string) (object, error) {
	obj, err := readObject(t, file)
	if err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, fmt.Errorf("%w: %s is missing; prepare the overlay first", ErrOverlay, file)
	}
	return obj, nil
}

// prepareInput is what a target's Prepare starts from.
type prepareInput struct {
	// objs are the rendered overlay's objects, base the app's Deployment
	// among them.
	objs []object
	base object
	// k is the overlay's kustomization, stable the release it pins.
	k      kustomization
	stable flightdeck.Release
}

// prepareInput parses the rendered overlay and reads the overlay's
// kustomization and stable release.
func (o Overlay) prepareInput(t *gitops.Tree, rendered []byte) (prepareInput, error) {
	objs, base, err := o.rendered(rendered)
	if err != nil {
		return prepareInput{}, err
	}
	k, err := readKustomization(t, o.Dir)
	if err != nil {
		return prepareInput{}, err
	}
	stable, err := o.stable(k)
	if err != nil {
		return prepareInput{}, err
	}
	return prepareInput{objs: objs, base: base, k: k, stable: stable}, nil
}

// ownObject refuses an object of the target's (what, in file of the
// component) that the rendered overlay shows but the overlay itself
// defines.
func (o Overlay) ownObject(t *gitops.Tree, in prepareInput, kind, name, file, what string) error {
	if find(in.objs, kind, name) != nil && !o.mine(t, file) {
		return fmt.Errorf("%w: the overlay %s already defines %s %s; flightdeck writes %s itself", ErrOverlay, o.Dir, kind, name, what)
	}
	return nil
}
