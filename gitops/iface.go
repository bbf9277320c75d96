package gitops

import "context"

// Renderer renders a kustomization directory at a revision. [*Repo]
// implements it.
type Renderer interface {
	Render(ctx context.Context, revision, dir string) ([]byte, error)
}

// Writer applies a change to a GitOps repository. [*Repo] implements it;
// gitopstest.Writer is a recording fake.
type Writer interface {
	Apply(ctx context.Context, ch Change) (Result, error)
}

// BatchWriter is a [Writer] that applies several changes together.
// [*Repo] implements it: the commits of all the changes go in one push
// (see [Repo.ApplyAll]); gitopstest.Writer does too. Code that holds a
// Writer can check for it with a type assertion.
type BatchWriter interface {
	Writer
	// ApplyAll applies each change as Apply does and returns one Result
	// and one error per change, in order.
	ApplyAll(ctx context.Context, chs []Change) ([]Result, []error)
}

// Historian reads past deployments and past file contents. [*Repo]
// implements it.
type Historian interface {
	History(ctx context.Context, q HistoryQuery) ([]Entry, error)
	ReadFile(ctx context.Context, revision, path string) ([]byte, error)
}

// WriterFunc adapts a function to [Writer].
type WriterFunc func(ctx context.Context, ch Change) (Result, error)

// Apply calls f(ctx, ch).
func (f WriterFunc) Apply(ctx context.Context, ch Change) (Result, error) { return f(ctx, ch) }

// RendererFunc adapts a function to [Renderer].
type RendererFunc func(ctx context.Context, revision, dir string) ([]byte, error)

// Render calls f(ctx, revision, dir).
func (f RendererFunc) Render(ctx context.Context, revision, dir string) ([]byte, error) {
	return f(ctx, revision, dir)
}

var (
	_ Renderer    = (*Repo)(nil)
	_ Writer      = (*Repo)(nil)
	_ BatchWriter = (*Repo)(nil)
	_ Historian   = (*Repo)(nil)
	_ Writer      = WriterFunc(nil)
	_ Renderer    = RendererFunc(nil)
)
