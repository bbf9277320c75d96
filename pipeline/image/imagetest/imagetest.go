package imagetest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/flightdeck-dev/flightdeck/pipeline/image"
)

// Call records one call to the fake.
type Call struct {
	// Op is "push" or "copy".
	Op string
	// Src is the copy source; empty for a push.
	Src string
	// Ref is the push or copy destination as given.
	Ref string
}

// Registry is an in-memory registry. It remembers which digests each
// repository holds and where each tag points, skips pushes and copies of
// digests already present (as the real client does), records every call,
// and returns injected errors. The zero value is ready to use and it is
// safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	digests map[string]map[string]bool // repository -> digests
	tags    map[string]string          // repository:tag -> digest
	calls   []Call
	faults  map[string][]error
}

var (
	_ image.Pusher = (*Registry)(nil)
	_ image.Copier = (*Registry)(nil)
)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// FailNext makes the next call of op ("push" or "copy") return err; calls
// queue up, one error each.
func (r *Registry) FailNext(op string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.faults == nil {
		r.faults = map[string][]error{}
	}
	r.faults[op] = append(r.faults[op], err)
}

// Calls returns the calls made so far, in order.
func (r *Registry) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Call(nil), r.calls...)
}

// Resolve returns the digest ref ("repo:tag", "repo@sha256:…") points
// at, and whether the registry has it.
func (r *Registry) Resolve(ref string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.resolve(ref)
}

func (r *Registry) resolve(ref string) (string, bool) {
	if d, err := name.NewDigest(ref); err == nil {
		return d.DigestStr(), r.digests[d.Context().Name()][d.DigestStr()]
	}
	t, err := name.NewTag(ref)
	if err != nil {
		return "", false
	}
	d, ok := r.tags[t.Context().Name()+":"+t.TagStr()]
	return d, ok
}

func (r *Registry) begin(ctx context.Context, c Call) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
	if q := r.faults[c.Op]; len(q) > 0 {
		r.faults[c.Op] = q[1:]
		return q[0]
	}
	return ctx.Err()
}

// store records digest under ref (a repository or tag) and reports
// whether it was already there.
func (r *Registry) store(ref, digest string) (image.Result, error) {
	var repo name.Repository
	tag := ""
	if rp, err := name.NewRepository(ref); err == nil {
		repo = rp
	} else if d, err := name.NewDigest(ref); err == nil {
		if d.DigestStr() != digest {
			return image.Result{}, fmt.Errorf("%w: push %s: image digest is %s", image.ErrDigestMismatch, ref, digest)
		}
		repo = d.Context()
	} else if t, err := name.NewTag(ref); err == nil && ref != "" {
		repo, tag = t.Context(), t.TagStr()
	} else {
		return image.Result{}, fmt.Errorf("%w: %q", image.ErrInvalidReference, ref)
	}
	if r.digests == nil {
		r.digests = map[string]map[string]bool{}
		r.tags = map[string]string{}
	}
	if r.digests[repo.Name()] == nil {
		r.digests[repo.Name()] = map[string]bool{}
	}
	had := r.digests[repo.Name()][digest]
	r.digests[repo.Name()][digest] = true
	skipped := had
	if tag != "" {
		key := repo.Name() + ":" + tag
		skipped = had && r.tags[key] == digest
		r.tags[key] = digest
	}
	return image.Result{Digest: repo.Digest(digest), Tag: tag, Skipped: skipped}, nil
}

// Push records img's digest under ref.
func (r *Registry) Push(ctx context.Context, ref string, img v1.Image) (image.Result, error) {
	if err := r.begin(ctx, Call{Op: "push", Ref: ref}); err != nil {
		return image.Result{}, err
	}
	h, err := img.Digest()
	if err != nil {
		return image.Result{}, fmt.Errorf("push %s: digest: %w", ref, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.store(ref, h.String())
}

// Copy copies the digest src resolves to into dst. A src the registry
// does not hold returns an error wrapping image.ErrNotFound.
func (r *Registry) Copy(ctx context.Context, src, dst string) (image.Result, error) {
	if err := r.begin(ctx, Call{Op: "copy", Src: src, Ref: dst}); err != nil {
		return image.Result{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	d, ok := r.resolve(src)
	if !ok {
		if strings.TrimSpace(src) == "" {
			return image.Result{}, fmt.Errorf("%w: copy source %q", image.ErrInvalidReference, src)
		}
		return image.Result{}, fmt.Errorf("%w: copy source %s", image.ErrNotFound, src)
	}
	return r.store(dst, d)
}
