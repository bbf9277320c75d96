package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// sender posts one body to one endpoint with retries. It is shared by the
// webhook and Slack notifiers and read-only after construction.
type sender struct {
	options
	endpoint *url.URL
	display  string
	redact   redactor
}

// newSender validates raw as an absolute http(s) URL and builds a sender
// for it. pathIsSecret marks URLs whose path is the credential.
func newSender(what, raw string, pathIsSecret bool, o options) (*sender, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may hold a credential: say what is wrong, not what it is.
		return nil, fmt.Errorf("notify: %s URL: want an absolute http or https URL", what)
	}
	c := *o.client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	o.client = &c
	s := &sender{options: o, endpoint: u, display: displayURL(u, pathIsSecret)}
	s.redact.addURL(u, pathIsSecret)
	for _, vs := range o.headers {
		for _, v := range vs {
			s.redact.add(v)
			if _, tok, ok := strings.Cut(v, " "); ok {
				s.redact.add(tok) // "Bearer <token>"
			}
		}
	}
	return s, nil
}

// prepare finishes the headers of one attempt, sent at now.
type prepare func(h http.Header, now time.Time)

// send delivers body for e, retrying temporary failures. It returns nil or
// a *DeliveryError.
func (s *sender) send(ctx context.Context, e Event, body []byte, prep prepare) error {
	key := e.Key()
	fail := func(attempts, status int, err error) error {
		return &DeliveryError{Endpoint: s.display, Kind: e.Kind, App: e.App, Key: key,
			Attempts: attempts, StatusCode: status, Err: s.redact.err(err)}
	}
	attempts := s.retry.attempts()
	lastStatus := 0
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return fail(attempt-1, lastStatus, err)
		}
		status, retryAfter, err := s.attempt(ctx, key, body, prep)
		lastStatus = status
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fail(attempt, status, fmt.Errorf("%w; last attempt: %v", ctx.Err(), err))
		}
		if errors.Is(err, ErrRejected) {
			return fail(attempt, status, err)
		}
		if attempt >= attempts {
			return fail(attempt, status, fmt.Errorf("%w: %w", ErrExhausted, err))
		}
		wait := s.retry.delay(attempt)
		if retryAfter > 0 {
			if retryAfter > s.retry.maxBackoff() {
				return fail(attempt, status, fmt.Errorf("%w: receiver asked to retry after %s, more than the %s allowed: %v",
					ErrExhausted, retryAfter, s.retry.maxBackoff(), err))
			}
			wait = retryAfter
		}
		s.logger.Debug("notification attempt failed", "endpoint", s.display, "kind", string(e.Kind),
			"app", e.App, "key", key, "attempt", attempt, "status", status, "retry_in", wait,
			"error", s.redact.string(err.Error()))
		if serr := clock.Sleep(ctx, s.clock, wait); serr != nil {
			return fail(attempt, status, fmt.Errorf("%w while waiting to retry; last attempt: %v", serr, err))
		}
	}
}

// maxErrorBody is how many characters of a refusal's body an error
// quotes.
const maxErrorBody = 200

// attempt sends one request. A nil error means a 2xx answer. A non-nil
// error wraps ErrRejected when retrying cannot help; retryAfter is the
// receiver's Retry-After, if any.
func (s *sender) attempt(ctx context.Context, key string, body []byte, prep prepare) (status int, retryAfter time.Duration, err error) {
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint.String(), bytes.NewReader(body))
	if err != nil {
		return 0, 0, fmt.Errorf("%w: build request: %v", ErrRejected, s.redact.err(err))
	}
	for k, vs := range s.headers {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "flightdeck-notify")
	req.Header.Set(IdempotencyKeyHeader, key)
	if prep != nil {
		prep(req.Header, s.clock.Now())
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			// url.Error quotes the full URL; name the redacted one.
			err = &url.Error{Op: ue.Op, URL: s.display, Err: s.redact.err(ue.Err)}
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	status = resp.StatusCode
	if status >= 200 && status < 300 {
		return status, 0, nil
	}
	msg := resp.Status
	// Redact before cutting, so no part of a secret survives the cut.
	if text := strings.TrimSpace(s.redact.string(string(snippet))); text != "" {
		msg += ": " + strconv.Quote(cut(strings.ToValidUTF8(text, "?"), maxErrorBody))
	}
	switch {
	case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500:
		return status, parseRetryAfter(resp.Header.Get("Retry-After"), s.clock.Now()), errors.New(msg)
	case status >= 300 && status < 400:
		return status, 0, fmt.Errorf("%w: %s (redirects are not followed; configure the final URL)", ErrRejected, msg)
	default:
		return status, 0, fmt.Errorf("%w: %s", ErrRejected, msg)
	}
}

// parseRetryAfter reads a Retry-After value, seconds or an HTTP date; 0
// means none or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(24*time.Hour/time.Second) {
			return 24 * time.Hour
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// stamp returns e with Time set from c when it is zero.
func stamp(e Event, c clock.Clock) Event {
	if e.Time.IsZero() {
		e.Time = c.Now()
	}
	return e
}
