package notify_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -update to create it")
	assert.Equal(t, string(want), string(got))
}

func TestSlackPayloadGolden(t *testing.T) {
	for name, e := range map[string]notify.Event{
		"slack_promoted.json": promoted(),
		"slack_aborted.json": {
			Kind: notify.Aborted, App: "checkout", Environment: "staging", Time: testTime,
			Actor:   "strategy",
			Summary: "canary aborted at step 3/8 (weight 25%): error rate 4.1% > 1%",
			Release: promoted().Release,
			Details: map[string]string{"step": "3/8", "weight": "25", "analysis": "error-rate"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			b, err := notify.SlackPayload(e)
			require.NoError(t, err)
			var pretty bytes.Buffer
			require.NoError(t, json.Indent(&pretty, b, "", "  "))
			golden(t, name, append(pretty.Bytes(), '\n'))
		})
	}
}

func TestSlackPayloadEscapesAndCuts(t *testing.T) {
	e := notify.Event{Kind: notify.Deployed, App: "web", Time: testTime,
		Summary:      "<!channel> deployed & <https://evil.example|click>",
		ReleaseNotes: strings.Repeat("é", 5000),
		Links:        []notify.Link{{Title: "a|b>c", URL: "https://ci.example.com/runs/1?x=|>"}},
		Details:      map[string]string{},
	}
	for i := range 12 {
		e.Details[string(rune('a'+i))] = "v"
	}
	b, err := notify.SlackPayload(e)
	require.NoError(t, err)
	var m struct {
		Text   string
		Blocks []struct {
			Type   string
			Text   *struct{ Text string }
			Fields []struct{ Text string }
		}
	}
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, ":white_check_mark: Deployed: web — &lt;!channel&gt; deployed &amp; &lt;https://evil.example|click&gt;", m.Text)
	assert.NotContains(t, string(b), "<!channel>", "no mention can be smuggled in")

	var sections, fields int
	for _, bl := range m.Blocks {
		if bl.Type != "section" {
			continue
		}
		sections++
		assert.LessOrEqual(t, len(bl.Fields), 10, "Slack takes at most 10 fields per section")
		fields += len(bl.Fields)
		if bl.Text != nil {
			assert.LessOrEqual(t, utf8.RuneCountInString(bl.Text.Text), 3000)
			if strings.HasPrefix(bl.Text.Text, "*Release notes*") {
				assert.True(t, strings.HasSuffix(bl.Text.Text, "…"), "long notes are cut")
			}
			if strings.HasPrefix(bl.Text.Text, "<https://ci.") {
				assert.Equal(t, "<https://ci.example.com/runs/1?x=%7C%3E|a¦b&gt;c>", bl.Text.Text)
			}
		}
	}
	assert.Equal(t, 14, fields, "app, severity and 12 details")

	_, err = notify.SlackPayload(notify.Event{Kind: notify.Deployed})
	assert.ErrorIs(t, err, notify.ErrInvalidEvent)
}

func TestSlackPostsPayload(t *testing.T) {
	clk := clocktest.New(testTime)
	rcv := notifytest.NewReceiver(nil)
	defer rcv.Close()
	sl, err := notify.NewSlack(rcv.URL+"/services/T0/B0/tok", notify.WithClock(clk))
	require.NoError(t, err)
	e := promoted()
	e.Time = testTime.Add(-time.Minute)

	require.NoError(t, sl.Notify(t.Context(), e))

	ds := rcv.Accepted()
	require.Len(t, ds, 1)
	want, err := notify.SlackPayload(e)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(ds[0].Body))
	assert.Equal(t, e.Key(), ds[0].Key)
	assert.Empty(t, ds[0].Header.Get(notify.SignatureHeader), "Slack messages are not signed")
	assert.Zero(t, ds[0].Event, "a Slack message is not an event body")
}
