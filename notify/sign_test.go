package notify_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/notify"
)

func TestSignVerifyRoundTrip(t *testing.T) {
	body := []byte(`{"kind":"on-deployed","app":"checkout"}`)
	h := notify.Sign(testSecret, testTime, body)
	assert.Regexp(t, fmt.Sprintf(`^t=%d,v1=[0-9a-f]{64}$`, testTime.Unix()), h)
	assert.NoError(t, notify.Verify(testSecret, h, body, time.Minute, testTime.Add(59*time.Second)))
	assert.NotEqual(t, h, notify.Sign(testSecret, testTime.Add(time.Second), body), "the timestamp is signed")
}

func TestVerifyTamperedBody(t *testing.T) {
	body := []byte(`{"kind":"on-deployed","app":"checkout"}`)
	h := notify.Sign(testSecret, testTime, body)
	err := notify.Verify(testSecret, h, []byte(`{"kind":"on-deployed","app":"payments"}`), 0, testTime)
	assert.ErrorIs(t, err, notify.ErrSignatureMismatch)

	err = notify.Verify([]byte("another secret of enough length"), h, body, 0, testTime)
	assert.ErrorIs(t, err, notify.ErrSignatureMismatch)

	// Moving the signature to another timestamp breaks it.
	forged := strings.Replace(h, fmt.Sprint(testTime.Unix()), fmt.Sprint(testTime.Unix()+60), 1)
	assert.ErrorIs(t, notify.Verify(testSecret, forged, body, 0, testTime), notify.ErrSignatureMismatch)
}

func TestVerifyStaleTimestamp(t *testing.T) {
	body := []byte(`{}`)
	h := notify.Sign(testSecret, testTime, body)

	err := notify.Verify(testSecret, h, body, 0, testTime.Add(notify.DefaultTolerance+time.Second))
	require.ErrorIs(t, err, notify.ErrStaleSignature)
	assert.ErrorContains(t, err, "5m1s from now")
	assert.NoError(t, notify.Verify(testSecret, h, body, 0, testTime.Add(notify.DefaultTolerance)))

	// From the future (a sender clock ahead) is stale too.
	assert.ErrorIs(t, notify.Verify(testSecret, h, body, time.Minute, testTime.Add(-2*time.Minute)), notify.ErrStaleSignature)
	// A stale timestamp is reported even with a wrong signature.
	assert.ErrorIs(t, notify.Verify(testSecret, h, []byte("x"), time.Minute, testTime.Add(time.Hour)), notify.ErrStaleSignature)
	// A negative tolerance turns the check off.
	assert.NoError(t, notify.Verify(testSecret, h, body, -1, testTime.Add(1000*time.Hour)))
}

func TestVerifyRotatedSecrets(t *testing.T) {
	body := []byte(`{}`)
	old := []byte("the old secret, still accepted")
	hOld := notify.Sign(old, testTime, body)
	hNew := notify.Sign(testSecret, testTime, body)
	both := hNew + "," + hOld[strings.Index(hOld, "v1="):] + ",v0=ignored"
	assert.NoError(t, notify.Verify(old, both, body, 0, testTime))
	assert.NoError(t, notify.Verify(testSecret, both, body, 0, testTime))
	assert.ErrorIs(t, notify.Verify([]byte("neither of the two secrets"), both, body, 0, testTime), notify.ErrSignatureMismatch)
}

func TestVerifyMalformedHeader(t *testing.T) {
	body := []byte(`{}`)
	good := notify.Sign(testSecret, testTime, body)
	sig := good[strings.Index(good, "v1="):]
	for _, h := range []string{
		"",
		"garbage",
		sig,                                  // no timestamp
		fmt.Sprintf("t=%d", testTime.Unix()), // no signature
		fmt.Sprintf("t=%d,v1=zz", testTime.Unix()),
		fmt.Sprintf("t=%d,v1=abcd", testTime.Unix()), // too short
		fmt.Sprintf("t=%d,t=%d,%s", testTime.Unix(), testTime.Unix(), sig),
		"t=yesterday," + sig,
	} {
		err := notify.Verify(testSecret, h, body, 0, testTime)
		assert.ErrorIs(t, err, notify.ErrNoSignature, "header %q", h)
		assert.NotContains(t, fmt.Sprint(err), string(testSecret))
	}
	assert.ErrorContains(t, notify.Verify(nil, good, body, 0, testTime), "empty secret")
}
