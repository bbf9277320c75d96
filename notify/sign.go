package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>",
	// the HMAC of "<t>.<body>" under the shared secret, computed afresh
	// for every attempt. Check it with [Verify].
	SignatureHeader = "Flightdeck-Signature"
	// IdempotencyKeyHeader carries [Event.Key], the same on every attempt
	// of one event, so a receiver can drop duplicates.
	IdempotencyKeyHeader = "Idempotency-Key"
	// EventHeader carries the event's [Kind].
	EventHeader = "Flightdeck-Event"
)

// DefaultTolerance is how far a signature's timestamp may be from now
// when [Verify] is given a tolerance of zero: five minutes, as Stripe
// uses.
const DefaultTolerance = 5 * time.Minute

// Sign returns the value of [SignatureHeader] for body sent at t:
// "t=<unix seconds>,v1=<hex of HMAC-SHA256(secret, "<unix seconds>.<body>")>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a [SignatureHeader] value for body, as a receiver must
// before trusting a delivery: the header names one timestamp and one or
// more v1 signatures (several while a sender rotates secrets); one of
// them must be the HMAC of "<t>.<body>" under secret, compared in
// constant time; and t must be within tolerance of now, either side
// (zero means [DefaultTolerance]; negative disables the check, which
// makes replays possible). Unknown schemes (v0=…) are ignored.
//
// A timestamp within tolerance does not make a delivery unique: a
// receiver that must act once per event also remembers the
// [IdempotencyKeyHeader] values it accepted for at least the tolerance.
//
// It returns nil or an error wrapping [ErrNoSignature],
// [ErrSignatureMismatch] or [ErrStaleSignature]; a timestamp outside
// tolerance is reported even when the signature is also wrong.
func Verify(secret []byte, header string, body []byte, tolerance time.Duration, now time.Time) error {
	if len(secret) == 0 {
		return errors.New("notify: verify signature: empty secret")
	}
	var (
		ts    string
		nts   int
		sigs  [][]byte
		valid = true
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			valid = false
			continue
		}
		switch k {
		case "t":
			ts = v
			nts++
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if !valid || nts != 1 || err != nil || len(sigs) == 0 {
		return fmt.Errorf("notify: verify signature: %w: want %s: t=<unix seconds>,v1=<hex>", ErrNoSignature, SignatureHeader)
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if tolerance > 0 {
		sent := time.Unix(sec, 0)
		if d := now.Sub(sent); d > tolerance || d < -tolerance {
			return fmt.Errorf("notify: verify signature: %w: signed at %s, %s from now, tolerance %s",
				ErrStaleSignature, sent.UTC().Format(time.RFC3339), d.Round(time.Second), tolerance)
		}
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		// Check every candidate so the time taken does not say which one
		// (or whether any) matched.
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("notify: verify signature: %w", ErrSignatureMismatch)
	}
	return nil
}
