package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/flightdeck-dev/flightdeck/clock"
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
// A Repo is safe for concurrent use. Changes applied concurrently through
// one Repo are pushed together, each as its own commit ([Repo.Apply]).
// Several Repos, in one process or many, may share a cache directory: a
// lock file in it serialises their fetches and pushes, and each notices
// what the others wrote. Writers with their own caches coordinate through
// the remote, where a lost race is detected and replayed.
type Repo struct {
	url      string // as given; may hold credentials, which are never stored
	remote   string // url without credentials: what the cache's config holds and the transport dials
	redacted string
	auth     transport.AuthMethod // WithAuth, or the credentials of the URL
	o        options
	secrets  []string
	m        *metrics
	renders  renderCache
	q        queue

	// op is the right to write the cache (fetch, build, push, flush),
	// held by one operation at a time and taken without holding mu; the
	// cache lock extends it to other Repos and processes. mu guards the
	// fields below; an operation may release it for a while (renders fetch
	// remote resources without it) but keeps op.
	op   chan struct{}
	mu   sync.Mutex
	repo *git.Repository
	st   *overlayStorage
	lock *cacheLock
	// head is the branch head as this Repo last fetched or pushed it
	// (valid when headKnown); it may be ahead of the cache's ref, which
	// moves when the objects of pushed commits are written to disk.
	head      plumbing.Hash
	headKnown bool
	// disk is what this Repo last read from or wrote to the cache (the
	// remote-tracking ref and the pack names), to notice other writers.
	diskHead  plumbing.Hash
	diskPacks string
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
	clock       clock.Clock

	remoteResources bool
}

// Option configures a [Repo].
type Option func(*options)

// WithAuth sets the transport credentials: *http.BasicAuth,
// *http.TokenAuth, or an SSH method from go-git's ssh package. Default:
// the credentials in the URL's user info, if any (for http(s), a user
// without a password is sent as a token, "https://TOKEN@host/..."),
// else none; for ssh URLs without them, the SSH agent. WithAuth takes
// precedence over credentials in the URL. Credentials are only ever held
// in memory: the cache stores the URL without them.
func WithAuth(a transport.AuthMethod) Option { return func(o *options) { o.auth = a } }

// WithCacheDir sets the directory of the local bare clone. It is created
// if missing (mode 0700, its files 0600) and reused across runs; Repos
// and processes may share it. Default: a directory named after a hash of
// the URL without credentials under os.UserCacheDir()/flightdeck/gitops
// (or os.TempDir() when there is no user cache directory).
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

// WithClock sets the clock that stamps commits and times the waits
// between push attempts and for the cache lock. Default nil: the system
// clock.
func WithClock(c clock.Clock) Option { return func(o *options) { o.clock = c } }

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
// the network or the cache; the first operation clones into the cache.
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
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.clock = clock.Or(o.clock)
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
	remote, urlAuth := splitCredentials(url)
	if o.cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			base = os.TempDir()
		}
		sum := sha256.Sum256([]byte(remote))
		o.cacheDir = filepath.Join(base, "flightdeck", "gitops", hex.EncodeToString(sum[:8]))
	}
	r := &Repo{url: url, remote: remote, redacted: redacted, o: o, m: newMetrics(o.reg), auth: o.auth, op: make(chan struct{}, 1)}
	if r.auth == nil {
		r.auth = urlAuth
	}
	r.secrets = secretsOf(url, o.auth)
	r.o.logger = o.logger.With("repo", redacted)
	return r, nil
}

// splitCredentials returns url without the credentials of its user info,
// and those credentials as a go-git auth method (nil if there are none).
// For http(s) the whole user info goes (a user alone is a token); for ssh
// only the password, since the user is the login name.
func splitCredentials(url string) (string, transport.AuthMethod) {
	u, err := neturl.Parse(url)
	if err != nil || u.Scheme == "" || u.User == nil || strings.EqualFold(u.Scheme, "file") {
		return url, nil
	}
	user := u.User.Username()
	pw, hasPw := u.User.Password()
	switch {
	case isHTTP(u.Scheme):
		u.User = nil
		if user == "" && !hasPw {
			return u.String(), nil
		}
		return u.String(), &githttp.BasicAuth{Username: user, Password: pw}
	case !hasPw:
		return url, nil
	case strings.EqualFold(u.Scheme, "ssh"):
		u.User = neturl.User(user)
		return u.String(), &gitssh.Password{User: user, Password: pw}
	default:
		u.User = neturl.User(user)
		return u.String(), nil
	}
}

