package gitops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// Change is the input of [Repo.Apply]. The zero value of every field but
// Edits is the default.
type Change struct {
	// Message is the commit message without trailers. Empty means
	// "<action> <app> to <environment>" from the trailers, or
	// "flightdeck: update" without them.
	Message string
	// Trailers are appended to the message.
	Trailers Trailers
	// Edits are applied in order to the tree of the branch head. Required.
	Edits []Edit
	// Render lists kustomization directories to render and check besides
	// the ones the edits touch.
	Render []string
	// DryRun computes the commit and the rendered diff but pushes
	// nothing; Result.Commit is then a commit that exists only in the
	// cache.
	DryRun bool
}

func (c Change) validate() error {
	if len(c.Edits) == 0 {
		return fmt.Errorf("%w: no edits", ErrInvalidChange)
	}
	for i, e := range c.Edits {
		if e == nil {
			return fmt.Errorf("%w: edit %d is nil", ErrInvalidChange, i)
		}
	}
	return c.validateMessage()
}

// Result is the outcome of [Repo.Apply].
type Result struct {
	// Commit is the new commit; zero if nothing changed.
	Commit plumbing.Hash
	// Tree is the root tree of Commit.
	Tree plumbing.Hash
	// Parent is the branch head the change was applied to; zero when the
	// branch did not exist.
	Parent plumbing.Hash
	// Changed reports whether the edits changed the tree. Edits that
	// change nothing make no commit.
	Changed bool
	// Files are the paths the edits wrote, removed or copied to.
	Files []string
	// Overlays are the kustomization directories that were rendered and
	// checked: the nearest one above each changed file, every
	// kustomization that includes a changed file (directly or through
	// others, transitively; components only through their includers), and
	// Change.Render.
	Overlays []string
	// Diff is the unified diff of the rendered overlays, before and after.
	Diff string
	// Attempts is how many times the change was built; more than one
	// means a push lost a race and the edits were replayed.
	Attempts int
}

// Apply applies a change to the head of the branch and pushes it as one
// commit:
//
//  1. ask the remote where the branch is; fetch only if the cache is
//     behind it (the common case, a Repo that made the last commit
//     itself, needs no fetch);
//  2. apply ch.Edits in order to a [Tree] of the head commit;
//  3. if the tree did not change, return with Changed false and no commit;
//  4. write the commit with the message and trailers, signed if a key is
//     configured;
//  5. render every touched overlay before and after (see
//     [Result.Overlays]); an overlay that does not render after the
//     change refuses the whole change with a *RenderError; with
//     ch.DryRun (which always fetches first), stop here;
//  6. push, requiring the remote branch to still be where step 1 found
//     it; if it moved meanwhile, wait a jittered, growing backoff and
//     start again at 1, up to the configured number of attempts. Over
//     SSH and file:// the pack is sent while step 5 runs, and completed
//     only if it passes: a refused change leaves nothing on the server.
//
// Changes applied concurrently through one Repo are pushed together:
// while one push is on the wire the next changes queue, and then go as a
// chain of commits, one per change in arrival order, each with its own
// message and trailers, in a single push (so [Result.Parent] may be the
// commit of the change before it). A change that fails (an edit's error,
// an overlay that no longer renders) or changes nothing leaves the chain
// without affecting the others; on a lost race the whole chain is
// replayed on the new head. A change whose context ends before its push
// started is dropped from the chain; once its push is on the wire, Apply
// waits for the push's outcome, which is abandoned only when every change
// in it is cancelled. To have many changes go in one push, give them to
// [Repo.ApplyAll] together.
//
// Nothing is pushed unless every step succeeded, so a failed Apply leaves
// the remote as it was. Errors: [ErrInvalidChange]; an edit's error
// (*PathError wrapping [ErrPathEscape], [ErrNotExist], [ErrInvalidYAML],
// [ErrInvalidImage]); *RenderError ([ErrRender], and [ErrRemoteResource]
// for a refused remote resource); *RemoteError wrapping
// [ErrAuth], [ErrRemote], the context's error, or [ErrConflict] when all
// attempts lost the race; *CacheError ([ErrCache]) when the local cache
// cannot be used.
func (r *Repo) Apply(ctx context.Context, ch Change) (Result, error) {
	res, errs := r.ApplyAll(ctx, []Change{ch})
	return res[0], errs[0]
}

