package strategy

import (
	"errors"
	"fmt"
	"strconv"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// ErrUnsupported is wrapped by the error a [Target]'s Write returns for a
// [Desired] it cannot express: a weight other than 0 or 100 in
// blue-green, a canary in a rolling update.
var ErrUnsupported = errors.New("not supported by the target")

// ErrInvalidDesired is wrapped by the error a [Target]'s Write returns
// for a [Desired] that cannot be: no stable release, a weight outside
// 0–100, negative replicas, canary replicas without a canary release.
var ErrInvalidDesired = errors.New("invalid desired state")

// Annotations flightdeck writes on the Deployments of its component:
// metadata only, so changing them restarts no pod.
const (
	// WeightAnnotation records a replica canary's traffic weight.
	WeightAnnotation = "flightdeck.dev/weight"
	// RoleAnnotation records a blue-green colour's role: "stable" or
	// "canary".
	RoleAnnotation = "flightdeck.dev/role"
)

var (
	_ Target = (*RouteTarget)(nil)
	_ Target = (*ReplicaTarget)(nil)
	_ Target = (*BlueGreenTarget)(nil)
	_ Target = (*RollingTarget)(nil)
)

// check validates what every target needs of a Desired.
func (d Desired) check(o Overlay) error {
	var errs []error
	if d.Stable.Release.Digest == "" {
		errs = append(errs, fmt.Errorf("%w: no stable release", ErrInvalidDesired))
	}
	if d.Weight < 0 || d.Weight > MaxWeight {
		errs = append(errs, fmt.Errorf("%w: weight %d%% is not between 0 and %d", ErrInvalidDesired, d.Weight, MaxWeight))
	}
	for _, w := range []struct {
		name string
		w    Workload
	}{{"stable", d.Stable}, {"canary", d.Canary}} {
		if w.w.Replicas < 0 {
			errs = append(errs, fmt.Errorf("%w: %s replicas %d", ErrInvalidDesired, w.name, w.w.Replicas))
		}
		if d := w.w.Release.Digest; d != "" {
			if err := flightdeck.ValidateDigest(d); err != nil {
				errs = append(errs, fmt.Errorf("%w: %s release: %w", ErrInvalidDesired, w.name, err))
			}
		}
	}
	if d.Canary.Release.Digest == "" && d.Canary.Replicas > 0 {
		errs = append(errs, fmt.Errorf("%w: %d canary replicas without a canary release", ErrInvalidDesired, d.Canary.Replicas))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("overlay %s: %w", o.Dir, err)
	}
	return nil
}

// canaryFiles are the component's files of a canary target.
const (
	canaryFile        = "canary.yaml"
	canaryServiceFile = "canary-service.yaml"
	routeFile         = "httproute.yaml"
	stablePatchFile   = "stable-deployment.yaml"
	stableSvcPatch    = "stable-service.yaml"
)

// canaryWorkload is what the two canary targets share: the canary
// Deployment beside the app's own, pinned by a stand-in image.
type canaryWorkload struct {
	o Overlay
	// pods are the labels that set the canary's pods apart.
	pods map[string]string
}

// newCanaryWorkload returns the canary workload of o, its pods labelled
// track=canary.
func newCanaryWorkload(o Overlay) canaryWorkload {
	return canaryWorkload{o: o, pods: map[string]string{TrackLabel: "canary"}}
}

func (c canaryWorkload) name() string { return c.o.Deployment + "-canary" }

// prepareCanary writes the canary Deployment as a copy of the app's
// rendered one, keeping the replicas and annotations Write last wrote.
func (c canaryWorkload) prepare(t *gitops.Tree, base object, stable flightdeck.Release) error {
	d, err := workload(base, c.name(), c.pods, stable.Image, c.o.placeholder("canary"))
	if err != nil {
		return err
	}
	old, err := readObject(t, c.o.file(canaryFile))
	if err != nil {
		return err
	}
	replicas := int64(0)
	if old != nil {
		replicas = int64(replicasIn(old))
		if a, ok := get(old, "metadata", "annotations").(map[string]any); ok {
			for k, v := range a {
				mapAt(d, "metadata", "annotations")[k] = v
			}
		}
	}
	mapAt(d, "spec")["replicas"] = replicas
	return writeObject(t, c.o.file(canaryFile), d)
}

// write sets the app's release and replicas and the canary's.
func (c canaryWorkload) write(t *gitops.Tree, d Desired, annotate map[string]string) error {
	if err := c.o.setStable(t, d.Stable.Release); err != nil {
		return err
	}
	var stable *int32
	if d.Stable.Replicas != c.o.Replicas {
		n := d.Stable.Replicas
		stable = &n
	}
	if err := setReplicas(t, c.o.Dir, c.o.Deployment, stable); err != nil {
		return err
	}
	if err := c.o.setTrack(t, "canary", d.Canary.Release); err != nil {
		return err
	}
	file := c.o.file(canaryFile)
	dep, err := readPrepared(t, file)
	if err != nil {
		return err
	}
	mapAt(dep, "spec")["replicas"] = int64(d.Canary.Replicas)
	for k, v := range annotate {
		mapAt(dep, "metadata", "annotations")[k] = v
	}
	return writeObject(t, file, dep)
}

// read reads the app's release and replicas and the canary's.
func (c canaryWorkload) read(t *gitops.Tree) (Desired, object, error) {
	k, err := readKustomization(t, c.o.Dir)
	if err != nil {
		return Desired{}, nil, err
	}
	var d Desired
	if d.Stable.Release, err = c.o.stable(k); err != nil {
		return Desired{}, nil, err
	}
	d.Stable.Replicas = c.o.Replicas
	if n, ok := k.replicasOf(c.o.Deployment); ok {
		d.Stable.Replicas = n
	}
	if d.Canary.Release, err = c.o.track(k, "canary"); err != nil {
		return Desired{}, nil, err
	}
	dep, err := readObject(t, c.o.file(canaryFile))
	if err != nil {
		return Desired{}, nil, err
	}
	if dep != nil {
		d.Canary.Replicas = replicasIn(dep)
	}
	return d, dep, nil
}

// RouteTarget splits a canary's traffic with a Gateway API HTTPRoute:
// explicit weights on the stable and the canary Service, never all zero
// ([HTTPRouteWeights]). Prepare writes, in the overlay's flightdeck
// component: the canary Deployment (a copy of the app's, named
// "<deployment>-canary", its pods labelled flightdeck.dev/track=canary
// and its image a stand-in the overlay's `images:` list pins to the new
// release), the canary Service (a copy of the stable Service selecting
// the canary's pods), the HTTPRoute, and patches that label the app's
// pods track=stable and make the stable Service select only them. Write
// sets the weights, the canary's replicas and release, and the app's
// (stable) release and replicas.
type RouteTarget struct {
	c       canaryWorkload
	route   TrafficRouting
	gateway string
}

// NewRouteTarget returns a RouteTarget for the overlay, routing through
// route, whose HTTPRoute has gateway as its parent. It returns an error
// wrapping [ErrOverlay] or [ErrInvalidStrategy] for incomplete input.
func NewRouteTarget(o Overlay, route TrafficRouting, gateway string) (*RouteTarget, error) {
	var c checker
	c.trafficRouting(&route)
	c.name(-1, "gateway", gateway, true)
	if err := errors.Join(o.validate(), c.err()); err != nil {
		return nil, fmt.Errorf("HTTPRoute target for %s: %w", o.Dir, err)
	}
	return &RouteTarget{c: newCanaryWorkload(o), route: route, gateway: gateway}, nil
}

// Prepare implements [Target].
func (r *RouteTarget) Prepare(t *gitops.Tree, rendered []byte) error {
	o := r.c.o
	in, err := o.prepareInput(t, rendered)
	if err != nil {
		return err
	}
	base := in.base
	if err := r.c.prepare(t, base, in.stable); err != nil {
		return err
	}
	stableSvc := find(in.objs, "Service", r.route.StableService)
	if stableSvc == nil {
		return fmt.Errorf("%w: the rendered overlay %s has no Service %s (the stable Service)", ErrOverlay, o.Dir, r.route.StableService)
	}
	if err := o.ownObject(t, in, "Service", r.route.CanaryService, canaryServiceFile, "the canary Service"); err != nil {
		return err
	}
	if err := writeObject(t, o.file(canaryServiceFile), service(stableSvc, r.route.CanaryService, r.c.pods)); err != nil {
		return err
	}
	if err := o.ownObject(t, in, "HTTPRoute", r.route.HTTPRoute, routeFile, "the canary's HTTPRoute"); err != nil {
		return err
	}
	weights := TrafficWeights{Stable: MaxWeight}
	if old, err := readObject(t, o.file(routeFile)); err != nil {
		return err
	} else if old != nil {
		weights = r.weights(old)
	}
	port := int64(80)
	if ports, _ := get(stableSvc, "spec", "ports").([]any); len(ports) > 0 {
		if p, ok := toInt32(get(ports[0].(map[string]any), "port")); ok {
			port = int64(p)
		}
	}
	if err := writeObject(t, o.file(routeFile), r.routeObject(port, weights)); err != nil {
		return err
	}
	stableLabel := map[string]string{TrackLabel: "stable"}
	if err := writeObject(t, o.file(stablePatchFile), stablePatch(base, o.Deployment, stableLabel)); err != nil {
		return err
	}
	if err := writeObject(t, o.file(stableSvcPatch), selectorPatch(r.route.StableService, stableLabel)); err != nil {
		return err
	}
	return writeComponent(t, o, componentSpec{
		resources: []string{canaryFile, canaryServiceFile, routeFile},
		patches:   []string{stablePatchFile, stableSvcPatch},
	})
}

func (r *RouteTarget) routeObject(port int64, w TrafficWeights) object {
	ref := func(name string, weight int32) any {
		return map[string]any{"name": name, "port": port, "weight": int64(weight)}
	}
	return object{
		"apiVersion": "gateway.networking.k8s.io/v1",
		"kind":       "HTTPRoute",
		"metadata":   map[string]any{"name": r.route.HTTPRoute},
		"spec": map[string]any{
			"parentRefs": []any{map[string]any{"name": r.gateway}},
			"rules":      []any{map[string]any{"backendRefs": []any{ref(r.route.StableService, w.Stable), ref(r.route.CanaryService, w.Canary)}}},
		},
	}
}

// weights reads the weights of the route file's two backends.
func (r *RouteTarget) weights(route object) TrafficWeights {
	var w TrafficWeights
	rules, _ := get(route, "spec", "rules").([]any)
	if len(rules) == 0 {
		return w
	}
	refs, _ := get(rules[0].(map[string]any), "backendRefs").([]any)
	for _, ref := range refs {
		m, _ := ref.(map[string]any)
		n, _ := toInt32(m["weight"])
		switch m["name"] {
		case r.route.StableService:
			w.Stable = n
		case r.route.CanaryService:
			w.Canary = n
		}
	}
	return w
}

// Write implements [Target].
func (r *RouteTarget) Write(t *gitops.Tree, d Desired) error {
	o := r.c.o
	if err := d.check(o); err != nil {
		return err
	}
	w, err := HTTPRouteWeights(d.Weight)
	if err != nil {
		return err
	}
	if err := r.c.write(t, d, nil); err != nil {
		return err
	}
	route, err := readPrepared(t, o.file(routeFile))
	if err != nil {
		return err
	}
	rules, _ := get(route, "spec", "rules").([]any)
	if len(rules) == 0 {
		return fmt.Errorf("%w: %s has no rule", ErrOverlay, o.file(routeFile))
	}
	refs, _ := get(rules[0].(map[string]any), "backendRefs").([]any)
	for _, ref := range refs {
		m, _ := ref.(map[string]any)
		switch m["name"] {
		case r.route.StableService:
			m["weight"] = int64(w.Stable)
		case r.route.CanaryService:
			m["weight"] = int64(w.Canary)
		}
	}
	return writeObject(t, o.file(routeFile), route)
}

// Read implements [Target].
func (r *RouteTarget) Read(t *gitops.Tree) (Desired, error) {
	d, _, err := r.c.read(t)
	if err != nil {
		return Desired{}, err
	}
	route, err := readObject(t, r.c.o.file(routeFile))
	if err != nil {
		return Desired{}, err
	}
	if route != nil {
		w := r.weights(route)
		if sum := w.Stable + w.Canary; sum > 0 {
			d.Weight = w.Canary * MaxWeight / sum
		}
	}
	return d, nil
}

// ReplicaTarget is a canary without a router: the app's Service selects
// the pods of both releases, so the ratio of canary to stable pods is the
// traffic split ([ApproximateReplicas]). Prepare writes the canary
// Deployment (a copy of the app's, named "<deployment>-canary", its pods
// keeping the app's labels and adding flightdeck.dev/track=canary); Write
// sets the replica counts of both, the releases, and records the weight
// in the canary Deployment's flightdeck.dev/weight annotation.
type ReplicaTarget struct {
	c canaryWorkload
}

// NewReplicaTarget returns a ReplicaTarget for the overlay. It returns an
// error wrapping [ErrOverlay] for incomplete input.
func NewReplicaTarget(o Overlay) (*ReplicaTarget, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("replica target for %s: %w", o.Dir, err)
	}
	return &ReplicaTarget{c: newCanaryWorkload(o)}, nil
}

