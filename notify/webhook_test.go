package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
)

var noJitter = notify.Retry{Jitter: -1}

// newWebhook returns a webhook to a fresh receiver, both on clk.
func newWebhook(t *testing.T, clk *clocktest.Clock, opts ...notify.Option) (*notify.Webhook, *notifytest.Receiver) {
	t.Helper()
	rcv := notifytest.NewReceiver(testSecret, notifytest.WithClock(clk))
	t.Cleanup(rcv.Close)
	wh, err := notify.NewWebhook(rcv.URL+"/hooks/flightdeck", testSecret, append([]notify.Option{notify.WithClock(clk)}, opts...)...)
	require.NoError(t, err)
	return wh, rcv
}

func TestWebhookDeliversSignedEvent(t *testing.T) {
	clk := clocktest.New(testTime)
	wh, rcv := newWebhook(t, clk)
	e := promoted()
	e.Time = time.Time{} // stamped by the notifier's clock

	require.NoError(t, wh.Notify(t.Context(), e))

	got := rcv.Accepted()
	require.Len(t, got, 1)
	d := got[0]
	assert.NoError(t, d.VerifyErr)
	assert.Equal(t, "application/json", d.Header.Get("Content-Type"))
	assert.Equal(t, "on-promoted", d.Header.Get(notify.EventHeader))
	assert.Contains(t, d.Header.Get(notify.SignatureHeader), "t=1772447400,v1=")
	e.Time = testTime
	assert.Equal(t, e.Key(), d.Key)
	assert.Equal(t, e.Key(), d.Event.Key())
	assert.Equal(t, "checkout v1.4.2 promoted from staging to prod", d.Event.Summary)
	assert.True(t, testTime.Equal(d.Event.Time))
	assert.Equal(t, "http://"+rcv.URL[len("http://"):]+"/hooks/flightdeck", wh.Endpoint())
}

func TestWebhookRetriesServerErrorsThenSucceeds(t *testing.T) {
	clk := clocktest.NewAuto(testTime)
	wh, rcv := newWebhook(t, clk, notify.WithRetry(noJitter))
	rcv.FailNext(2, http.StatusInternalServerError)

	require.NoError(t, wh.Notify(t.Context(), promoted()))

	ds := rcv.Deliveries()
	require.Len(t, ds, 3)
	assert.Equal(t, []int{500, 500, 200}, []int{ds[0].Status, ds[1].Status, ds[2].Status})
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, clk.Waits())
	for _, d := range ds {
		assert.Equal(t, promoted().Key(), d.Key, "one key across retries")
		assert.NoError(t, d.VerifyErr)
	}
	assert.NotEqual(t, ds[0].Header.Get(notify.SignatureHeader), ds[2].Header.Get(notify.SignatureHeader),
		"every attempt is signed afresh")
	assert.Len(t, rcv.Accepted(), 1)
	assert.Zero(t, rcv.Replays(), "a retry after a failure is not a replay")
}

func TestWebhookRetryStatuses(t *testing.T) {
	for _, status := range []int{408, 429, 500, 502, 503, 504} {
		clk := clocktest.NewAuto(testTime)
		wh, rcv := newWebhook(t, clk, notify.WithRetry(noJitter))
		rcv.FailNext(1, status)
		require.NoError(t, wh.Notify(t.Context(), promoted()), "status %d", status)
		assert.Len(t, rcv.Deliveries(), 2, "status %d is retried", status)
	}
}

func TestWebhookBackoffGrowsWithJitterWithinBounds(t *testing.T) {
	clk := clocktest.NewAuto(testTime)
	wh, rcv := newWebhook(t, clk, notify.WithRetry(notify.Retry{Attempts: 6, Backoff: time.Second, MaxBackoff: 10 * time.Second}))
	rcv.FailNext(5, http.StatusServiceUnavailable)

	require.NoError(t, wh.Notify(t.Context(), promoted()))

	waits := clk.Waits()
	require.Len(t, waits, 5)
	for i, full := range []time.Duration{1, 2, 4, 8, 10} {
		full *= time.Second
		assert.LessOrEqual(t, waits[i], full, "wait %d", i)
		assert.GreaterOrEqual(t, waits[i], full*8/10, "wait %d: default jitter takes at most 20%%", i)
	}
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	clk := clocktest.NewAuto(testTime)
	wh, rcv := newWebhook(t, clk, notify.WithRetry(noJitter))
	rcv.Script(
		notifytest.Response{Status: 429, RetryAfter: "7"},
		notifytest.Response{Status: 503, RetryAfter: testTime.Add(7*time.Second + 30*time.Second).Format(http.TimeFormat)},
	)

	require.NoError(t, wh.Notify(t.Context(), promoted()))

	assert.Equal(t, []time.Duration{7 * time.Second, 30 * time.Second}, clk.Waits(),
		"Retry-After in seconds and as an HTTP date replace the backoff")
	assert.Len(t, rcv.Accepted(), 1)
}