// ApplyAll applies each of chs as [Repo.Apply] does, and sends their
// commits together: the changes are queued at once, so the push that
// takes them carries them all, one commit each in the order of chs (a
// push carries at most 1024 commits: more changes are split into as few
// pushes as that allows, in order; changes other callers queued
// meanwhile may share them). Each change keeps its own edits, render
// check, Result and error: one whose edit or render check fails, or
// whose ctx ends before its commit is on the wire, leaves the push and
// the others go. A DryRun change is applied on its own. It returns one
// Result and one error per change, in the order of chs.
func (r *Repo) ApplyAll(ctx context.Context, chs []Change) ([]Result, []error) {
	start := r.o.clock.Now()
	results, errs := make([]Result, len(chs)), make([]error, len(chs))
	ps := make([]*pending, 0, len(chs))
	at := make([]int, 0, len(chs))
	var dry []int
	for i, ch := range chs {
		if errs[i] = ch.validate(); errs[i] == nil && ctx.Err() != nil {
			errs[i] = r.remoteErr("push", ctx.Err())
		}
		switch {
		case errs[i] != nil:
			r.observe(ch, start, results[i], errs[i])
		case ch.DryRun:
			dry = append(dry, i)
		default:
			ps = append(ps, &pending{ctx: ctx, ch: ch, done: make(chan struct{})})
			at = append(at, i)
		}
	}
	if len(ps) > 0 {
		r.q.enqueue(r, ps)
	}
	for _, i := range dry {
		results[i], errs[i] = r.dryRun(ctx, chs[i])
		r.observe(chs[i], start, results[i], errs[i])
	}
	for j, p := range ps {
		i := at[j]
		results[i], errs[i] = r.q.wait(r, p)
		r.observe(chs[i], start, results[i], errs[i])
	}
	return results, errs
}

// observe records the outcome of ch, applied since start, in the metrics.
func (r *Repo) observe(ch Change, start time.Time, res Result, err error) {
	result := resultCommitted
	switch {
	case err != nil:
		result = resultError
	case !res.Changed:
		result = resultUnchanged
	case ch.DryRun:
		result = resultDryRun
	}
	r.m.applies.WithLabelValues(result).Inc()
	r.m.duration.WithLabelValues(result).Observe(r.o.clock.Now().Sub(start).Seconds())
}

// dryRun builds the change on the freshly fetched head and keeps its
// objects in the cache without pushing.
func (r *Repo) dryRun(ctx context.Context, ch Change) (Result, error) {
	if err := r.takeOp(ctx); err != nil {
		return Result{}, err
	}
	defer r.giveOp()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.acquire(ctx); err != nil {
		return Result{}, err
	}
	defer r.release()
	head, err := r.fetchHeld(ctx)
	if err != nil {
		return Result{Attempts: 1}, err
	}
	res, err := r.build(ctx, head, ch)
	res.Attempts = 1
	if err != nil || !res.Changed {
		r.st.rollback(0)
		return res, err
	}
	r.st.keepUnpushed()
	return res, nil
}

