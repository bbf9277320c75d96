package argocd

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Sentinel errors. Refusals by the server come as an [*APIError] that
// wraps one of them (when one applies) and keeps the server's message.
var (
	// ErrNotFound: the application (or API path) does not exist (gRPC
	// code 5, HTTP 404).
	ErrNotFound = errors.New("argocd: not found")
	// ErrUnauthenticated: the token is missing, invalid or expired (code
	// 16, HTTP 401).
	ErrUnauthenticated = errors.New("argocd: unauthenticated")
	// ErrPermissionDenied: the token's account may not do this (code 7,
	// HTTP 403). Argo CD also answers so for an application the account
	// may not see, whether or not it exists.
	ErrPermissionDenied = errors.New("argocd: permission denied")
	// ErrSyncWindow: a sync window of the project blocks syncs now (code
	// 7 with "blocked by sync window").
	ErrSyncWindow = errors.New("argocd: blocked by sync window")
	// ErrOperationInProgress: another operation is already running on the
	// application (code 9, "another operation is already in progress").
	ErrOperationInProgress = errors.New("argocd: another operation is already in progress")
	// ErrAutoSyncRevision: a sync to a revision other than the target
	// revision was asked while auto-sync is on (code 9, "auto-sync
	// currently set to").
	ErrAutoSyncRevision = errors.New("argocd: revision differs from the target revision while auto-sync is on")
	// ErrUnavailable: the server answered 502, 503 or 504 on every
	// attempt.
	ErrUnavailable = errors.New("argocd: server unavailable")
	// ErrBadResponse: the server's answer could not be decoded.
	ErrBadResponse = errors.New("argocd: malformed response")
)

// APIError is a refusal by the Argo CD API server, decoded from the
// gRPC-gateway error body {"error", "code", "message"} (Argo CD v2) or
// {"code", "message"} (v3).
type APIError struct {
	// Op says what was attempted, naming the application, such as
	// `sync app "shop"`.
	Op string
	// StatusCode is the HTTP status; Code the gRPC code (0 if absent).
	StatusCode int
	Code       int
	// Message is the server's message, verbatim.
	Message string
	// Err is the matching sentinel, or nil if none applies.
	Err error
}

// Error returns "argocd: <op>: <message> (HTTP <status>, code <code>)".
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.StatusCode)
	}
	return fmt.Sprintf("argocd: %s: %s (HTTP %d, code %d)", e.Op, msg, e.StatusCode, e.Code)
}

// Unwrap returns the sentinel, if any.
func (e *APIError) Unwrap() error { return e.Err }

// gRPC codes used by the mapping.
const (
	codeNotFound           = 5
	codePermissionDenied   = 7
	codeFailedPrecondition = 9
	codeUnauthenticated    = 16
)

// classify picks the sentinel for a refusal.
func classify(status, code int, msg string) error {
	lower := strings.ToLower(msg)
	switch {
	case code == codeNotFound || code == 0 && status == http.StatusNotFound:
		return ErrNotFound
	case code == codeUnauthenticated || code == 0 && status == http.StatusUnauthorized:
		return ErrUnauthenticated
	case (code == codePermissionDenied || code == 0 && status == http.StatusForbidden) && strings.Contains(lower, "sync window"):
		return ErrSyncWindow
	case code == codePermissionDenied || code == 0 && status == http.StatusForbidden:
		return ErrPermissionDenied
	case strings.Contains(lower, "another operation is already in progress"):
		return ErrOperationInProgress
	case strings.Contains(lower, "auto-sync currently set to"):
		return ErrAutoSyncRevision
	case status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return ErrUnavailable
	}
	return nil
}

// Defaults of [New].
const (
	// DefaultRetries is the number of retries after a 502/503/504 or a
	// failed connection.
	DefaultRetries = 3
	// DefaultRetryBackoff is the first wait between attempts; it doubles
	// up to DefaultMaxRetryBackoff, with up to 20% jitter.
	DefaultRetryBackoff    = 250 * time.Millisecond
	DefaultMaxRetryBackoff = 4 * time.Second
	// DefaultPollInterval is how often [Client.Watch] polls when the
	// stream is unavailable.
	DefaultPollInterval = 5 * time.Second
)

// Option configures a [Client].
type Option func(*options)

type options struct {
	httpClient   *http.Client
	caPEM        []byte
	insecure     bool
	logger       *slog.Logger
	retries      int
	backoff      time.Duration
	maxBackoff   time.Duration
	pollInterval time.Duration
	appNamespace string
}

// WithHTTPClient sends requests through hc. It cannot be combined with
// WithCACert or WithInsecureSkipVerify; configure hc's transport instead.
// The default is a client with its own transport and no overall timeout:
// contexts bound every call.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithCACert trusts the PEM-encoded CA certificates in pem, instead of the
// system roots, for the server's certificate.
func WithCACert(pem []byte) Option { return func(o *options) { o.caPEM = pem } }

// WithInsecureSkipVerify turns off verification of the server's
// certificate. Use only against test servers; the default verifies.
func WithInsecureSkipVerify() Option { return func(o *options) { o.insecure = true } }

// WithLogger logs requests and retries through l at debug and warn level
// (never the token); the default discards.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRetry sets the number of retries after a 502/503/504 response or a
// connection that could not be made, and the first and largest back-off.
// The defaults are [DefaultRetries], [DefaultRetryBackoff] and
// [DefaultMaxRetryBackoff]; retries 0 turns retrying off.
func WithRetry(retries int, backoff, maxBackoff time.Duration) Option {
	return func(o *options) { o.retries, o.backoff, o.maxBackoff = retries, backoff, maxBackoff }
}