func secretsOf(url string, a transport.AuthMethod) []string {
	var s []string
	if u, err := neturl.Parse(url); err == nil && u.User != nil {
		// Both forms: as sent, and as written in the URL.
		raw := u.User.String()
		if pw, ok := u.User.Password(); ok {
			s = append(s, pw)
			if _, rawPw, _ := strings.Cut(raw, ":"); rawPw != pw {
				s = append(s, rawPw)
			}
		} else if isHTTP(u.Scheme) && u.User.Username() != "" {
			s = append(s, u.User.Username())
			if raw != u.User.Username() {
				s = append(s, raw)
			}
		}
	} else if ep, err := transport.NewEndpoint(url); err == nil && ep.Password != "" {
		s = append(s, ep.Password)
	}
	switch a := a.(type) {
	case *githttp.BasicAuth:
		if a.Password != "" {
			s = append(s, a.Password)
		} else {
			s = append(s, a.Username) // a token given as the user
		}
	case *githttp.TokenAuth:
		s = append(s, a.Token)
	case *gitssh.Password:
		s = append(s, a.Password)
	}
	return slices.DeleteFunc(s, func(x string) bool { return x == "" })
}

// URL returns the remote URL with any password or token redacted.
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

func (r *Repo) cacheErr(op string, err error) error {
	return &CacheError{Op: op, Dir: r.o.cacheDir, Err: err, secrets: r.secrets}
}

// transportErr reports an error of a fetch or push: a *CacheError if the
// cache's own files failed, a *RemoteError otherwise.
func (r *Repo) transportErr(ctx context.Context, op string, err error) error {
	var cw *cacheWriteError
	var pe *fs.PathError
	if errors.As(err, &cw) || errors.As(err, &pe) && strings.HasPrefix(filepath.Clean(pe.Path), filepath.Clean(r.o.cacheDir)) {
		return r.cacheErr(op, err)
	}
	return r.remoteErr(op, classify(ctx, err, r.auth != nil))
}

// maxOpenPacks bounds the pack files a Repo keeps open: go-git would
// otherwise open (and resolve the path of) a pack for every object read.
const maxOpenPacks = 64

func (r *Repo) newStorage() *overlayStorage {
	fs := filesystem.NewStorageWithOptions(newPrivateFS(r.o.cacheDir), cache.NewObjectLRUDefault(),
		filesystem.Options{MaxOpenDescriptors: maxOpenPacks})
	return newOverlayStorage(fs, r.o.cacheDir)
}

// open opens the cache for reading. It returns an error wrapping
// [ErrNotExist] if nothing was cloned into it yet. Callers hold r.mu.
func (r *Repo) open() error {
	if r.repo != nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(r.o.cacheDir, "config")); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("gitops: cache %s: %w: %w", r.o.cacheDir, errNotCloned, ErrNotExist)
	}
	st := r.newStorage()
	repo, err := git.Open(st, nil)
	if err != nil {
		return r.cacheErr("open", err)
	}
	r.repo, r.st = repo, st
	return nil
}

// takeOp waits for the right to write the cache. Callers do not hold r.mu.
func (r *Repo) takeOp(ctx context.Context) error {
	select {
	case r.op <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gitops: %s: waiting for another operation of this Repo: %w", r.redacted, ctx.Err())
	}
}

func (r *Repo) giveOp() { <-r.op }

