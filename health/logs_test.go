package health_test

import (
	"context"
	"math"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/health/healthtest"
)

// fakeLog is a log source over a slice of lines that records the windows
// asked for.
type fakeLog struct {
	mu      sync.Mutex
	lines   []health.LogLine
	err     error
	windows [][2]time.Time
}

func (f *fakeLog) Lines(ctx context.Context, since, until time.Time) ([]health.LogLine, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.windows = append(f.windows, [2]time.Time{since, until})
	if f.err != nil {
		return nil, f.err
	}
	return append([]health.LogLine(nil), f.lines...), nil
}

// write adds n lines with text, spread over the second before at.
func (f *fakeLog) write(at time.Time, n int, text string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		f.lines = append(f.lines, health.LogLine{Time: at.Add(-time.Duration(i) * time.Millisecond), Source: "web-1/app", Text: text})
	}
}

func mustErrorLogs(t *testing.T, src health.LogSource, spec health.ErrorLogSpec, opts ...health.Option) *health.ErrorLogs {
	t.Helper()
	e, err := health.NewErrorLogs(src, spec, append([]health.Option{health.WithClock(fixedClock())}, opts...)...)
	require.NoError(t, err)
	return e
}

func TestDefaultErrorPattern(t *testing.T) {
	re := regexp.MustCompile(health.DefaultErrorPattern)
	for _, line := range []string{
		`level=error msg="request failed" status=500`,
		`time=2026-01-01T00:00:00Z level=ERROR msg=boom`,
		`lvl=fatal msg="cannot start"`,
		`severity="critical" msg=disk`,
		`{"level":"error","msg":"boom"}`,
		`{"time":"2026-01-01T00:00:00Z", "level": "ERROR", "msg":"boom"}`,
		`{"severity":"fatal"}`,
		`2026-01-01 00:00:00 ERROR [main] c.e.Shop - payment failed`,
		`FATAL: role "shop" does not exist`,
		`panic: runtime error: invalid memory address or nil pointer dereference`,
		`goroutine 1 [running]: panic: boom`,
	} {
		assert.True(t, re.MatchString(line), "should match: %s", line)
	}
	for _, line := range []string{
		`level=info msg="request served" status=200`,
		`{"level":"info","msg":"errors: 0"}`,
		`level=warn msg="retrying after error"`,
		`msg="no errors today" errors=0`,
		`level=errorless`,
		`Error budget is fine`,
		`handled a panicking request gracefully`,
	} {
		assert.False(t, re.MatchString(line), "should not match: %s", line)
	}
}

func TestErrorLogsRatePerMinute(t *testing.T) {
	clk := fixedClock()
	src := &fakeLog{}
	src.write(clk.Now(), 90, `level=info msg="request served"`)
	src.write(clk.Now(), 10, `level=error msg="request failed" token=s3cr3t-value-123 user=ann`)
	src.lines = append(src.lines, health.LogLine{Time: clk.Now().Add(-2 * time.Minute), Text: "level=error msg=old"})
	e := mustErrorLogs(t, src, health.ErrorLogSpec{Window: 2 * time.Minute, MaxRate: 4})

	m := e.Evaluate(context.Background())
	assert.Equal(t, health.Failed, m.Phase, m.Message)
	assert.Equal(t, 5.0, m.Value, "10 error lines in 2 minutes")
	assert.Equal(t, map[string]float64{"errors": 10, "lines": 100, "per_minute": 5}, m.Values,
		"the line at the window's start belongs to the window before")
	assert.Equal(t, `error logs: 10 error lines of 100 in the last 2m0s, 5/min, above the limit of 4/min; e.g. `+
		strings.Repeat(`"web-1/app: level=error msg=\"request failed\" token=xxxxx user=ann", `, 2)+
		`"web-1/app: level=error msg=\"request failed\" token=xxxxx user=ann"`, m.Message)
	assert.NotContains(t, m.Message, "s3cr3t")
	assert.NoError(t, m.Err)
	assert.Equal(t, [][2]time.Time{{clk.Now().Add(-2 * time.Minute), clk.Now()}}, src.windows, "the window asked of the source")

	e = mustErrorLogs(t, src, health.ErrorLogSpec{Window: 2 * time.Minute, MaxRate: 5, Samples: -1})
	m = e.Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase)
	assert.Equal(t, "error logs: 10 error lines of 100 in the last 2m0s, 5/min, at most the limit of 5/min", m.Message)

	// The default tolerates none, and a pattern of one's own.
	m = mustErrorLogs(t, src, health.ErrorLogSpec{}).Evaluate(context.Background())
	assert.Equal(t, health.Failed, m.Phase)
	m = mustErrorLogs(t, src, health.ErrorLogSpec{Pattern: regexp.MustCompile(`status=5\d\d`)}).Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase, "no line has a status")
	assert.Equal(t, 0.0, m.Value)
}