func TestWebhookRetryAfterBeyondMaxBackoffGivesUp(t *testing.T) {
	clk := clocktest.NewAuto(testTime)
	wh, rcv := newWebhook(t, clk, notify.WithRetry(notify.Retry{MaxBackoff: time.Minute}))
	rcv.Script(notifytest.Response{Status: 429, RetryAfter: "3600"})

	err := wh.Notify(t.Context(), promoted())

	require.ErrorIs(t, err, notify.ErrExhausted)
	assert.ErrorContains(t, err, "retry after 1h0m0s, more than the 1m0s allowed")
	assert.Len(t, rcv.Deliveries(), 1)
	assert.Empty(t, clk.Waits())
}

func TestWebhookPermanentClientError(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 410, 422} {
		clk := clocktest.NewAuto(testTime)
		wh, rcv := newWebhook(t, clk)
		rcv.Script(notifytest.Response{Status: status, Body: "unknown field \"kind\""})

		err := wh.Notify(t.Context(), promoted())

		require.ErrorIs(t, err, notify.ErrRejected, "status %d", status)
		var de *notify.DeliveryError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, status, de.StatusCode)
		assert.Equal(t, 1, de.Attempts)
		assert.Equal(t, notify.Promoted, de.Kind)
		assert.Equal(t, promoted().Key(), de.Key)
		assert.ErrorContains(t, err, "notify: deliver on-promoted of checkout to http://")
		assert.ErrorContains(t, err, fmt.Sprintf("1 attempt: rejected by receiver: %d %s", status, http.StatusText(status)))
		assert.ErrorContains(t, err, `"unknown field \"kind\""`, "the receiver's reason is quoted")
		assert.Len(t, rcv.Deliveries(), 1, "status %d is not retried", status)
		assert.Empty(t, clk.Waits())
	}
}

func TestWebhookGivesUpAfterAttempts(t *testing.T) {
	clk := clocktest.NewAuto(testTime)
	wh, rcv := newWebhook(t, clk, notify.WithRetry(notify.Retry{Attempts: 3, Jitter: -1}))
	rcv.FailNext(10, http.StatusBadGateway)

	err := wh.Notify(t.Context(), promoted())

	require.ErrorIs(t, err, notify.ErrExhausted)
	assert.ErrorContains(t, err, "3 attempts: attempts exhausted: 502 Bad Gateway")
	assert.Len(t, rcv.Deliveries(), 3)
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, clk.Waits())
}

func TestWebhookCancelMidBackoff(t *testing.T) {
	clk := clocktest.New(testTime)
	wh, rcv := newWebhook(t, clk, notify.WithRetry(noJitter))
	rcv.FailNext(10, http.StatusServiceUnavailable)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)

	go func() { errc <- wh.Notify(ctx, promoted()) }()
	require.NoError(t, clk.WaitForTimers(t.Context(), 1), "the first attempt failed and the backoff started")
	cancel()
	err := <-errc

	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "while waiting to retry; last attempt: 503 Service Unavailable")
	var de *notify.DeliveryError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, 1, de.Attempts)
	assert.Len(t, rcv.Deliveries(), 1, "no attempt after the cancellation")
	assert.Equal(t, []time.Duration{time.Second}, clk.Waits())
	assert.Equal(t, testTime, clk.Now(), "the clock never moved")
}

func TestWebhookCancelWhileReceiverHangs(t *testing.T) {
	clk := clocktest.New(testTime)
	wh, rcv := newWebhook(t, clk)
	rcv.Hang()
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)

	go func() { errc <- wh.Notify(ctx, promoted()) }()
	require.NoError(t, rcv.WaitForRequests(t.Context(), 1))
	cancel()

	err := <-errc
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, clk.Pending(), "no retry was scheduled")
}

func TestWebhookDoesNotFollowRedirects(t *testing.T) {
	clk := clocktest.NewAuto(testTime)
	rcv := notifytest.NewReceiver(testSecret, notifytest.WithClock(clk))
	defer rcv.Close()
	redirect := httptest.NewServer(http.RedirectHandler(rcv.URL, http.StatusTemporaryRedirect))
	defer redirect.Close()
	wh, err := notify.NewWebhook(redirect.URL, testSecret, notify.WithClock(clk))
	require.NoError(t, err)

	err = wh.Notify(t.Context(), promoted())

	require.ErrorIs(t, err, notify.ErrRejected)
	assert.ErrorContains(t, err, "redirects are not followed")
	assert.Empty(t, rcv.Deliveries(), "the signed body never left for another URL")
}