// backoff returns a wait drawn uniformly from [d/2, d), where d starts at
// the larger of the configured base and the duration of the attempt that
// just lost (so that writers spread out over at least one attempt's
// length whatever the load), doubles each attempt, and is capped.
func (r *Repo) backoff(attempt int, took time.Duration) time.Duration {
	d := max(r.o.backoff, took) << min(attempt-1, 20)
	if d > r.o.maxBackoff || d <= 0 {
		d = r.o.maxBackoff
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// build applies the edits to head's tree, writes the commit objects into
// the cache and checks the renders. Callers hold r.mu.
func (r *Repo) build(ctx context.Context, head plumbing.Hash, ch Change) (Result, error) {
	res, in, err := r.stage(ctx, head, ch)
	if err != nil || !res.Changed {
		return res, err
	}
	if err := r.check(ctx, in, &res); err != nil {
		res.Commit = plumbing.ZeroHash
		return res, err
	}
	return res, nil
}

// stage applies the edits to head's tree and writes the tree and commit
// objects into the cache, and returns what [Repo.check] needs to check
// the change's renders. The commit does not depend on the check, so a
// push can start while the check runs. Callers hold r.mu.
func (r *Repo) stage(ctx context.Context, head plumbing.Hash, ch Change) (Result, renderCheck, error) {
	res := Result{Parent: head}
	var oldTree plumbing.Hash
	if !head.IsZero() {
		c, err := r.repo.CommitObject(head)
		if err != nil {
			return res, renderCheck{}, fmt.Errorf("gitops: %s: head %s: %w", r.redacted, head, err)
		}
		oldTree = c.TreeHash
	}
	t := NewTree(r.repo.Storer, oldTree)
	t.renders = &r.renders
	if err := ch.ApplyEdits(ctx, t); err != nil {
		return res, renderCheck{}, err
	}
	newTree, err := t.Write()
	if err != nil {
		return res, renderCheck{}, fmt.Errorf("gitops: %s: write tree: %w", r.redacted, err)
	}
	if newTree == oldTree || (head.IsZero() && len(t.Changed()) == 0) {
		return res, renderCheck{}, nil
	}
	res.Changed = true
	res.Tree = newTree
	res.Files = t.Changed()

	extra := make([]string, 0, len(ch.Render))
	for _, d := range ch.Render {
		c, err := cleanPath(d)
		if err != nil {
			return res, renderCheck{}, &PathError{Op: "render", Path: d, Err: err}
		}
		extra = append(extra, c)
	}
	in := renderCheck{head: head, before: oldTree, after: newTree, files: res.Files, extra: extra,
		unlocked: func(fetch func()) error { r.mu.Unlock(); fetch(); r.mu.Lock(); _, err := t.Write(); return err }}

	commit, err := r.commit(head, newTree, ch.message())
	if err != nil {
		return res, renderCheck{}, err
	}
	res.Commit = commit
	return res, in, nil
}

// check renders what the staged change can break and records the
// overlays and the diff in res. Callers hold r.mu.
func (r *Repo) check(ctx context.Context, in renderCheck, res *Result) error {
	rep, err := r.checkRenders(ctx, in)
	res.Overlays, res.Diff = rep.overlays, rep.diff
	return err
}

// commit writes a commit object on parent with tree and message.
func (r *Repo) commit(parent, tree plumbing.Hash, message string) (plumbing.Hash, error) {
	now := r.o.clock.Now()
	author := r.o.author
	author.When = now
	committer := author
	if r.o.committer != nil {
		committer = *r.o.committer
		committer.When = now
	}
	c := &object.Commit{Author: author, Committer: committer, Message: message, TreeHash: tree}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	if r.o.signKey != nil {
		obj := r.repo.Storer.NewEncodedObject()
		if err := c.EncodeWithoutSignature(obj); err != nil {
			return plumbing.ZeroHash, err
		}
		rd, err := obj.Reader()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		var sig bytes.Buffer
		err = openpgp.ArmoredDetachSign(&sig, r.o.signKey, rd, nil)
		rd.Close()
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("gitops: sign commit: %w", err)
		}
		c.PGPSignature = sig.String()
	}
	obj := r.repo.Storer.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.repo.Storer.SetEncodedObject(obj)
}

// pushSession is an open receive-pack exchange with the remote: its
// advertisement says where the branch is, and the push of the commits
// built on that head goes through it. Over smart HTTP these are two
// requests; over SSH and file:// one server process.
type pushSession struct {
	sess transport.ReceivePackSession
	caps *capability.List
	head plumbing.Hash // the remote branch as advertised; zero if absent
	// streams says the pack goes to the server as it is written (SSH,
	// file://); go-git's HTTP transport sends a request whole.
	streams bool
}

// openPush starts a push: it connects and reads the remote's refs.
func (r *Repo) openPush(ctx context.Context) (*pushSession, error) {
	ep, err := transport.NewEndpoint(r.remote)
	if err != nil {
		return nil, r.remoteErr("push", err)
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return nil, r.remoteErr("push", err)
	}
	sess, err := cl.NewReceivePackSession(ep, r.auth)
	if err != nil {
		return nil, r.transportErr(ctx, "push", err)
	}
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		_ = sess.Close()
		return nil, r.transportErr(ctx, "push", err)
	}
	ps := &pushSession{sess: sess, caps: ar.Capabilities, streams: ep.Protocol != "http" && ep.Protocol != "https"}
	if refs, err := ar.AllReferences(); err == nil {
		if ref, err := refs.Reference(plumbing.NewBranchReferenceName(r.o.branch)); err == nil {
			ps.head = ref.Hash()
		}
	}
	return ps, nil
}

