package healthtest

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Sample is one series of an instant vector: its labels and value.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Point is one sample of a range series.
type Point struct {
	T time.Time
	V float64
}

// Call records one request the fake Prometheus received.
type Call struct {
	Path  string // /api/v1/query or /api/v1/query_range
	Query string
	Time  string // the time (or start) parameter as sent
	Step  string // the step parameter of a range query, as sent
}

type series struct {
	labels map[string]string
	points []Point
}

type fault struct {
	status    int
	errorType string
	message   string
	raw       string
	block     bool
}

type result struct {
	scalar *float64
	str    *string
	vector []Sample
	series []series
}

// Prometheus is a fake Prometheus HTTP API serving /api/v1/query and
// /api/v1/query_range with the JSON envelope of the real server. Results
// are programmed per query string: a scalar, a string, an instant vector,
// or range series (an instant query over range series returns, per series,
// the latest point at or before the query time; a range query returns the
// programmed points between start and end as they are, not resampled at
// each step, and rejects a missing or non-positive step or an end before
// start with 400 bad_data as Prometheus does). A query never programmed
// returns an empty vector, as Prometheus does for a selector that matches
// nothing. Faults (an HTTP error with Prometheus's error body, a raw body,
// or a request that hangs until the client gives up) are injected per
// query. Use it as an http.Handler or start it with [Prometheus.Serve].
// Safe for concurrent use.
type Prometheus struct {
	mu      sync.Mutex
	results map[string]result
	faults  map[string]fault
	calls   []Call
}

var _ http.Handler = (*Prometheus)(nil)

// NewPrometheus returns an empty fake Prometheus.
func NewPrometheus() *Prometheus {
	return &Prometheus{results: map[string]result{}, faults: map[string]fault{}}
}

// Serve starts the fake on a loopback httptest server closed at the end of
// the test and returns its URL.
func (p *Prometheus) Serve(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// SetScalar programs query to return the scalar v.
func (p *Prometheus) SetScalar(query string, v float64) {
	p.set(query, result{scalar: &v})
}

// SetString programs query to return the string s (a non-numeric result).
func (p *Prometheus) SetString(query, s string) {
	p.set(query, result{str: &s})
}

// SetVector programs query to return an instant vector of the samples;
// no samples is an empty result.
func (p *Prometheus) SetVector(query string, samples ...Sample) {
	p.set(query, result{vector: append([]Sample{}, samples...)})
}

// AddSeries adds a range series with the given labels and points to
// query, for both query_range and instant queries.
func (p *Prometheus) AddSeries(query string, labels map[string]string, points ...Point) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.results[query]
	r.scalar, r.str, r.vector = nil, nil, nil
	r.series = append(r.series, series{labels: labels, points: append([]Point(nil), points...)})
	p.results[query] = r
}

func (p *Prometheus) set(query string, r result) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.results[query] = r
}

// FailWith makes query answer with HTTP status and Prometheus's error
// envelope (errorType such as "server_error", "bad_data", "timeout").
func (p *Prometheus) FailWith(query string, status int, errorType, message string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[query] = fault{status: status, errorType: errorType, message: message}
}

// RawBody makes query answer 200 with body as is (for malformed replies).
func (p *Prometheus) RawBody(query, body string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[query] = fault{status: http.StatusOK, raw: body}
}

// Hang makes requests for query wait until the client cancels them.
func (p *Prometheus) Hang(query string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults[query] = fault{block: true}
}

// Heal removes any fault injected for query.
func (p *Prometheus) Heal(query string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.faults, query)
}

// Calls returns the requests received so far.
func (p *Prometheus) Calls() []Call {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Call(nil), p.calls...)
}

