package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock"
)

// Pusher pushes a built image to a registry.
type Pusher interface {
	// Push uploads img to ref (a repository, "repo:tag" or "repo@digest")
	// and returns the pushed digest reference.
	Push(ctx context.Context, ref string, img v1.Image) (Result, error)
}

// PusherFunc adapts a function to [Pusher].
type PusherFunc func(ctx context.Context, ref string, img v1.Image) (Result, error)

// Push calls f.
func (f PusherFunc) Push(ctx context.Context, ref string, img v1.Image) (Result, error) {
	return f(ctx, ref, img)
}

// Copier copies an image or index between repositories or registries by
// digest; promotion uses it.
type Copier interface {
	// Copy copies src to dst and returns the digest reference in dst.
	Copy(ctx context.Context, src, dst string) (Result, error)
}

// CopierFunc adapts a function to [Copier].
type CopierFunc func(ctx context.Context, src, dst string) (Result, error)

// Copy calls f.
func (f CopierFunc) Copy(ctx context.Context, src, dst string) (Result, error) {
	return f(ctx, src, dst)
}

// Result is the outcome of a push or copy.
type Result struct {
	// Digest is the pushed manifest pinned by digest in the destination
	// repository, for example "registry.example.com/app@sha256:…".
	Digest name.Digest
	// Tag is the tag that was set, or "" for a push by digest only.
	Tag string
	// Skipped is true when the registry already had the manifest (and the
	// tag already pointed at it), so nothing was uploaded.
	Skipped bool
}

// Release returns a [flightdeck.Release] for app pinned to the result's
// digest; source and revision are the build's provenance.
func (r Result) Release(app, source, revision string) flightdeck.Release {
	return flightdeck.Release{
		App:        app,
		Image:      r.Digest.Context().Name(),
		Digest:     r.Digest.DigestStr(),
		Tag:        r.Tag,
		SourceRepo: source,
		Revision:   revision,
	}
}

// Backoff controls retries of registry operations that failed with a
// temporary error (HTTP 408, 429, 5xx, or a network error). A cancelled or
// expired context is never retried.
type Backoff struct {
	// Attempts is the total number of tries, at least 1.
	Attempts int
	// Initial is the wait before the second try; it doubles each time.
	Initial time.Duration
	// Max caps a single wait.
	Max time.Duration
}

// Client builds, pushes and copies images. It is safe for concurrent use.
type Client struct {
	keychain  authn.Keychain
	transport http.RoundTripper
	log       *slog.Logger
	backoff   Backoff
	jobs      int
	clock     clock.Clock
}

var (
	_ Pusher = (*Client)(nil)
	_ Copier = (*Client)(nil)
)

// Option configures a [Client].
type Option func(*Client)

// WithKeychain sets the credentials source. Default
// authn.DefaultKeychain (Docker config, credential helpers).
func WithKeychain(k authn.Keychain) Option { return func(c *Client) { c.keychain = k } }

// WithTransport sets the HTTP transport. Default remote.DefaultTransport.
func WithTransport(t http.RoundTripper) Option { return func(c *Client) { c.transport = t } }

// WithLogger sets the logger. Default discards.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithRetry sets the retry policy. Default 3 attempts, waiting 500ms then
// 1s, at most 5s a wait.
func WithRetry(b Backoff) Option { return func(c *Client) { c.backoff = b } }

// WithClock sets the clock that waits between retries. Default (and nil):
// the system clock.
func WithClock(c clock.Clock) Option { return func(cl *Client) { cl.clock = c } }

// WithJobs sets how many blobs are uploaded concurrently. Default 4.
func WithJobs(n int) Option { return func(c *Client) { c.jobs = n } }

// New returns a client. See the options for defaults.
func New(opts ...Option) *Client {
	c := &Client{
		keychain:  authn.DefaultKeychain,
		transport: remote.DefaultTransport,
		log:       slog.New(slog.DiscardHandler),
		backoff:   Backoff{Attempts: 3, Initial: 500 * time.Millisecond, Max: 5 * time.Second},
		jobs:      4,
	}
	for _, o := range opts {
		o(c)
	}
	if c.backoff.Attempts < 1 {
		c.backoff.Attempts = 1
	}
	if c.jobs < 1 {
		c.jobs = 1
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.clock = clock.Or(c.clock)
	return c
}

func never(error) bool { return false }

// remoteOptions disables go-containerregistry's own retries (they sleep
// without watching the context); Client.retry does it instead.
func (c *Client) remoteOptions(ctx context.Context, extra ...remote.Option) []remote.Option {
	return append([]remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(c.transport),
		remote.WithRetryPredicate(never),
		remote.WithRetryStatusCodes(),
		remote.WithJobs(c.jobs),
		remote.WithUserAgent("flightdeck"),
	}, extra...)
}

