package notify_test

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/notify"
)

func TestKindsCarryArgoTriggerNames(t *testing.T) {
	// Argo CD's notifications catalog, then Argo Rollouts'.
	assert.Equal(t, notify.Kind("on-deployed"), notify.Deployed)
	assert.Equal(t, notify.Kind("on-health-degraded"), notify.Degraded)
	assert.Equal(t, notify.Kind("on-sync-failed"), notify.SyncFailed)
	assert.Equal(t, notify.Kind("on-sync-succeeded"), notify.SyncSucceeded)
	assert.Equal(t, notify.Kind("on-rollout-step-completed"), notify.StepCompleted)
	assert.Equal(t, notify.Kind("on-rollout-aborted"), notify.Aborted)

	seen := map[notify.Kind]bool{}
	for _, k := range notify.Kinds() {
		assert.True(t, k.Known(), k)
		assert.NotEqual(t, string(k), k.Title(), "%s has a title", k)
		assert.Regexp(t, `^on-[a-z-]+$`, string(k))
		assert.False(t, seen[k], "%s listed twice", k)
		seen[k] = true
	}
	assert.Len(t, seen, 12)

	custom := notify.Kind("on-cost-report")
	assert.False(t, custom.Known())
	assert.Equal(t, "on-cost-report", custom.Title())
	assert.Equal(t, notify.Info, custom.Severity())
}

func TestSeverity(t *testing.T) {
	assert.Equal(t, notify.Critical, notify.Event{Kind: notify.SyncFailed}.Level())
	assert.Equal(t, notify.Warning, notify.Event{Kind: notify.RolledBack}.Level())
	assert.Equal(t, notify.Info, notify.Event{Kind: notify.Deployed}.Level())
	assert.Equal(t, notify.Critical, notify.Event{Kind: notify.Deployed, Severity: notify.Critical}.Level())
	assert.True(t, notify.Info < notify.Warning && notify.Warning < notify.Critical)

	for _, s := range []notify.Severity{notify.Info, notify.Warning, notify.Critical} {
		got, err := notify.ParseSeverity(s.String())
		require.NoError(t, err)
		assert.Equal(t, s, got)
	}
	_, err := notify.ParseSeverity("urgent")
	assert.ErrorIs(t, err, notify.ErrInvalidEvent)
	assert.ErrorContains(t, err, `"urgent"`)
}

func TestEventValidate(t *testing.T) {
	require.NoError(t, promoted().Validate())
	require.NoError(t, notify.Event{Kind: "on-cost-report", App: "checkout"}.Validate(), "custom kinds are allowed")

	tests := []struct {
		name string
		edit func(*notify.Event)
		want string
	}{
		{"no kind", func(e *notify.Event) { e.Kind = "" }, "kind is empty"},
		{"bad kind", func(e *notify.Event) { e.Kind = "On Deployed" }, `kind "On Deployed"`},
		{"no app", func(e *notify.Event) { e.App = "" }, "app is empty"},
		{"bad app", func(e *notify.Event) { e.App = "Check Out" }, `app name "Check Out"`},
		{"bad environment", func(e *notify.Event) { e.Environment = "../prod" }, `environment name "../prod"`},
		{"bad severity", func(e *notify.Event) { e.Severity = 9 }, "severity 9"},
		{"relative link", func(e *notify.Event) { e.Links = []notify.Link{{Title: "run", URL: "/runs/1"}} }, `link 0 ("run")`},
		{"script link", func(e *notify.Event) { e.Links = []notify.Link{{Title: "x", URL: "javascript:alert(1)"}} }, `link 0 ("x")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := promoted()
			tt.edit(&e)
			err := e.Validate()
			require.ErrorIs(t, err, notify.ErrInvalidEvent)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestEventJSONRoundTrip(t *testing.T) {
	in := promoted()
	in.Time = in.Time.In(time.FixedZone("CET", 3600)) // same instant, other zone
	b, err := json.Marshal(in)
	require.NoError(t, err)

	var fields map[string]any
	require.NoError(t, json.Unmarshal(b, &fields))
	assert.Equal(t, "on-promoted", fields["kind"])
	assert.Equal(t, "info", fields["severity"], "the effective severity is written")
	assert.Equal(t, "2026-03-02T10:30:00Z", fields["time"], "times in UTC")
	assert.Equal(t, in.Key(), fields["key"])
	assert.Equal(t, "v1.4.2", fields["release"].(map[string]any)["tag"])
	assert.NotContains(t, fields, "id", "empty optional fields are left out")

	var out notify.Event
	require.NoError(t, json.Unmarshal(b, &out))
	assert.True(t, in.Time.Equal(out.Time))
	assert.Equal(t, in.Key(), out.Key(), "the key survives the round trip")
	in.Time, in.Severity = out.Time, notify.Info
	assert.Equal(t, in, out)

	minimal, err := json.Marshal(notify.Event{Kind: notify.Deployed, App: "web", Time: testTime})
	require.NoError(t, err)
	assert.NotContains(t, string(minimal), "release", "a zero release is left out")
}

func TestEventKey(t *testing.T) {
	e := promoted()
	key := e.Key()
	assert.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), key)
	assert.Equal(t, key, promoted().Key(), "the same event has the same key")

	other := promoted()
	other.Time = other.Time.Add(time.Second)
	assert.NotEqual(t, key, other.Key())
	other = promoted()
	other.Details["step"] = "3/8"
	assert.NotEqual(t, key, other.Key())
	other = promoted()
	other.Kind = notify.Deployed
	assert.NotEqual(t, key, other.Key())

	withID := promoted()
	withID.ID = "deploy 4e1243b prod"
	reworded := withID
	reworded.Summary = "worded differently"
	assert.Equal(t, withID.Key(), reworded.Key(), "with an ID only kind and ID count")
	assert.NotEqual(t, key, withID.Key())
	reworded.Kind = notify.Deployed
	assert.NotEqual(t, withID.Key(), reworded.Key())
}
