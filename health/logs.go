package health

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// LogLine is one line of a log, as a [LogSource] reads it.
type LogLine struct {
	// Time is when the line was written.
	Time time.Time
	// Source names the writer, such as "pod/container"; it prefixes the
	// line in samples.
	Source string
	// Text is the line.
	Text string
}

// LogSource reads the log lines written after since, up to and including
// until (a source may return more; [ErrorLogs] keeps that window, so
// consecutive windows count each line once). The Argo CD client's pod
// logs are one (argocd.LogSource).
type LogSource interface {
	Lines(ctx context.Context, since, until time.Time) ([]LogLine, error)
}

// LogSourceFunc adapts a function to [LogSource].
type LogSourceFunc func(ctx context.Context, since, until time.Time) ([]LogLine, error)

// Lines calls f(ctx, since, until).
func (f LogSourceFunc) Lines(ctx context.Context, since, until time.Time) ([]LogLine, error) {
	return f(ctx, since, until)
}

var _ LogSource = LogSourceFunc(nil)

// RequestCounter counts the requests served after since, up to and
// including until: the
// denominator of an error-line rate per request, such as the increase of
// a request counter.
type RequestCounter interface {
	Requests(ctx context.Context, since, until time.Time) (float64, error)
}

// RequestCounterFunc adapts a function to [RequestCounter].
type RequestCounterFunc func(ctx context.Context, since, until time.Time) (float64, error)

// Requests calls f(ctx, since, until).
func (f RequestCounterFunc) Requests(ctx context.Context, since, until time.Time) (float64, error) {
	return f(ctx, since, until)
}

var _ RequestCounter = RequestCounterFunc(nil)

// DefaultErrorPattern matches the usual ways a line says it is an error:
// a level of error, fatal, panic or critical in logfmt (level=error,
// lvl=ERROR, severity="fatal") or JSON ("level":"error"), an upper-case
// ERROR, FATAL or CRITICAL word (log4j, logback, Python's logging), and a
// Go panic ("panic:").
const DefaultErrorPattern = `(?:\b(?i:level|lvl|severity)=["']?|"(?i:level|lvl|severity)"\s*:\s*")(?i:error|err|fatal|panic|crit|critical)\b` +
	`|\b(?:ERROR|FATAL|CRITICAL)\b|\bpanic:`

// DefaultLogWindow is the trailing window [ErrorLogs] counts when
// ErrorLogSpec.Window is zero.
const DefaultLogWindow = time.Minute

// DefaultLogSamples is how many error lines a measurement quotes when
// ErrorLogSpec.Samples is zero.
const DefaultLogSamples = 3

// maxSampleLen is the longest sample quoted, in runes.
const maxSampleLen = 200

var defaultErrorRE = regexp.MustCompile(DefaultErrorPattern)

// ErrInvalidLogSpec is wrapped by the error of [NewErrorLogs] for a spec
// it cannot use.
var ErrInvalidLogSpec = errors.New("invalid error-log spec")

// ErrorLogSpec is the input of [NewErrorLogs]; its zero value counts the
// lines matching [DefaultErrorPattern] in the last minute and tolerates
// none.
type ErrorLogSpec struct {
	// Pattern matches an error line; nil means [DefaultErrorPattern].
	Pattern *regexp.Regexp
	// Window is how far back each measurement counts, ending at the
	// clock's time; zero means [DefaultLogWindow]. Give an analysis
	// metric the same Interval so each line is counted once.
	Window time.Duration
	// MaxRate is the most error lines per minute tolerated, or, with
	// Requests, the most per request (0.01: one line per hundred
	// requests); a higher rate fails. Zero tolerates none.
	MaxRate float64
	// Requests, when set, is the denominator: the rate is then error
	// lines per request served in the window.
	Requests RequestCounter
	// Samples is how many error lines the message quotes, newest last;
	// zero means [DefaultLogSamples], negative none. Samples are
	// shortened, and anything that looks like a credential is replaced
	// by "xxxxx".
	Samples int
}