func TestErrorLogsRatePerRequest(t *testing.T) {
	clk := fixedClock()
	src := &fakeLog{}
	src.write(clk.Now(), 3, `{"level":"error","msg":"boom"}`)
	var asked [2]time.Time
	requests := health.RequestCounterFunc(func(ctx context.Context, since, until time.Time) (float64, error) {
		asked = [2]time.Time{since, until}
		return 200, nil
	})
	m := mustErrorLogs(t, src, health.ErrorLogSpec{MaxRate: 0.01, Requests: requests}).Evaluate(context.Background())
	assert.Equal(t, health.Failed, m.Phase)
	assert.Equal(t, 0.015, m.Value)
	assert.Equal(t, 200.0, m.Values["requests"])
	assert.Equal(t, 0.015, m.Values["per_request"])
	assert.Equal(t, 3.0, m.Values["per_minute"])
	assert.Equal(t, [2]time.Time{clk.Now().Add(-time.Minute), clk.Now()}, asked)
	assert.Contains(t, m.Message, "error logs: 3 error lines of 3 in the last 1m0s, 0.015 per request (3 of 200 requests), above the limit of 0.01 per request")

	m = mustErrorLogs(t, src, health.ErrorLogSpec{MaxRate: 0.02, Requests: requests}).Evaluate(context.Background())
	assert.Equal(t, health.Successful, m.Phase)
}

