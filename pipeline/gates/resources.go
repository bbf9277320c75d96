package gates

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// ErrMissingResources is wrapped by the [*ResourcesError] of a
// [ResourceGate] when containers lack resource requests or limits.
var ErrMissingResources = errors.New("containers without resource requests or limits")

// defaultRequired are the fields every container must set unless
// [ResourceGate.WithRequired] says otherwise.
func defaultRequired() []string {
	return []string{"requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
}

// Problem is one thing a pre-deploy gate refused in a rendered object.
type Problem struct {
	// Object is the object.
	Object ObjectRef
	// Container is the container's name, "" for a problem of the object
	// as a whole.
	Container string
	// Init reports that Container is an init container.
	Init bool
	// Missing lists the resource fields the container does not set, as
	// "limits.memory".
	Missing []string
	// Err is a field that does not read (it wraps [ErrInvalidQuantity]
	// or [ErrInvalidManifest]); for a container of [QuotaError.Unset] it
	// names the quota that tracks the missing fields. Nil otherwise.
	Err error
}

// String returns "Kind/namespace/name: container web: missing
// limits.memory" or the object's error.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Object.String())
	if p.Container != "" {
		if p.Init {
			b.WriteString(": init container ")
		} else {
			b.WriteString(": container ")
		}
		b.WriteString(p.Container)
	}
	if len(p.Missing) > 0 {
		b.WriteString(": missing ")
		b.WriteString(strings.Join(p.Missing, ", "))
	}
	if p.Err != nil {
		b.WriteString(": ")
		b.WriteString(p.Err.Error())
	}
	return b.String()
}

// ResourcesError is the refusal of a [ResourceGate]: every container of
// the overlay that lacks a required field or holds a malformed one.
type ResourcesError struct {
	// Overlay is the overlay's directory.
	Overlay string
	// Problems lists the problems in manifest order.
	Problems []Problem
}

// Error returns "overlay <dir>: <n> resource problems: <problem>; …".
func (e *ResourcesError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	s := "s"
	if len(parts) == 1 {
		s = ""
	}
	return fmt.Sprintf("overlay %s: %d resource problem%s: %s", e.Overlay, len(parts), s, strings.Join(parts, "; "))
}