// ErrorLogs is an [Evaluator] that counts the error lines of a log over a
// trailing window and judges their rate:
//
//   - Failed when the rate (lines per minute, or per request with
//     ErrorLogSpec.Requests) is above MaxRate;
//   - Successful when it is at most MaxRate;
//   - Inconclusive when the window has no line at all (nothing was read:
//     no pod, no traffic, the wrong selection) or, with Requests, no
//     request: no logs are never a success;
//   - Error when the log or the request count cannot be read, or the
//     count is not a number of requests.
//
// Value is the rate; Values holds "errors" and "lines" (the counts),
// "per_minute", and with Requests "requests" and "per_request". The
// message quotes a few error lines (see ErrorLogSpec.Samples). Safe for
// concurrent use.
type ErrorLogs struct {
	src  LogSource
	spec ErrorLogSpec
	o    options
}

var _ Evaluator = (*ErrorLogs)(nil)

// NewErrorLogs returns an ErrorLogs reading src. It honours [WithClock]
// (default the system clock; the window ends at the clock's time) and
// [WithTimeout] (default none beyond the caller's context). It returns an
// error wrapping [ErrInvalidLogSpec] for a nil source, a negative window,
// or a MaxRate that is negative or not a number.
func NewErrorLogs(src LogSource, spec ErrorLogSpec, opts ...Option) (*ErrorLogs, error) {
	var errs []error
	if src == nil {
		errs = append(errs, fmt.Errorf("%w: no log source", ErrInvalidLogSpec))
	}
	if spec.Window < 0 {
		errs = append(errs, fmt.Errorf("%w: negative window %s", ErrInvalidLogSpec, spec.Window))
	}
	if spec.MaxRate < 0 || math.IsNaN(spec.MaxRate) {
		errs = append(errs, fmt.Errorf("%w: MaxRate %v is not a rate", ErrInvalidLogSpec, spec.MaxRate))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if spec.Pattern == nil {
		spec.Pattern = defaultErrorRE
	}
	if spec.Window == 0 {
		spec.Window = DefaultLogWindow
	}
	if spec.Samples == 0 {
		spec.Samples = DefaultLogSamples
	}
	return &ErrorLogs{src: src, spec: spec, o: buildOptions(0, opts)}, nil
}

// Evaluate counts the error lines of the window ending now; see
// [ErrorLogs].
func (e *ErrorLogs) Evaluate(ctx context.Context) Measurement {
	now := e.o.clock.Now()
	if err := ctx.Err(); err != nil {
		return errorMeasurement(now, fmt.Errorf("error logs: %w", err))
	}
	if e.o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, e.o.timeout)
		defer cancel()
	}
	since := now.Add(-e.spec.Window)
	lines, err := e.src.Lines(ctx, since, now)
	if err != nil {
		return errorMeasurement(now, fmt.Errorf("error logs: read: %w", err))
	}
	var (
		total   int
		matched []LogLine
	)
	for _, l := range lines {
		if !l.Time.IsZero() && (!l.Time.After(since) || l.Time.After(now)) {
			continue // a source that reads more than the window
		}
		total++
		if e.spec.Pattern.MatchString(l.Text) {
			matched = append(matched, l)
		}
	}
	window := "in the last " + e.spec.Window.String()
	if total == 0 {
		return noData(now, "error logs: no log line "+window)
	}
	errs := float64(len(matched))
	perMinute := errs / e.spec.Window.Minutes()
	m := Measurement{Time: now, Value: perMinute, Values: map[string]float64{
		"errors": errs, "lines": float64(total), "per_minute": perMinute,
	}}
	rate := fmt.Sprintf("%s/min", strconv.FormatFloat(perMinute, 'g', 4, 64))
	limit := fmt.Sprintf("%s/min", strconv.FormatFloat(e.spec.MaxRate, 'g', 4, 64))
	if e.spec.Requests != nil {
		n, err := e.spec.Requests.Requests(ctx, since, now)
		switch {
		case err != nil:
			return errorMeasurement(now, fmt.Errorf("error logs: count requests: %w", err))
		case math.IsNaN(n):
			return noData(now, "error logs: request count "+window)
		case n < 0 || math.IsInf(n, 0):
			return errorMeasurement(now, fmt.Errorf("error logs: request count %v %s is not a number of requests", n, window))
		case n == 0:
			return noData(now, "error logs: no request "+window)
		}
		m.Value = errs / n
		m.Values["requests"], m.Values["per_request"] = n, m.Value
		rate = fmt.Sprintf("%s per request (%d of %s requests)", strconv.FormatFloat(m.Value, 'g', 4, 64), len(matched), strconv.FormatFloat(n, 'f', -1, 64))
		limit = strconv.FormatFloat(e.spec.MaxRate, 'g', 4, 64) + " per request"
	}
	m.Phase = Successful
	verdict := "at most"
	if m.Value > e.spec.MaxRate {
		m.Phase, verdict = Failed, "above"
	}
	m.Message = fmt.Sprintf("error logs: %d error lines of %d %s, %s, %s the limit of %s", len(matched), total, window, rate, verdict, limit)
	if s := e.samples(matched); s != "" {
		m.Message += "; " + s
	}
	return m
}

