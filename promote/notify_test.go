package promote_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/notify"
	"github.com/flightdeck-dev/flightdeck/notify/notifytest"
	"github.com/flightdeck-dev/flightdeck/promote"
)

// TestNotifyObserver promotes a release to prod through a maintenance
// window and two approvals, and checks what stakeholders are told.
func TestNotifyObserver(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var rec notifytest.Recorder
	var seen []promote.Event
	obs := promote.NotifyObserver(&rec, notify.Source{})
	p := e.promoter(ladder(
		promote.Windows{Deny: []promote.Window{{Name: "maintenance", Schedule: "0 9 * * mon", Duration: 2 * time.Hour, TimeZone: "UTC"}}},
		promote.Approvals{Rules: []promote.Rule{{N: 2, Of: []string{"group:sre"}}},
			Groups: map[string][]string{"sre": {"alice", "bob"}}, Verifier: promote.TrustedCaller{}},
	), promote.WithObserver(func(ev promote.Event) { seen = append(seen, ev); obs(ev) }))

	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	_, err = p.Promote(ctx, promote.Request{Actor: "ann@example.com"}, pl)
	require.Error(t, err)
	for _, who := range []string{"alice", "bob"} {
		_, err := p.Approve(ctx, pl, promote.Approval{App: "shop", Environment: "prod", PlanHash: pl.Hash, Approver: who,
			Decision: promote.Approve, Time: e.clk.Now()}, nil)
		require.NoError(t, err)
	}
	e.clk.Set(t0.Add(2 * time.Hour))
	_, err = p.Promote(ctx, promote.Request{Actor: "ann@example.com"}, pl)
	require.NoError(t, err)

	got := rec.Events()
	kinds := make([]notify.Kind, len(got))
	for i, ne := range got {
		kinds[i] = ne.Kind
		assert.Equal(t, "shop", ne.App)
		assert.Equal(t, "prod", ne.Environment)
		assert.Equal(t, pl.Release.Digest, ne.Release.Digest)
		assert.Equal(t, pl.Hash, ne.Details["plan"])
		assert.NoError(t, ne.Validate())
	}
	require.Equal(t, []notify.Kind{notify.ApprovalRequested, notify.BlockedByPolicy,
		notify.ApprovalGranted, notify.ApprovalGranted, notify.Promoted}, kinds)
	assert.Contains(t, got[0].Summary, "shop 1.2.0 to prod waits for approvals: approvals 0 of 2 from group:sre")
	assert.Contains(t, got[1].Summary, "blocked by windows: ")
	assert.Equal(t, "ann@example.com", got[1].Actor)
	assert.Equal(t, "alice", got[2].Actor)
	assert.Equal(t, "bob", got[3].Actor)
	assert.Equal(t, "shop 1.2.0 promoted from staging to prod", got[4].Summary)
	assert.Equal(t, "ann@example.com", got[4].Actor)
	assert.Contains(t, got[4].ReleaseNotes, "change 2 (Eve <eve@example.com>)")
	assert.NotEmpty(t, got[4].Details["commit"])

	// The same event observed again has the same idempotency key; the
	// two approvals have two.
	obs(seen[len(seen)-1])
	again := rec.Events()
	require.Len(t, again, len(got)+1)
	assert.Equal(t, got[4].Key(), again[len(got)].Key())
	assert.NotEqual(t, got[2].Key(), got[3].Key())
}
