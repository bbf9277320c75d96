package notify

import (
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// Option configures a long-lived component of this package ([NewWebhook],
// [NewSlack], [NewFanout]). Each constructor documents the options it
// honours; others are ignored.
type Option func(*options)

type options struct {
	client     *http.Client
	clock      clock.Clock
	logger     *slog.Logger
	retry      Retry
	timeout    time.Duration
	headers    http.Header
	registerer prometheus.Registerer
}

func buildOptions(opts []Option) options {
	o := options{
		client:  http.DefaultClient,
		clock:   clock.System(),
		logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		timeout: DefaultTimeout,
		headers: http.Header{},
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// DefaultTimeout bounds one delivery attempt when [WithTimeout] is not
// given.
const DefaultTimeout = 10 * time.Second

// WithHTTPClient sets the HTTP client of [NewWebhook] and [NewSlack]
// (proxies, TLS roots, transports). Its redirect policy is replaced:
// deliveries never follow redirects, so a signed body is never sent to a
// URL that was not configured. Default, and for nil: http.DefaultClient.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.client = c
		}
	}
}

// WithClock sets the clock that stamps events without a time and
// signatures, and times the waits between attempts ([NewWebhook],
// [NewSlack], [NewFanout]). Default, and for nil: the system clock.
//
// The per-attempt [WithTimeout] is a network deadline and stays on the
// wall clock, so a test clock that fires every timer at once
// (clocktest.NewAuto) does not cut requests short.
func WithClock(c clock.Clock) Option {
	return func(o *options) { o.clock = clock.Or(c) }
}

// WithLogger sets the logger ([NewWebhook], [NewSlack]: a debug line per
// failed attempt; [NewFanout]: a warning per failed or dropped
// notification). Log lines never carry a secret. Default, and for nil: a
// logger that discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithRetry sets how [NewWebhook] and [NewSlack] retry temporary
// failures. Default: the zero [Retry], whose fields document their
// defaults.
func WithRetry(r Retry) Option { return func(o *options) { o.retry = r } }

// WithTimeout bounds each delivery attempt of [NewWebhook] and
// [NewSlack]; an attempt that times out is retried. Default
// [DefaultTimeout]; zero or negative means no bound beyond the caller's
// context.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithHeader adds a header to every request of [NewWebhook] and
// [NewSlack], for example an Authorization token. Its value is treated as
// a secret: it never appears in an error or a log line.
func WithHeader(name, value string) Option {
	return func(o *options) { o.headers.Add(name, value) }
}

// WithRegisterer registers the fan-out's counter
// flightdeck_notifications_total{target,result} ([NewFanout]). Several
// fan-outs may share a registerer if their target names differ. Default,
// and for nil: no metrics.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(o *options) { o.registerer = r }
}

// Retry says how a notifier retries a delivery that failed for a
// temporary reason (a network error, a timeout, 408, 429, 5xx). The zero
// value is the default policy: 5 attempts, waits of about 1s, 2s, 4s, 8s.
type Retry struct {
	// Attempts is the maximum number of attempts, including the first.
	// Zero means 5; one means no retries.
	Attempts int
	// Backoff is the wait before the second attempt. Zero means 1s.
	Backoff time.Duration
	// Multiplier grows the wait after each failed attempt. Zero means 2;
	// values below 1 are treated as 1.
	Multiplier float64
	// MaxBackoff caps the wait. Zero means 1m. A Retry-After longer than
	// MaxBackoff ends the retries (the receiver asked for more patience
	// than the notifier has).
	MaxBackoff time.Duration
	// Jitter is the random fraction taken off each wait, so that many
	// notifiers do not retry in step: a wait d becomes a uniform draw from
	// [(1-Jitter)·d, d]. Zero means 0.2; a negative value means no jitter.
	// A Retry-After from the receiver is honoured exactly.
	Jitter float64
}

func (r Retry) attempts() int {
	if r.Attempts <= 0 {
		return 5
	}
	return r.Attempts
}

func (r Retry) maxBackoff() time.Duration {
	if r.MaxBackoff <= 0 {
		return time.Minute
	}
	return r.MaxBackoff
}

// delay returns the wait after failed attempt n (1-based).
func (r Retry) delay(n int) time.Duration {
	d := r.Backoff
	if d <= 0 {
		d = time.Second
	}
	m := r.Multiplier
	if m == 0 {
		m = 2
	} else if m < 1 {
		m = 1
	}
	limit := r.maxBackoff()
	f := float64(d)
	for i := 1; i < n && f < float64(limit); i++ {
		f *= m
	}
	if f > float64(limit) {
		f = float64(limit)
	}
	j := r.Jitter
	switch {
	case j == 0:
		j = 0.2
	case j < 0:
		j = 0
	case j > 1:
		j = 1
	}
	return time.Duration(f * (1 - j*rand.Float64()))
}
