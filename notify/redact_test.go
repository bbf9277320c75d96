package notify_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
)

// assertNoSecret checks that none of secrets occurs in texts.
func assertNoSecret(t *testing.T, secrets []string, texts ...string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range secrets {
			assert.NotContains(t, text, s)
		}
	}
}

func TestWebhookSecretsNeverInErrorsOrLogs(t *testing.T) {
	const (
		queryToken  = "qtok-8d0c7e1b5a"
		password    = "pw-77f0e2c4d9"
		bearerToken = "btok-3a9d6c2e1f"
	)
	secrets := []string{string(testSecret), queryToken, password, bearerToken}
	clk := clocktest.NewAuto(testTime)
	rcv := notifytest.NewReceiver(nil, notifytest.WithClock(clk))
	defer rcv.Close()
	// A receiver that echoes what it got, secrets included.
	rcv.Script(
		notifytest.Response{Status: 500, Body: "bad token " + bearerToken + " for " + queryToken},
		notifytest.Response{Status: 400, Body: "secret " + string(testSecret) + " password " + password},
	)
	u, err := url.Parse(rcv.URL)
	require.NoError(t, err)
	u.User = url.UserPassword("bot", password)
	u.Path = "/hooks"
	u.RawQuery = "token=" + queryToken
	var logs bytes.Buffer
	wh, err := notify.NewWebhook(u.String(), testSecret, notify.WithClock(clk),
		notify.WithHeader("Authorization", "Bearer "+bearerToken),
		notify.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(t, err)

	err = wh.Notify(t.Context(), promoted())

	require.ErrorIs(t, err, notify.ErrRejected)
	require.Len(t, rcv.Deliveries(), 2, "the secrets were really sent")
	assert.Equal(t, "Bearer "+bearerToken, rcv.Deliveries()[0].Header.Get("Authorization"))
	assert.Contains(t, logs.String(), "notification attempt failed")
	assert.Contains(t, err.Error(), "/hooks?REDACTED")
	assert.Contains(t, err.Error(), "REDACTED password REDACTED")
	assert.Equal(t, u.Scheme+"://"+u.Host+"/hooks?REDACTED", wh.Endpoint())
	assertNoSecret(t, secrets, err.Error(), logs.String(), wh.Endpoint())
	assert.NotContains(t, err.Error(), "bot@")

	// Unreachable: net/http's *url.Error quotes the URL it was given.
	rcv.Close()
	logs.Reset()
	err = wh.Notify(t.Context(), promoted())
	require.ErrorIs(t, err, notify.ErrExhausted)
	var ue *url.Error
	require.ErrorAs(t, err, &ue, "the transport error keeps its type")
	assert.Equal(t, wh.Endpoint(), ue.URL)
	assertNoSecret(t, secrets, err.Error(), logs.String())
}

func TestSlackWebhookPathNeverInErrorsOrLogs(t *testing.T) {
	const token = "xq7Lw2Pz9RkT4vYb"
	secrets := []string{token, "T0ACME/B0CHAN"}
	clk := clocktest.NewAuto(testTime)
	rcv := notifytest.NewReceiver(nil, notifytest.WithClock(clk))
	defer rcv.Close()
	rcv.Script(
		notifytest.Response{Status: 429, RetryAfter: "1"},
		notifytest.Response{Status: 404, Body: "no_service: /services/T0ACME/B0CHAN/" + token},
	)
	var logs bytes.Buffer
	sl, err := notify.NewSlack(rcv.URL+"/services/T0ACME/B0CHAN/"+token, notify.WithClock(clk),
		notify.WithLogger(slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(t, err)

	err = sl.Notify(t.Context(), promoted())

	require.ErrorIs(t, err, notify.ErrRejected)
	assert.Equal(t, rcv.URL+"/REDACTED", sl.Endpoint())
	assert.Contains(t, err.Error(), rcv.URL+"/REDACTED: 2 attempts: rejected by receiver: 404 Not Found")
	assert.Contains(t, logs.String(), `"status":429`)
	assertNoSecret(t, secrets, err.Error(), logs.String())

	rcv.Close()
	err = sl.Notify(t.Context(), promoted())
	require.Error(t, err)
	assertNoSecret(t, secrets, err.Error())

	_, err = notify.NewSlack("hooks.slack.com/services/T0ACME/B0CHAN/" + token)
	require.Error(t, err)
	assertNoSecret(t, secrets, err.Error())
}

func TestFanoutLogsOnlyRedactedErrors(t *testing.T) {
	const token = "xq7Lw2Pz9RkT4vYb"
	clk := clocktest.NewAuto(testTime)
	rcv := notifytest.NewReceiver(nil)
	defer rcv.Close()
	rcv.FailNext(1, http.StatusForbidden)
	sl, err := notify.NewSlack(rcv.URL+"/services/T0ACME/B0CHAN/"+token, notify.WithClock(clk))
	require.NoError(t, err)
	var logs bytes.Buffer
	f, err := notify.NewFanout([]notify.Target{{Name: "slack", Notifier: sl}},
		notify.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	require.NoError(t, err)

	require.NoError(t, f.Notify(t.Context(), promoted()))
	require.NoError(t, f.Close(t.Context()))

	assert.Contains(t, logs.String(), "notification failed")
	assert.Contains(t, logs.String(), "target=slack")
	assert.False(t, strings.Contains(logs.String(), token))
	assert.Equal(t, uint64(1), f.Stats()[0].Failed)
}

func TestRefusalQuoteIsRedactedBeforeItIsCut(t *testing.T) {
	const token = "btok-3a9d6c2e1f0b8a7d"
	rcv := notifytest.NewReceiver(nil)
	defer rcv.Close()
	// The token straddles the 200th character of the quoted answer.
	rcv.Script(notifytest.Response{Status: 400, Body: strings.Repeat("x", 190) + token + strings.Repeat("y", 100)})
	wh, err := notify.NewWebhook(rcv.URL, testSecret, notify.WithHeader("Authorization", "Bearer "+token))
	require.NoError(t, err)

	err = wh.Notify(t.Context(), promoted())

	require.ErrorIs(t, err, notify.ErrRejected)
	assert.Contains(t, err.Error(), strings.Repeat("x", 190)+"REDACTED")
	assert.Contains(t, err.Error(), "…")
	assert.NotContains(t, err.Error(), token[:8])
}
