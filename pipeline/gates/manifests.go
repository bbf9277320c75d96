package gates

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// ErrInvalidManifest is wrapped by the pre-deploy gates' errors when the
// rendered overlay holds an object they cannot read: a document that is
// not a Kubernetes object, or a field of the wrong type.
var ErrInvalidManifest = errors.New("invalid manifest")

// ErrInvalidOverlay is wrapped by the pre-deploy gates' errors when their
// [Overlay] lacks a renderer or a directory.
var ErrInvalidOverlay = errors.New("invalid overlay")

// Overlay is the kustomize overlay a pre-deploy gate checks, rendered as
// Argo CD will render it. The zero value of every field but Renderer and
// Dir is the default.
type Overlay struct {
	// Renderer renders the overlay: a *gitops.Repo, or a
	// gitopstest.Fake. Required.
	Renderer gitops.Renderer
	// Dir is the kustomization directory in the repository, for example
	// gitops.Target.Overlay(). Required.
	Dir string
	// Revision is the revision rendered; empty means the branch head.
	Revision string
	// Namespace is the namespace of rendered objects that name none (the
	// Argo CD Application's destination namespace). Empty means
	// "default".
	Namespace string
}

func (o Overlay) namespace() string {
	if o.Namespace == "" {
		return "default"
	}
	return o.Namespace
}

// render renders the overlay and reads its objects. A render failure
// keeps gitops' error (a *gitops.RenderError wrapping gitops.ErrRender
// for kustomize's) and names the overlay.
func (o Overlay) render(ctx context.Context) ([]object, error) {
	if o.Renderer == nil || o.Dir == "" {
		return nil, fmt.Errorf("overlay %q: %w: no renderer or directory", o.Dir, ErrInvalidOverlay)
	}
	out, err := o.Renderer.Render(ctx, o.Revision, o.Dir)
	if re := (*gitops.RenderError)(nil); errors.As(err, &re) {
		return nil, err // it names the overlay
	}
	if err != nil {
		return nil, fmt.Errorf("overlay %s: %w", o.Dir, err)
	}
	objs, err := readObjects(out, o.namespace())
	if err != nil {
		return nil, fmt.Errorf("overlay %s: %w", o.Dir, err)
	}
	return objs, nil
}

// ObjectRef names a Kubernetes object.
type ObjectRef struct {
	// Kind is the object's kind, for example "Deployment".
	Kind string
	// Group is the API group, "" for the core group.
	Group string
	// Namespace is the object's namespace, the overlay's default when
	// the manifest names none.
	Namespace string
	// Name is the object's name.
	Name string
}

// String returns "Kind/namespace/name".
func (r ObjectRef) String() string { return r.Kind + "/" + r.Namespace + "/" + r.Name }

// object is one rendered document.
type object struct {
	ref  ObjectRef
	node *yaml.Node
}

// decode decodes the object into v.
func (o object) decode(v any) error { return o.node.Decode(v) }

// groupOf returns the API group of apiVersion, "" for the core group.
func groupOf(apiVersion string) string {
	group, _, ok := strings.Cut(apiVersion, "/")
	if !ok {
		return ""
	}
	return group
}

type objectMeta struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
}

// readObjects splits kustomize's multi-document output into objects.
func readObjects(out []byte, namespace string) ([]object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(out))
	var objs []object
	for i := 0; ; i++ {
		var n yaml.Node
		if err := dec.Decode(&n); err == io.EOF {
			return objs, nil
		} else if err != nil {
			return nil, fmt.Errorf("document %d: %w: %s", i+1, ErrInvalidManifest, yamlReason(err))
		}
		var m objectMeta
		if err := n.Decode(&m); err != nil {
			return nil, fmt.Errorf("document %d: %w: %s", i+1, ErrInvalidManifest, yamlReason(err))
		}
		if m.Kind == "" {
			continue
		}
		ns := m.Metadata.Namespace
		if ns == "" {
			ns = namespace
		}
		objs = append(objs, object{
			ref:  ObjectRef{Kind: m.Kind, Group: groupOf(m.APIVersion), Namespace: ns, Name: m.Metadata.Name},
			node: &n,
		})
	}
}

// scalar is a YAML scalar kept as written; a non-scalar is remembered as
// such, so that a check can name the field instead of failing the decode.
type scalar struct {
	value string
	kind  string // "" for a scalar, else "a list" or "a map"
}

// UnmarshalYAML keeps n's text.
func (s *scalar) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		s.value = n.Value
	case yaml.SequenceNode:
		s.kind = "a list"
	default:
		s.kind = "a map"
	}
	return nil
}

// quantity parses s, naming field in the error.
func (s scalar) quantity(field string) (Quantity, error) {
	if s.kind != "" {
		return Quantity{}, fmt.Errorf("%s: %w: %s, not a quantity", field, ErrInvalidQuantity, s.kind)
	}
	q, err := ParseQuantity(s.value)
	if err != nil {
		return Quantity{}, fmt.Errorf("%s: %w", field, err)
	}
	if q.Sign() < 0 {
		return Quantity{}, fmt.Errorf("%s: %w %q: negative", field, ErrInvalidQuantity, s.value)
	}
	return q, nil
}