// retry runs f until it succeeds, fails permanently, the attempts are used
// up, or ctx ends. Errors are wrapped in a *RegistryError.
func (c *Client) retry(ctx context.Context, op, ref string, f func(context.Context) error) error {
	wait := c.backoff.Initial
	var err error
	for attempt := 1; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			if err == nil {
				err = cerr
			}
			return &RegistryError{Op: op, Ref: ref, Err: errors.Join(err, cerr)}
		}
		err = f(ctx)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = errors.Join(err, cerr)
		}
		if attempt >= c.backoff.Attempts || !temporary(ctx, err) {
			return &RegistryError{Op: op, Ref: ref, Err: err}
		}
		c.log.WarnContext(ctx, "registry operation failed, retrying", "op", op, "ref", ref, "attempt", attempt, "err", err)
		if serr := clock.Sleep(ctx, c.clock, wait); serr != nil {
			return &RegistryError{Op: op, Ref: ref, Err: errors.Join(err, serr)}
		}
		wait *= 2
		if c.backoff.Max > 0 && wait > c.backoff.Max {
			wait = c.backoff.Max
		}
	}
}

func temporary(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
			http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF)
}

// target is a parsed push destination.
type target struct {
	repo   name.Repository
	tag    string // "" = push by digest only
	digest string // non-empty when the destination pins a digest
}

func parseTarget(ref string) (target, error) {
	if ref == "" {
		return target{}, fmt.Errorf("%w: empty reference", ErrInvalidReference)
	}
	if repo, err := name.NewRepository(ref); err == nil {
		return target{repo: repo}, nil
	}
	if d, err := name.NewDigest(ref); err == nil {
		t := target{repo: d.Context(), digest: d.DigestStr()}
		if hasExplicitTag(ref) {
			tag, err := name.NewTag(ref[:strings.LastIndex(ref, "@")])
			if err != nil {
				return target{}, fmt.Errorf("%w: %q: %v", ErrInvalidReference, ref, err)
			}
			t.tag = tag.TagStr()
		}
		return t, nil
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return target{}, fmt.Errorf("%w: %q: %v", ErrInvalidReference, ref, err)
	}
	return target{repo: tag.Context(), tag: tag.TagStr()}, nil
}

func hasExplicitTag(ref string) bool {
	base, _, _ := strings.Cut(ref, "@")
	slash := strings.LastIndex(base, "/")
	return strings.LastIndex(base, ":") > slash
}

// Push uploads img to ref. ref is a repository (push by digest only),
// "repo:tag", or "repo@sha256:…" (which must equal the image's digest).
// When the registry already holds the manifest under ref, nothing is
// uploaded and Result.Skipped is true; blobs the registry already has are
// never uploaded again.
//
// Errors wrap [ErrInvalidReference] for a bad ref, [ErrDigestMismatch]
// when ref pins another digest, and are a [*RegistryError] when the
// registry fails (after retries) or ctx ends.
func (c *Client) Push(ctx context.Context, ref string, img v1.Image) (Result, error) {
	return c.push(ctx, ref, img)
}

// PushIndex is [Client.Push] for a multi-platform index; the index's
// images are uploaded first.
func (c *Client) PushIndex(ctx context.Context, ref string, idx v1.ImageIndex) (Result, error) {
	return c.push(ctx, ref, idx)
}

type taggable interface {
	remote.Taggable
	Digest() (v1.Hash, error)
}

func (c *Client) push(ctx context.Context, ref string, t taggable) (Result, error) {
	dst, err := parseTarget(ref)
	if err != nil {
		return Result{}, err
	}
	h, err := t.Digest()
	if err != nil {
		return Result{}, fmt.Errorf("push %s: digest: %w", ref, err)
	}
	if dst.digest != "" && dst.digest != h.String() {
		return Result{}, fmt.Errorf("%w: push %s: image digest is %s", ErrDigestMismatch, ref, h)
	}
	res := Result{Digest: dst.repo.Digest(h.String()), Tag: dst.tag}
	var to name.Reference = res.Digest
	if dst.tag != "" {
		to = dst.repo.Tag(dst.tag)
	}
	skip, err := c.exists(ctx, to, h)
	if err != nil {
		return Result{}, err
	}
	if skip {
		c.log.InfoContext(ctx, "image already present, upload skipped", "ref", to.String(), "digest", h.String())
		res.Skipped = true
		return res, nil
	}
	err = c.retry(ctx, "push", to.String(), func(ctx context.Context) error {
		switch v := t.(type) {
		case v1.ImageIndex:
			return remote.WriteIndex(to, v, c.remoteOptions(ctx)...)
		case v1.Image:
			return remote.Write(to, v, c.remoteOptions(ctx)...)
		default:
			return remote.Put(to, v, c.remoteOptions(ctx)...)
		}
	})
	if err != nil {
		return Result{}, err
	}
	c.log.InfoContext(ctx, "image pushed", "ref", to.String(), "digest", h.String())
	return res, nil
}

