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

// A blocked verdict names the time it may go once: a freeze's end is in
// its reason; when the next window keeps it closed past that end, the
// later time follows.
func TestVerdictNamesNotBeforeOnce(t *testing.T) {
	freeze := promote.Window{Name: "freeze", Schedule: "0 16 * * FRI", Duration: 64 * time.Hour}
	at := berlin(t, 2026, 3, 6, 17, 0)
	v := evalAt(promote.Windows{Deny: []promote.Window{freeze}}, at, promote.Input{})
	assert.Equal(t, `windows: blocked: deny window "freeze" is open until 2026-03-09T08:00:00Z`, v.String())
	monday := promote.Window{Name: "monday", Schedule: "0 8 * * MON", Duration: 2 * time.Hour}
	v = evalAt(promote.Windows{Deny: []promote.Window{freeze, monday}}, at, promote.Input{})
	assert.Equal(t, `windows: blocked: deny window "freeze" is open until 2026-03-09T08:00:00Z (not before 2026-03-09T10:00:00Z)`, v.String())
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
	for _, c := range []struct {
		w    promote.Window
		want string
	}{
		{promote.Window{Schedule: "0 9 * *", Duration: time.Hour}, "want 5 fields (minute hour day-of-month month day-of-week), got 4"},
		{promote.Window{Schedule: "61 9 * * *", Duration: time.Hour}, `minute: "61" is out of range 0-59`},
		{promote.Window{Schedule: "0 9 * * *", Duration: 0}, "duration 0s is not positive"},
		{promote.Window{Schedule: "0 9 * * *", Duration: time.Hour, TimeZone: "Mars/Olympus"}, "unknown time zone Mars/Olympus"},
		{promote.Window{Schedule: "0 9 * * blursday", Duration: time.Hour}, `day of week: "blursday"`},
		{promote.Window{Schedule: "0 0 30 2 *", Duration: time.Hour}, "the schedule never starts (no such day)"},
	} {
		ws := promote.Windows{Allow: []promote.Window{c.w}}
		assert.ErrorContains(t, ws.Validate(), c.want, "%+v", c.w)
		assert.False(t, evalAt(ws, time.Now(), promote.Input{}).Allowed, "a bad window blocks")
	}
	leap := promote.Windows{Deny: []promote.Window{{Name: "leap day", Schedule: "0 0 29 2 *", Duration: 24 * time.Hour}}}
	require.NoError(t, leap.Validate(), "a day that comes every four years is a day")
	assert.False(t, evalAt(leap, time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), promote.Input{}).Allowed)
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

func newYork(t *testing.T, y int, m time.Month, d, h, min int) time.Time {
	loc, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	return time.Date(y, m, d, h, min, 0, 0, loc)
}

