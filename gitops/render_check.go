package gitops

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
)

// renderCheck is the input of [Repo.checkRenders]: one change, as the
// trees before and after it.
type renderCheck struct {
	head          plumbing.Hash // the commit the change applies to; zero for an empty branch
	before, after plumbing.Hash // root trees
	files         []string      // paths the change wrote, removed or copied to
	extra         []string      // directories to render besides, cleaned
	// unlocked runs fn (which fetches remote resources) with the lock the
	// caller holds released, then takes it again and puts back what it
	// protected (objects of the after tree that exist only in memory,
	// which another operation may have discarded meanwhile). Nil: the
	// caller holds no lock, and fn runs as it is.
	unlocked func(fn func()) error
}

// renderReport is what a render check found.
type renderReport struct {
	overlays []string // every kustomization rendered, sorted
	diff     string   // unified diff of their output, before and after
}

// maxRemoteRounds bounds how many times a check fetches remote resources
// named by remote resources it fetched.
const maxRemoteRounds = 4

// remoteNeed is a remote resource the render of dir needs.
type remoteNeed struct {
	dir string
	ref remoteRef
}

// checkRenders renders every kustomization a change can break, after the
// change and before it, and refuses the change with one *RenderError
// naming every overlay it breaks. The kustomizations are:
//
//   - the nearest kustomization above each changed file, every
//     kustomization inside a changed directory, and ch.extra: these must
//     render after the change;
//   - every kustomization that includes one of those files, directly or
//     through other kustomizations, transitively (the dependency index
//     finds them from any field that names a path): these must render
//     after the change unless they already failed before it, which is
//     logged and does not block the change.
//
// Components (kind: Component) are checked only through the
// kustomizations that include them. It reads the object store, which the
// caller guards; remote resources are fetched inside in.unlocked.
func (r *Repo) checkRenders(ctx context.Context, in renderCheck) (renderReport, error) {
	env := r.renderEnv()
	var rep renderReport
	err := r.withRemotes(ctx, env, "change on "+in.head.String(), in.unlocked, func() ([]remoteNeed, error) {
		var need []remoteNeed
		var err error
		rep, need, err = r.checkRound(ctx, in, env)
		return need, err
	})
	return rep, err
}

// withRemotes calls attempt until it needs no remote resource that env
// lacks. Between attempts it fetches what was needed into env, inside
// unlocked (if not nil). A failed fetch is a *RenderError naming the
// overlays that needed it, wrapping [ErrRemoteResource].
func (r *Repo) withRemotes(ctx context.Context, env *renderEnv, revision string, unlocked func(func()) error, attempt func() ([]remoteNeed, error)) error {
	for round := 0; ; round++ {
		need, err := attempt()
		if err != nil || len(need) == 0 {
			return err
		}
		if round >= maxRemoteRounds {
			err = reasonf(ErrRemoteResource, "remote resources nested more than %d deep", maxRemoteRounds)
		} else if unlocked == nil {
			err = r.fetchRemotes(ctx, env, need)
		} else if uerr := unlocked(func() { err = r.fetchRemotes(ctx, env, need) }); uerr != nil {
			return uerr
		}
		if err != nil {
			var failures []RenderFailure
			for _, n := range need {
				if len(failures) == 0 || failures[len(failures)-1].Dir != n.dir {
					failures = append(failures, RenderFailure{Dir: n.dir, Err: err})
				}
			}
			return newRenderError(revision, failures)
		}
	}
}

type checkTarget struct {
	dir       string
	must      bool
	before    *renderPlan // nil: no kustomization here before the change
	after     *renderPlan
	out, old  []byte
	err, oerr error
}

