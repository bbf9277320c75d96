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

var _ gitops.Writer = (*Writer)(nil)

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

// FailNext makes the next calls of Apply return errs, one per call, in
// order.
func (w *Writer) FailNext(errs ...error) {
	w.mu.Lock()
	w.errs = append(w.errs, errs...)
	w.mu.Unlock()
}

// Calls returns the changes passed to Apply so far, in order.
func (w *Writer) Calls() []gitops.Change {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]gitops.Change(nil), w.calls...)
}
