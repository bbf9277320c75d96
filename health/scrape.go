package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ErrExposition is wrapped by the Err of an [Error] measurement when a
// /metrics endpoint answers with text that is not valid Prometheus
// exposition format.
var ErrExposition = errors.New("malformed exposition text")

// ScrapeSpec selects what a [Scrape] measures. The value is the sum of
// every sample of Metric whose labels include Labels.
type ScrapeSpec struct {
	// Metric is the sample name. For histograms and summaries use the
	// family name with _count or _sum (for example
	// http_request_duration_seconds_count).
	Metric string
	// Labels every selected series must carry (exact match).
	Labels map[string]string
	// Rate, when true, makes the value the per-second increase since the
	// previous scrape (a counter reset counts the new value as the
	// increase, as Prometheus's rate does); the first scrape has no data.
	Rate bool
}

// Scrape reads a /metrics endpoint in the Prometheus text exposition
// format (with client_golang's common/expfmt) and measures one selected
// value or its rate between scrapes, for setups without a Prometheus
// server. Safe for concurrent use; rates are computed between consecutive
// Evaluate calls, which are serialised when Rate is set.
type Scrape struct {
	url  string
	raw  string
	spec ScrapeSpec
	o    options

	mu       sync.Mutex
	prev     float64
	prevTime time.Time
	havePrev bool
}

var _ Evaluator = (*Scrape)(nil)

// NewScrape returns a Scrape of rawURL. It honours [WithHTTPClient]
// (default http.DefaultClient), [WithTimeout] (default 10s per scrape),
// [WithClock] (rates use its times) and [WithLogger]. It fails when rawURL
// is not an absolute http(s) URL or spec.Metric is empty.
func NewScrape(rawURL string, spec ScrapeSpec, opts ...Option) (*Scrape, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("scrape %q: want an absolute http(s) URL", redact(rawURL))
	}
	if spec.Metric == "" {
		return nil, fmt.Errorf("scrape %s: no metric selected", displayURL(u))
	}
	return &Scrape{url: displayURL(u), raw: rawURL, spec: spec, o: buildOptions(10*time.Second, opts)}, nil
}

// Families scrapes the endpoint once and returns every metric family.
// Errors name the URL (without credentials); malformed text wraps
// [ErrExposition]; a non-2xx status is an error.
func (s *Scrape) Families(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	if s.o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.o.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.raw, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", s.url, err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := s.o.client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // the url.Error repeats the raw URL, credentials included
		}
		return nil, fmt.Errorf("scrape %s: %w", s.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, fmt.Errorf("scrape %s: HTTP status %d", s.url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("scrape %s: %w", s.url, ctx.Err())
		}
		return nil, fmt.Errorf("scrape %s: %w: %v", s.url, ErrExposition, err)
	}
	return fams, nil
}

// Select returns the sum of the samples named name whose labels include
// labels, and how many matched.
func Select(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, int) {
	family, suffix := name, ""
	if _, ok := fams[name]; !ok {
		for _, sfx := range []string{"_count", "_sum"} {
			if base := strings.TrimSuffix(name, sfx); base != name {
				if _, ok := fams[base]; ok {
					family, suffix = base, sfx
				}
			}
		}
	}
	mf, ok := fams[family]
	if !ok {
		return 0, 0
	}
	var sum float64
	n := 0
outer:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue outer
			}
		}
		var v float64
		switch {
		case m.Counter != nil && suffix == "":
			v = m.GetCounter().GetValue()
		case m.Gauge != nil && suffix == "":
			v = m.GetGauge().GetValue()
		case m.Untyped != nil && suffix == "":
			v = m.GetUntyped().GetValue()
		case m.Histogram != nil && suffix == "_count":
			v = float64(m.GetHistogram().GetSampleCount())
		case m.Histogram != nil && suffix == "_sum":
			v = m.GetHistogram().GetSampleSum()
		case m.Summary != nil && suffix == "_count":
			v = float64(m.GetSummary().GetSampleCount())
		case m.Summary != nil && suffix == "_sum":
			v = m.GetSummary().GetSampleSum()
		default:
			continue
		}
		sum += v
		n++
	}
	return sum, n
}

// Evaluate scrapes once. The value is the selected sum, or with Rate its
// per-second increase since the previous Evaluate. No matching series, a
// NaN, a first Rate scrape, or a rate from or to an infinite reading is
// Inconclusive (no data); an unreachable
// endpoint, a timeout, a non-2xx status or malformed text is an Error.
func (s *Scrape) Evaluate(ctx context.Context) Measurement {
	if s.spec.Rate {
		// Serialise rate scrapes, timestamp included, so that concurrent
		// calls compare readings in the order they were taken: an older
		// reading after a newer one would pass for a counter reset.
		s.mu.Lock()
		defer s.mu.Unlock()
	}
	t := s.o.clock.Now()
	if err := ctx.Err(); err != nil {
		return errorMeasurement(t, fmt.Errorf("scrape %s: %w", s.url, err))
	}
	fams, err := s.Families(ctx)
	if err != nil {
		s.o.logger.Debug("scrape failed", "url", s.url, "err", err)
		return errorMeasurement(t, err)
	}
	v, n := Select(fams, s.spec.Metric, s.spec.Labels)
	what := fmt.Sprintf("scrape %s %s%s", s.url, s.spec.Metric, labelString(s.spec.Labels))
	if n == 0 {
		return noData(t, what+": no matching series")
	}
	if math.IsNaN(v) {
		return noData(t, what+": NaN")
	}
	if !s.spec.Rate {
		return valueMeasurement(t, v, fmt.Sprintf("%s = %g (%d series)", what, v, n))
	}
	prev, prevTime, had := s.prev, s.prevTime, s.havePrev
	s.prev, s.prevTime, s.havePrev = v, t, true
	if !had {
		return noData(t, what+": first scrape, no rate yet")
	}
	if math.IsInf(v, 0) || math.IsInf(prev, 0) {
		return noData(t, fmt.Sprintf("%s: no rate between readings %g and %g", what, prev, v))
	}
	dt := t.Sub(prevTime).Seconds()
	if dt <= 0 {
		return noData(t, what+": no time between scrapes")
	}
	inc := v - prev
	if inc < 0 { // counter reset
		inc = v
	}
	rate := inc / dt
	return valueMeasurement(t, rate, fmt.Sprintf("rate of %s = %g/s over %gs", what, rate, dt))
}

func labelString(l map[string]string) string {
	if len(l) == 0 {
		return ""
	}
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, l[k])
	}
	return "{" + strings.Join(parts, ",") + "}"
}