// Prepare implements [Target].
func (r *ReplicaTarget) Prepare(t *gitops.Tree, rendered []byte) error {
	o := r.c.o
	in, err := o.prepareInput(t, rendered)
	if err != nil {
		return err
	}
	if err := r.c.prepare(t, in.base, in.stable); err != nil {
		return err
	}
	if err := writeObject(t, o.file(stablePatchFile), stablePatch(in.base, o.Deployment, nil)); err != nil {
		return err
	}
	return writeComponent(t, o, componentSpec{resources: []string{canaryFile}, patches: []string{stablePatchFile}})
}

// Write implements [Target].
func (r *ReplicaTarget) Write(t *gitops.Tree, d Desired) error {
	if err := d.check(r.c.o); err != nil {
		return err
	}
	return r.c.write(t, d, map[string]string{WeightAnnotation: strconv.Itoa(int(d.Weight))})
}

// Read implements [Target].
func (r *ReplicaTarget) Read(t *gitops.Tree) (Desired, error) {
	d, dep, err := r.c.read(t)
	if err != nil {
		return Desired{}, err
	}
	if w, err := strconv.Atoi(str(dep, "metadata", "annotations", WeightAnnotation)); err == nil {
		d.Weight = int32(w)
	}
	return d, nil
}

// RollingTarget is the Deployment's own rolling update: Write pins the
// app's `images:` entry to the stable release and Kubernetes rolls the
// Deployment within its maxSurge and maxUnavailable. It writes nothing
// else, and refuses a canary or a weight with [ErrUnsupported].
type RollingTarget struct {
	o Overlay
}

