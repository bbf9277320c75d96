package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// ErrUnexpectedResult is wrapped by the Err of an [Error] measurement when
// a query returns a type the evaluator cannot turn into a number (a
// string, or a range vector from an instant query).
var ErrUnexpectedResult = errors.New("unexpected query result")

// QueryError describes a failed Prometheus query. It names the server
// (without credentials) and the query, and wraps the cause: a
// client_golang *v1.Error (for example a 500 is Type "server_error"),
// [ErrUnexpectedResult], [ErrMultipleSeries], or a context error.
type QueryError struct {
	URL   string // server address, credentials removed
	Query string
	Err   error
}

// Error implements error.
func (e *QueryError) Error() string {
	var apiErr *v1.Error
	if !errors.As(e.Err, &apiErr) {
		return fmt.Sprintf("prometheus query %q at %s: %v", e.Query, e.URL, e.Err)
	}
	// client_golang says "server_error: server error: 500": keep the type
	// only where the message does not already say it.
	msg := apiErr.Msg
	if typ := string(apiErr.Type); !strings.HasPrefix(msg, strings.ReplaceAll(typ, "_", " ")) {
		msg = typ + ": " + msg
	}
	msg = fmt.Sprintf("prometheus query %q at %s: %s", e.Query, e.URL, msg)
	// client_golang keeps the body of a 5xx reply in Detail; say what the
	// server said, in one line.
	if detail := strings.TrimSpace(apiErr.Detail); detail != "" {
		var body struct {
			Error string `json:"error"`
		}
		switch {
		case json.Unmarshal([]byte(detail), &body) == nil && body.Error != "":
			detail = body.Error
		case strings.HasPrefix(detail, "<"):
			detail = "an HTML page"
		}
		detail = strings.Join(strings.Fields(detail), " ")
		if r := []rune(detail); len(r) > 200 {
			detail = string(r[:200]) + "…"
		}
		msg += ": " + detail
	}
	return msg
}

// Unwrap returns the cause.
func (e *QueryError) Unwrap() error { return e.Err }

// queryError wraps err in a QueryError. A transport error's *url.Error
// repeats the request URL with the user name: keep its cause, and let
// QueryError name the server without credentials.
func (q *PrometheusQuery) queryError(err error) *QueryError {
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		err = ue.Err
	}
	return &QueryError{URL: q.url, Query: q.query, Err: err}
}

// PrometheusQuery evaluates a PromQL instant query through client_golang's
// api/prometheus/v1. A scalar, or a vector with exactly one series, gives a
// [Successful] measurement with that value; an empty vector or NaN is
// [Inconclusive] (no data), never success; anything else is an [Error].
type PrometheusQuery struct {
	api   v1.API
	url   string
	query string
	o     options
}

var _ Evaluator = (*PrometheusQuery)(nil)

// NewPrometheusQuery returns an evaluator of query against the Prometheus
// server at address (for example "http://127.0.0.1:9090"). It honours
// [WithHTTPClient] (default http.DefaultClient), [WithTimeout] (default 30s
// per query, also sent to the server as the query timeout), [WithClock]
// (default the system clock; the query is evaluated at the clock's time),
// [WithMultiSeries] and [WithLogger]. It fails only when address is not an
// absolute http(s) URL or query is empty.
func NewPrometheusQuery(address, query string, opts ...Option) (*PrometheusQuery, error) {
	u, err := url.Parse(address)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus address %q: want an absolute http(s) URL", redact(address))
	}
	if strings.TrimSpace(query) == "" {
		return nil, errors.New("prometheus query at " + displayURL(u) + ": query is empty")
	}
	o := buildOptions(30*time.Second, opts)
	c, err := api.NewClient(api.Config{Address: address, Client: o.client})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", displayURL(u), err)
	}
	return &PrometheusQuery{api: v1.NewAPI(c), url: displayURL(u), query: query, o: o}, nil
}

// redact removes credentials from something that may be a URL.
func redact(s string) string {
	if u, err := url.Parse(s); err == nil {
		return displayURL(u)
	}
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = "…" + s[i:]
	}
	if i := strings.Index(s, "?"); i >= 0 {
		s = s[:i] + "?…"
	}
	return s
}

// displayURL names u in errors and messages without anything that may be
// a credential: no user information (a user name can be a token), no
// fragment, and the query's values elided (?token=…).
func displayURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment, c.ForceQuery = "", "", false
	q := c.Query()
	c.RawQuery = ""
	s := c.String()
	if len(q) == 0 {
		return s
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k+"=…")
	}
	sort.Strings(keys)
	return s + "?" + strings.Join(keys, "&")
}

func (q *PrometheusQuery) fail(t time.Time, err error) Measurement {
	qe := q.queryError(err)
	q.o.logger.Debug("prometheus query failed", "url", q.url, "query", q.query, "err", err)
	return errorMeasurement(t, qe)
}

