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

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

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
	// DefaultMaxResponseBytes is the largest JSON body, and the longest
	// stream line, the client reads: 32 MiB, room for an application
	// with thousands of resources.
	DefaultMaxResponseBytes = 32 << 20
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
	maxBytes     int64
	clock        clock.Clock
}

// WithHTTPClient sends requests through hc's transport, cookie jar and
// timeout. Its CheckRedirect is not used: API calls never follow
// redirects. It cannot be combined with WithCACert or
// WithInsecureSkipVerify; configure hc's transport instead. The default
// is a client with its own transport and no overall timeout: contexts
// bound every call.
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

// WithMaxResponseBytes caps each JSON body and each line of the
// application stream at n bytes; past it the client stops reading and
// returns [ErrResponseTooLarge]. The default is [DefaultMaxResponseBytes];
// n <= 0 means the default.
func WithMaxResponseBytes(n int64) Option { return func(o *options) { o.maxBytes = n } }

// WithClock times the back-off between retries and the waits of
// [Client.Watch] on clk; the default (nil) is the system clock.
func WithClock(clk clock.Clock) Option { return func(o *options) { o.clock = clk } }

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
// "https://argocd.example.com") authenticating with the bearer token,
// which is sent to that server only: redirects are never followed. The
// URL must be http or https and carry no credentials. Invalid PEM in
// WithCACert, or WithHTTPClient combined with TLS options, is an error.
func New(server, token string, opts ...Option) (*Client, error) {
	o := options{retries: DefaultRetries, backoff: DefaultRetryBackoff, maxBackoff: DefaultMaxRetryBackoff, pollInterval: DefaultPollInterval, maxBytes: DefaultMaxResponseBytes}
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
	if o.maxBytes <= 0 {
		o.maxBytes = DefaultMaxResponseBytes
	}
	o.clock = clock.Or(o.clock)
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
	hc = &http.Client{Transport: hc.Transport, Jar: hc.Jar, Timeout: hc.Timeout, CheckRedirect: noRedirects}
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

// noRedirects makes the HTTP client hand a redirect back instead of
// following it: an API call answered by a redirect is an error (a
// followed POST turns into a GET of whatever page it points to), and the
// token must never reach another origin.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// do runs r with retries and decodes the 2xx answer, which must be JSON,
// into out (into a throwaway value if out is nil).
func (c *Client) do(ctx context.Context, r request, out any) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := c.readBody(ctx, r.op, resp)
	if err != nil {
		return err
	}
	if out == nil {
		out = &json.RawMessage{}
	}
	if !looksLikeJSON(data) {
		return opError(r.op, ErrBadResponse, fmt.Sprintf("HTTP %d answer is not JSON: %s", resp.StatusCode, c.scrub(summarize(resp.Header.Get("Content-Type"), data))))
	}
	if err := json.Unmarshal(data, out); err != nil {
		return opError(r.op, ErrBadResponse, err.Error(), err)
	}
	return nil
}

// looksLikeJSON reports whether data starts as a JSON object or array.
func looksLikeJSON(data []byte) bool {
	data = bytes.TrimSpace(data)
	return len(data) > 0 && (data[0] == '{' || data[0] == '[')
}

// readBody reads a 2xx body up to the size limit.
func (c *Client) readBody(ctx context.Context, op string, resp *http.Response) ([]byte, error) {
	limit := c.o.maxBytes
	if resp.ContentLength > limit {
		return nil, c.tooLarge(op)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	switch {
	case err != nil && ctx.Err() != nil:
		return nil, opError(op, nil, ctx.Err().Error(), ctx.Err())
	case err != nil:
		return nil, opError(op, nil, "read response: "+transportError(err).Error(), err)
	case int64(len(data)) > limit:
		return nil, c.tooLarge(op)
	}
	return data, nil
}

func (c *Client) tooLarge(op string) error {
	return opError(op, ErrResponseTooLarge, fmt.Sprintf("more than %d bytes; raise the limit with WithMaxResponseBytes", c.o.maxBytes))
}

// send runs r until it gets a 2xx answer, retrying 502/503/504, failed
// connections and timeouts with back-off. Any other answer is an
// [*APIError]; a server that could not be reached is [ErrUnavailable].
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	wait := c.o.backoff
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, opError(r.op, nil, err.Error(), err)
		}
		req, err := c.newRequest(ctx, r)
		if err != nil {
			return nil, err
		}
		start := c.o.clock.Now()
		resp, err := c.hc.Do(req)
		var retryable error
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, opError(r.op, nil, ctx.Err().Error(), ctx.Err())
		case err != nil:
			err = transportError(err)
			if !unreachable(err) {
				return nil, opError(r.op, nil, c.scrub(err.Error()), err)
			}
			retryable = opError(r.op, ErrUnavailable, c.scrub(err.Error()), err)
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			c.log.DebugContext(ctx, "argocd request", "op", r.op, "method", r.method, "path", r.path, "status", resp.StatusCode, "duration", c.o.clock.Now().Sub(start))
			return resp, nil
		default:
			apiErr := c.decodeError(r.op, resp)
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
		if err := clock.Sleep(ctx, c.o.clock, d); err != nil {
			return nil, opError(r.op, nil, fmt.Sprintf("%v while retrying; last attempt: %s", err, detailOf(r.op, retryable)), err, retryable)
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

// unreachable reports whether a transport error means the server could
// not be reached or did not answer in time: worth retrying, and
// [ErrUnavailable] once the retries are spent.
func unreachable(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errorBody is the gRPC-gateway error JSON of v1 ({"error", "code",
// "message"}) and v2 ({"code", "message"}), or the error chunk a stream
// that fails before its first message answers with ({"error": {…}}).
type errorBody struct {
	Error   json.RawMessage `json:"error"`
	Code    int             `json:"code"`
	Message string          `json:"message"`
}

// decode returns the gRPC code and message of b.
func (b errorBody) decode() (int, string) {
	var chunk streamErrMsg
	if looksLikeJSON(b.Error) && json.Unmarshal(b.Error, &chunk) == nil {
		code := chunk.GrpcCode
		if code == 0 {
			code = chunk.Code
		}
		return code, chunk.Message
	}
	msg := b.Message
	if msg == "" {
		_ = json.Unmarshal(b.Error, &msg)
	}
	return b.Code, msg
}

// maxErrorBody is how much of an error answer is read.
const maxErrorBody = 64 << 10

func (c *Client) decodeError(op string, resp *http.Response) *APIError {
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg := fmt.Sprintf("redirected to %s; redirects are not followed, check the server URL", redirectTarget(resp.Request, resp.Header.Get("Location")))
		return c.apiError(op, resp.StatusCode, 0, msg)
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var b errorBody
	if looksLikeJSON(data) && json.Unmarshal(data, &b) == nil {
		code, msg := b.decode()
		return c.apiError(op, resp.StatusCode, code, msg)
	}
	msg := ""
	if len(bytes.TrimSpace(data)) > 0 {
		msg = summarize(resp.Header.Get("Content-Type"), data) // a proxy's page
	}
	return c.apiError(op, resp.StatusCode, 0, msg)
}
