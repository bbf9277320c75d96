package gitops

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// maxBatch caps how many changes one push carries.
const maxBatch = 1024

// The life of a change submitted to [Repo.Apply].
const (
	stWaiting  = iota // queued
	stTaken           // in a batch, being built or waiting to retry
	stInflight        // its commit is in a push on the wire
	stDone            // answered, or given up by its caller
)

// pending is one change waiting for its outcome.
type pending struct {
	ctx  context.Context
	ch   Change
	done chan struct{}

	// guarded by queue.mu
	state int
	res   Result
	err   error

	// used by the batch that owns it
	chained  bool
	attempts int
	in       renderCheck
}

// queue holds the changes submitted to a Repo. The first change that
// finds no batch running starts one; the batch takes every change queued
// at that moment, and keeps taking until the queue is empty (group
// commit).
type queue struct {
	mu      sync.Mutex
	waiting []*pending
	leading bool
	// talking says the running batch is waiting on the remote, so that a
	// caller whose deadline passes meanwhile learns that the remote did
	// not answer in time.
	talking bool
}

func (q *queue) setTalking(b bool) {
	q.mu.Lock()
	q.talking = b
	q.mu.Unlock()
}

// enqueue queues ps under one lock, so that a batch starting now takes
// them all together (up to maxBatch per push), and starts a batch unless
// one is running.
func (q *queue) enqueue(r *Repo, ps []*pending) {
	q.mu.Lock()
	q.waiting = append(q.waiting, ps...)
	queued := q.leading
	if !q.leading {
		q.leading = true
		go q.lead(r)
	}
	q.mu.Unlock()
	if queued {
		for _, p := range ps {
			r.o.logger.DebugContext(p.ctx, "change queued behind the push in progress",
				"app", p.ch.Trailers.App, "env", p.ch.Trailers.Environment)
		}
	}
}

// wait waits for the outcome of p, queued by enqueue, or for its context
// to end; a change given up before its commit went on the wire leaves
// the batch.
func (q *queue) wait(r *Repo, p *pending) (Result, error) {
	ctx := p.ctx
	select {
	case <-p.done:
		return p.res, p.err
	case <-ctx.Done():
	}
	q.mu.Lock()
	switch p.state {
	case stWaiting:
		for i, w := range q.waiting {
			if w == p {
				q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
				break
			}
		}
		p.state = stDone
	case stTaken:
		p.state = stDone // the batch drops it before its next push
		if q.talking {
			q.mu.Unlock()
			return Result{Attempts: p.attempts}, r.remoteErr("push", classify(ctx, ctx.Err(), r.auth != nil))
		}
	case stInflight:
		q.mu.Unlock()
		<-p.done
		return p.res, p.err
	case stDone:
		q.mu.Unlock()
		<-p.done
		return p.res, p.err
	}
	q.mu.Unlock()
	return Result{Attempts: p.attempts}, r.remoteErr("push", ctx.Err())
}

func (q *queue) lead(r *Repo) {
	for {
		q.mu.Lock()
		n := min(len(q.waiting), maxBatch)
		if n == 0 {
			q.leading = false
			q.mu.Unlock()
			return
		}
		batch := append([]*pending(nil), q.waiting[:n]...)
		q.waiting = append(q.waiting[:0], q.waiting[n:]...)
		for _, p := range batch {
			p.state = stTaken
		}
		q.mu.Unlock()
		r.runBatch(batch)
	}
}

type pushOpen struct {
	ps  *pushSession
	err error
}

// finish answers p unless its caller gave up on it.
func (q *queue) finish(p *pending, res Result, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if p.state == stDone {
		select {
		case <-p.done:
		default:
			close(p.done) // the caller is not waiting; release nothing else
		}
		return
	}
	p.state, p.res, p.err = stDone, res, err
	close(p.done)
}

// live returns the members of batch whose callers still wait, in order.
func (q *queue) live(batch []*pending) []*pending {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := batch[:0:0]
	for _, p := range batch {
		if p.state == stTaken || p.state == stInflight {
			out = append(out, p)
		}
	}
	return out
}

// goInflight marks the chained members as being pushed, unless one of
// them was given up meanwhile (then the chain must be built again without
// it, and it reports false).
func (q *queue) goInflight(members []*pending) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range members {
		if p.chained && p.state != stTaken {
			return false
		}
	}
	for _, p := range members {
		if p.chained {
			p.state = stInflight
		}
	}
	return true
}

