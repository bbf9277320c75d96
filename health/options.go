package health

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Option configures a long-lived component of this package
// ([NewPrometheusQuery], [NewScrape], [NewHTTPProbe], [NewRunner]). Each
// constructor documents the options it honours; others are ignored.
type Option func(*options)

type options struct {
	now         func() time.Time
	logger      *slog.Logger
	timeout     time.Duration
	client      *http.Client
	multiSeries bool
	registerer  prometheus.Registerer
	after       func(time.Duration) <-chan time.Time
}

func buildOptions(defaultTimeout time.Duration, opts []Option) options {
	o := options{
		now:     time.Now,
		logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		timeout: defaultTimeout,
		client:  http.DefaultClient,
		after:   time.After,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithClock sets the clock used to stamp measurements and pick query
// times. Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithAfter sets the timer the [Runner] waits on between measurements, so
// tests can drive a run with a fake clock. Default: time.After.
func WithAfter(after func(time.Duration) <-chan time.Time) Option {
	return func(o *options) {
		if after != nil {
			o.after = after
		}
	}
}

// WithLogger sets the logger. Default: a logger that discards everything.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithTimeout bounds each single measurement (one HTTP request, one query,
// one scrape). Each constructor documents its default; zero or negative
// means no bound beyond the caller's context.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithHTTPClient sets the HTTP client used for requests. Default:
// http.DefaultClient.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.client = c
		}
	}
}

// WithMultiSeries lets a [PrometheusQuery] accept a vector with more than
// one series: Values then holds every series and Value is the largest
// (the worst for error rates and latencies). Default: more than one series
// is an Error measurement wrapping [ErrMultipleSeries].
func WithMultiSeries() Option {
	return func(o *options) { o.multiSeries = true }
}

// WithRegisterer registers the component's Prometheus metrics with r.
// Default: nil, metrics are not registered.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(o *options) { o.registerer = r }
}
