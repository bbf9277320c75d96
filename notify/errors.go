package notify

import (
	"errors"
	"fmt"
)

// ErrInvalidEvent is returned (wrapped, naming the kind and app) by
// [Event.Validate], and so by every Notify of this package, for an event
// that cannot be delivered as it is.
var ErrInvalidEvent = errors.New("invalid event")

// Errors inside a [*DeliveryError], returned by [Webhook.Notify] and
// [Slack.Notify].
var (
	// ErrRejected means the receiver refused the event for good: it
	// answered with a 4xx status other than 408 and 429, or with a
	// redirect (redirects are not followed). Retrying the same request
	// cannot help; fix the configuration or the event.
	ErrRejected = errors.New("rejected by receiver")
	// ErrExhausted means every attempt failed with a temporary error (a
	// network error, 408, 429 or 5xx), or the receiver asked to wait
	// longer than Retry.MaxBackoff.
	ErrExhausted = errors.New("attempts exhausted")
)

// ErrClosed is returned by [Fanout.Notify] after [Fanout.Close].
var ErrClosed = errors.New("notify: fan-out closed")

// Errors returned by [Verify]. None of them carries the secret or the
// expected signature.
var (
	// ErrNoSignature means the signature header is missing or malformed:
	// it needs one "t=<unix seconds>" and at least one "v1=<hex>".
	ErrNoSignature = errors.New("missing or malformed signature header")
	// ErrSignatureMismatch means no v1 signature matches the body and
	// timestamp under the secret: the body was changed, or the secret
	// differs.
	ErrSignatureMismatch = errors.New("signature does not match")
	// ErrStaleSignature means the signature's timestamp is further from
	// now than the tolerance allows: a replay of an old delivery, or
	// clocks too far apart.
	ErrStaleSignature = errors.New("signature timestamp outside tolerance")
)

// DeliveryError is the error of a delivery that did not succeed. Its text
// names the endpoint with every secret removed (no HMAC secret, no token,
// no Slack webhook path, no query value).
type DeliveryError struct {
	// Endpoint is the receiver's URL, redacted.
	Endpoint string
	// Kind and App identify the event.
	Kind Kind
	App  string
	// Key is the event's idempotency key.
	Key string
	// Attempts is how many requests were sent.
	Attempts int
	// StatusCode is the last HTTP status received, 0 if none.
	StatusCode int
	// Err is the cause; it wraps [ErrRejected], [ErrExhausted] or the
	// context's error.
	Err error
}

// Error says which event could not be delivered where, after how many
// attempts, and why.
func (e *DeliveryError) Error() string {
	n := "attempts"
	if e.Attempts == 1 {
		n = "attempt"
	}
	return fmt.Sprintf("notify: deliver %s of %s to %s: %d %s: %v", e.Kind, e.App, e.Endpoint, e.Attempts, n, e.Err)
}

// Unwrap returns the cause.
func (e *DeliveryError) Unwrap() error { return e.Err }