// WithPollInterval sets how often [Client.Watch] polls when the stream
// cannot be used; the default is [DefaultPollInterval].
func WithPollInterval(d time.Duration) Option { return func(o *options) { o.pollInterval = d } }

// WithAppNamespace addresses applications in namespace ns ("apps in any
// namespace"); the default is the Argo CD control-plane namespace.
func WithAppNamespace(ns string) Option { return func(o *options) { o.appNamespace = ns } }

// Client talks to an Argo CD API server (v2 or v3) over its REST API and
// watch stream. It implements [gitops.Syncer] and [gitops.Refresher]; use
// [gitops.WaitFor] on it to wait for a sync's outcome. A Client is safe
// for concurrent use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	log   *slog.Logger
	o     options
}

var (
	_ gitops.Syncer    = (*Client)(nil)
	_ gitops.Refresher = (*Client)(nil)
)

// New returns a client of the API server at server (such as
// "https://argocd.example.com") authenticating with the bearer token. The
// URL must be http or https and carry no credentials. Invalid PEM in
// WithCACert, or WithHTTPClient combined with TLS options, is an error.
func New(server, token string, opts ...Option) (*Client, error) {
	o := options{retries: DefaultRetries, backoff: DefaultRetryBackoff, maxBackoff: DefaultMaxRetryBackoff, pollInterval: DefaultPollInterval}
	for _, opt := range opts {
		opt(&o)
	}
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("argocd: invalid server URL: %v", errors.Unwrap(err))
	}
	if u.User != nil {
		return nil, fmt.Errorf("argocd: server URL %s must not carry credentials; pass a token", u.Redacted())
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("argocd: server URL %q: want http(s)://host", server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if o.retries < 0 {
		o.retries = 0
	}
	if o.backoff <= 0 {
		o.backoff = DefaultRetryBackoff
	}
	if o.maxBackoff < o.backoff {
		o.maxBackoff = o.backoff
	}
	if o.pollInterval <= 0 {
		o.pollInterval = DefaultPollInterval
	}
	hc := o.httpClient
	if hc != nil && (o.caPEM != nil || o.insecure) {
		return nil, errors.New("argocd: WithHTTPClient cannot be combined with WithCACert or WithInsecureSkipVerify")
	}
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.insecure} //nolint:gosec // only when asked
		if o.caPEM != nil {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(o.caPEM) {
				return nil, errors.New("argocd: WithCACert: no certificate found in PEM data")
			}
			tr.TLSClientConfig.RootCAs = pool
		}
		hc = &http.Client{Transport: tr}
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{base: u, token: token, hc: hc, log: log, o: o}, nil
}

// request is one API call.
type request struct {
	op     string // for errors: `get app "shop"`
	method string
	path   string
	query  url.Values
	body   any
}

func (c *Client) url(path string, q url.Values) string {
	u := *c.base
	u.Path += path
	if c.o.appNamespace != "" {
		if q == nil {
			q = url.Values{}
		}
		q.Set("appNamespace", c.o.appNamespace)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("argocd: %s: encode request: %w", r.op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.url(r.path, r.query), body)
	if err != nil {
		return nil, fmt.Errorf("argocd: %s: %w", r.op, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// do runs r with retries and decodes a 200 answer into out (if non-nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("argocd: %s: %w", r.op, ctx.Err())
		}
		return fmt.Errorf("argocd: %s: read response: %w", r.op, err)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("argocd: %s: %w: %v", r.op, ErrBadResponse, err)
	}
	return nil
}

// send runs r until it gets a 2xx answer, retrying 502/503/504 and
// failed connections with back-off. Any other answer is an [*APIError].
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	wait := c.o.backoff
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("argocd: %s: %w", r.op, err)
		}
		req, err := c.newRequest(ctx, r)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		resp, err := c.hc.Do(req)
		var retryable error
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, fmt.Errorf("argocd: %s: %w", r.op, ctx.Err())
		case err != nil:
			err = transportError(err)
			if !isDialError(err) {
				return nil, fmt.Errorf("argocd: %s: %w", r.op, err)
			}
			retryable = fmt.Errorf("argocd: %s: %w", r.op, err)
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			c.log.DebugContext(ctx, "argocd request", "op", r.op, "method", r.method, "path", r.path, "status", resp.StatusCode, "duration", time.Since(start))
			return resp, nil
		default:
			apiErr := decodeError(r.op, resp)
			if !errors.Is(apiErr, ErrUnavailable) {
				return nil, apiErr
			}
			retryable = apiErr
		}
		if attempt >= c.o.retries {
			return nil, retryable
		}
		d := wait + time.Duration(rand.Int64N(int64(wait)/5+1))
		c.log.WarnContext(ctx, "argocd request failed, retrying", "op", r.op, "attempt", attempt+1, "wait", d, "error", retryable)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errors.Join(fmt.Errorf("argocd: %s: %w", r.op, ctx.Err()), retryable)
		case <-t.C:
		}
		wait = min(wait*2, c.o.maxBackoff)
	}
}

// transportError strips the URL from a *url.Error: it names the server,
// which the caller knows, and could carry query parameters.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// errorBody is the gRPC-gateway error JSON of v1 ({"error", "code",
// "message"}) and v2 ({"code", "message"}).
type errorBody struct {
	Error   string `json:"error"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func decodeError(op string, resp *http.Response) *APIError {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var b errorBody
	e := &APIError{Op: op, StatusCode: resp.StatusCode}
	if json.Unmarshal(data, &b) == nil {
		e.Code = b.Code
		e.Message = b.Message
		if e.Message == "" {
			e.Message = b.Error
		}
	} else if s := strings.TrimSpace(string(data)); s != "" && len(s) < 512 {
		e.Message = s // a proxy's plain-text page
	}
	e.Err = classify(e.StatusCode, e.Code, e.Message)
	return e
}