func (r *Repo) checkRound(ctx context.Context, in renderCheck, env *renderEnv) (renderReport, []remoteNeed, error) {
	var rep renderReport
	s := r.repo.Storer
	after, before := NewTree(s, in.after), NewTree(s, in.before)
	root, err := r.renders.summary(s, in.after)
	if err != nil {
		return rep, nil, fmt.Errorf("gitops: %s: index tree %s: %w", r.redacted, in.after, err)
	}
	beforeRoot, err := r.renders.summary(s, in.before)
	if err != nil {
		return rep, nil, fmt.Errorf("gitops: %s: index tree %s: %w", r.redacted, in.before, err)
	}
	component := func(k *kustEntry) (bool, error) {
		info, err := r.renders.kustomization(s, k.blob)
		return err == nil && info.component, err
	}
	targets := map[string]*checkTarget{}
	must := func(d string, k *kustEntry) error {
		c, err := component(k)
		if err == nil && !c {
			targets[d] = &checkTarget{dir: d, must: true}
		}
		return err
	}
	for _, f := range in.files {
		if d, k := root.nearest(f); k != nil {
			if err := must(d, k); err != nil {
				return rep, nil, err
			}
		}
		// A directory the change wrote (a copy) brings its own
		// kustomizations.
		for _, d := range root.kustomizationsUnder(f) {
			if err := must(d, root.lookup(d).kust); err != nil {
				return rep, nil, err
			}
		}
	}
	for _, d := range in.extra {
		targets[d] = &checkTarget{dir: d, must: true}
	}
	deps, err := r.renders.dependents(s, root, in.files)
	if err != nil {
		return rep, nil, fmt.Errorf("gitops: %s: index tree %s: %w", r.redacted, in.after, err)
	}
	for _, d := range deps {
		if targets[d] != nil {
			continue
		}
		if c, err := component(root.lookup(d).kust); err != nil {
			return rep, nil, err
		} else if !c {
			targets[d] = &checkTarget{dir: d}
		}
	}
	dirs := make([]string, 0, len(targets))
	for d := range targets {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	rep.overlays = dirs

	var need []remoteNeed
	list := make([]*checkTarget, 0, len(dirs))
	for _, d := range dirs {
		t := targets[d]
		if t.after, err = r.renders.plan(after, d, env); err != nil {
			return rep, nil, fmt.Errorf("gitops: %s: render %s: %w", r.redacted, d, err)
		}
		for _, ref := range t.after.need {
			need = append(need, remoteNeed{dir: d, ref: ref})
		}
		if k := beforeRoot.lookup(d); k != nil && k.kust != nil {
			if t.before, err = r.renders.plan(before, d, env); err != nil {
				return rep, nil, fmt.Errorf("gitops: %s: render %s: %w", r.redacted, d, err)
			}
			for _, ref := range t.before.need {
				need = append(need, remoteNeed{dir: d, ref: ref})
			}
		}
		list = append(list, t)
	}
	if len(need) > 0 {
		return rep, need, nil
	}
	r.renders.executeAll(ctx, list, env)
	if err := ctx.Err(); err != nil {
		return rep, nil, err
	}

	var failures []RenderFailure
	var diff strings.Builder
	for _, t := range list {
		if t.err != nil {
			if t.must || t.before == nil || t.oerr == nil {
				failures = append(failures, RenderFailure{Dir: t.dir, Err: t.err})
			} else {
				r.o.logger.WarnContext(ctx, "a kustomization that includes the change did not render before it either",
					"overlay", t.dir, "err", t.err.Error())
			}
			continue
		}
		diff.WriteString(UnifiedDiff(t.dir, string(t.old), string(t.out)))
	}
	if len(failures) > 0 {
		return rep, nil, newRenderError("change on "+in.head.String(), failures)
	}
	rep.diff = diff.String()
	return rep, nil, nil
}

// executeAll renders the after and before plans of every target. The
// inputs are copied out of the object store one at a time, by the calling
// goroutine (the object store is not read concurrently); kustomize runs
// on up to GOMAXPROCS of them at once.
func (c *renderCache) executeAll(ctx context.Context, targets []*checkTarget, env *renderEnv) {
	type job struct {
		p   *renderPlan
		out *[]byte
		err *error
	}
	var jobs []*job
	for _, t := range targets {
		jobs = append(jobs, &job{p: t.after, out: &t.out, err: &t.err})
		if t.before != nil {
			jobs = append(jobs, &job{p: t.before, out: &t.old, err: &t.oerr})
		}
	}
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	running := map[plumbing.Hash]*job{} // renders of the same inputs run once
	var same [][2]*job
	for _, j := range jobs {
		if j.p.refusal != nil {
			*j.err = j.p.refusal
			continue
		}
		if res, ok := c.outputs.get(j.p.key); ok {
			*j.out, *j.err = res.out, res.err
			continue
		}
		if first := running[j.p.key]; first != nil {
			same = append(same, [2]*job{first, j})
			continue
		}
		if err := ctx.Err(); err != nil {
			*j.err = err
			continue
		}
		fs, err := j.p.materialize(env.log)
		if err != nil {
			*j.err = err
			continue
		}
		running[j.p.key] = j
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			*j.out, *j.err = c.run(j.p, fs)
		}()
	}
	wg.Wait()
	for _, s := range same {
		*s[1].out, *s[1].err = *s[0].out, *s[0].err
	}
}

// fetchRemotes fetches the remote resources refs into env.fetched. It
// does not touch the Repo, so callers need not (and should not) hold its
// lock.
func (r *Repo) fetchRemotes(ctx context.Context, env *renderEnv, need []remoteNeed) error {
	for _, n := range need {
		ref := n.ref
		if env.fetched[ref.value] != nil {
			continue
		}
		r.o.logger.DebugContext(ctx, "fetching remote resource", "entry", RedactURL(ref.value))
		rt, err := fetchRemote(ctx, env.http, ref)
		if err != nil {
			return err
		}
		env.fetched[ref.value] = rt
	}
	return nil
}

func (r *Repo) renderEnv() *renderEnv {
	return &renderEnv{log: r.o.logger, remote: r.o.remoteResources, fetched: map[string]*remoteTree{}}
}

// renderAt renders dir of the tree root for [Repo.Render] and
// [Repo.RenderTree]. Callers hold r.mu; it is released while remote
// resources are fetched and while kustomize runs.
func (r *Repo) renderAt(ctx context.Context, root plumbing.Hash, dir, revision string) ([]byte, error) {
	env := r.renderEnv()
	unlocked := func(fn func()) error {
		r.mu.Unlock()
		defer r.mu.Lock()
		fn()
		return nil
	}
	var out []byte
	err := r.withRemotes(ctx, env, revision, unlocked, func() ([]remoteNeed, error) {
		o, refs, err := r.renders.renderTree(ctx, NewTree(r.repo.Storer, root), dir, revision, env, func(run func()) { _ = unlocked(run) })
		out = o
		need := make([]remoteNeed, len(refs))
		for i, ref := range refs {
			need[i] = remoteNeed{dir: dir, ref: ref}
		}
		return need, err
	})
	return out, err
}