func (q *PrometheusQuery) callCtx(ctx context.Context) (context.Context, context.CancelFunc, []v1.Option) {
	if q.o.timeout > 0 {
		c, cancel := context.WithTimeout(ctx, q.o.timeout)
		return c, cancel, []v1.Option{v1.WithTimeout(q.o.timeout)}
	}
	return ctx, func() {}, nil
}

// Evaluate runs the query once. See [PrometheusQuery] for the phases;
// warnings returned by the server are appended to the message.
func (q *PrometheusQuery) Evaluate(ctx context.Context) Measurement {
	t := q.o.clock.Now()
	if err := ctx.Err(); err != nil {
		return q.fail(t, err)
	}
	cctx, cancel, vopts := q.callCtx(ctx)
	defer cancel()
	val, warnings, _, err := q.api.Query(cctx, q.query, t, vopts...)
	if err != nil {
		return q.fail(t, err)
	}
	m := q.interpret(t, val)
	if len(warnings) > 0 {
		m.Message += " (warnings: " + strings.Join(warnings, "; ") + ")"
	}
	return m
}

func (q *PrometheusQuery) interpret(t time.Time, val model.Value) Measurement {
	switch v := val.(type) {
	case *model.Scalar:
		return q.number(t, float64(v.Value), "")
	case model.Vector:
		switch {
		case len(v) == 0:
			return noData(t, fmt.Sprintf("prometheus query %q: empty result", q.query))
		case len(v) == 1:
			return q.number(t, float64(v[0].Value), v[0].Metric.String())
		case !q.o.multiSeries:
			return q.fail(t, fmt.Errorf("%w: %d series", ErrMultipleSeries, len(v)))
		}
		m := Measurement{Time: t, Value: math.Inf(-1), Values: make(map[string]float64, len(v)), Phase: Successful}
		numbers := 0
		for _, s := range v {
			f := float64(s.Value)
			m.Values[s.Metric.String()] = f
			if !math.IsNaN(f) {
				numbers++
				m.Value = math.Max(m.Value, f)
			}
		}
		if numbers == 0 {
			return noData(t, fmt.Sprintf("prometheus query %q: every series is NaN", q.query))
		}
		m.Message = fmt.Sprintf("prometheus query %q: %d series, max %g", q.query, len(v), m.Value)
		return m
	case nil:
		return noData(t, fmt.Sprintf("prometheus query %q: no result", q.query))
	default:
		return q.fail(t, fmt.Errorf("%w: %s", ErrUnexpectedResult, val.Type()))
	}
}

func (q *PrometheusQuery) number(t time.Time, f float64, series string) Measurement {
	if math.IsNaN(f) {
		return noData(t, fmt.Sprintf("prometheus query %q: NaN", q.query))
	}
	msg := fmt.Sprintf("prometheus query %q = %g", q.query, f)
	if series != "" && series != "{}" {
		msg += " " + series
	}
	return valueMeasurement(t, f, msg)
}

// Range runs the query over [start, end] at step through the query_range
// API and returns the samples of its single series in time order, NaNs
// removed: the input a [MannWhitney] judge compares. An empty result
// returns no samples and no error; more than one series is an error
// wrapping [ErrMultipleSeries]. Errors are [*QueryError].
func (q *PrometheusQuery) Range(ctx context.Context, start, end time.Time, step time.Duration) ([]float64, error) {
	if step <= 0 || !end.After(start) {
		return nil, &QueryError{URL: q.url, Query: q.query,
			Err: fmt.Errorf("invalid range %s..%s step %s", start.Format(time.RFC3339), end.Format(time.RFC3339), step)}
	}
	cctx, cancel, vopts := q.callCtx(ctx)
	defer cancel()
	val, _, _, err := q.api.QueryRange(cctx, q.query, v1.Range{Start: start, End: end, Step: step}, vopts...)
	if err != nil {
		return nil, q.queryError(err)
	}
	mat, ok := val.(model.Matrix)
	if !ok {
		return nil, &QueryError{URL: q.url, Query: q.query, Err: fmt.Errorf("%w: %s", ErrUnexpectedResult, val.Type())}
	}
	if len(mat) == 0 {
		return nil, nil
	}
	if len(mat) > 1 {
		return nil, &QueryError{URL: q.url, Query: q.query, Err: fmt.Errorf("%w: %d series", ErrMultipleSeries, len(mat))}
	}
	pts := mat[0].Values
	sort.Slice(pts, func(i, j int) bool { return pts[i].Timestamp < pts[j].Timestamp })
	out := make([]float64, 0, len(pts))
	for _, p := range pts {
		if f := float64(p.Value); !math.IsNaN(f) {
			out = append(out, f)
		}
	}
	return out, nil
}
