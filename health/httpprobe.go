package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ErrProbeBody is wrapped when a probe's JSON health body cannot be read
// or lacks the expected field.
var ErrProbeBody = errors.New("unexpected health body")

// ProbeSpec configures an [HTTPProbe] with Kubernetes probe semantics.
// Zero values are Kubernetes' defaults.
type ProbeSpec struct {
	// InitialDelay before the first probe of [HTTPProbe.Run]; default 0.
	InitialDelay time.Duration
	// Period between probes of [HTTPProbe.Run]; default 10s.
	Period time.Duration
	// Timeout of one probe; default 1s.
	Timeout time.Duration
	// SuccessThreshold consecutive successes make the probe Successful;
	// default 1.
	SuccessThreshold int
	// FailureThreshold consecutive failures make the probe Failed;
	// default 3.
	FailureThreshold int
	// JSONField, when set, requires the body to be a JSON object whose
	// field at this dotted path (for example "status" or
	// "components.db.status") equals JSONValue, as in {"status":"UP"}.
	JSONField string
	// JSONValue is the value JSONField must have; default "UP".
	JSONValue string
	// Header is sent with every probe.
	Header http.Header
}

func (s ProbeSpec) withDefaults() ProbeSpec {
	if s.Period <= 0 {
		s.Period = 10 * time.Second
	}
	if s.Timeout <= 0 {
		s.Timeout = time.Second
	}
	if s.SuccessThreshold <= 0 {
		s.SuccessThreshold = 1
	}
	if s.FailureThreshold <= 0 {
		s.FailureThreshold = 3
	}
	if s.JSONField != "" && s.JSONValue == "" {
		s.JSONValue = "UP"
	}
	return s
}

// HTTPProbe probes an HTTP endpoint the way the kubelet does: a response
// with a status from 200 to 399 (and, when configured, the expected JSON
// health field) is a success; any other status, a transport error or a
// timeout is a failure. It keeps the consecutive counts between calls.
// Safe for concurrent use.
type HTTPProbe struct {
	url  string // redacted, for messages
	raw  string
	spec ProbeSpec
	o    options

	mu                  sync.Mutex
	successes, failures int
}

var _ Evaluator = (*HTTPProbe)(nil)

// NewHTTPProbe returns a probe of rawURL. It honours [WithHTTPClient]
// (default http.DefaultClient; redirects are followed as the client
// does), [WithClock] (stamps measurements and times Run's waits) and
// [WithLogger]; the per-probe timeout is spec.Timeout. It fails when
// rawURL is not an absolute http(s) URL.
func NewHTTPProbe(rawURL string, spec ProbeSpec, opts ...Option) (*HTTPProbe, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("http probe %q: want an absolute http(s) URL", redact(rawURL))
	}
	return &HTTPProbe{url: displayURL(u), raw: rawURL, spec: spec.withDefaults(), o: buildOptions(0, opts)}, nil
}

// attempt runs one probe and reports success, the status code (0 without a
// response), and why it failed.
func (p *HTTPProbe) attempt(ctx context.Context) (ok bool, code int, why error) {
	ctx, cancel := context.WithTimeout(ctx, p.spec.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.raw, nil)
	if err != nil {
		return false, 0, err
	}
	for k, vs := range p.spec.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("User-Agent", "flightdeck-probe/1")
	resp, err := p.o.client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) && !strings.Contains(ue.Err.Error(), p.raw) {
			// The url.Error quotes the URL with its user name; keep its
			// cause (so errors.Is sees a timeout) and name the URL without
			// credentials in Evaluate.
			err = ue.Err
		}
		return false, 0, err
	}
	defer resp.Body.Close()
	// The kubelet reads at most 10 KiB of a probe body.
	body, err := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
	if err != nil {
		return false, resp.StatusCode, fmt.Errorf("reading body: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		return false, resp.StatusCode, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	if p.spec.JSONField != "" {
		if err := checkJSONField(body, p.spec.JSONField, p.spec.JSONValue); err != nil {
			return false, resp.StatusCode, err
		}
	}
	return true, resp.StatusCode, nil
}

