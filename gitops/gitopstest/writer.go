package gitopstest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Writer is a gitops.Writer for tests of code that deploys through
// gitops: it applies changes to a real repository (through a gitops.Repo
// over a bare repository in a temp dir, so state is real Git state),
// records every call, and can be told to fail. It is safe for concurrent
// use.
type Writer struct {
	// Repo is the underlying repository client.
	Repo *gitops.Repo
	// Dir is the bare repository the changes land in.
	Dir string

	mu    sync.Mutex
	calls []gitops.Change
	errs  []error
}

var (
	_ gitops.ReadWriter  = (*Writer)(nil)
	_ gitops.BatchWriter = (*Writer)(nil)
	_ gitops.Renderer    = (*Writer)(nil)
)

// NewWriter returns a Writer over a new bare repository holding files.
// Options are passed to gitops.New; the cache lives in t.TempDir().
func NewWriter(t testing.TB, files Files, opts ...gitops.Option) *Writer {
	t.Helper()
	dir := NewBareRepo(t, files)
	opts = append([]gitops.Option{gitops.WithCacheDir(filepath.Join(t.TempDir(), "cache"))}, opts...)
	r, err := gitops.New(FileURL(dir), opts...)
	if err != nil {
		t.Fatalf("gitopstest: %v", err)
	}
	return &Writer{Repo: r, Dir: dir}
}

// Apply records ch, then returns the next injected error if there is one
// (without touching the repository), else applies ch to the repository.
func (w *Writer) Apply(ctx context.Context, ch gitops.Change) (gitops.Result, error) {
	w.mu.Lock()
	w.calls = append(w.calls, ch)
	var err error
	if len(w.errs) > 0 {
		err, w.errs = w.errs[0], w.errs[1:]
	}
	w.mu.Unlock()
	if err != nil {
		return gitops.Result{}, err
	}
	return w.Repo.Apply(ctx, ch)
}

// ApplyAll records chs, then, in order, answers a change with the next
// injected error if there is one (without touching the repository), and
// applies the others to the repository together with Repo.ApplyAll (so
// their commits go in one push).
func (w *Writer) ApplyAll(ctx context.Context, chs []gitops.Change) ([]gitops.Result, []error) {
	results, errs := make([]gitops.Result, len(chs)), make([]error, len(chs))
	var rest []gitops.Change
	var at []int
	w.mu.Lock()
	for i, ch := range chs {
		w.calls = append(w.calls, ch)
		if len(w.errs) > 0 {
			errs[i], w.errs = w.errs[0], w.errs[1:]
			continue
		}
		rest, at = append(rest, ch), append(at, i)
	}
	w.mu.Unlock()
	if len(rest) == 0 {
		return results, errs
	}
	res, es := w.Repo.ApplyAll(ctx, rest)
	for j, i := range at {
		results[i], errs[i] = res[j], es[j]
	}
	return results, errs
}

// FailNext makes the next calls of Apply return errs, one per call, in
// order (a change given to ApplyAll counts as one call).
func (w *Writer) FailNext(errs ...error) {
	w.mu.Lock()
	w.errs = append(w.errs, errs...)
	w.mu.Unlock()
}

// Calls returns the changes passed to Apply and ApplyAll so far, in order.
func (w *Writer) Calls() []gitops.Change {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]gitops.Change(nil), w.calls...)
}

// History reads the repository's history through Repo (not recorded, not
// failed), so that a Writer is a gitops.ReadWriter for
// gitops.CurrentRelease and gitops.CopyRelease. For a fake whose reads
// are recorded and can fail, use [Fake].
func (w *Writer) History(ctx context.Context, q gitops.HistoryQuery) ([]gitops.Entry, error) {
	return w.Repo.History(ctx, q)
}

// ReadFile reads a file through Repo, like [Writer.History].
func (w *Writer) ReadFile(ctx context.Context, revision, path string) ([]byte, error) {
	return w.Repo.ReadFile(ctx, revision, path)
}

// Render renders through Repo, like [Writer.History].
func (w *Writer) Render(ctx context.Context, revision, dir string) ([]byte, error) {
	return w.Repo.Render(ctx, revision, dir)
}
