package gitopstest

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Op names a method of [Fake], for [Fake.FailNext] and [Call].
type Op string

// The methods of [Fake] that are recorded and can be told to fail.
const (
	OpApply    Op = "Apply"
	OpHistory  Op = "History"
	OpReadFile Op = "ReadFile"
	OpRender   Op = "Render"
)

// Call is one call of a [Fake] method, as recorded.
type Call struct {
	Op Op
	// Change is the change passed to Apply.
	Change gitops.Change
	// Query is the query passed to History.
	Query gitops.HistoryQuery
	// Revision and Path are the arguments of ReadFile (Path is the file)
	// and Render (Path is the directory).
	Revision, Path string
	// Err is what the call returned.
	Err error
}

// FakeOption configures a [Fake].
type FakeOption func(*Fake)

// WithClock sets the clock that stamps the commits the fake makes.
// Default: the system clock.
func WithClock(c clock.Clock) FakeOption { return func(f *Fake) { f.clk = clock.Or(c) } }

// WithIdentity sets the author and committer of the commits Apply makes,
// which History trusts. Default: gitops.DefaultAuthorName and
// gitops.DefaultAuthorEmail, as a gitops.Repo without options.
func WithIdentity(name, email string) FakeOption {
	return func(f *Fake) { f.who = object.Signature{Name: name, Email: email} }
}

// Fake is an in-memory GitOps repository for unit tests of code that
// reads and writes through package gitops: it implements gitops.Writer,
// gitops.Historian and gitops.Renderer (so gitops.ReadWriter, and with it
// gitops.DeployRelease, gitops.CurrentRelease and gitops.CopyRelease),
// needs neither disk nor a git binary, and keeps its state as real Git
// objects on one branch:
//
//   - Apply validates the change, applies its edits to the head's tree
//     exactly as gitops.Repo does (same Edit, Tree and trailers), renders
//     the nearest kustomization above each changed file and the
//     change's Render directories (refusing the change with a
//     *gitops.RenderError), and commits with the configured identity and
//     clock; an unchanged tree makes no commit, and DryRun keeps the
//     commit off the branch. Result.Diff is the unified diff of each
//     rendered overlay before and after the change, as gitops.Repo
//     computes it; Attempts is always 1.
//   - History, ReadFile and Render answer as gitops.Repo does at any
//     revision ("", "main", "HEAD", "HEAD~n", a full or abbreviated hash):
//     History reads only commits whose committer is the Fake's identity
//     (or one the query trusts), so a commit made with [Fake.Commit]
//     plays a person's commit that History must not mistake for a
//     deployment.
//
// Every call is recorded ([Fake.Calls]); [Fake.FailNext] makes the next
// calls of a method fail without touching the state. A Fake is safe for
// concurrent use; its methods are serialised.
type Fake struct {
	clk clock.Clock
	who object.Signature

	mu     sync.Mutex
	st     *memory.Storage
	head   plumbing.Hash
	calls  []Call
	faults map[Op][]error
}

var (
	_ gitops.ReadWriter = (*Fake)(nil)
	_ gitops.Renderer   = (*Fake)(nil)
)

// otherWriter is the identity of [Fake.Commit] and of the initial commit.
var otherWriter = object.Signature{Name: "gitopstest", Email: "gitopstest@localhost"}

// NewFake returns a Fake whose branch has one commit holding files (by
// the identity of [Fake.Commit]); an empty layout makes a branch without
// commits. It fails if a path of files is refused.
func NewFake(files Files, opts ...FakeOption) (*Fake, error) {
	f := &Fake{
		clk:    clock.System(),
		who:    object.Signature{Name: gitops.DefaultAuthorName, Email: gitops.DefaultAuthorEmail},
		st:     memory.NewStorage(),
		faults: map[Op][]error{},
	}
	for _, o := range opts {
		o(f)
	}
	if len(files) > 0 {
		if _, err := f.Commit("initial layout", files); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// FailNext makes the next calls of op return errs, one per call, in
// order, without touching the repository.
func (f *Fake) FailNext(op Op, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[op] = append(f.faults[op], errs...)
}

// Calls returns the calls made so far, in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// Changes returns the changes passed to Apply so far, in order.
func (f *Fake) Changes() []gitops.Change {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []gitops.Change
	for _, c := range f.calls {
		if c.Op == OpApply {
			out = append(out, c.Change)
		}
	}
	return out
}

// Head returns the commit the branch points at; zero before the first
// commit.
func (f *Fake) Head() plumbing.Hash {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.head
}

// Log returns the branch's commits, newest first.
func (f *Fake) Log() []*object.Commit {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logLocked()
}

// Commit adds a commit to the branch as another writer would (a person,
// another tool): it writes files, removes the paths in remove, and
// commits with message as "gitopstest <gitopstest@localhost>". It is not
// recorded, cannot be told to fail, and History does not read it unless
// a query trusts that identity.
func (f *Fake) Commit(message string, files Files, remove ...string) (plumbing.Hash, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, err := f.tree(f.head)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		if err := t.WriteFile(p, []byte(files[p])); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("gitopstest: %w", err)
		}
	}
	for _, p := range remove {
		if err := t.Remove(p); err != nil {
			return plumbing.ZeroHash, fmt.Errorf("gitopstest: %w", err)
		}
	}
	th, err := t.Write()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("gitopstest: %w", err)
	}
	h, err := f.commit(otherWriter, th, message+"\n")
	if err != nil {
		return plumbing.ZeroHash, err
	}
	f.head = h
	return h, nil
}