type resourceList map[string]scalar

type container struct {
	Name          string `yaml:"name"`
	RestartPolicy string `yaml:"restartPolicy"`
	Resources     struct {
		Requests resourceList `yaml:"requests"`
		Limits   resourceList `yaml:"limits"`
	} `yaml:"resources"`
}

type podSpec struct {
	Containers            []container  `yaml:"containers"`
	InitContainers        []container  `yaml:"initContainers"`
	Overhead              resourceList `yaml:"overhead"`
	ActiveDeadlineSeconds *int64       `yaml:"activeDeadlineSeconds"`
	PriorityClassName     string       `yaml:"priorityClassName"`
}

type podTemplate struct {
	Spec *podSpec `yaml:"spec"`
}

// intOrString is a Kubernetes IntOrString: 3 or "25%".
type intOrString struct {
	set     bool
	value   int64
	percent bool
	raw     string
}

// UnmarshalYAML reads an integer or a percentage.
func (v *intOrString) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: not an integer or a percentage", n.Line)
	}
	v.set, v.raw = true, n.Value
	s, percent := strings.CutSuffix(n.Value, "%")
	v.percent = percent
	i, err := strconv.ParseInt(s, 10, 32)
	if err != nil || i < 0 {
		return fmt.Errorf("line %d: %q is not an integer or a percentage", n.Line, n.Value)
	}
	v.value = i
	return nil
}

// surge returns v as a maxSurge, def when unset: a count, or a
// percentage of the replicas rounded up as Kubernetes rounds maxSurge.
func (v intOrString) surge(def string) func(replicas int64) int64 {
	if !v.set {
		_ = v.UnmarshalYAML(&yaml.Node{Kind: yaml.ScalarNode, Value: def})
	}
	return func(replicas int64) int64 {
		if !v.percent {
			return v.value
		}
		return (replicas*v.value + 99) / 100
	}
}

type rollingUpdate struct {
	MaxSurge intOrString `yaml:"maxSurge"`
}

type workloadSpec struct {
	Replicas    *int64       `yaml:"replicas"`
	Parallelism *int64       `yaml:"parallelism"`
	Completions *int64       `yaml:"completions"`
	Template    *podTemplate `yaml:"template"`
	JobTemplate *struct {
		Spec *workloadSpec `yaml:"spec"`
	} `yaml:"jobTemplate"`
	// Deployment's strategy, and Argo Rollouts' (canary, blueGreen).
	Strategy struct {
		Type          string        `yaml:"type"`
		RollingUpdate rollingUpdate `yaml:"rollingUpdate"`
		Canary        *struct {
			MaxSurge       intOrString `yaml:"maxSurge"`
			TrafficRouting *yaml.Node  `yaml:"trafficRouting"`
		} `yaml:"canary"`
		BlueGreen *struct {
			PreviewReplicaCount *int64 `yaml:"previewReplicaCount"`
		} `yaml:"blueGreen"`
	} `yaml:"strategy"`
	// DaemonSet's.
	UpdateStrategy struct {
		Type          string        `yaml:"type"`
		RollingUpdate rollingUpdate `yaml:"rollingUpdate"`
	} `yaml:"updateStrategy"`
	// Argo Rollouts' reference to a Deployment's pod template.
	WorkloadRef *struct {
		Kind string `yaml:"kind"`
		Name string `yaml:"name"`
	} `yaml:"workloadRef"`
	VolumeClaimTemplates []persistentVolumeClaim `yaml:"volumeClaimTemplates"`
}

type persistentVolumeClaim struct {
	Spec struct {
		Resources struct {
			Requests resourceList `yaml:"requests"`
		} `yaml:"resources"`
	} `yaml:"spec"`
}

// workloadKinds maps the kinds that run pods to their API group.
var workloadKinds = map[string]string{
	"Pod": "", "ReplicationController": "",
	"Deployment": "apps", "StatefulSet": "apps", "DaemonSet": "apps", "ReplicaSet": "apps",
	"Job": "batch", "CronJob": "batch",
	"Rollout": "argoproj.io",
}

// workload is an object that runs pods, as the gates count it.
type workload struct {
	ref ObjectRef
	// pod is the pod spec, nil for a Rollout that references a
	// Deployment's template (ref names the Deployment then in via).
	pod *podSpec
	// path is the pod spec's field path, "spec.template.spec".
	path string
	// replicas are the pods at rest.
	replicas int64
	// surgeOf returns the extra pods of an update at the given replicas;
	// nil means none.
	surgeOf func(replicas int64) int64
	// via names the Deployment whose template a Rollout uses.
	via string
	// claims are StatefulSet volume claim templates, one set per replica.
	claims []persistentVolumeClaim
}

