package notifytest_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func ev(n int) notify.Event {
	return notify.Event{Kind: notify.Deployed, App: "web", Time: clocktest.Default.Add(time.Duration(n) * time.Second)}
}

func TestRecorderRecordsConcurrently(t *testing.T) {
	var r notifytest.Recorder
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { assert.NoError(t, r.Notify(t.Context(), ev(i))) })
	}
	wg.Wait()
	assert.Len(t, r.Events(), 50)
	assert.Equal(t, 50, r.Calls())
	assert.Zero(t, r.InFlight())
}

func TestRecorderFailNext(t *testing.T) {
	var r notifytest.Recorder
	r.FailNext(2, nil)
	assert.ErrorIs(t, r.Notify(t.Context(), ev(0)), notifytest.ErrInjected)
	boom := errors.New("boom")
	r.FailNext(1, boom)
	assert.ErrorIs(t, r.Notify(t.Context(), ev(1)), boom, "FailNext replaces what was pending")
	assert.NoError(t, r.Notify(t.Context(), ev(2)))
	assert.Equal(t, 3, r.Calls())
	require.Len(t, r.Events(), 1)
	assert.Equal(t, ev(2), r.Events()[0])
}

func TestRecorderBlockUntilReleased(t *testing.T) {
	var r notifytest.Recorder
	r.Block()
	done := make(chan error, 2)
	go func() { done <- r.Notify(t.Context(), ev(0)) }()
	ctx, cancel := context.WithCancel(t.Context())
	go func() { done <- r.Notify(ctx, ev(1)) }()
	require.NoError(t, r.WaitForCalls(t.Context(), 2))
	assert.Equal(t, 2, r.InFlight())
	assert.Empty(t, r.Events(), "nothing recorded while blocked")

	cancel()
	assert.ErrorIs(t, <-done, context.Canceled, "a blocked call ends with its context")
	r.Release()
	assert.NoError(t, <-done)
	require.NoError(t, r.WaitForEvents(t.Context(), 1))
	assert.Equal(t, []notify.Event{ev(0)}, r.Events())
	assert.NoError(t, r.Notify(t.Context(), ev(2)), "released: calls no longer block")

	waitCtx, cancelWait := context.WithCancel(t.Context())
	cancelWait()
	assert.ErrorIs(t, r.WaitForEvents(waitCtx, 10), context.Canceled)
}

func TestReceiverScriptAndHang(t *testing.T) {
	rcv := notifytest.NewReceiver(nil)
	defer rcv.Close()
	rcv.Script(notifytest.Response{Status: 429, RetryAfter: "3", Body: "slow down"}, notifytest.Response{})
	post := func(key string) *http.Response {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rcv.URL, bytes.NewReader([]byte(`{"text":"hi"}`)))
		require.NoError(t, err)
		req.Header.Set(notify.IdempotencyKeyHeader, key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	resp := post("k1")
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "3", resp.Header.Get("Retry-After"))
	assert.Equal(t, 500, post("k1").StatusCode, "a zero scripted status is 500")
	assert.Equal(t, 200, post("k1").StatusCode)
	assert.Equal(t, 200, post("k1").StatusCode)
	assert.Equal(t, 1, rcv.Replays())
	require.Len(t, rcv.Accepted(), 1)
	assert.Equal(t, `{"text":"hi"}`, string(rcv.Accepted()[0].Body))

	rcv.Hang()
	got := make(chan int, 1)
	go func() { got <- post("k2").StatusCode }()
	require.NoError(t, rcv.WaitForRequests(t.Context(), 5))
	assert.Len(t, rcv.Deliveries(), 4, "the hung request is not answered yet")
	rcv.Release()
	assert.Equal(t, 200, <-got)
	require.NoError(t, rcv.WaitForDeliveries(t.Context(), 5))
}

func TestReceiverVerifiesSignatures(t *testing.T) {
	clk := clocktest.New(time.Time{})
	rcv := notifytest.NewReceiver(secret, notifytest.WithClock(clk), notifytest.WithTolerance(time.Minute))
	defer rcv.Close()
	body := []byte(`{"kind":"on-deployed","app":"web","time":"2026-01-01T00:00:00Z"}`)
	post := func(sig string) int {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, rcv.URL, bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set(notify.SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, post(notify.Sign(secret, clk.Now(), body)))
	assert.Equal(t, 401, post(""))
	assert.Equal(t, 401, post(notify.Sign(secret, clk.Now().Add(-2*time.Minute), body)), "outside the 1m tolerance")
	ds := rcv.Deliveries()
	require.Len(t, ds, 3)
	assert.Equal(t, notify.Kind("on-deployed"), ds[0].Event.Kind)
	assert.ErrorIs(t, ds[1].VerifyErr, notify.ErrNoSignature)
	assert.ErrorIs(t, ds[2].VerifyErr, notify.ErrStaleSignature)
	assert.Len(t, rcv.Accepted(), 1)
}