func checkJSONField(body []byte, path, want string) error {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("%w: not JSON: %v", ErrProbeBody, err)
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%w: no field %q", ErrProbeBody, path)
		}
		if v, ok = m[k]; !ok {
			return fmt.Errorf("%w: no field %q", ErrProbeBody, path)
		}
	}
	got := fmt.Sprint(v)
	if got != want {
		return fmt.Errorf("%w: %s is %q, want %q", ErrProbeBody, path, got, want)
	}
	return nil
}

// Evaluate runs one probe and updates the consecutive counts. The
// measurement's Value is the HTTP status code (NaN without a response) and
// its phase is:
//   - Successful once SuccessThreshold consecutive probes succeeded;
//   - Failed once FailureThreshold consecutive probes failed (message says
//     why the last one failed);
//   - otherwise, until a threshold is reached: Error when this probe could
//     not get a response (unreachable, timeout; Err says why), else
//     Inconclusive — never Successful.
//
// A cancelled ctx gives an Error measurement and does not count as a
// failure.
func (p *HTTPProbe) Evaluate(ctx context.Context) Measurement {
	t := p.o.clock.Now()
	if err := ctx.Err(); err != nil {
		return errorMeasurement(t, fmt.Errorf("http probe %s: %w", p.url, err))
	}
	ok, code, why := p.attempt(ctx)
	if ctx.Err() != nil {
		return errorMeasurement(t, fmt.Errorf("http probe %s: %w", p.url, ctx.Err()))
	}
	value := math.NaN()
	if code != 0 {
		value = float64(code)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok {
		p.successes++
		p.failures = 0
	} else {
		p.failures++
		p.successes = 0
	}
	m := Measurement{Time: t, Value: value}
	switch {
	case ok && p.successes >= p.spec.SuccessThreshold:
		m.Phase = Successful
		m.Message = fmt.Sprintf("http probe %s: status %d, %d consecutive successes", p.url, code, p.successes)
	case !ok && p.failures >= p.spec.FailureThreshold:
		m.Phase = Failed
		m.Message = fmt.Sprintf("http probe %s: %d consecutive failures, last: %v", p.url, p.failures, redactErr(why, p.raw, p.url))
	case !ok && code == 0:
		m.Phase = Error
		if strings.Contains(why.Error(), p.raw) {
			m.Err = fmt.Errorf("http probe %s: %s", p.url, redactErr(why, p.raw, p.url))
		} else {
			m.Err = fmt.Errorf("http probe %s: %w", p.url, why)
		}
		m.Message = fmt.Sprintf("%v (%d of %d failures)", m.Err, p.failures, p.spec.FailureThreshold)
	case ok:
		m.Phase = Inconclusive
		m.Message = fmt.Sprintf("http probe %s: status %d, %d of %d successes", p.url, code, p.successes, p.spec.SuccessThreshold)
	default:
		m.Phase = Inconclusive
		m.Message = fmt.Sprintf("http probe %s: %v, %d of %d failures", p.url, why, p.failures, p.spec.FailureThreshold)
	}
	return m
}

// redactErr renders err with any occurrence of the raw URL (which may
// carry credentials) replaced by its redacted form; net/http errors quote
// the request URL.
func redactErr(err error, raw, redacted string) string {
	if err == nil {
		return ""
	}
	return strings.ReplaceAll(err.Error(), raw, redacted)
}

// Run probes like the kubelet: it waits InitialDelay, then probes every
// Period until the probe is Successful or Failed, or ctx is done (then it
// returns an Error measurement wrapping ctx.Err()). It returns every
// measurement taken, the last one deciding.
func (p *HTTPProbe) Run(ctx context.Context) []Measurement {
	var out []Measurement
	wait := p.spec.InitialDelay
	for {
		if wait > 0 {
			select {
			case <-ctx.Done():
				return append(out, errorMeasurement(p.o.clock.Now(), fmt.Errorf("http probe %s: %w", p.url, ctx.Err())))
			case <-p.o.clock.After(wait):
			}
		}
		m := p.Evaluate(ctx)
		out = append(out, m)
		if m.Phase == Successful || m.Phase == Failed || ctx.Err() != nil {
			return out
		}
		wait = p.spec.Period
	}
}
