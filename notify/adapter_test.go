package notify_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
)

func TestSourceSend(t *testing.T) {
	var rec notifytest.Recorder
	own := []notify.Link{{Title: "PR", URL: "https://git.example.com/pr/1"}}
	src := notify.Source{Links: []notify.Link{{Title: "Argo CD", URL: "https://argocd.example.com"}}}
	src.Send(context.Background(), &rec, "strategy", notify.Event{Kind: notify.Aborted, App: "shop", Links: own})
	src.Actor = "platform-bot"
	src.Send(context.Background(), &rec, "strategy", notify.Event{Kind: notify.Aborted, App: "shop"})
	src.Send(context.Background(), &rec, "strategy", notify.Event{Kind: notify.Aborted, App: "shop", Actor: "jo"})
	got := rec.Events()
	require.Len(t, got, 3)
	assert.Equal(t, "strategy", got[0].Actor, "the package's name without an actor")
	assert.Equal(t, []string{"PR", "Argo CD"}, []string{got[0].Links[0].Title, got[0].Links[1].Title})
	assert.Len(t, own, 1, "the event's own links are not appended to")
	assert.Equal(t, "platform-bot", got[1].Actor)
	assert.Equal(t, "jo", got[2].Actor, "the event's own actor wins")
}

func TestSourceSendLogsAndSurvives(t *testing.T) {
	var logs bytes.Buffer
	src := notify.Source{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	failing := notify.NotifierFunc(func(context.Context, notify.Event) error { return errors.New("receiver down") })
	panicking := notify.NotifierFunc(func(context.Context, notify.Event) error { panic("bug") })
	e := notify.Event{Kind: notify.RolledBack, App: "shop", Environment: "prod"}
	src.Send(context.Background(), failing, "rollback", e)
	assert.NotPanics(t, func() { src.Send(context.Background(), panicking, "rollback", e) })
	assert.NotPanics(t, func() { src.Send(context.Background(), nil, "rollback", e) })
	assert.Contains(t, logs.String(), "event not delivered")
	assert.Contains(t, logs.String(), "receiver down")
	assert.Contains(t, logs.String(), "notifier panicked")
}

func TestVersion(t *testing.T) {
	d := "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	assert.Equal(t, "1.2.0", notify.Version(flightdeck.Release{Tag: "1.2.0", Digest: d}))
	assert.Equal(t, "sha256:0123456789ab", notify.Version(flightdeck.Release{Digest: d}))
	assert.Equal(t, "a release", notify.Version(flightdeck.Release{}))
}