func (q *queue) landed(members []*pending) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range members {
		if p.state == stInflight {
			p.state = stTaken
		}
	}
}

// batchContext returns a context that carries the values of the first
// member's and ends when every member's context has ended.
func batchContext(batch []*pending) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(batch[0].ctx))
	alive := int64(len(batch))
	stops := make([]func() bool, 0, len(batch))
	for _, p := range batch {
		stops = append(stops, context.AfterFunc(p.ctx, func() {
			if atomic.AddInt64(&alive, -1) == 0 {
				cancel(context.Cause(p.ctx))
			}
		}))
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel(context.Canceled)
	}
}

// runBatch builds the members as a chain of commits on the remote head
// and pushes the chain in one push, replaying it after a lost race.
func (r *Repo) runBatch(batch []*pending) {
	ctx, cancel := batchContext(batch)
	defer cancel()
	if err := r.takeOp(ctx); err != nil {
		for _, p := range batch {
			r.q.finish(p, Result{}, err)
		}
		return
	}
	defer r.giveOp()
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.acquire(ctx); err != nil {
		for _, p := range batch {
			r.q.finish(p, Result{}, err)
		}
		return
	}
	locked := true
	defer func() {
		if locked {
			r.release()
		}
	}()
	log := r.o.logger
	contended := false
	// attempt counts builds after lost races; a rebuild after a change
	// was refused is not one.
	for attempt := 1; ; {
		began := r.o.clock.Now()
		members := r.q.live(batch)
		if len(members) == 0 {
			return
		}
		// Ask the remote where the branch is. Unless other writers are
		// busy, the cache is usually current: build on it meanwhile, and
		// keep what was built if it was.
		r.q.setTalking(true)
		opened := make(chan pushOpen, 1)
		go func() {
			ps, err := r.openPush(ctx)
			opened <- pushOpen{ps, err}
		}()
		var tip plumbing.Hash
		staged := false
		if !contended && r.headKnown {
			tip, staged = r.stageChain(members, r.head, attempt), true
		}
		o := <-opened
		ps, err := o.ps, o.err
		if err == nil && (!r.headKnown || ps.head != r.head) {
			// The cache is behind the remote (or empty): fetch before
			// building. Another writer moved the branch: it may again
			// while this one builds.
			contended = contended || r.headKnown
			if staged {
				r.st.rollback(0)
				staged = false
			}
			if _, err = r.fetchHeld(ctx); err != nil {
				ps.close()
			}
		}
		r.q.setTalking(false)
		if err != nil {
			r.st.rollback(0)
			for _, p := range members {
				r.q.finish(p, Result{Attempts: attempt}, err)
			}
			return
		}
		head := r.head
		for {
			if !staged {
				tip = r.stageChain(members, head, attempt)
			}
			staged = false
			if r.q.goInflight(members) {
				break
			}
			// A member was given up while the chain was built: build it
			// again without that member's commit.
			r.st.rollback(0)
			members = r.q.live(members)
		}
		if tip.IsZero() {
			// Nothing to push: every result stands, as the remote was at
			// head when the advertisement (or the fetch) said so.
			ps.close()
			for _, p := range members {
				r.q.finish(p, p.res, p.err)
			}
			return
		}
		r.q.setTalking(true)
		if contended {
			// Other writers are active: ask again where the branch is
			// before sending the pack, rather than have the server
			// receive it only to refuse the update.
			ps.close()
			if ps, err = r.openPush(ctx); err == nil && ps.head != head {
				ps.close()
				err = r.remoteErr("push", classify(ctx, fmt.Errorf("remote ref %s required to be %s but is %s",
					plumbing.NewBranchReferenceName(r.o.branch), head, ps.head), r.auth != nil))
				ps = nil
			}
		}
		var failed []*pending
		flush := false
		if err == nil {
			// Send the pack while the renders are checked; it is completed
			// only if every check passes.
			goAhead := make(chan bool, 1)
			sent := make(chan error, 1)
			go func() { sent <- r.push(ctx, ps, head, tip, goAhead) }()
			failed = r.checkChain(members)
			goAhead <- len(failed) == 0
			err = <-sent
			ps.close()
			if err == nil {
				flush = r.pushed(tip)
			}
		}
		r.q.setTalking(false)
		if len(failed) > 0 {
			// Refused changes leave the batch; the others are built again
			// without them, at once.
			r.st.rollback(0)
			r.q.landed(members)
			for _, p := range failed {
				r.q.finish(p, p.res, p.err)
			}
			continue
		}
		if err == nil {
			n := 0
			for _, p := range members {
				if p.chained {
					n++
					log.InfoContext(p.ctx, "pushed", "app", p.ch.Trailers.App, "env", p.ch.Trailers.Environment,
						"action", string(p.ch.Trailers.Action), "commit", p.res.Commit.String(),
						"parent", p.res.Parent.String(), "attempts", p.res.Attempts)
				}
				r.q.finish(p, p.res, p.err)
			}
			if len(members) > 1 {
				log.DebugContext(ctx, "pushed a chain of commits", "commits", n, "changes", len(members), "tip", tip.String())
			}
			if flush {
				// The objects stay in memory if this fails; the next
				// flush writes them.
				if err := r.flushHeld(); err != nil {
					log.WarnContext(ctx, "pushed objects not written to the cache yet", "err", err.Error())
				}
			}
			return
		}
		r.st.rollback(0)
		r.q.landed(members)
		if !errors.Is(err, ErrConflict) {
			r.failAll(members, err, attempt)
			return
		}
		r.m.conflicts.Inc()
		contended = true
		if attempt >= r.o.maxAttempts {
			var re *RemoteError
			if errors.As(err, &re) {
				re.Attempts = attempt
			}
			r.failAll(members, err, attempt)
			return
		}
		wait := r.backoff(attempt, r.o.clock.Now().Sub(began))
		log.DebugContext(ctx, "push lost a race; replaying on the new head", "attempt", attempt, "wait", wait, "changes", len(members))
		// Other Repos on the cache, and reads of this one, go meanwhile.
		r.release()
		locked = false
		r.mu.Unlock()
		serr := clock.Sleep(ctx, r.o.clock, wait)
		r.mu.Lock()
		if serr != nil {
			r.failAll(members, r.remoteErr("push", fmt.Errorf("%w (while retrying: %w)", serr, err)), attempt)
			return
		}
		if err := r.acquire(ctx); err != nil {
			r.failAll(members, err, attempt)
			return
		}
		locked = true
		attempt++
	}
}