// The same policy with RFC 5545 rules; clocks in Berlin go forward on
// 2026-03-29, clocks in New York back on 2026-11-01.
func TestRRuleWindowsAcrossDST(t *testing.T) {
	office := promote.Windows{
		Allow: []promote.Window{{Name: "office hours", RRule: "DTSTART;TZID=Europe/Berlin:20260302T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", Duration: 8 * time.Hour}},
		// From the last Friday of the month at 16:00 for two nominal days
		// and 19 hours: Monday 11:00 local, whatever the clocks did.
		Deny: []promote.Window{{Name: "month-end freeze", RRule: "DTSTART;TZID=Europe/Berlin:20260227T160000\nRRULE:FREQ=MONTHLY;BYDAY=-1FR\nDURATION:P2DT19H"}},
	}
	require.NoError(t, office.Validate())
	v := evalAt(office, berlin(t, 2026, 3, 27, 8, 59), promote.Input{})
	assert.False(t, v.Allowed)
	assert.True(t, berlin(t, 2026, 3, 27, 9, 0).Equal(v.NotBefore), v.NotBefore.String())
	assert.True(t, evalAt(office, berlin(t, 2026, 3, 27, 15, 59), promote.Input{}).Allowed)
	v = evalAt(office, berlin(t, 2026, 3, 27, 16, 0), promote.Input{})
	assert.False(t, v.Allowed, "deny wins")
	assert.Contains(t, v.Reason, `deny window "month-end freeze" is open until 2026-03-30T11:00:00+02:00`)
	assert.True(t, berlin(t, 2026, 3, 30, 11, 0).Equal(v.NotBefore), v.NotBefore.String())
	// After the change 09:00 local is 07:00 UTC.
	v = evalAt(office, time.Date(2026, 3, 31, 6, 59, 0, 0, time.UTC), promote.Input{})
	assert.False(t, v.Allowed)
	assert.Equal(t, time.Date(2026, 3, 31, 7, 0, 0, 0, time.UTC), v.NotBefore.UTC())
	// The 20 February freeze is not the last Friday: open.
	assert.True(t, evalAt(office, berlin(t, 2026, 4, 17, 16, 30), promote.Input{}).Allowed)
	assert.False(t, evalAt(office, berlin(t, 2026, 4, 24, 16, 30), promote.Input{}).Allowed)

	// A nominal day across the change lasts 23 hours; a Duration of 24
	// hours lasts 24.
	nominal := promote.Windows{Deny: []promote.Window{{RRule: "DTSTART;TZID=Europe/Berlin:20260328T120000\nRRULE:FREQ=WEEKLY;COUNT=1\nDURATION:P1D"}}}
	elapsed := promote.Windows{Deny: []promote.Window{{RRule: "DTSTART;TZID=Europe/Berlin:20260328T120000\nRRULE:FREQ=WEEKLY;COUNT=1", Duration: 24 * time.Hour}}}
	at := time.Date(2026, 3, 29, 10, 30, 0, 0, time.UTC) // 12:30 CEST
	assert.True(t, evalAt(nominal, at, promote.Input{}).Allowed)
	v = evalAt(elapsed, at, promote.Input{})
	assert.False(t, v.Allowed)
	assert.Equal(t, time.Date(2026, 3, 29, 11, 0, 0, 0, time.UTC), v.NotBefore.UTC())
	v = evalAt(nominal, time.Date(2026, 3, 29, 9, 59, 0, 0, time.UTC), promote.Input{})
	assert.Equal(t, time.Date(2026, 3, 29, 10, 0, 0, 0, time.UTC), v.NotBefore.UTC(), "Sunday 12:00 CEST")

	// A start inside the skipped hour: with DTSTART's time of day it
	// happens at 03:30 CEST, as the cron window of
	// TestWindowEdgesAcrossDST does; with a time of day the rule
	// computes (BYHOUR, BYMINUTE) it is ignored that night.
	nightly := promote.Windows{Allow: []promote.Window{{RRule: "DTSTART;TZID=Europe/Berlin:20260301T023000\nRRULE:FREQ=DAILY", Duration: time.Hour}}}
	v = evalAt(nightly, berlin(t, 2026, 3, 29, 1, 0), promote.Input{})
	assert.False(t, v.Allowed)
	assert.Equal(t, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), v.NotBefore.UTC())
	assert.True(t, evalAt(nightly, time.Date(2026, 3, 29, 2, 29, 0, 0, time.UTC), promote.Input{}).Allowed)
	assert.False(t, evalAt(nightly, time.Date(2026, 3, 29, 2, 30, 0, 0, time.UTC), promote.Input{}).Allowed)
	computed := promote.Windows{Allow: []promote.Window{{RRule: "DTSTART;TZID=Europe/Berlin:20260301T000000\nRRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30", Duration: time.Hour}}}
	v = evalAt(computed, berlin(t, 2026, 3, 29, 1, 0), promote.Input{})
	assert.False(t, v.Allowed)
	assert.Equal(t, time.Date(2026, 3, 30, 0, 30, 0, 0, time.UTC), v.NotBefore.UTC(), "02:30 CEST the next night")
	assert.False(t, evalAt(computed, time.Date(2026, 3, 29, 1, 45, 0, 0, time.UTC), promote.Input{}).Allowed)

	// A start in the repeated hour happens once, at its first occurrence.
	early := promote.Windows{Allow: []promote.Window{{RRule: "DTSTART;TZID=America/New_York:20261025T013000\nRRULE:FREQ=DAILY", Duration: time.Hour}}}
	assert.True(t, evalAt(early, time.Date(2026, 11, 1, 5, 45, 0, 0, time.UTC), promote.Input{}).Allowed, "01:45 EDT")
	v = evalAt(early, time.Date(2026, 11, 1, 6, 45, 0, 0, time.UTC), promote.Input{})
	assert.False(t, v.Allowed, "01:45 EST, the hour again")
	assert.True(t, newYork(t, 2026, 11, 2, 1, 30).Equal(v.NotBefore), v.NotBefore.String())

	// An allow rule that ended never reopens: waiting does not help.
	ended := promote.Windows{Allow: []promote.Window{{Name: "launch week", RRule: "DTSTART:20260302T080000Z\nRRULE:FREQ=DAILY;COUNT=5", Duration: 10 * time.Hour}}}
	assert.True(t, evalAt(ended, time.Date(2026, 3, 6, 17, 0, 0, 0, time.UTC), promote.Input{}).Allowed)
	v = evalAt(ended, time.Date(2026, 3, 7, 9, 0, 0, 0, time.UTC), promote.Input{})
	assert.False(t, v.Allowed)
	assert.True(t, v.NotBefore.IsZero(), v.NotBefore.String())
}