func (ps *pushSession) close() { _ = ps.sess.Close() }

// push sends commit (and the commits of the attempt below it) to the
// remote branch as a compare-and-swap from parent: the pack holds exactly
// the objects the attempt created (the remote has everything reachable
// from parent), so a push costs about the change, not the history, and
// the server refuses the update unless the branch is still at parent. A
// lost race is a *RemoteError wrapping [ErrConflict].
//
// The pack is sent while the caller checks the change, all but its last
// 20 bytes (the checksum, without which the server stores nothing and
// updates no ref): go receives true once the check passed, false to
// abandon the push, which then returns errPushAbandoned. Over smart HTTP,
// where go-git sends a request whole, nothing leaves before go says so.
// It does not touch the Repo's state, so it may run while the caller
// checks; the caller calls [Repo.pushed] after a success.
func (r *Repo) push(ctx context.Context, ps *pushSession, parent, commit plumbing.Hash, goAhead <-chan bool) error {
	if err := r.sendPack(ctx, ps, parent, commit, goAhead); err != nil {
		if errors.Is(err, errPushAbandoned) {
			return errPushAbandoned
		}
		return r.transportErr(ctx, "push", err)
	}
	return nil
}

// pushed records that commit is the remote head and keeps the attempt's
// objects. It reports whether the objects kept in memory call for
// [Repo.flushHeld], which the caller does once it has answered the
// changes the push carried: they are on the remote, whatever the cache's
// disk says. Callers hold r.mu and the cache lock.
func (r *Repo) pushed(commit plumbing.Hash) bool {
	r.head, r.headKnown = commit, true
	return r.st.keep()
}

// errPushAbandoned is the outcome of a push whose check failed.
var errPushAbandoned = errors.New("push abandoned")

func (r *Repo) sendPack(ctx context.Context, ps *pushSession, parent, commit plumbing.Hash, goAhead <-chan bool) error {
	dst := plumbing.NewBranchReferenceName(r.o.branch)
	req := packp.NewReferenceUpdateRequestFromCapabilities(ps.caps)
	req.Commands = []*packp.Command{{Name: dst, Old: parent, New: commit}}
	objs := r.st.pending()
	rd, wr := io.Pipe()
	req.Packfile = rd
	done := make(chan error, 1)
	go func() {
		// No delta search: the pack holds only the attempt's new objects,
		// and a directory's version is sent as a delta against the
		// version before it only when that is in the pack too (a chain
		// of commits), as Tree.Write recorded.
		w := &holdBack{w: wr}
		if err := r.st.writePack(w, objs, !ps.caps.Supports(capability.OFSDelta)); err != nil {
			done <- wr.CloseWithError(err)
			return
		}
		if !<-goAhead {
			if ps.streams {
				// The server has the rest of the pack: end it with a
				// checksum that cannot match, so that it stores nothing
				// and updates no ref, and the exchange ends cleanly.
				_, _ = wr.Write(make([]byte, len(w.tail)))
				wr.Close()
			} else {
				wr.CloseWithError(errPushAbandoned) // nothing was sent
			}
			done <- errPushAbandoned
			return
		}
		if _, err := wr.Write(w.tail); err != nil {
			done <- err
			return
		}
		done <- wr.Close()
	}()
	rs, err := ps.sess.ReceivePack(ctx, req)
	if err != nil {
		_ = rd.CloseWithError(err) // the encoder must not wait on a reader that left
	}
	perr := <-done
	if errors.Is(perr, errPushAbandoned) {
		return errPushAbandoned
	}
	if err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	if rs != nil {
		return rs.Error()
	}
	return nil
}

// holdBack passes everything written to w but the last 20 bytes, which
// it keeps in tail.
type holdBack struct {
	w    io.Writer
	tail []byte
}

func (h *holdBack) Write(p []byte) (int, error) {
	h.tail = append(h.tail, p...)
	if n := len(h.tail) - 20; n > 0 {
		if _, err := h.w.Write(h.tail[:n]); err != nil {
			return 0, err
		}
		h.tail = append(h.tail[:0], h.tail[n:]...)
	}
	return len(p), nil
}