// stageChain stages each member's commit on the one before (the first on
// head) and returns the last commit, or zero if no member changed
// anything. A member that fails or changes nothing is left out of the
// chain; its objects are forgotten.
func (r *Repo) stageChain(members []*pending, head plumbing.Hash, attempt int) plumbing.Hash {
	parent := head
	var tip plumbing.Hash
	for _, p := range members {
		p.attempts = attempt
		mark := r.st.mark()
		res, in, err := r.stage(p.ctx, parent, p.ch)
		res.Attempts = attempt
		p.res, p.err, p.in, p.chained = res, err, in, err == nil && res.Changed
		if !p.chained {
			r.st.rollback(mark)
			continue
		}
		parent, tip = res.Commit, res.Commit
	}
	return tip
}

// checkChain checks the renders of the chained members, in order, and
// returns the first that fails (the ones above it were staged on its
// commit and are checked again once it has left the chain), if any.
func (r *Repo) checkChain(members []*pending) []*pending {
	for _, p := range members {
		if !p.chained {
			continue
		}
		if err := r.check(p.ctx, p.in, &p.res); err != nil {
			p.err, p.chained = err, false
			p.res.Commit = plumbing.ZeroHash
			return []*pending{p}
		}
	}
	return nil
}

// failAll answers the members after a push that failed for good (or a
// fetch or lock that did). A member that failed on its own keeps its own
// error; one that changed nothing before the first chained member keeps
// that result (the remote was at its head); every other gets err.
func (r *Repo) failAll(members []*pending, err error, attempt int) {
	chainStarted := false
	for _, p := range members {
		switch {
		case p.err != nil && !p.chained && p.attempts == attempt:
			r.q.finish(p, p.res, p.err)
		case !p.chained && p.attempts == attempt && !chainStarted && p.err == nil && !p.res.Changed:
			r.q.finish(p, p.res, nil)
		default:
			chainStarted = chainStarted || p.chained
			res := Result{Parent: p.res.Parent, Attempts: p.attempts, Files: p.res.Files, Overlays: p.res.Overlays}
			r.q.finish(p, res, err)
		}
	}
}