func TestErrorLogsFailSafe(t *testing.T) {
	clk := fixedClock()
	quiet := &fakeLog{}
	some := &fakeLog{}
	some.write(clk.Now(), 5, "level=info msg=ok")
	count := func(n float64, err error) health.RequestCounter {
		return health.RequestCounterFunc(func(context.Context, time.Time, time.Time) (float64, error) { return n, err })
	}
	for name, tc := range map[string]struct {
		src   health.LogSource
		spec  health.ErrorLogSpec
		phase health.Phase
		msg   string
	}{
		"no line":            {quiet, health.ErrorLogSpec{MaxRate: 100}, health.Inconclusive, "error logs: no log line in the last 1m0s: no data"},
		"lines out of range": {&fakeLog{lines: []health.LogLine{{Time: clk.Now().Add(-time.Hour), Text: "level=info"}}}, health.ErrorLogSpec{MaxRate: 100}, health.Inconclusive, "no data"},
		"read fails":         {&fakeLog{err: errBoom}, health.ErrorLogSpec{MaxRate: 100}, health.Error, "error logs: read: boom"},
		"no request":         {some, health.ErrorLogSpec{MaxRate: 1, Requests: count(0, nil)}, health.Inconclusive, "error logs: no request in the last 1m0s: no data"},
		"NaN requests":       {some, health.ErrorLogSpec{MaxRate: 1, Requests: count(math.NaN(), nil)}, health.Inconclusive, "no data"},
		"negative requests":  {some, health.ErrorLogSpec{MaxRate: 1, Requests: count(-1, nil)}, health.Error, "error logs: request count -1 in the last 1m0s is not a number of requests"},
		"infinite requests":  {some, health.ErrorLogSpec{MaxRate: 1, Requests: count(math.Inf(1), nil)}, health.Error, "is not a number of requests"},
		"count fails":        {some, health.ErrorLogSpec{MaxRate: 1, Requests: count(0, errBoom)}, health.Error, "error logs: count requests: boom"},
	} {
		t.Run(name, func(t *testing.T) {
			m := mustErrorLogs(t, tc.src, tc.spec).Evaluate(context.Background())
			assert.Equal(t, tc.phase, m.Phase)
			assert.Contains(t, m.Message, tc.msg)
			if strings.HasSuffix(name, "fails") {
				assert.ErrorIs(t, m.Err, errBoom, "the cause is kept")
			}
			healthtest.TestEvaluatorFailSafe(t, func(t *testing.T) health.Evaluator { return mustErrorLogs(t, tc.src, tc.spec) })
		})
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := mustErrorLogs(t, some, health.ErrorLogSpec{MaxRate: 100}).Evaluate(ctx)
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorIs(t, m.Err, context.Canceled)
}

func TestErrorLogsConformance(t *testing.T) {
	healthtest.TestEvaluator(t, func(t *testing.T) health.Evaluator {
		src := &fakeLog{}
		src.write(fixedNow, 10, "level=error msg=boom")
		return mustErrorLogs(t, src, health.ErrorLogSpec{MaxRate: 100})
	})
}

func TestErrorLogsTimeout(t *testing.T) {
	src := health.LogSourceFunc(func(ctx context.Context, since, until time.Time) ([]health.LogLine, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})
	m := mustErrorLogs(t, src, health.ErrorLogSpec{}, health.WithTimeout(time.Millisecond)).Evaluate(context.Background())
	assert.Equal(t, health.Error, m.Phase)
	assert.ErrorIs(t, m.Err, context.DeadlineExceeded)
}

func TestNewErrorLogsRefusesBadSpecs(t *testing.T) {
	_, err := health.NewErrorLogs(nil, health.ErrorLogSpec{Window: -time.Second, MaxRate: math.NaN()})
	require.ErrorIs(t, err, health.ErrInvalidLogSpec)
	assert.EqualError(t, err, "invalid error-log spec: no log source\ninvalid error-log spec: negative window -1s\ninvalid error-log spec: MaxRate NaN is not a rate")
	_, err = health.NewErrorLogs(&fakeLog{}, health.ErrorLogSpec{MaxRate: -1})
	assert.ErrorIs(t, err, health.ErrInvalidLogSpec)
}

func TestErrorLogsSamplesAreRedacted(t *testing.T) {
	clk := fixedClock()
	for _, secret := range []string{
		"Authorization: Bearer abcdefgh12345678",
		"password=hunter2hunter2",
		`{"api_key": "k-123456789"}`,
		"https://deploy:p4ssw0rd@git.example.com/shop.git",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
		"ghp_0123456789abcdefghijABCDEFGHIJ",
		"AKIAABCDEFGHIJKLMNOP",
		"x-signature 3f786850e387550fdab836ed7e6dc881de23001b3f786850e387550fdab836ed",
	} {
		src := &fakeLog{}
		src.write(clk.Now(), 1, "level=error msg=boom "+secret)
		m := mustErrorLogs(t, src, health.ErrorLogSpec{}).Evaluate(context.Background())
		require.Equal(t, health.Failed, m.Phase)
		assert.Contains(t, m.Message, "xxxxx", secret)
		for _, part := range []string{"abcdefgh12345678", "hunter2", "k-123456789", "p4ssw0rd", "eyJzdWIiOiJhbm4ifQ", "ghp_0123", "AKIAABCD", "3f786850e387"} {
			assert.NotContains(t, m.Message, part)
		}
	}
	src := &fakeLog{}
	src.write(clk.Now(), 1, "level=error "+strings.Repeat("very long line ", 50))
	m := mustErrorLogs(t, src, health.ErrorLogSpec{}).Evaluate(context.Background())
	assert.Contains(t, m.Message, "…", "a long sample is shortened")
	assert.Less(t, len(m.Message), 400)
}

// TestErrorLogsInAnAnalysis shows the evaluator in an analysis on the
// auto clock: each measurement counts the interval since the previous
// one, and a burst of errors fails the run.
func TestErrorLogsInAnAnalysis(t *testing.T) {
	clk := clocktest.NewAuto(fixedNow)
	src := &fakeLog{}
	// Every second, 10 lines; from the third minute on, one in ten an error.
	lines := health.LogSourceFunc(func(ctx context.Context, since, until time.Time) ([]health.LogLine, error) {
		var out []health.LogLine
		for t := since.Truncate(time.Second).Add(time.Second); !t.After(until); t = t.Add(time.Second) {
			for i := range 10 {
				text := "level=info msg=ok"
				if i == 0 && t.Sub(fixedNow) > 2*time.Minute {
					text = "level=error msg=boom"
				}
				out = append(out, health.LogLine{Time: t, Text: text})
			}
		}
		_, _ = src.Lines(ctx, since, until)
		return out, nil
	})
	e, err := health.NewErrorLogs(lines, health.ErrorLogSpec{Window: time.Minute, MaxRate: 30}, health.WithClock(clk))
	require.NoError(t, err)
	r, err := health.NewRunner(health.WithClock(clk))
	require.NoError(t, err)
	res, err := r.Run(context.Background(), health.Analysis{Metrics: []health.Metric{{Name: "error-logs", Evaluator: e, Interval: time.Minute, Count: 5}}})
	require.NoError(t, err)
	assert.Equal(t, health.Failed, res.Phase)
	mr := res.Metric("error-logs")
	require.NotNil(t, mr)
	var phases []health.Phase
	for _, m := range mr.Measurements {
		phases = append(phases, m.Phase)
	}
	assert.Equal(t, []health.Phase{health.Successful, health.Successful, health.Successful, health.Failed}, phases,
		"the minute with 60 error lines fails")
	assert.Len(t, src.windows, 4)
}
