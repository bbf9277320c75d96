package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of [New].
const (
	// DefaultBranch is the branch a Repo reads and writes unless
	// [WithBranch] says otherwise.
	DefaultBranch = "main"
	// DefaultMaxAttempts is how many times [Repo.Apply] tries to push a
	// change (the first try included) before it gives up with
	// [ErrConflict].
	DefaultMaxAttempts = 10
	// DefaultBackoff is the base of the jittered exponential wait between
	// attempts, and DefaultMaxBackoff its cap.
	DefaultBackoff    = 50 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
	// DefaultAuthorName and DefaultAuthorEmail sign commits when
	// [WithAuthor] is not given.
	DefaultAuthorName  = "flightdeck"
	DefaultAuthorEmail = "flightdeck@localhost"
)

// Repo is a remote GitOps repository with a persistent local cache: a
// bare clone that is made on first use and fetched incrementally after.
// A Repo reads revisions, renders overlays, and applies changes as
// commits pushed to one branch.
//
// A Repo is safe for concurrent use; its operations on the cache are
// serialised. Separate Repos (or processes) must use separate cache
// directories; they coordinate through the remote, where a lost race is
// detected and replayed by [Repo.Apply].
type Repo struct {
	url      string
	redacted string
	o        options
	secrets  []string
	m        *metrics
	renders  renderCache

	mu   sync.Mutex
	repo *git.Repository
	st   *overlayStorage
}

type options struct {
	auth        transport.AuthMethod
	cacheDir    string
	branch      string
	author      object.Signature
	committer   *object.Signature
	signKey     *openpgp.Entity
	logger      *slog.Logger
	reg         prometheus.Registerer
	maxAttempts int
	backoff     time.Duration
	maxBackoff  time.Duration
	now         func() time.Time

	remoteResources bool
}

// Option configures a [Repo].
type Option func(*options)

// WithAuth sets the transport credentials: *http.BasicAuth,
// *http.TokenAuth, or an SSH method from go-git's ssh package. Default:
// none (credentials in the URL's user info are used by go-git's HTTP
// transport, and redacted like any other secret).
func WithAuth(a transport.AuthMethod) Option { return func(o *options) { o.auth = a } }

// WithCacheDir sets the directory of the local bare clone. It is created
// if missing and reused across runs. Default: a directory named after a
// hash of the URL under os.UserCacheDir()/flightdeck/gitops (or
// os.TempDir() when there is no user cache directory).
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithBranch sets the branch to read and write. Default [DefaultBranch].
func WithBranch(b string) Option { return func(o *options) { o.branch = b } }

// WithAuthor sets the author of commits. Default [DefaultAuthorName]
// <[DefaultAuthorEmail]>.
func WithAuthor(name, email string) Option {
	return func(o *options) { o.author.Name, o.author.Email = name, email }
}

// WithCommitter sets the committer of commits. Default: the author.
func WithCommitter(name, email string) Option {
	return func(o *options) { o.committer = &object.Signature{Name: name, Email: email} }
}

// WithSignKey signs every commit with the OpenPGP entity, whose private
// key must be decrypted. Default: commits are not signed.
func WithSignKey(e *openpgp.Entity) Option { return func(o *options) { o.signKey = e } }

// WithLogger sets the logger. Default: a logger that discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the Repo's metrics with reg. Default nil: the
// metrics are kept but not registered. The metrics are
// flightdeck_gitops_apply_total{result}, flightdeck_gitops_push_conflicts_total
// and flightdeck_gitops_apply_duration_seconds{result}; result is one of
// committed, unchanged, dry_run, error.
func WithRegisterer(reg prometheus.Registerer) Option { return func(o *options) { o.reg = reg } }

// WithRetry sets how many push attempts [Repo.Apply] makes (the first
// included; values below 1 mean 1) and the base and cap of the jittered
// exponential backoff between them. The backoff starts from the larger of
// base and the duration of the attempt that lost. Defaults [DefaultMaxAttempts],
// [DefaultBackoff], [DefaultMaxBackoff].
func WithRetry(attempts int, base, max time.Duration) Option {
	return func(o *options) { o.maxAttempts, o.backoff, o.maxBackoff = attempts, base, max }
}

// WithClock sets the time source of commit timestamps. Default time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRemoteResources lets renders fetch the remote resources of
// kustomizations: URL entries and remote git bases such as
// "github.com/org/repo//path?ref=v1" in resources, bases and components.
// They are fetched anonymously (the Repo's credentials are never sent to
// them), bounded by the operation's context, without holding the Repo's
// lock, and once per operation. Default false: a kustomization with a
// remote entry does not render, with an error wrapping [ErrRemoteResource]
// that names the kustomization and the entry, and rendering never touches
// the network.
func WithRemoteResources(enabled bool) Option {
	return func(o *options) { o.remoteResources = enabled }
}

