package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Webhook posts events as signed JSON to one URL. Create it with
// [NewWebhook]; it is safe for concurrent use.
//
// Each request carries the event's JSON ([Event.MarshalJSON]) and the
// headers [SignatureHeader] (a fresh timestamp and HMAC-SHA256 on every
// attempt), [IdempotencyKeyHeader] (the same on every attempt) and
// [EventHeader]. A receiver checks the signature with [Verify] and drops
// keys it has already accepted.
type Webhook struct {
	s      *sender
	secret []byte
}

var _ Notifier = (*Webhook)(nil)

// NewWebhook returns a notifier that posts to url, signing with secret
// (at least 16 bytes; 32 random bytes recommended). Neither the secret
// nor the URL's query values or user info ever appear in an error or a
// log line. It honours [WithHTTPClient], [WithClock], [WithLogger],
// [WithRetry], [WithTimeout] and [WithHeader].
func NewWebhook(url string, secret []byte, opts ...Option) (*Webhook, error) {
	if len(secret) < 16 {
		return nil, errors.New("notify: webhook secret: want at least 16 bytes (32 random bytes recommended)")
	}
	s, err := newSender("webhook", url, false, buildOptions(opts))
	if err != nil {
		return nil, err
	}
	s.redact.add(string(secret))
	return &Webhook{s: s, secret: append([]byte(nil), secret...)}, nil
}

// Endpoint returns the webhook's URL with user info and query values
// redacted, as errors and logs name it.
func (w *Webhook) Endpoint() string { return w.s.display }

// Notify delivers e, stamped with the notifier's clock when its Time is
// zero, retrying temporary failures (see [Retry]) until an attempt
// succeeds, the receiver refuses it for good, attempts run out or ctx
// ends. Errors are a [*DeliveryError] wrapping [ErrRejected],
// [ErrExhausted] or the context's error, or wrap [ErrInvalidEvent].
func (w *Webhook) Notify(ctx context.Context, e Event) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("notify: webhook: %w", err)
	}
	e = stamp(e, w.s.clock)
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("notify: webhook: encode %s of %s: %w", e.Kind, e.App, err)
	}
	return w.s.send(ctx, e, body, func(h http.Header, now time.Time) {
		h.Set(SignatureHeader, Sign(w.secret, now, body))
		h.Set(EventHeader, string(e.Kind))
	})
}
