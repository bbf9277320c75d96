package pipeline

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
)

// Builder collects steps and checks them into a [Graph]. The zero value is
// an empty builder ready to use. A Builder is not safe for concurrent use.
type Builder struct {
	steps   []Step
	finally []Step
}

// Add appends main steps and returns b.
func (b *Builder) Add(steps ...Step) *Builder {
	b.steps = append(b.steps, steps...)
	return b
}

// Finally appends finally steps and returns b. Finally steps run after
// the main steps have all finished, been skipped, or been abandoned
// because the run stopped or its context ended. They run on a context
// that the run's cancellation and deadline do not reach, bounded instead
// by the engine's finally timeout (see [WithFinallyTimeout]). They may be
// ordered among themselves with After, and may need results of any step;
// a finally step whose needed result is missing is skipped. Main steps
// cannot depend on finally steps.
func (b *Builder) Finally(steps ...Step) *Builder {
	b.finally = append(b.finally, steps...)
	return b
}

// Build checks the steps and returns the graph. Every problem found is
// reported, each as a [*GraphError] naming the step, all joined: a step
// without a stage or name or with a negative Timeout or Retry.Attempts
// ([ErrInvalidStep]), two steps with one name ([ErrDuplicateStep]), an
// After naming no step ([ErrUnknownDependency]), a needed key nobody
// provides ([ErrUnknownKey]), a key provided twice or used with two types
// ([ErrKeyConflict]), and dependency cycles ([ErrCycle], naming the steps
// on the cycle).
func (b *Builder) Build() (*Graph, error) {
	g := &Graph{index: make(map[string]int, len(b.steps)+len(b.finally))}
	var errs []error
	fail := func(step string, format string, args ...any) {
		errs = append(errs, &GraphError{Step: step, Err: fmt.Errorf(format, args...)})
	}
	add := func(s Step, finally bool, pos int) {
		n := &node{step: s, name: s.name(), finally: finally}
		label := n.name
		if label == "" {
			kind := "step"
			if finally {
				kind = "finally step"
			}
			label = fmt.Sprintf("#%d (%s)", pos, kind)
		}
		switch {
		case s.Stage == nil:
			fail(label, "%w: no stage", ErrInvalidStep)
		case n.name == "":
			fail(label, "%w: no name", ErrInvalidStep)
		}
		if s.Timeout < 0 {
			fail(label, "%w: negative timeout %s", ErrInvalidStep, s.Timeout)
		}
		if s.Retry.Attempts < 0 {
			fail(label, "%w: negative retry attempts %d", ErrInvalidStep, s.Retry.Attempts)
		}
		if n.name == "" {
			return
		}
		if _, dup := g.index[n.name]; dup {
			fail(n.name, "%w; give one of the steps another Name", ErrDuplicateStep)
			return
		}
		g.index[n.name] = len(g.nodes)
		g.nodes = append(g.nodes, n)
	}
	for i, s := range b.steps {
		add(s, false, i)
	}
	g.mainLen = len(g.nodes)
	for i, s := range b.finally {
		add(s, true, i)
	}

	// Keys: one provider each, one type per name.
	types := map[string]reflect.Type{}
	checkType := func(step string, k AnyKey) {
		if k == nil {
			fail(step, "%w: nil key", ErrInvalidStep)
			return
		}
		if k.Name() == "" {
			fail(step, "%w: key with empty name", ErrInvalidStep)
			return
		}
		t := k.valueType()
		if old, ok := types[k.Name()]; ok && old != t {
			fail(step, "%w: key %q used as %s and as %s", ErrKeyConflict, k.Name(), old, t)
			return
		}
		types[k.Name()] = t
	}
	provider := map[string]int{}
	for i, n := range g.nodes {
		for _, k := range n.step.Provides {
			checkType(n.name, k)
			if k == nil || k.Name() == "" {
				continue
			}
			if p, ok := provider[k.Name()]; ok {
				fail(n.name, "%w: key %q is also provided by step %q", ErrKeyConflict, k.Name(), g.nodes[p].name)
				continue
			}
			provider[k.Name()] = i
		}
	}

	// Edges.
	for i, n := range g.nodes {
		seen := map[int]bool{}
		addDep := func(j int) {
			if j == i || seen[j] {
				if j == i {
					fail(n.name, "%w: step depends on itself", ErrCycle)
				}
				return
			}
			seen[j] = true
			n.deps = append(n.deps, j)
		}
		for _, a := range n.step.After {
			j, ok := g.index[a]
			if !ok {
				fail(n.name, "%w: after %q, which is not a step of the graph", ErrUnknownDependency, a)
				continue
			}
			dep := g.nodes[j]
			switch {
			case !n.finally && dep.finally:
				fail(n.name, "%w: after %q, which is a finally step (finally steps run after every main step)", ErrUnknownDependency, a)
			case n.finally && !dep.finally:
				// Main steps have all ended before finally steps start.
			default:
				addDep(j)
			}
		}
		for _, k := range n.step.Needs {
			checkType(n.name, k)
			if k == nil || k.Name() == "" {
				continue
			}
			j, ok := provider[k.Name()]
			if !ok {
				fail(n.name, "%w: needs %q; add the step that Provides it, or drop it from Needs", ErrUnknownKey, k.Name())
				continue
			}
			dep := g.nodes[j]
			n.needs = append(n.needs, need{key: k.Name(), producer: j})
			switch {
			case !n.finally && dep.finally:
				fail(n.name, "%w: needs %q, which finally step %q provides", ErrUnknownDependency, k.Name(), dep.name)
			case n.finally && !dep.finally:
			default:
				addDep(j)
			}
		}
		for _, j := range n.deps {
			g.nodes[j].dependents = append(g.nodes[j].dependents, i)
		}
	}
	if len(errs) == 0 {
		if err := g.checkCycles(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return g, nil
}

// Graph is a checked, immutable set of steps, ready for [Engine.Run]. It
// may be run any number of times, also concurrently. Make one with
// [Builder.Build].
type Graph struct {
	nodes   []*node // main steps [0, mainLen), then finally steps
	mainLen int
	index   map[string]int
	// metrics caches, for the last engine metrics that ran this graph,
	// each node's metric children (see metrics.forGraph).
	metrics atomic.Pointer[graphMetrics]
}

type node struct {
	step       Step
	name       string
	finally    bool
	deps       []int  // steps of the same phase this one waits for
	needs      []need // results it reads, with their producers (any phase)
	dependents []int  // steps of the same phase that wait for this one
}

type need struct {
	key      string
	producer int
}

// Len returns the number of steps, finally steps included.
func (g *Graph) Len() int { return len(g.nodes) }

// Steps returns the step names: main steps in the order added, then
// finally steps.
func (g *Graph) Steps() []string {
	names := make([]string, len(g.nodes))
	for i, n := range g.nodes {
		names[i] = n.name
	}
	return names
}

// checkCycles runs Kahn's algorithm over each phase and, if steps are
// left, walks them to name one cycle.
func (g *Graph) checkCycles() error {
	indeg := make([]int, len(g.nodes))
	for i, n := range g.nodes {
		indeg[i] = len(n.deps)
	}
	queue := make([]int, 0, len(g.nodes))
	for i := range g.nodes {
		if indeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	done := 0
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		done++
		for _, d := range g.nodes[i].dependents {
			indeg[d]--
			if indeg[d] == 0 {
				queue = append(queue, d)
			}
		}
	}
	if done == len(g.nodes) {
		return nil
	}
	// Every remaining step has an unfinished dependency that is also
	// remaining; follow those until a step repeats.
	start := -1
	for i := range g.nodes {
		if indeg[i] > 0 {
			start = i
			break
		}
	}
	pos := map[int]int{}
	var path []int
	for i := start; ; {
		if p, ok := pos[i]; ok {
			path = path[p:]
			break
		}
		pos[i] = len(path)
		path = append(path, i)
		for _, d := range g.nodes[i].deps {
			if indeg[d] > 0 {
				i = d
				break
			}
		}
	}
	// deps point backwards (a step to what it waits for); print in
	// execution order, starting at the step added first.
	order := make([]int, 0, len(path))
	for k := len(path) - 1; k >= 0; k-- {
		order = append(order, path[k])
	}
	first := 0
	for k, i := range order {
		if i < order[first] {
			first = k
		}
	}
	order = append(order[first:], order[:first]...)
	names := make([]string, 0, len(order)+1)
	for _, i := range order {
		names = append(names, g.nodes[i].name)
	}
	names = append(names, names[0])
	return &GraphError{Step: names[0], Err: fmt.Errorf("%w: %s", ErrCycle, strings.Join(names, " -> "))}
}