// acquire takes the cache lock for a fetch or a push, creating and
// initialising the cache if needed, and catches up with what other Repos
// wrote to it since this one last held the lock. Callers hold the
// operation token and r.mu, and call release when done.
func (r *Repo) acquire(ctx context.Context) error {
	if r.lock == nil {
		l, err := openCacheLock(r.o.cacheDir)
		if err != nil {
			return r.cacheErr("lock", err)
		}
		r.lock = l
	}
	if err := r.lock.lock(ctx, r.o.clock); err != nil {
		return r.cacheErr("lock", err)
	}
	if err := r.sync(ctx); err != nil {
		_ = r.lock.unlock()
		return err
	}
	return nil
}

func (r *Repo) release() {
	r.diskPacks = r.packNames()
	_ = r.lock.unlock()
}

// sync opens (or creates) the cache under the lock and notices other
// writers: new packs, a moved ref. A ref whose commit the cache lacks (a
// cache damaged by hand or by a crash) is dropped so that the next fetch
// brings the history again.
func (r *Repo) sync(ctx context.Context) error {
	if r.repo == nil {
		if err := r.open(); errors.Is(err, errNotCloned) {
			if err := r.initCache(); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if err := r.cleanConfig(); err != nil {
			return err
		}
	}
	if packs := r.packNames(); packs != r.diskPacks {
		r.st.Reindex()
		r.diskPacks = packs
	}
	var disk plumbing.Hash
	ref, err := r.repo.Storer.Reference(r.remoteRef())
	switch {
	case err == nil:
		disk = ref.Hash()
	case errors.Is(err, plumbing.ErrReferenceNotFound):
	default:
		return r.cacheErr("open", err)
	}
	if !disk.IsZero() {
		if _, err := r.repo.CommitObject(disk); err != nil {
			r.o.logger.WarnContext(ctx, "cache lacks the commit its ref names; fetching the history again",
				"cache", r.o.cacheDir, "ref", r.remoteRef().String(), "commit", disk.String(), "err", err)
			if err := r.repo.Storer.RemoveReference(r.remoteRef()); err != nil {
				return r.cacheErr("open", err)
			}
			r.st.forget()
			r.st.Reindex()
			disk, r.head, r.headKnown = plumbing.ZeroHash, plumbing.ZeroHash, false
		}
	}
	if disk != r.diskHead {
		// Another Repo fetched or wrote the cache since: what it saw is
		// no older than what this one knows.
		r.head, r.headKnown, r.diskHead = disk, !disk.IsZero(), disk
	}
	return nil
}

func (r *Repo) initCache() error {
	st := r.newStorage()
	repo, err := git.Init(st, nil)
	if err == nil {
		_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.remote}})
	}
	if err != nil {
		return r.cacheErr("init", err)
	}
	r.repo, r.st = repo, st
	return nil
}

// cleanConfig makes the cache's config hold the URL without credentials
// (caches made by earlier versions stored the URL as given).
func (r *Repo) cleanConfig() error {
	cfg, err := r.repo.Config()
	if err != nil {
		return r.cacheErr("open", err)
	}
	rc := cfg.Remotes["origin"]
	if rc != nil && len(rc.URLs) == 1 && rc.URLs[0] == r.remote {
		return nil
	}
	if rc == nil {
		rc = &config.RemoteConfig{Name: "origin"}
		cfg.Remotes["origin"] = rc
	}
	rc.URLs = []string{r.remote}
	if err := r.repo.Storer.SetConfig(cfg); err != nil {
		return r.cacheErr("write", err)
	}
	return nil
}

// packNames lists the cache's packs, to notice packs other writers added.
func (r *Repo) packNames() string {
	es, _ := os.ReadDir(filepath.Join(r.o.cacheDir, "objects", "pack"))
	var b strings.Builder
	for _, e := range es {
		if strings.HasSuffix(e.Name(), ".pack") {
			b.WriteString(e.Name())
		}
	}
	return b.String()
}

// Fetch brings the cache up to date with the remote branch and returns
// its head; the zero hash means the remote has no such branch yet. It
// returns a *RemoteError wrapping [ErrAuth], [ErrRemote] or the context's
// error, or a *CacheError ([ErrCache]) if the cache cannot be used.
func (r *Repo) Fetch(ctx context.Context) (plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.fetch(ctx)
}