// samples quotes the newest error lines, redacted and shortened.
func (e *ErrorLogs) samples(matched []LogLine) string {
	n := min(e.spec.Samples, len(matched))
	if n <= 0 {
		return ""
	}
	quoted := make([]string, 0, n)
	for _, l := range matched[len(matched)-n:] {
		text := oneLineSample(redactSecrets(l.Text))
		if l.Source != "" {
			text = l.Source + ": " + text
		}
		quoted = append(quoted, strconv.Quote(text))
	}
	return "e.g. " + strings.Join(quoted, ", ")
}

// oneLineSample collapses white space and shortens s to maxSampleLen
// runes.
func oneLineSample(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > maxSampleLen {
		s = string(r[:maxSampleLen]) + "…"
	}
	return s
}

// secretPatterns match what often carries a credential in a log line,
// each with its replacement.
var secretPatterns = []struct {
	re   *regexp.Regexp
	repl string
}{
	// Authorization: Bearer xxx, Basic xxx.
	{regexp.MustCompile(`(?i)(\b(?:bearer|basic|token)\s+)[A-Za-z0-9._~+/=-]{8,}`), "${1}xxxxx"},
	// key=value and "key": "value" for keys that name a secret.
	{regexp.MustCompile(`(?i)((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|auth(?:orization)?|credentials?|session|cookie)["']?\s*[:=]\s*["']?(?:(?:bearer|basic)\s+)?)[^\s"'&,;]+`), "${1}xxxxx"},
	// Credentials in a URL: scheme://user:pass@host.
	{regexp.MustCompile(`(://[^/\s:@]*:)[^@\s/]+@`), "${1}xxxxx@"},
	// JSON web tokens.
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`), "xxxxx"},
	// Tokens with a well-known prefix: GitHub, GitLab, Slack, AWS keys.
	{regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[A-Z0-9]{16})`), "xxxxx"},
	// Long runs of hex or base64, the shape of most other keys.
	{regexp.MustCompile(`[A-Za-z0-9+/_-]{40,}={0,2}`), "xxxxx"},
}

// redactSecrets returns s with anything that looks like a credential
// replaced by "xxxxx": bearer and basic credentials, the values of keys
// such as password, token, secret, api_key and authorization, passwords
// in URLs, JSON web tokens, GitHub, GitLab, Slack and AWS key shapes, and
// any run of 40 or more base64 or hex characters. It errs on the side of
// hiding: a long identifier is hidden too.
func redactSecrets(s string) string {
	for _, p := range secretPatterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	return s
}
