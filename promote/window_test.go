package promote_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/promote"
)

func berlin(t *testing.T, y int, m time.Month, d, h, min int) time.Time {
	loc, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	return time.Date(y, m, d, h, min, 0, 0, loc)
}

func evalAt(ws promote.Windows, at time.Time, in promote.Input) promote.Verdict {
	in.Now = at
	in.Plan = &promote.Plan{App: "shop", From: "staging", To: "prod"}
	return ws.Evaluate(context.Background(), &in)
}

// Clocks in Berlin go from 02:00 CET to 03:00 CEST on 2026-03-29.
func TestWindowEdgesAcrossDST(t *testing.T) {
	office := promote.Windows{
		Allow: []promote.Window{{Name: "office hours", Schedule: "0 9 * * mon-fri", Duration: 8 * time.Hour, TimeZone: "Europe/Berlin"}},
		Deny:  []promote.Window{{Name: "weekend freeze", Schedule: "0 16 * * fri", Duration: 66 * time.Hour, TimeZone: "Europe/Berlin"}},
	}
	require.NoError(t, office.Validate())

	// Before DST (UTC+1): the window opens at 08:00 UTC.
	v := evalAt(office, berlin(t, 2026, 3, 27, 8, 59), promote.Input{})
	assert.False(t, v.Allowed)
	assert.True(t, berlin(t, 2026, 3, 27, 9, 0).Equal(v.NotBefore), v.NotBefore.String())
	assert.Equal(t, 8, v.NotBefore.UTC().Hour())
	assert.True(t, evalAt(office, berlin(t, 2026, 3, 27, 9, 0), promote.Input{}).Allowed)
	assert.True(t, evalAt(office, berlin(t, 2026, 3, 27, 15, 59), promote.Input{}).Allowed)

	// Deny wins: at 16:00 on Friday the allow window is still open.
	v = evalAt(office, berlin(t, 2026, 3, 27, 16, 0), promote.Input{})
	assert.False(t, v.Allowed)
	assert.Contains(t, v.Reason, `deny window "weekend freeze" is open until 2026-03-30T11:00:00+02:00`)
	// 66 h of elapsed time from Friday 16:00 CET end at Monday 11:00 CEST
	// (one hour of the night is skipped), inside Monday's office hours.
	assert.True(t, berlin(t, 2026, 3, 30, 11, 0).Equal(v.NotBefore), v.NotBefore.String())

	// After DST (UTC+2): Monday's window opens at 07:00 UTC, and the
	// freeze still holds until 11:00 local.
	v = evalAt(office, time.Date(2026, 3, 30, 6, 59, 0, 0, time.UTC), promote.Input{})
	assert.False(t, v.Allowed)
	assert.True(t, evalAt(office, time.Date(2026, 3, 30, 9, 0, 0, 0, time.UTC), promote.Input{}).Allowed)
	assert.False(t, evalAt(office, time.Date(2026, 3, 30, 8, 59, 59, 0, time.UTC), promote.Input{}).Allowed)

	// Tuesday after DST, without the freeze: 09:00 local is 07:00 UTC.
	v = evalAt(office, time.Date(2026, 3, 31, 6, 59, 0, 0, time.UTC), promote.Input{})
	assert.False(t, v.Allowed)
	assert.True(t, time.Date(2026, 3, 31, 7, 0, 0, 0, time.UTC).Equal(v.NotBefore), v.NotBefore.String())
	assert.Contains(t, v.Reason, `outside every allow window ("office hours")`)

	// A start inside the skipped hour (02:30 does not exist on 03-29)
	// happens once, an hour later in wall-clock terms, and lasts its
	// duration.
	nightly := promote.Windows{Allow: []promote.Window{{Schedule: "30 2 * * *", Duration: time.Hour, TimeZone: "Europe/Berlin"}}}
	v = evalAt(nightly, berlin(t, 2026, 3, 29, 1, 0), promote.Input{})
	assert.False(t, v.Allowed)
	assert.Equal(t, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), v.NotBefore.UTC())
	assert.True(t, evalAt(nightly, time.Date(2026, 3, 29, 2, 29, 0, 0, time.UTC), promote.Input{}).Allowed)
	assert.False(t, evalAt(nightly, time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC), promote.Input{}).Allowed)
}

func TestWindowOverridesAndRollbacks(t *testing.T) {
	freeze := promote.Windows{Deny: []promote.Window{{Name: "freeze", Schedule: "0 0 * * *", Duration: 24 * time.Hour}}, OverrideRoles: []string{"release-manager"}}
	at := time.Date(2026, 12, 24, 12, 0, 0, 0, time.UTC)
	assert.False(t, evalAt(freeze, at, promote.Input{Roles: []string{"developer"}}).Allowed)
	v := evalAt(freeze, at, promote.Input{Actor: "rm", Roles: []string{"release-manager"}})
	assert.True(t, v.Allowed)
	assert.Contains(t, v.Reason, "overridden by rm as release-manager")
	v = evalAt(freeze, at, promote.Input{Rollback: true})
	assert.True(t, v.Allowed)
	assert.Equal(t, "rollbacks are not gated by windows", v.Reason)
	freeze.GateRollbacks = true
	assert.False(t, evalAt(freeze, at, promote.Input{Rollback: true}).Allowed)
}

func TestWindowConfigErrors(t *testing.T) {
	for _, w := range []promote.Window{
		{Schedule: "0 9 * *", Duration: time.Hour},
		{Schedule: "61 9 * * *", Duration: time.Hour},
		{Schedule: "0 9 * * *", Duration: 0},
		{Schedule: "0 9 * * *", Duration: time.Hour, TimeZone: "Mars/Olympus"},
		{Schedule: "0 9 * * blursday", Duration: time.Hour},
	} {
		ws := promote.Windows{Allow: []promote.Window{w}}
		assert.Error(t, ws.Validate(), "%+v", w)
		assert.False(t, evalAt(ws, time.Now(), promote.Input{}).Allowed, "a bad window blocks")
	}
	_, err := promote.New(nil, promote.Ladder{{Name: "prod", Policies: []promote.Policy{promote.Windows{Deny: []promote.Window{{Schedule: "x", Duration: time.Hour}}}}}})
	assert.ErrorContains(t, err, "ladder: environment prod: policy windows: window")
}

func TestFreezeWindowOnRealGit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	p := e.promoter(ladder(promote.Windows{Deny: []promote.Window{{Name: "freeze", Schedule: "0 8 2 3 *", Duration: 4 * time.Hour}}}))
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.ErrorIs(t, err, promote.ErrBlocked)
	ex, err := p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.True(t, time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC).Equal(ex.NotBefore), ex.String())
	e.clk.Set(ex.NotBefore)
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.NoError(t, err)
}