// exists reports whether ref resolves to digest h in the registry.
func (c *Client) exists(ctx context.Context, ref name.Reference, h v1.Hash) (bool, error) {
	var found bool
	err := c.retry(ctx, "check", ref.String(), func(ctx context.Context) error {
		d, err := remote.Head(ref, c.remoteOptions(ctx)...)
		if err != nil {
			if notFound(err) {
				found = false
				return nil
			}
			return err
		}
		found = d.Digest == h
		return nil
	})
	return found, err
}

func notFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// Copy copies the image or index src (a tag or digest reference) to dst
// (a repository for a copy by digest only, or "repo:tag"), keeping its
// digest; blobs are mounted or uploaded as needed. When dst already holds
// the digest, nothing is uploaded and Result.Skipped is true.
//
// Errors wrap [ErrInvalidReference] for a bad reference and [ErrNotFound]
// when src does not exist, and are a [*RegistryError] when a registry
// fails or ctx ends.
func (c *Client) Copy(ctx context.Context, src, dst string) (Result, error) {
	from, err := name.ParseReference(src)
	if err != nil || src == "" {
		return Result{}, fmt.Errorf("%w: copy source %q: %v", ErrInvalidReference, src, err)
	}
	var desc *remote.Descriptor
	err = c.retry(ctx, "resolve", from.String(), func(ctx context.Context) error {
		var err error
		desc, err = remote.Get(from, c.remoteOptions(ctx)...)
		return err
	})
	if err != nil {
		if notFound(err) {
			return Result{}, fmt.Errorf("%w: copy source %s: %w", ErrNotFound, from, err)
		}
		return Result{}, err
	}
	var t taggable
	if desc.MediaType.IsIndex() {
		t, err = desc.ImageIndex()
	} else {
		t, err = desc.Image()
	}
	if err != nil {
		return Result{}, fmt.Errorf("copy source %s: %w", from, err)
	}
	res, err := c.push(ctx, dst, t)
	if err != nil {
		return Result{}, fmt.Errorf("copy %s to %s: %w", from, dst, err)
	}
	return res, nil
}

// Resolve fetches the manifest ref names (a tag or digest reference) and
// returns it pinned by the digest of the bytes the registry served,
// computed here rather than taken from the registry's headers. When ref
// is a digest reference, the served manifest must hash to it.
//
// Errors wrap [ErrInvalidReference] for a bad reference, [ErrNotFound]
// when ref does not exist and [ErrDigestMismatch] when the served
// manifest does not hash to ref's digest, and are a [*RegistryError]
// when the registry fails or ctx ends.
func (c *Client) Resolve(ctx context.Context, ref string) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil || ref == "" {
		return name.Digest{}, fmt.Errorf("%w: %q: %v", ErrInvalidReference, ref, err)
	}
	var desc *remote.Descriptor
	err = c.retry(ctx, "resolve", r.String(), func(ctx context.Context) error {
		var err error
		desc, err = remote.Get(r, c.remoteOptions(ctx)...)
		return err
	})
	if err != nil {
		switch {
		case notFound(err):
			return name.Digest{}, fmt.Errorf("%w: %s: %w", ErrNotFound, r, err)
		case strings.Contains(err.Error(), "does not match requested digest"):
			// go-containerregistry checks a manifest fetched by digest
			// itself, and says so only in words.
			return name.Digest{}, fmt.Errorf("%w: %s: %w", ErrDigestMismatch, r, err)
		}
		return name.Digest{}, err
	}
	h, _, err := v1.SHA256(bytes.NewReader(desc.Manifest))
	if err != nil {
		return name.Digest{}, fmt.Errorf("resolve %s: %w", r, err)
	}
	if d, ok := r.(name.Digest); ok && d.DigestStr() != h.String() {
		return name.Digest{}, fmt.Errorf("%w: %s serves a manifest whose digest is %s", ErrDigestMismatch, r, h)
	}
	return r.Context().Digest(h.String()), nil
}
