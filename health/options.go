package health

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// Option configures a long-lived component of this package
// ([NewPrometheusQuery], [NewScrape], [NewHTTPProbe], [NewRunner]). Each
// constructor documents the options it honours; others are ignored.
type Option func(*options)

type options struct {
	clock       clock.Clock
	logger      *slog.Logger
	timeout     time.Duration
	client      *http.Client
	multiSeries bool
	registerer  prometheus.Registerer
}

func buildOptions(defaultTimeout time.Duration, opts []Option) options {
	o := options{
		clock:   clock.System(),
		logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		timeout: defaultTimeout,
		client:  http.DefaultClient,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithClock sets the clock that stamps measurements, picks query times
// and times the waits of [Runner.Run] and [HTTPProbe.Run]; a test drives
// them with clocktest.Clock (clocktest.NewAuto makes every wait return at
// once). Default, and for nil: the system clock.
func WithClock(c clock.Clock) Option {
	return func(o *options) { o.clock = clock.Or(c) }
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