// ServeHTTP implements the query API.
func (p *Prometheus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	query := r.Form.Get("query")
	call := Call{Path: r.URL.Path, Query: query, Time: r.Form.Get("time")}
	if r.URL.Path == "/api/v1/query_range" {
		call.Time, call.Step = r.Form.Get("start"), r.Form.Get("step")
	}
	p.mu.Lock()
	p.calls = append(p.calls, call)
	f, faulty := p.faults[query]
	res := p.results[query]
	p.mu.Unlock()

	if faulty {
		switch {
		case f.block:
			<-r.Context().Done()
			return
		case f.raw != "":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(f.raw))
			return
		default:
			writeError(w, f.status, f.errorType, f.message)
			return
		}
	}
	if query == "" {
		writeError(w, http.StatusBadRequest, "bad_data", "invalid parameter \"query\": empty query")
		return
	}
	switch r.URL.Path {
	case "/api/v1/query":
		ts := time.Now()
		if s := r.Form.Get("time"); s != "" {
			t, err := parseTime(s)
			if err != nil {
				writeError(w, http.StatusBadRequest, "bad_data", "invalid parameter \"time\": "+err.Error())
				return
			}
			ts = t
		}
		writeData(w, instant(res, ts))
	case "/api/v1/query_range":
		start, err1 := parseTime(r.Form.Get("start"))
		end, err2 := parseTime(r.Form.Get("end"))
		if err1 != nil || err2 != nil {
			writeError(w, http.StatusBadRequest, "bad_data", "invalid parameter \"start\" or \"end\"")
			return
		}
		if end.Before(start) {
			writeError(w, http.StatusBadRequest, "bad_data", "end timestamp must not be before start time")
			return
		}
		if step, err := strconv.ParseFloat(r.Form.Get("step"), 64); err != nil || !(step > 0) {
			writeError(w, http.StatusBadRequest, "bad_data", "zero or negative query resolution step widths are not accepted. Try a positive integer")
			return
		}
		writeData(w, rangeResult(res, start, end))
	default:
		http.NotFound(w, r)
	}
}

func parseTime(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Parse(time.RFC3339Nano, s)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

func fmtFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

func pair(t time.Time, v string) []any {
	return []any{float64(t.UnixMilli()) / 1000, v}
}

func labelsOrEmpty(l map[string]string) map[string]string {
	if l == nil {
		return map[string]string{}
	}
	return l
}

func instant(res result, ts time.Time) map[string]any {
	switch {
	case res.scalar != nil:
		return map[string]any{"resultType": "scalar", "result": pair(ts, fmtFloat(*res.scalar))}
	case res.str != nil:
		return map[string]any{"resultType": "string", "result": pair(ts, *res.str)}
	}
	out := []any{}
	for _, s := range res.vector {
		out = append(out, map[string]any{"metric": labelsOrEmpty(s.Labels), "value": pair(ts, fmtFloat(s.Value))})
	}
	for _, s := range res.series {
		var last *Point
		for i := range s.points {
			if !s.points[i].T.After(ts) && (last == nil || s.points[i].T.After(last.T)) {
				last = &s.points[i]
			}
		}
		if last != nil {
			out = append(out, map[string]any{"metric": labelsOrEmpty(s.labels), "value": pair(ts, fmtFloat(last.V))})
		}
	}
	return map[string]any{"resultType": "vector", "result": out}
}

func rangeResult(res result, start, end time.Time) map[string]any {
	out := []any{}
	for _, s := range res.series {
		pts := append([]Point(nil), s.points...)
		sort.Slice(pts, func(i, j int) bool { return pts[i].T.Before(pts[j].T) })
		var vals []any
		for _, pt := range pts {
			if !pt.T.Before(start) && !pt.T.After(end) {
				vals = append(vals, pair(pt.T, fmtFloat(pt.V)))
			}
		}
		if len(vals) > 0 {
			out = append(out, map[string]any{"metric": labelsOrEmpty(s.labels), "values": vals})
		}
	}
	return map[string]any{"resultType": "matrix", "result": out}
}

func writeData(w http.ResponseWriter, data map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": data})
}

func writeError(w http.ResponseWriter, status int, errorType, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": errorType, "error": msg})
}
