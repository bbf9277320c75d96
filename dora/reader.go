package dora

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Source lists the trusted history of a GitOps repository, newest first,
// honouring HistoryQuery.Limit and AllActions. *gitops.Repo,
// *gitopstest.Fake and *gitopstest.Writer implement it.
type Source interface {
	History(ctx context.Context, q gitops.HistoryQuery) ([]gitops.Entry, error)
}

var (
	_ Source = (*gitops.Repo)(nil)
	_ Source = SourceFunc(nil)
)

// SourceFunc adapts a function to [Source].
type SourceFunc func(ctx context.Context, q gitops.HistoryQuery) ([]gitops.Entry, error)

// History calls f(ctx, q).
func (f SourceFunc) History(ctx context.Context, q gitops.HistoryQuery) ([]gitops.Entry, error) {
	return f(ctx, q)
}

// Option configures a [Reader].
type Option func(*options)

type options struct {
	committers []string
	logger     *slog.Logger
	clock      clock.Clock
	firstPage  int
}

// WithCommitters lists further committer identities, "Name <email>",
// whose commits are read as flightdeck's (HistoryQuery.Committers), for
// repositories that several tools write. Default: only the Source's own.
func WithCommitters(ids ...string) Option {
	return func(o *options) { o.committers = append(o.committers, ids...) }
}

// WithLogger sets the logger. Default: a logger that discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock that gives "now" to a [Query] without Until.
// Default nil: the system clock.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

// DefaultFirstPage is how many entries a warm read asks the Source for
// first; see [Reader].
const DefaultFirstPage = 64

// maxPage is the page size beyond which a read lists the whole history.
const maxPage = 1 << 14

// Reader computes DORA reports from a [Source] and keeps the history it
// read, indexed by commit, so that a later read lists only what is new.
//
// The first read lists the whole trusted history (every action, so that
// verification markers are seen). A later read asks the Source for the
// newest [DefaultFirstPage] entries, then for eight times as many each
// time, until the listing reaches the newest commit it already holds:
// what lies before it is new, and what lies after it is known, because a
// commit's hash covers its whole ancestry. If the listing ends without
// reaching that commit, the branch was rewritten, and the Reader starts
// over from the listing. A warm read of a repository that gained a few
// commits therefore walks a few dozen commits, not the whole history.
//
// A Reader is safe for concurrent use; reads are serialised.
type Reader struct {
	src Source
	o   options

	mu      sync.Mutex
	entries []gitops.Entry // oldest first
	known   map[plumbing.Hash]int
	targets map[targetKey]*target
}

// NewReader returns a Reader of src.
func NewReader(src Source, opts ...Option) *Reader {
	o := options{firstPage: DefaultFirstPage}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	o.clock = clock.Or(o.clock)
	return &Reader{src: src, o: o}
}

// Report reads what is new in the history and returns the report of q
// (see [Query]; a zero Until is the end of the current second of the
// Reader's clock, so that a commit made now counts: Git records commit
// times in seconds). Errors are the Source's, wrapped, or the
// context's.
func (r *Reader) Report(ctx context.Context, q Query) (Report, error) {
	if q.Until.IsZero() {
		q.Until = endOfSecond(r.o.clock.Now())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.refresh(ctx); err != nil {
		return Report{}, err
	}
	return compute(r.entries, r.targets, q), nil
}

// Entries reads what is new in the history and returns every trusted
// entry read so far, newest first, as the Source lists them.
func (r *Reader) Entries(ctx context.Context) ([]gitops.Entry, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.refresh(ctx); err != nil {
		return nil, err
	}
	out := slices.Clone(r.entries)
	slices.Reverse(out)
	return out, nil
}

// refresh brings the index up to date. Callers hold r.mu.
func (r *Reader) refresh(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	q := gitops.HistoryQuery{AllActions: true, Committers: r.o.committers}
	if len(r.entries) == 0 {
		return r.reset(ctx, q)
	}
	newest := r.entries[len(r.entries)-1].Commit
	for page := r.o.firstPage; page <= maxPage; page *= 8 {
		q.Limit = page
		got, err := r.src.History(ctx, q)
		if err != nil {
			return fmt.Errorf("dora: history: %w", err)
		}
		i := slices.IndexFunc(got, func(e gitops.Entry) bool { return e.Commit == newest })
		switch {
		case i >= 0:
			r.add(got[:i])
			if i > 0 {
				r.o.logger.DebugContext(ctx, "read new history", "entries", i, "page", page)
			}
			return nil
		case len(got) < page:
			r.o.logger.InfoContext(ctx, "history no longer holds the newest commit read; reading it again", "commit", newest.String())
			r.clear()
			r.add(got)
			return nil
		}
	}
	r.o.logger.DebugContext(ctx, "many new commits; reading the whole history")
	return r.reset(ctx, q)
}

// reset reads the whole history. Callers hold r.mu.
func (r *Reader) reset(ctx context.Context, q gitops.HistoryQuery) error {
	q.Limit = 0
	got, err := r.src.History(ctx, q)
	if err != nil {
		return fmt.Errorf("dora: history: %w", err)
	}
	r.clear()
	r.add(got)
	return nil
}

func (r *Reader) clear() {
	r.entries = nil
	r.known = map[plumbing.Hash]int{}
	r.targets = map[targetKey]*target{}
}

// add appends newer entries (given newest first) to the index.
func (r *Reader) add(newestFirst []gitops.Entry) {
	if r.known == nil {
		r.clear()
	}
	start := len(r.entries)
	for i := len(newestFirst) - 1; i >= 0; i-- {
		e := newestFirst[i]
		if _, dup := r.known[e.Commit]; dup {
			continue
		}
		r.known[e.Commit] = len(r.entries)
		r.entries = append(r.entries, e)
	}
	for i := start; i < len(r.entries); i++ {
		addEntry(r.targets, r.entries, i)
	}
}