// NewRollingTarget returns a RollingTarget for the overlay. It returns an
// error wrapping [ErrOverlay] for incomplete input.
func NewRollingTarget(o Overlay) (*RollingTarget, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("rolling target for %s: %w", o.Dir, err)
	}
	return &RollingTarget{o: o}, nil
}

// Prepare implements [Target]; a rolling update needs nothing beside the
// app's own manifests.
func (r *RollingTarget) Prepare(t *gitops.Tree, rendered []byte) error {
	_, _, err := r.o.rendered(rendered)
	return err
}

// Write implements [Target].
func (r *RollingTarget) Write(t *gitops.Tree, d Desired) error {
	if err := d.check(r.o); err != nil {
		return err
	}
	if d.Canary.Release.Digest != "" || d.Canary.Replicas != 0 || d.Weight != 0 || d.Stable.Replicas != r.o.Replicas {
		return fmt.Errorf("rolling update of %s: %w: only the stable release at %d replicas, got %s", r.o.Dir, ErrUnsupported, r.o.Replicas, d)
	}
	return r.o.setStable(t, d.Stable.Release)
}

// Read implements [Target].
func (r *RollingTarget) Read(t *gitops.Tree) (Desired, error) {
	k, err := readKustomization(t, r.o.Dir)
	if err != nil {
		return Desired{}, err
	}
	rel, err := r.o.stable(k)
	if err != nil {
		return Desired{}, err
	}
	return Desired{Stable: Workload{Release: rel, Replicas: r.o.Replicas}}, nil
}

// Overlay returns the overlay the target works on.
func (r *RouteTarget) Overlay() Overlay { return r.c.o }

// Overlay returns the overlay the target works on.
func (r *ReplicaTarget) Overlay() Overlay { return r.c.o }

// Overlay returns the overlay the target works on.
func (r *RollingTarget) Overlay() Overlay { return r.o }

// Overlay returns the overlay the target works on.
func (b *BlueGreenTarget) Overlay() Overlay { return b.o }