// New returns a Repo for the remote at url (https://, http://, ssh://,
// scp-like "git@host:path", file:// or a local path). It does not touch
// the network; the first operation clones into the cache.
func New(url string, opts ...Option) (*Repo, error) {
	if url == "" {
		return nil, fmt.Errorf("gitops: empty repository URL")
	}
	o := options{
		branch:      DefaultBranch,
		author:      object.Signature{Name: DefaultAuthorName, Email: DefaultAuthorEmail},
		maxAttempts: DefaultMaxAttempts,
		backoff:     DefaultBackoff,
		maxBackoff:  DefaultMaxBackoff,
		now:         time.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.maxAttempts < 1 {
		o.maxAttempts = 1
	}
	if o.maxBackoff < o.backoff {
		o.maxBackoff = o.backoff
	}
	redacted := RedactURL(url)
	if o.branch == "" || plumbing.NewBranchReferenceName(o.branch).Validate() != nil {
		return nil, fmt.Errorf("gitops: %s: invalid branch %q", redacted, o.branch)
	}
	if o.cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		sum := sha256.Sum256([]byte(url))
		o.cacheDir = filepath.Join(base, "flightdeck", "gitops", hex.EncodeToString(sum[:8]))
	}
	r := &Repo{url: url, redacted: redacted, o: o, m: newMetrics(o.reg)}
	r.secrets = secretsOf(url, o.auth)
	r.o.logger = o.logger.With("repo", redacted)
	return r, nil
}

func secretsOf(url string, a transport.AuthMethod) []string {
	var s []string
	if ep, err := transport.NewEndpoint(url); err == nil && ep.Password != "" {
		// Both forms: the password as sent, and as written in the URL.
		s = append(s, ep.Password)
		if u, err := neturl.Parse(url); err == nil && u.User != nil {
			if _, raw, _ := strings.Cut(u.User.String(), ":"); raw != ep.Password {
				s = append(s, raw)
			}
		}
	}
	switch a := a.(type) {
	case *githttp.BasicAuth:
		s = append(s, a.Password)
	case *githttp.TokenAuth:
		s = append(s, a.Token)
	case *gitssh.Password:
		s = append(s, a.Password)
	}
	return s
}

// URL returns the remote URL with any password redacted.
func (r *Repo) URL() string { return r.redacted }

// Branch returns the branch the Repo reads and writes.
func (r *Repo) Branch() string { return r.o.branch }

// CacheDir returns the directory of the local bare clone.
func (r *Repo) CacheDir() string { return r.o.cacheDir }

func (r *Repo) remoteRef() plumbing.ReferenceName {
	return plumbing.ReferenceName("refs/remotes/origin/" + r.o.branch)
}

func (r *Repo) remoteErr(op string, err error) error {
	return &RemoteError{Op: op, URL: r.redacted, Err: err, secrets: r.secrets}
}

// open opens or initialises the cache. Callers hold r.mu.
func (r *Repo) open() error {
	if r.repo != nil {
		return nil
	}
	fresh := false
	if _, err := os.Stat(filepath.Join(r.o.cacheDir, "config")); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(r.o.cacheDir, 0o755); err != nil {
			return fmt.Errorf("gitops: cache %s: %w", r.o.cacheDir, err)
		}
		fresh = true
	}
	st := newOverlayStorage(filesystem.NewStorage(osfs.New(r.o.cacheDir), cache.NewObjectLRUDefault()))
	var repo *git.Repository
	var err error
	if fresh {
		repo, err = git.Init(st, nil)
		if err == nil {
			_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.url}})
		}
	} else {
		repo, err = git.Open(st, nil)
	}
	if err != nil {
		return fmt.Errorf("gitops: cache %s for %s: %s", r.o.cacheDir, r.redacted, scrub(err.Error(), r.secrets))
	}
	r.repo, r.st = repo, st
	return nil
}

// Fetch brings the cache up to date with the remote branch and returns
// its head; the zero hash means the remote has no such branch yet. It
// returns a *RemoteError wrapping [ErrAuth], [ErrRemote] or the context's
// error.
func (r *Repo) Fetch(ctx context.Context) (plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetch(ctx)
}