func TestRRuleConfigErrors(t *testing.T) {
	const ds = "DTSTART;TZID=Europe/Berlin:20260302T090000\n"
	for _, c := range []struct {
		w    promote.Window
		want string
	}{
		{promote.Window{RRule: ds + "RRULE:FREQ=HOURLY", Duration: time.Hour}, "FREQ=HOURLY is not supported"},
		{promote.Window{RRule: ds + "RRULE:FREQ=MINUTELY;INTERVAL=15", Duration: time.Hour}, "FREQ=MINUTELY is not supported"},
		{promote.Window{RRule: ds + "RRULE:FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", Duration: time.Hour}, "BYWEEKNO is not supported"},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY\nEXDATE:20260303T090000", Duration: time.Hour}, "property EXDATE is not supported"},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY;BYEASTER=0", Duration: time.Hour}, "rule part BYEASTER is not supported"},
		{promote.Window{RRule: "RRULE:FREQ=DAILY", Duration: time.Hour}, "DTSTART is missing"},
		{promote.Window{RRule: "FREQ=DAILY", Duration: time.Hour}, "give it as content lines"},
		{promote.Window{RRule: ds + "RRULE:INTERVAL=2", Duration: time.Hour}, "FREQ is missing"},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY;COUNT=3;UNTIL=20260401T000000Z", Duration: time.Hour}, "COUNT and UNTIL must not both be given"},
		{promote.Window{RRule: ds + "RRULE:FREQ=WEEKLY;BYDAY=1MO", Duration: time.Hour}, "BYDAY=1MO: a numbered day needs FREQ=MONTHLY or YEARLY"},
		{promote.Window{RRule: ds + "RRULE:FREQ=MONTHLY;BYDAY=6FR", Duration: time.Hour}, "a month has at most 5"},
		{promote.Window{RRule: ds + "RRULE:FREQ=WEEKLY;BYMONTHDAY=1", Duration: time.Hour}, "BYMONTHDAY cannot be used with FREQ=WEEKLY"},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY;BYSETPOS=1", Duration: time.Hour}, "BYSETPOS needs another BY rule part"},
		{promote.Window{RRule: ds + "RRULE:FREQ=MONTHLY;BYMONTHDAY=32", Duration: time.Hour}, "BYMONTHDAY=32: 32 is out of range"},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY;BYDAY=XX", Duration: time.Hour}, `BYDAY=XX: "XX" is not a day`},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY;UNTIL=20260401", Duration: time.Hour}, "UNTIL: 20260401 is a DATE"},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY\nDURATION:PT1H", Duration: time.Hour}, "give the duration once"},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY\nDURATION:1H"}, `DURATION "1H" is not a positive duration`},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY"}, "duration 0s is not positive"},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY", Duration: time.Hour, TimeZone: "America/New_York"}, "differs from the window's time zone"},
		{promote.Window{RRule: "DTSTART;VALUE=DATE:20260302\nRRULE:FREQ=DAILY", Duration: time.Hour}, "DTSTART;VALUE=DATE is not supported"},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY", Schedule: "0 9 * * *", Duration: time.Hour}, "give Schedule or RRule, not both"},
		{promote.Window{RRule: ds + "  RRULE:FREQ=DAILY", Duration: time.Hour}, `line "RRULE:FREQ=DAILY" is indented`},
		{promote.Window{RRule: ds + "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", Duration: time.Hour}, "the rule has no start within ten years of DTSTART"},
		{promote.Window{RRule: ds + "RRULE:FREQ=DAILY;UNTIL=20260301T000000Z", Duration: time.Hour}, "the rule has no start"},
		{promote.Window{RRule: "\tDTSTART:20260302T090000\n\tRRULE:FREQ=DAILY\n\tDURATION:PT1H"}, `line "RRULE:FREQ=DAILY" is indented`},
	} {
		ws := promote.Windows{Deny: []promote.Window{c.w}}
		err := ws.Validate()
		assert.ErrorContains(t, err, c.want, c.w.RRule)
		assert.False(t, evalAt(ws, t0, promote.Input{}).Allowed, "a bad window blocks")
	}
	// Folded lines (RFC 5545 §3.1) and a floating DTSTART read in TimeZone.
	ok := promote.Windows{Allow: []promote.Window{{RRule: "DTSTART:20260302T090000\r\nRRULE:freq=weekly;\r\n byday=mo;", Duration: time.Hour, TimeZone: "Europe/Berlin"}}}
	require.NoError(t, ok.Validate())
	assert.True(t, evalAt(ok, berlin(t, 2026, 3, 9, 9, 30), promote.Input{}).Allowed)
	assert.False(t, evalAt(ok, berlin(t, 2026, 3, 10, 9, 30), promote.Input{}).Allowed)
}