// record appends a call and returns the injected fault for op, if any.
// Callers hold f.mu.
func (f *Fake) record(c Call) (int, error) {
	f.calls = append(f.calls, c)
	i := len(f.calls) - 1
	if q := f.faults[c.Op]; len(q) > 0 {
		f.faults[c.Op] = q[1:]
		f.calls[i].Err = q[0]
		return i, q[0]
	}
	return i, nil
}

// Apply applies ch as described on [Fake].
func (f *Fake) Apply(ctx context.Context, ch gitops.Change) (gitops.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.record(Call{Op: OpApply, Change: ch})
	if err != nil {
		return gitops.Result{}, err
	}
	res, err := f.apply(ctx, ch)
	f.calls[i].Err = err
	return res, err
}

func (f *Fake) apply(ctx context.Context, ch gitops.Change) (gitops.Result, error) {
	if err := ctx.Err(); err != nil {
		return gitops.Result{}, err
	}
	if err := ch.Validate(); err != nil {
		return gitops.Result{}, err
	}
	res := gitops.Result{Parent: f.head, Attempts: 1}
	var oldTree plumbing.Hash
	if !f.head.IsZero() {
		c, err := object.GetCommit(f.st, f.head)
		if err != nil {
			return res, err
		}
		oldTree = c.TreeHash
	}
	t := gitops.NewTree(f.st, oldTree)
	if err := ch.ApplyEdits(ctx, t); err != nil {
		return res, err
	}
	newTree, err := t.Write()
	if err != nil {
		return res, fmt.Errorf("gitopstest: write tree: %w", err)
	}
	if newTree == oldTree || len(t.Changed()) == 0 {
		return res, nil
	}
	res.Changed, res.Tree, res.Files = true, newTree, t.Changed()
	after := gitops.NewTree(f.st, newTree)
	dirs := map[string]bool{}
	for _, p := range res.Files {
		if d := nearestKustomization(after, p); d != "" {
			dirs[d] = true
		}
	}
	for _, d := range ch.Render {
		dirs[path.Clean(d)] = true
	}
	res.Overlays = slices.Sorted(maps.Keys(dirs))
	before := gitops.NewTree(f.st, oldTree)
	var diff strings.Builder
	for _, d := range res.Overlays {
		out, err := after.Render(ctx, d)
		if err != nil {
			return res, err
		}
		var old []byte
		if before.IsDir(d) && before.KustomizationFile(d) != "" {
			// An overlay that did not render before diffs against
			// nothing, as in gitops.Repo.
			old, _ = before.Render(ctx, d)
		}
		diff.WriteString(gitops.UnifiedDiff(d, string(old), string(out)))
	}
	res.Diff = diff.String()
	c, err := f.commit(f.who, newTree, ch.CommitMessage())
	if err != nil {
		return res, err
	}
	res.Commit = c
	if !ch.DryRun {
		f.head = c
	}
	return res, nil
}

func nearestKustomization(t *gitops.Tree, p string) string {
	for d := path.Dir(p); d != "." && d != "/" && d != ""; d = path.Dir(d) {
		if t.IsDir(d) && t.KustomizationFile(d) != "" {
			return d
		}
	}
	return ""
}

// commit writes a commit of tree on the head by who. Callers hold f.mu.
func (f *Fake) commit(who object.Signature, tree plumbing.Hash, message string) (plumbing.Hash, error) {
	who.When = f.clk.Now()
	c := &object.Commit{Author: who, Committer: who, Message: message, TreeHash: tree}
	if !f.head.IsZero() {
		c.ParentHashes = []plumbing.Hash{f.head}
	}
	obj := f.st.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("gitopstest: encode commit: %w", err)
	}
	return f.st.SetEncodedObject(obj)
}

// tree returns a Tree of commit h (an empty one for the zero hash).
// Callers hold f.mu.
func (f *Fake) tree(h plumbing.Hash) (*gitops.Tree, error) {
	if h.IsZero() {
		return gitops.NewTree(f.st, plumbing.ZeroHash), nil
	}
	c, err := object.GetCommit(f.st, h)
	if err != nil {
		return nil, fmt.Errorf("gitopstest: commit %s: %w", h, err)
	}
	return gitops.NewTree(f.st, c.TreeHash), nil
}