// surge returns the extra pods of an update at w's replicas.
func (w workload) surge() int64 {
	if w.surgeOf == nil || w.replicas <= 0 {
		return 0
	}
	return w.surgeOf(w.replicas)
}

// isWorkload reports whether o runs pods.
func (o object) isWorkload() bool {
	g, ok := workloadKinds[o.ref.Kind]
	return ok && g == o.ref.Group
}

// workload reads o, which must be a workload. nodes is the number of
// pods a DaemonSet runs.
func (o object) workload(nodes int64) (workload, error) {
	w := workload{ref: o.ref, replicas: 1}
	if o.ref.Kind == "Pod" {
		var p struct {
			Spec podSpec `yaml:"spec"`
		}
		if err := o.decode(&p); err != nil {
			return w, fmt.Errorf("%w: %s", ErrInvalidManifest, yamlReason(err))
		}
		w.pod, w.path = &p.Spec, "spec"
		return w, nil
	}
	var d struct {
		Spec workloadSpec `yaml:"spec"`
	}
	if err := o.decode(&d); err != nil {
		return w, fmt.Errorf("%w: %s", ErrInvalidManifest, yamlReason(err))
	}
	s := d.Spec
	if s.Replicas != nil {
		w.replicas = *s.Replicas
	}
	w.path = "spec.template.spec"
	if s.Template != nil {
		w.pod = s.Template.Spec
	}
	switch o.ref.Kind {
	case "Deployment":
		if s.Strategy.Type != "Recreate" {
			w.surgeOf = s.Strategy.RollingUpdate.MaxSurge.surge("25%")
		}
	case "StatefulSet":
		w.claims = s.VolumeClaimTemplates
	case "DaemonSet":
		w.replicas = nodes
		if s.UpdateStrategy.Type != "OnDelete" {
			w.surgeOf = s.UpdateStrategy.RollingUpdate.MaxSurge.surge("0")
		}
	case "Job":
		w.replicas = jobPods(&s)
	case "CronJob":
		w.path = "spec.jobTemplate.spec.template.spec"
		w.pod = nil
		if jt := s.JobTemplate; jt != nil && jt.Spec != nil {
			w.replicas = jobPods(jt.Spec)
			if jt.Spec.Template != nil {
				w.pod = jt.Spec.Template.Spec
			}
		}
	case "Rollout":
		switch st := s.Strategy; {
		case st.BlueGreen != nil:
			// The preview ReplicaSet runs beside the active one until
			// the old one is scaled down after the switch.
			preview := st.BlueGreen.PreviewReplicaCount
			w.surgeOf = func(n int64) int64 {
				if preview != nil && *preview > n {
					return *preview
				}
				return n
			}
		case st.Canary != nil && st.Canary.TrafficRouting != nil:
			// With a traffic router the stable ReplicaSet stays at full
			// size while the canary grows to full size.
			w.surgeOf = func(n int64) int64 { return n }
		case st.Canary != nil:
			w.surgeOf = st.Canary.MaxSurge.surge("25%")
		}
		if s.WorkloadRef != nil && s.Template == nil {
			w.via = s.WorkloadRef.Name
		}
	}
	if w.pod == nil && w.via == "" {
		return w, fmt.Errorf("%w: no pod template (%s)", ErrInvalidManifest, w.path)
	}
	return w, nil
}

// jobPods is how many pods a Job runs at once.
func jobPods(s *workloadSpec) int64 {
	n := int64(1)
	if s.Parallelism != nil {
		n = *s.Parallelism
	}
	if s.Completions != nil && *s.Completions < n {
		n = *s.Completions
	}
	return n
}

// workloads reads the workloads among objs, resolving Rollouts that
// reference a Deployment's template. Objects it cannot read are returned
// as problems, all together.
func workloads(objs []object, nodes int64) ([]workload, []Problem) {
	var ws []workload
	var problems []Problem
	for _, o := range objs {
		if !o.isWorkload() {
			continue
		}
		w, err := o.workload(nodes)
		if err != nil {
			problems = append(problems, Problem{Object: o.ref, Err: err})
			continue
		}
		ws = append(ws, w)
	}
	ok := ws[:0]
	for _, w := range ws {
		if w.via != "" {
			for _, d := range ws {
				if d.ref.Kind == "Deployment" && d.ref.Group == "apps" && d.ref.Namespace == w.ref.Namespace && d.ref.Name == w.via && d.pod != nil {
					w.pod, w.path = d.pod, "Deployment "+d.ref.Name+" "+d.path
				}
			}
			if w.pod == nil {
				problems = append(problems, Problem{Object: w.ref, Err: fmt.Errorf(
					"%w: spec.workloadRef names Deployment %s, which the overlay does not render", ErrInvalidManifest, w.via)})
				continue
			}
		}
		ok = append(ok, w)
	}
	return ok, problems
}

// yamlReason is a decode error on one line, without the library's prefix.
func yamlReason(err error) string {
	var parts []string
	for _, l := range strings.Split(strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:"), "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(l, "yaml: ")); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