// Evaluating windows, cron and RRULE side by side: office hours with a
// month-end freeze, and a dense window (every 15 minutes, open an hour)
// evaluated while it is open.
func BenchmarkWindowsEvaluate(b *testing.B) {
	at := time.Date(2026, 3, 27, 15, 30, 0, 0, time.UTC) // Friday 16:30 in Berlin, frozen
	for _, c := range []struct {
		name string
		ws   promote.Windows
	}{
		{"cron", promote.Windows{
			Allow: []promote.Window{{Schedule: "0 9 * * mon-fri", Duration: 8 * time.Hour, TimeZone: "Europe/Berlin"}},
			Deny:  []promote.Window{{Schedule: "0 16 * * fri", Duration: 66 * time.Hour, TimeZone: "Europe/Berlin"}}}},
		{"rrule", promote.Windows{
			Allow: []promote.Window{{RRule: "DTSTART;TZID=Europe/Berlin:20200106T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", Duration: 8 * time.Hour}},
			Deny:  []promote.Window{{RRule: "DTSTART;TZID=Europe/Berlin:20200131T160000\nRRULE:FREQ=MONTHLY;BYDAY=-1FR\nDURATION:P2DT19H"}}}},
		{"cron-dense", promote.Windows{Allow: []promote.Window{{Schedule: "*/15 * * * *", Duration: time.Hour, TimeZone: "Europe/Berlin"}}}},
		{"rrule-dense", promote.Windows{Allow: []promote.Window{{RRule: "DTSTART;TZID=Europe/Berlin:20200101T000000\nRRULE:FREQ=DAILY;BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23;BYMINUTE=0,15,30,45", Duration: time.Hour}}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				evalAt(c.ws, at, promote.Input{})
			}
		})
	}
}

// Explain on real Git says when an RRULE freeze reopens, and the
// promotion goes then.
func TestRRuleFreezeExplainOnRealGit(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	// The first Monday of every month, 08:00–12:00 UTC; t0 is Monday 2 March, 10:00.
	p := e.promoter(ladder(promote.Windows{Deny: []promote.Window{{Name: "patch Monday", RRule: "DTSTART:20260105T080000Z\nRRULE:FREQ=MONTHLY;BYDAY=1MO", Duration: 4 * time.Hour}}}))
	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	ex, err := p.Explain(ctx, pl, promote.Request{})
	require.NoError(t, err)
	assert.False(t, ex.Allowed)
	assert.Contains(t, ex.String(), `windows: blocked: deny window "patch Monday" is open until 2026-03-02T12:00:00Z`)
	assert.Contains(t, ex.String(), "may go at 2026-03-02T12:00:00Z")
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.ErrorIs(t, err, promote.ErrBlocked)
	e.clk.Set(ex.NotBefore)
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.NoError(t, err)
}