func TestReceiverDetectsReplays(t *testing.T) {
	clk := clocktest.New(testTime)
	wh, rcv := newWebhook(t, clk)
	require.NoError(t, wh.Notify(t.Context(), promoted()))
	first := rcv.Deliveries()[0]

	resend := func() *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rcv.URL, bytes.NewReader(first.Body))
		require.NoError(t, err)
		req.Header = first.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}

	// Captured and sent again within the tolerance: the signature holds,
	// the key gives it away.
	clk.Advance(time.Minute)
	assert.Equal(t, http.StatusOK, resend().StatusCode)
	ds := rcv.Deliveries()
	require.Len(t, ds, 2)
	assert.NoError(t, ds[1].VerifyErr)
	assert.True(t, ds[1].Replay)
	assert.Equal(t, 1, rcv.Replays())
	assert.Len(t, rcv.Accepted(), 1, "acted on once")

	// Sent again later: the timestamp gives it away.
	clk.Advance(notify.DefaultTolerance)
	assert.Equal(t, http.StatusUnauthorized, resend().StatusCode)
	ds = rcv.Deliveries()
	require.Len(t, ds, 3)
	assert.ErrorIs(t, ds[2].VerifyErr, notify.ErrStaleSignature)
	assert.Len(t, rcv.Accepted(), 1)
}

func TestReceiverRefusesWrongSecret(t *testing.T) {
	clk := clocktest.NewAuto(testTime)
	rcv := notifytest.NewReceiver([]byte("the receiver's own secret value"), notifytest.WithClock(clk))
	defer rcv.Close()
	wh, err := notify.NewWebhook(rcv.URL, testSecret, notify.WithClock(clk))
	require.NoError(t, err)

	err = wh.Notify(t.Context(), promoted())

	require.ErrorIs(t, err, notify.ErrRejected, "401 is final: retrying with the same secret cannot help")
	ds := rcv.Deliveries()
	require.Len(t, ds, 1)
	assert.ErrorIs(t, ds[0].VerifyErr, notify.ErrSignatureMismatch)
}

func TestNewWebhookRefusesBadInput(t *testing.T) {
	_, err := notify.NewWebhook("https://hooks.example.com/x", []byte("short"))
	assert.ErrorContains(t, err, "at least 16 bytes")

	for _, u := range []string{"", "hooks.example.com/x?token=s3cr3t-value", "ftp://hooks.example.com/?token=s3cr3t-value", "://bad?token=s3cr3t-value"} {
		_, err := notify.NewWebhook(u, testSecret)
		require.Error(t, err, u)
		assert.ErrorContains(t, err, "want an absolute http or https URL")
		assert.NotContains(t, err.Error(), "s3cr3t-value")
	}
}

func TestWebhookRefusesInvalidEvent(t *testing.T) {
	wh, rcv := newWebhook(t, clocktest.New(testTime))
	err := wh.Notify(t.Context(), notify.Event{Kind: notify.Deployed})
	require.ErrorIs(t, err, notify.ErrInvalidEvent)
	assert.ErrorContains(t, err, "notify: webhook: invalid event on-deployed of (no app): app is empty")
	assert.Empty(t, rcv.Deliveries())
}

func TestWebhookAttemptTimeoutIsRetried(t *testing.T) {
	clk := clocktest.NewAuto(testTime)
	wh, rcv := newWebhook(t, clk, notify.WithTimeout(time.Nanosecond), notify.WithRetry(notify.Retry{Attempts: 2, Jitter: -1}))

	err := wh.Notify(t.Context(), promoted())

	require.ErrorIs(t, err, notify.ErrExhausted, "an attempt past its deadline is temporary")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, []time.Duration{time.Second}, clk.Waits())
	assert.Empty(t, rcv.Deliveries())
}

type countingTransport struct {
	n  int
	rt http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n++
	return c.rt.RoundTrip(r)
}

func TestWebhookUsesGivenClientWithoutChangingIt(t *testing.T) {
	tr := &countingTransport{rt: http.DefaultTransport}
	client := &http.Client{Transport: tr}
	wh, rcv := newWebhook(t, clocktest.New(testTime), notify.WithHTTPClient(client))

	require.NoError(t, wh.Notify(t.Context(), promoted()))

	assert.Equal(t, 1, tr.n)
	assert.Len(t, rcv.Accepted(), 1)
	assert.Nil(t, client.CheckRedirect, "the caller's client is not modified")
}