// fetch is Fetch for callers that hold r.mu, which it releases while it
// waits for another operation of the Repo to end.
func (r *Repo) fetch(ctx context.Context) (plumbing.Hash, error) {
	return r.fetchFor(ctx, true)
}

// fetchFor is fetch; with toDisk false the objects the fetch brought may
// stay in memory with the pushed ones, to reach the cache with them in
// one pack once they pass keep's thresholds (or at Close), and the
// cache's ref stays where the cache's objects lead. That serves reads of
// the head or of a commit by hash, which take the head this Repo knows;
// a read that resolves a revision against the cache's ref ("HEAD~2", a
// tag) needs toDisk. Without it every read of a new commit would write a
// pack of a few objects, and every new pack makes go-git read the indexes
// of all packs again: reads would slow down with the cache's age.
func (r *Repo) fetchFor(ctx context.Context, toDisk bool) (plumbing.Hash, error) {
	if err := ctx.Err(); err != nil {
		return plumbing.ZeroHash, r.remoteErr("fetch", err)
	}
	r.mu.Unlock()
	err := r.takeOp(ctx)
	r.mu.Lock()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer r.giveOp()
	if err := r.acquire(ctx); err != nil {
		return plumbing.ZeroHash, err
	}
	defer r.release()
	head, err := r.fetchHeld(ctx)
	if err != nil {
		return head, err
	}
	if !toDisk && !r.st.full() {
		return head, nil
	}
	// Reads resolve revisions against the cache's ref ("HEAD~2"): write
	// what is held in memory so that the ref is the head.
	return head, r.flushHeld()
}

// fetchHeld fetches the branch; callers hold the cache lock. It speaks
// upload-pack itself rather than through go-git's Fetch so that it can
// offer the head this Repo knows (perhaps a commit it pushed, still in
// memory) and keep a small pack in memory; the cache's ref moves only
// when the objects it names are on disk ([Repo.flushHeld]).
func (r *Repo) fetchHeld(ctx context.Context) (plumbing.Hash, error) {
	start := r.o.clock.Now()
	ep, err := transport.NewEndpoint(r.remote)
	if err != nil {
		return plumbing.ZeroHash, r.remoteErr("fetch", err)
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return plumbing.ZeroHash, r.remoteErr("fetch", err)
	}
	sess, err := cl.NewUploadPackSession(ep, r.auth)
	if err != nil {
		return plumbing.ZeroHash, r.transportErr(ctx, "fetch", err)
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		r.o.logger.DebugContext(ctx, "remote repository is empty", "branch", r.o.branch)
		r.head, r.headKnown = plumbing.ZeroHash, true
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, r.transportErr(ctx, "fetch", err)
	}
	var want plumbing.Hash
	if refs, err := ar.AllReferences(); err == nil {
		if ref, err := refs.Reference(plumbing.NewBranchReferenceName(r.o.branch)); err == nil {
			want = ref.Hash()
		}
	}
	if want.IsZero() {
		r.o.logger.DebugContext(ctx, "remote branch does not exist yet", "branch", r.o.branch)
		r.head, r.headKnown = plumbing.ZeroHash, true
		return plumbing.ZeroHash, nil
	}
	if r.st.HasEncodedObject(want) != nil {
		req := packp.NewUploadPackRequestFromCapabilities(ar.Capabilities)
		req.Wants = []plumbing.Hash{want}
		for _, h := range []plumbing.Hash{r.head, r.diskHead} {
			if !h.IsZero() && !slices.Contains(req.Haves, h) && r.st.HasEncodedObject(h) == nil {
				req.Haves = append(req.Haves, h)
			}
		}
		if ar.Capabilities.Supports(capability.NoProgress) {
			_ = req.Capabilities.Set(capability.NoProgress)
		}
		resp, err := sess.UploadPack(ctx, req)
		if err != nil {
			return plumbing.ZeroHash, r.transportErr(ctx, "fetch", err)
		}
		var pack io.Reader = resp
		switch {
		case req.Capabilities.Supports(capability.Sideband64k):
			pack = sideband.NewDemuxer(sideband.Sideband64k, resp)
		case req.Capabilities.Supports(capability.Sideband):
			pack = sideband.NewDemuxer(sideband.Sideband, resp)
		}
		err = indexPack(r.st, pack, true)
		if cerr := resp.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return plumbing.ZeroHash, r.transportErr(ctx, "fetch", err)
		}
		if _, err := r.repo.CommitObject(want); err != nil {
			return plumbing.ZeroHash, r.remoteErr("fetch", classify(ctx, fmt.Errorf("the pack lacks the branch head %s: %w", want, err), r.auth != nil))
		}
	}
	r.head, r.headKnown = want, true
	if r.st.keptCount() == 0 {
		// Everything is on disk: the ref may say so at once.
		if err := r.flushHeld(); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	r.o.logger.DebugContext(ctx, "fetched", "head", want.String(), "took", r.o.clock.Now().Sub(start))
	return want, nil
}