// resolve returns the commit a revision names. Callers hold f.mu.
func (f *Fake) resolve(revision string) (*object.Commit, error) {
	notExist := fmt.Errorf("gitopstest: revision %q: %w", revision, gitops.ErrNotExist)
	rev, back := revision, 0
	if strings.HasPrefix(rev, "HEAD~") {
		n, err := strconv.Atoi(rev[5:])
		if err != nil || n < 0 {
			return nil, notExist
		}
		rev, back = "HEAD", n
	}
	for strings.HasSuffix(rev, "^") {
		rev, back = rev[:len(rev)-1], back+1
	}
	var h plumbing.Hash
	switch {
	case rev == "" || rev == "HEAD" || rev == Branch:
		h = f.head
	case plumbing.IsHash(rev):
		h = plumbing.NewHash(rev)
	case len(rev) >= 4 && strings.Trim(strings.ToLower(rev), "0123456789abcdef") == "":
		for _, c := range f.logLocked() {
			if strings.HasPrefix(c.Hash.String(), strings.ToLower(rev)) {
				if !h.IsZero() {
					return nil, fmt.Errorf("gitopstest: revision %q is ambiguous: %w", revision, gitops.ErrNotExist)
				}
				h = c.Hash
			}
		}
	}
	if h.IsZero() {
		return nil, notExist
	}
	c, err := object.GetCommit(f.st, h)
	if err != nil {
		return nil, notExist
	}
	for ; back > 0; back-- {
		if len(c.ParentHashes) == 0 {
			return nil, notExist
		}
		if c, err = object.GetCommit(f.st, c.ParentHashes[0]); err != nil {
			return nil, notExist
		}
	}
	return c, nil
}

// logLocked returns the branch's commits, newest first. Callers hold
// f.mu.
func (f *Fake) logLocked() []*object.Commit {
	var out []*object.Commit
	for h := f.head; !h.IsZero(); {
		c, err := object.GetCommit(f.st, h)
		if err != nil {
			break
		}
		out = append(out, c)
		h = plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			h = c.ParentHashes[0]
		}
	}
	return out
}

// History answers as gitops.Repo.History does, trusting the Fake's
// identity and q.Committers.
func (f *Fake) History(ctx context.Context, q gitops.HistoryQuery) ([]gitops.Entry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.record(Call{Op: OpHistory, Query: q})
	if err != nil {
		return nil, err
	}
	out, err := f.history(ctx, q)
	f.calls[i].Err = err
	return out, err
}

func (f *Fake) history(ctx context.Context, q gitops.HistoryQuery) ([]gitops.Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := f.resolve(q.Revision)
	if err != nil {
		return nil, err
	}
	trust := gitops.Trust{Committers: append([]string{f.who.Name + " <" + f.who.Email + ">"}, q.Committers...)}
	var out []gitops.Entry
	for {
		if e, err := gitops.EntryOf(c); err == nil && q.Matches(e) && trust.Verify(c) == nil {
			out = append(out, e)
			if q.Limit > 0 && len(out) >= q.Limit {
				return out, nil
			}
		}
		if len(c.ParentHashes) == 0 {
			return out, nil
		}
		if c, err = object.GetCommit(f.st, c.ParentHashes[0]); err != nil {
			return out, fmt.Errorf("gitopstest: history: %w", err)
		}
	}
}

// ReadFile answers as gitops.Repo.ReadFile does.
func (f *Fake) ReadFile(ctx context.Context, revision, file string) ([]byte, error) {
	return f.atRevision(ctx, Call{Op: OpReadFile, Revision: revision, Path: file}, func(t *gitops.Tree) ([]byte, error) {
		return t.ReadFile(file)
	})
}

// Render answers as gitops.Repo.Render does.
func (f *Fake) Render(ctx context.Context, revision, dir string) ([]byte, error) {
	return f.atRevision(ctx, Call{Op: OpRender, Revision: revision, Path: dir}, func(t *gitops.Tree) ([]byte, error) {
		return t.Render(ctx, dir)
	})
}

// atRevision records c, then runs fn on the tree of c.Revision.
func (f *Fake) atRevision(ctx context.Context, c Call, fn func(*gitops.Tree) ([]byte, error)) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.record(c)
	if err != nil {
		return nil, err
	}
	out, err := func() ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		commit, err := f.resolve(c.Revision)
		if err != nil {
			return nil, err
		}
		t, err := f.tree(commit.Hash)
		if err != nil {
			return nil, err
		}
		return fn(t)
	}()
	f.calls[i].Err = err
	return out, err
}
