package strategy

import (
	"errors"
	"fmt"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// The colours of a blue-green app.
var colours = [2]string{"blue", "green"}

const (
	previewServiceFile = "preview-service.yaml"
	activeServicePatch = "active-service.yaml"
)

// BlueGreenTarget runs one Deployment per colour and switches the active
// Service between them. Prepare writes, in the overlay's flightdeck
// component, the blue and green Deployments (copies of the app's,
// "<deployment>-blue" and "<deployment>-green", their pods labelled
// flightdeck.dev/colour) and the preview Service (a copy of the active
// one); blue starts as a copy of what runs now, green with no pods.
//
// Write puts the stable and the new release on the two colours, sets
// their replicas, and points the active Service at the stable colour
// (Weight 0) or the new one (Weight 100) and the preview Service at the
// new one. The switch is one commit that changes the active Service's
// selector and nothing the pods run: the colour that serves always names
// its image as the app's own `images:` entry does, so that entry pins the
// serving release and every reader of the overlay sees it; the other
// colour's image is a stand-in ("flightdeck.local/<colour>/<deployment>")
// pinned by an entry of its own while it has a release. Renaming the
// image at the switch changes nothing kustomize renders for either
// colour. The app's own Deployment is kept at 0 replicas from the first
// Write on, after Prepare's commit has brought blue up beside it.
type BlueGreenTarget struct {
	o               Overlay
	active, preview string
}

// NewBlueGreenTarget returns a BlueGreenTarget for the overlay with its
// active and (optional) preview Services. It returns an error wrapping
// [ErrOverlay] or [ErrInvalidStrategy] for incomplete input.
func NewBlueGreenTarget(o Overlay, activeService, previewService string) (*BlueGreenTarget, error) {
	var c checker
	c.services(activeService, previewService)
	if err := errors.Join(o.validate(), c.err()); err != nil {
		return nil, fmt.Errorf("blue-green target for %s: %w", o.Dir, err)
	}
	return &BlueGreenTarget{o: o, active: activeService, preview: previewService}, nil
}

func (b *BlueGreenTarget) file(colour string) string { return colour + ".yaml" }

// colour is one colour's Deployment as its file says.
type colour struct {
	name     string
	dep      object
	usesMain bool
	release  flightdeck.Release
	replicas int32
	role     string
}

// managed reports whether a container image in a colour's file is the
// one flightdeck manages.
func (b *BlueGreenTarget) managed(c string) func(string) bool {
	return func(img string) bool { return img == b.o.Image || img == b.o.placeholder(c) }
}

// managedImage returns the image name a colour's file gives its app
// containers.
func (b *BlueGreenTarget) managedImage(dep object, c string) string {
	for _, key := range []string{"containers", "initContainers"} {
		cs, _ := get(dep, "spec", "template", "spec", key).([]any)
		for _, ct := range cs {
			m, _ := ct.(map[string]any)
			if img, _ := m["image"].(string); b.managed(c)(img) {
				return img
			}
		}
	}
	return ""
}

func (b *BlueGreenTarget) colours(t *gitops.Tree) ([2]colour, kustomization, error) {
	var out [2]colour
	k, err := readKustomization(t, b.o.Dir)
	if err != nil {
		return out, k, err
	}
	main, err := b.o.stable(k)
	if err != nil {
		return out, k, err
	}
	for i, c := range colours {
		file := b.o.file(b.file(c))
		dep, err := readPrepared(t, file)
		if err != nil {
			return out, k, err
		}
		col := colour{name: c, dep: dep, replicas: replicasIn(dep), role: str(dep, "metadata", "annotations", RoleAnnotation)}
		col.usesMain = b.managedImage(dep, c) == b.o.Image
		if col.usesMain {
			col.release = main
		} else if col.release, err = b.o.track(k, c); err != nil {
			return out, k, err
		}
		out[i] = col
	}
	return out, k, nil
}

// Prepare implements [Target].
func (b *BlueGreenTarget) Prepare(t *gitops.Tree, rendered []byte) error {
	o := b.o
	in, err := o.prepareInput(t, rendered)
	if err != nil {
		return err
	}
	objs, base, main := in.objs, in.base, in.stable
	for i, c := range colours {
		file := o.file(b.file(c))
		old, err := readObject(t, file)
		if err != nil {
			return err
		}
		image, replicas, role := o.placeholder(c), int32(0), "canary"
		if i == 0 {
			image, replicas, role = o.Image, o.Replicas, "stable"
		}
		if old != nil {
			if img := b.managedImage(old, c); img != "" {
				image = img
			}
			replicas, role = replicasIn(old), str(old, "metadata", "annotations", RoleAnnotation)
		}
		d, err := workload(base, o.Deployment+"-"+c, map[string]string{ColourLabel: c}, main.Image, image)
		if err != nil {
			return err
		}
		mapAt(d, "spec")["replicas"] = int64(replicas)
		mapAt(d, "metadata", "annotations")[RoleAnnotation] = role
		if err := writeObject(t, file, d); err != nil {
			return err
		}
	}
	active := find(objs, "Service", b.active)
	if active == nil {
		return fmt.Errorf("%w: the rendered overlay %s has no Service %s (the active Service)", ErrOverlay, o.Dir, b.active)
	}
	if err := writeObject(t, o.file(stablePatchFile), stablePatch(base, o.Deployment, nil)); err != nil {
		return err
	}
	if b.preview != "" {
		if err := o.ownObject(t, in, "Service", b.preview, previewServiceFile, "the preview Service"); err != nil {
			return err
		}
		sel := colours[1]
		if old, err := readObject(t, o.file(previewServiceFile)); err != nil {
			return err
		} else if c := str(old, "spec", "selector", ColourLabel); c != "" {
			sel = c
		}
		if err := writeObject(t, o.file(previewServiceFile), service(active, b.preview, map[string]string{ColourLabel: sel})); err != nil {
			return err
		}
	}
	return b.component(t)
}

// component writes the component's kustomization: the colours, the
// preview Service, and the active Service's patch once Write wrote it.
func (b *BlueGreenTarget) component(t *gitops.Tree) error {
	spec := componentSpec{resources: []string{b.file(colours[0]), b.file(colours[1])}, patches: []string{stablePatchFile}}
	if b.preview != "" {
		spec.resources = append(spec.resources, previewServiceFile)
	}
	if b.o.mine(t, activeServicePatch) {
		spec.patches = append(spec.patches, activeServicePatch)
	}
	return writeComponent(t, b.o, spec)
}

// Write implements [Target].
func (b *BlueGreenTarget) Write(t *gitops.Tree, d Desired) error {
	o := b.o
	if err := d.check(o); err != nil {
		return err
	}
	switch {
	case d.Weight != 0 && d.Weight != MaxWeight:
		return fmt.Errorf("blue-green %s: %w: weight %d%% (the active Service selects one colour: 0 or 100)", o.Dir, ErrUnsupported, d.Weight)
	case d.Canary.Release.Digest != "" && sameRelease(d.Canary.Release, d.Stable.Release):
		return fmt.Errorf("blue-green %s: %w: the new release is the stable one (%s)", o.Dir, ErrUnsupported, short(d.Stable.Release))
	case d.Weight == MaxWeight && d.Canary.Release.Digest == "":
		return fmt.Errorf("blue-green %s: %w: switching to no release", o.Dir, ErrInvalidDesired)
	}
	cs, _, err := b.colours(t)
	if err != nil {
		return err
	}
	stable := -1
	for i, c := range cs {
		if sameRelease(c.release, d.Stable.Release) && (stable < 0 || c.role == "stable") {
			stable = i
		}
	}
	if stable < 0 {
		// A release no colour runs takes the place of the serving one.
		stable = 0
		if cs[1].usesMain {
			stable = 1
		}
	}
	canary := 1 - stable
	live := stable
	if d.Weight == MaxWeight {
		live = canary
	}
	want := [2]Workload{}
	want[stable], want[canary] = d.Stable, d.Canary
	for i, c := range cs {
		image, role := o.placeholder(c.name), "canary"
		if i == live {
			image = o.Image
		}
		if i == stable {
			role = "stable"
		}
		setContainerImages(c.dep, b.managed(c.name), image)
		mapAt(c.dep, "spec")["replicas"] = int64(want[i].Replicas)
		mapAt(c.dep, "metadata", "annotations")[RoleAnnotation] = role
		if err := writeObject(t, o.file(b.file(c.name)), c.dep); err != nil {
			return err
		}
		pinned := want[i].Release
		if i == live {
			pinned = flightdeck.Release{}
		}
		if err := o.setTrack(t, c.name, pinned); err != nil {
			return err
		}
	}
	if err := o.setStable(t, want[live].Release); err != nil {
		return err
	}
	zero := int32(0)
	if err := setReplicas(t, o.Dir, o.Deployment, &zero); err != nil {
		return err
	}
	if err := writeObject(t, o.file(activeServicePatch), selectorPatch(b.active, map[string]string{ColourLabel: colours[live]})); err != nil {
		return err
	}
	if b.preview != "" {
		svc, err := readPrepared(t, o.file(previewServiceFile))
		if err != nil {
			return err
		}
		sel := colours[live]
		if want[canary].Release.Digest != "" {
			sel = colours[canary]
		}
		mapAt(svc, "spec", "selector")[ColourLabel] = sel
		if err := writeObject(t, o.file(previewServiceFile), svc); err != nil {
			return err
		}
	}
	return b.component(t)
}

// Read implements [Target].
func (b *BlueGreenTarget) Read(t *gitops.Tree) (Desired, error) {
	cs, _, err := b.colours(t)
	if err != nil {
		return Desired{}, err
	}
	stable := 0
	switch {
	case cs[1].role == "stable" && cs[0].role != "stable":
		stable = 1
	case cs[0].role != "stable" && cs[1].usesMain:
		stable = 1
	}
	canary := 1 - stable
	d := Desired{
		Stable: Workload{Release: cs[stable].release, Replicas: cs[stable].replicas},
		Canary: Workload{Release: cs[canary].release, Replicas: cs[canary].replicas},
	}
	patch, err := readObject(t, b.o.file(activeServicePatch))
	if err != nil {
		return Desired{}, err
	}
	if str(patch, "spec", "selector", ColourLabel) == cs[canary].name {
		d.Weight = MaxWeight
	}
	return d, nil
}