// Unwrap returns [ErrMissingResources] when a field is missing, and the
// error of every field that does not read.
func (e *ResourcesError) Unwrap() []error {
	var errs []error
	for _, p := range e.Problems {
		if len(p.Missing) > 0 {
			errs = append(errs, ErrMissingResources)
			break
		}
	}
	for _, p := range e.Problems {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}

// ResourceGate is a stage that refuses an overlay in which a container
// does not set its CPU and memory requests and limits. Make one with
// [NewResourceGate].
type ResourceGate struct {
	name     string
	overlay  Overlay
	required []string
}

var _ pipeline.Stage = (*ResourceGate)(nil)

// NewResourceGate returns a gate named name that renders o and checks
// every container and init container of every workload in it
// (Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController,
// Job, CronJob, Pod, and Argo Rollouts' Rollout): each must set
// requests.cpu, requests.memory, limits.cpu and limits.memory (see
// [ResourceGate.WithRequired]) to well-formed quantities, and no request
// may exceed its limit. Ephemeral containers are not checked: a pod
// template cannot hold them and Kubernetes forbids them resources.
func NewResourceGate(name string, o Overlay) *ResourceGate {
	return &ResourceGate{name: name, overlay: o, required: defaultRequired()}
}

// WithRequired replaces the fields every container must set, each
// "requests.<resource>" or "limits.<resource>" (for example
// "limits.ephemeral-storage"), and returns g.
func (g *ResourceGate) WithRequired(fields ...string) *ResourceGate {
	g.required = slices.Clone(fields)
	return g
}

// Name returns the gate's name.
func (g *ResourceGate) Name() string { return g.name }

// Run renders the overlay and checks it. A refusal is a
// [*ResourcesError] (wrapping [ErrMissingResources] and
// [ErrInvalidQuantity] as they apply), marked [pipeline.Permanent]; so is
// an overlay that does not render (gitops.ErrRender), holds objects that
// do not read ([ErrInvalidManifest]), or is not given
// ([ErrInvalidOverlay]). Other errors, such as a
// failed fetch, are returned as is so that a retry policy may apply.
func (g *ResourceGate) Run(ctx context.Context, _ *pipeline.State) error {
	objs, err := g.overlay.render(ctx)
	if err != nil {
		return gateError(g.name, err)
	}
	if err := checkResources(g.overlay.Dir, objs, g.required); err != nil {
		return pipeline.Permanent(fmt.Errorf("gate %s: %w", g.name, err))
	}
	return nil
}

// gateError names the gate in a render or read failure and marks the
// failures that a retry cannot change.
func gateError(name string, err error) error {
	err = fmt.Errorf("gate %s: %w", name, err)
	if errors.Is(err, gitops.ErrRender) || errors.Is(err, ErrInvalidManifest) || errors.Is(err, ErrInvalidOverlay) {
		return pipeline.Permanent(err)
	}
	return err
}

// checkResources checks every container of the workloads in objs.
func checkResources(overlay string, objs []object, required []string) error {
	ws, problems := workloads(objs, 1)
	for _, w := range ws {
		if w.via != "" {
			continue // the Deployment it references is checked itself
		}
		for _, c := range w.pod.InitContainers {
			if p, ok := checkContainer(w, c, true, required); !ok {
				problems = append(problems, p)
			}
		}
		for _, c := range w.pod.Containers {
			if p, ok := checkContainer(w, c, false, required); !ok {
				problems = append(problems, p)
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &ResourcesError{Overlay: overlay, Problems: problems}
}

// checkContainer checks one container; ok is false when p says why not.
func checkContainer(w workload, c container, init bool, required []string) (p Problem, ok bool) {
	p = Problem{Object: w.ref, Container: c.Name, Init: init}
	for _, f := range required {
		section, res, _ := strings.Cut(f, ".")
		list := c.Resources.Requests
		if section == "limits" {
			list = c.Resources.Limits
		}
		if v, ok := list[res]; !ok || v.kind == "" && v.value == "" {
			p.Missing = append(p.Missing, f)
		}
	}
	_, _, err := containerResources(c)
	p.Err = err
	return p, len(p.Missing) == 0 && p.Err == nil
}

// containerResources parses a container's requests and limits, requests
// defaulting to limits as the API server defaults them. Errors name the
// field and are joined.
func containerResources(c container) (requests, limits map[string]Quantity, err error) {
	var errs []error
	parse := func(section string, list resourceList) map[string]Quantity {
		out := make(map[string]Quantity, len(list))
		for _, name := range sortedKeys(list) {
			q, err := list[name].quantity("resources." + section + "." + name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out[name] = q
		}
		return out
	}
	requests = parse("requests", c.Resources.Requests)
	limits = parse("limits", c.Resources.Limits)
	for _, name := range sortedKeys(limits) {
		l := limits[name]
		r, ok := requests[name]
		if !ok {
			if _, bad := c.Resources.Requests[name]; !bad {
				requests[name] = l
			}
			continue
		}
		if r.Cmp(l) > 0 {
			errs = append(errs, fmt.Errorf("%w: resources.requests.%s %s is above resources.limits.%s %s",
				ErrInvalidManifest, name, r, name, l))
		}
	}
	return requests, limits, joinErrors(errs)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// listError is several errors in one line, "a; b".
type listError []error

func (e listError) Error() string {
	parts := make([]string, len(e))
	for i, err := range e {
		parts[i] = err.Error()
	}
	return strings.Join(parts, "; ")
}

func (e listError) Unwrap() []error { return e }

// joinErrors returns nil, the one error, or a listError.
func joinErrors(errs []error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	return listError(errs)
}