// flushHeld writes the objects of pushed commits kept in memory to the
// cache, and moves the cache's ref to the head they lead to. Callers hold
// the cache lock.
func (r *Repo) flushHeld() error {
	if err := r.st.flush(); err != nil {
		return r.cacheErr("write", err)
	}
	if r.headKnown && !r.head.IsZero() && r.head != r.diskHead {
		if err := r.repo.Storer.SetReference(plumbing.NewHashReference(r.remoteRef(), r.head)); err != nil {
			return r.cacheErr("write", err)
		}
		r.diskHead = r.head
	}
	return nil
}

// closeWait bounds how long Close waits for the cache.
const closeWait = 10 * time.Second

// Close writes to the cache what the Repo holds only in memory (the
// objects of the commits it pushed, which it writes in batches) and
// closes the cache's files. A Repo that is not closed loses nothing the
// remote does not have; the next Repo on the cache fetches those commits
// again. A closed Repo may still be used: it opens the cache again.
// Close returns a *CacheError ([ErrCache]) if it could not write.
func (r *Repo) Close() error {
	// Bounded: another holder of the lock may be in a long fetch.
	ctx, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	if err := r.takeOp(ctx); err != nil {
		return err
	}
	defer r.giveOp()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repo == nil {
		return r.closeLock()
	}
	var err error
	if r.st.keptCount() > 0 {
		if err = r.acquire(ctx); err == nil {
			err = r.flushHeld()
			r.release()
		}
	}
	r.st.forget()
	_ = r.st.Close()
	r.repo, r.st = nil, nil
	r.diskHead, r.diskPacks = plumbing.ZeroHash, ""
	if cerr := r.closeLock(); err == nil {
		err = cerr
	}
	return err
}

func (r *Repo) closeLock() error {
	if r.lock == nil {
		return nil
	}
	err := r.lock.close()
	r.lock = nil
	if err != nil {
		return r.cacheErr("close", err)
	}
	return nil
}

// resolve returns the commit a revision names: "" is the branch head
// (fetched), a full hash known to the cache is used without fetching,
// anything else is fetched and resolved as a revision (branch, short
// hash, "HEAD~2" on the branch). Callers hold r.mu.
func (r *Repo) resolve(ctx context.Context, revision string) (*object.Commit, error) {
	if err := r.open(); err != nil && !errors.Is(err, errNotCloned) {
		return nil, err
	}
	if plumbing.IsHash(revision) && r.repo != nil {
		if c, err := r.repo.CommitObject(plumbing.NewHash(revision)); err == nil {
			return c, nil
		}
	}
	// The head and commits by hash are read from what the Repo holds;
	// other revisions are resolved against the cache's ref.
	byHead := revision == "" || revision == r.o.branch || revision == "HEAD"
	head, err := r.fetchFor(ctx, !byHead && !plumbing.IsHash(revision))
	if err != nil {
		return nil, err
	}
	var h plumbing.Hash
	switch {
	case byHead:
		h = head
		if h.IsZero() {
			return nil, fmt.Errorf("gitops: %s: branch %s: %w", r.redacted, r.o.branch, ErrNotExist)
		}
	case plumbing.IsHash(revision):
		h = plumbing.NewHash(revision)
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