func (r *Repo) fetch(ctx context.Context) (plumbing.Hash, error) {
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, r.remoteErr("fetch", err)
	}
	if err := r.open(); err != nil {
		return plumbing.ZeroHash, err
	}
	start := time.Now()
	spec := config.RefSpec(fmt.Sprintf("+refs/heads/%s:%s", r.o.branch, r.remoteRef()))
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RemoteURL:  r.url,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.o.auth,
		Tags:       git.NoTags,
		Force:      true,
	})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, transport.ErrEmptyRemoteRepository), errors.Is(err, git.NoMatchingRefSpecError{}):
		r.o.logger.DebugContext(ctx, "remote branch does not exist yet", "branch", r.o.branch)
		return plumbing.ZeroHash, nil
	default:
		return plumbing.ZeroHash, r.remoteErr("fetch", classify(ctx, err))
	}
	ref, err := r.repo.Reference(r.remoteRef(), true)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("gitops: %s: read %s: %w", r.redacted, r.remoteRef(), err)
	}
	r.o.logger.DebugContext(ctx, "fetched", "head", ref.Hash().String(), "took", time.Since(start))
	return ref.Hash(), nil
}

// resolve returns the commit a revision names: "" is the branch head
// (fetched), a full hash known to the cache is used without fetching,
// anything else is fetched and resolved as a revision (branch, short
// hash, "HEAD~2" on the branch). Callers hold r.mu.
func (r *Repo) resolve(ctx context.Context, revision string) (*object.Commit, error) {
	if err := r.open(); err != nil {
		return nil, err
	}
	if plumbing.IsHash(revision) {
		if c, err := r.repo.CommitObject(plumbing.NewHash(revision)); err == nil {
			return c, nil
		}
	}
	head, err := r.fetch(ctx)
	if err != nil {
		return nil, err
	}
	var h plumbing.Hash
	switch revision {
	case "", r.o.branch, "HEAD":
		h = head
		if h.IsZero() {
			return nil, fmt.Errorf("gitops: %s: branch %s: %w", r.redacted, r.o.branch, ErrNotExist)
		}
	default:
		rev := revision
		if rev == "HEAD" || len(rev) > 4 && rev[:4] == "HEAD" {
			rev = r.remoteRef().String() + rev[4:]
		}
		hp, err := r.repo.ResolveRevision(plumbing.Revision(rev))
		if err != nil {
			return nil, fmt.Errorf("gitops: %s: revision %q: %w", r.redacted, revision, ErrNotExist)
		}
		h = *hp
	}
	c, err := r.repo.CommitObject(h)
	if err != nil {
		return nil, fmt.Errorf("gitops: %s: revision %q: %w: %w", r.redacted, revision, ErrNotExist, err)
	}
	return c, nil
}

// Render renders the kustomization in dir as it is at revision (see
// [Repo.ReadFile] for revisions) and returns the multi-document YAML
// kustomize produces. Renders are cached by the content of their inputs,
// so rendering an overlay that did not change is a few lookups. It
// returns a *RenderError wrapping [ErrRender] if kustomize fails (and
// [ErrRemoteResource] for a remote resource that is refused or cannot be
// fetched), an error wrapping [ErrNotExist] for an unknown revision, and a
// *RemoteError if the revision had to be fetched and the fetch failed.
// Deprecation warnings of kustomize go to the Repo's logger.
func (r *Repo) Render(ctx context.Context, revision, dir string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.resolve(ctx, revision)
	if err != nil {
		return nil, err
	}
	return r.renderAt(ctx, c.TreeHash, dir, c.Hash.String())
}

// RenderTree renders the kustomization in dir of the tree object tree,
// which must be in the cache (for example the tree of a commit returned
// by [Repo.Apply] with DryRun, which is never pushed). It does not fetch
// the repository. Errors are those of [Repo.Render].
func (r *Repo) RenderTree(ctx context.Context, tree plumbing.Hash, dir string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.open(); err != nil {
		return nil, err
	}
	if _, err := r.repo.TreeObject(tree); err != nil {
		return nil, fmt.Errorf("gitops: %s: tree %s: %w", r.redacted, tree, ErrNotExist)
	}
	return r.renderAt(ctx, tree, dir, tree.String())
}

// ReadFile returns the content of the file at path as it was at revision:
// "" or the branch name for the branch head, a commit hash (full or
// abbreviated), or a revision expression such as "HEAD~3" relative to the
// branch head. It returns an error wrapping [ErrNotExist] if the revision
// or the file does not exist, and [ErrPathEscape] for a refused path.
func (r *Repo) ReadFile(ctx context.Context, revision, path string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.resolve(ctx, revision)
	if err != nil {
		return nil, err
	}
	return NewTree(r.repo.Storer, c.TreeHash).ReadFile(path)
}
