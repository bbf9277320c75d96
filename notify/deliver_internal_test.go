package notify

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRetryDelay(t *testing.T) {
	r := Retry{Jitter: -1}
	assert.Equal(t, 5, r.attempts())
	for n, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		assert.Equal(t, want, r.delay(n+1))
	}
	assert.Equal(t, time.Minute, r.delay(30), "capped at MaxBackoff")
	assert.Equal(t, 3*time.Second, Retry{Backoff: 3 * time.Second, Multiplier: 0.5, Jitter: -1}.delay(4), "multiplier below 1 is 1")
	assert.Equal(t, 5*time.Second, Retry{Backoff: 10 * time.Second, MaxBackoff: 5 * time.Second, Jitter: -1}.delay(1))
	for range 100 {
		d := Retry{Jitter: 1}.delay(1)
		assert.True(t, d >= 0 && d <= time.Second, d)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":            0,
		"5":           5 * time.Second,
		" 12 ":        12 * time.Second,
		"0":           0,
		"-3":          0,
		"soon":        0,
		"99999999999": 24 * time.Hour,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
		now.Add(-time.Hour).Format(http.TimeFormat):       0,
	} {
		assert.Equal(t, want, parseRetryAfter(v, now), "%q", v)
	}
}

func TestRedactor(t *testing.T) {
	var r redactor
	r.add("abc", "longsecret", "longsecretvalue")
	assert.Equal(t, "a abc REDACTED REDACTED", r.string("a abc longsecretvalue longsecret"),
		"short values are left alone; the longest secret goes whole")

	base := errors.New("boom")
	err := r.err(&url.Error{Op: "Post", URL: "https://x/longsecret", Err: base})
	assert.Equal(t, `Post "https://x/REDACTED": boom`, err.Error())
	assert.ErrorIs(t, err, base, "sentinels still match")
	var ue *url.Error
	assert.False(t, errors.As(err, &ue), "the original, with its secret, is not reachable")
	assert.Same(t, base, r.err(base), "clean errors pass through")
	assert.NoError(t, r.err(nil))
}

func TestDisplayURL(t *testing.T) {
	u, err := url.Parse("https://bot:pw@hooks.example.com/services/T0/B0/tok?a=1")
	require.NoError(t, err)
	assert.Equal(t, "https://hooks.example.com/services/T0/B0/tok?REDACTED", displayURL(u, false))
	assert.Equal(t, "https://hooks.example.com/REDACTED?REDACTED", displayURL(u, true))
	u, err = url.Parse("https://hooks.example.com")
	require.NoError(t, err)
	assert.Equal(t, "https://hooks.example.com", displayURL(u, true))
}
