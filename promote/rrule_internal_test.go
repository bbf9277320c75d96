package promote

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func startsOf(r *recurrence, limit int) []string {
	var out []string
	for s := r.next(r.start); !s.IsZero() && len(out) < limit; s = r.next(s.Add(time.Nanosecond)) {
		out = append(out, s.In(r.loc).Format("20060102T150405"))
	}
	return out
}

// The examples of RFC 5545 §3.8.5.3 that use what is supported, with
// the starts the RFC lists (America/New_York, 1997–2007).
func TestRRuleRFC5545Examples(t *testing.T) {
	f, err := os.Open("testdata/rfc5545-examples.txt")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	cases := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") || sc.Text() == "" {
			continue
		}
		parts := strings.Split(sc.Text(), "|")
		require.Len(t, parts, 5, sc.Text())
		name, dtstart, rule, want := parts[0], parts[1], parts[2], strings.Fields(parts[4])
		n, err := strconv.Atoi(parts[3])
		require.NoError(t, err)
		cases++
		t.Run(name, func(t *testing.T) {
			r, err := parseRecurrence(dtstart+"\nRRULE:"+rule, "")
			require.NoError(t, err)
			switch {
			case n == 0:
				assert.Equal(t, want, startsOf(r, len(want)+5), "and no more")
			case n < 0:
				assert.Equal(t, want, startsOf(r, len(want)))
			default:
				assert.Len(t, startsOf(r, n+5), n)
			}
		})
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, 37, cases)
}

// At a daylight-saving gap a time of day taken from DTSTART happens
// past the gap and counts; one the rule computes (BYHOUR, BYMINUTE) is
// ignored and not counted. A start in the repeated hour is its first
// occurrence.
func TestRRuleDaylightSaving(t *testing.T) {
	// Berlin skips 02:00–03:00 on 2026-03-29.
	r, err := parseRecurrence("DTSTART;TZID=Europe/Berlin:20260327T023000\nRRULE:FREQ=DAILY;COUNT=3", "")
	require.NoError(t, err)
	assert.Equal(t, []string{"20260327T023000", "20260328T023000", "20260329T033000"}, startsOf(r, 10), "from DTSTART: read as §3.3.5 reads it")
	assert.Equal(t, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), r.next(time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC)).UTC())

	r, err = parseRecurrence("DTSTART;TZID=Europe/Berlin:20260327T023000\nRRULE:FREQ=DAILY;COUNT=3;BYHOUR=2;BYMINUTE=30", "")
	require.NoError(t, err)
	assert.Equal(t, []string{"20260327T023000", "20260328T023000", "20260330T023000"}, startsOf(r, 10), "computed by the rule: ignored, not counted")

	// New York repeats 01:00–02:00 on 2026-11-01: 01:30 is EDT (05:30 UTC).
	for _, rule := range []string{"FREQ=DAILY;COUNT=3", "FREQ=DAILY;COUNT=3;BYHOUR=1;BYMINUTE=30"} {
		r, err = parseRecurrence("DTSTART;TZID=America/New_York:20261031T013000\nRRULE:"+rule, "")
		require.NoError(t, err)
		s := r.next(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC))
		assert.Equal(t, time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), s.UTC(), rule)
		assert.Equal(t, time.Date(2026, 11, 2, 6, 30, 0, 0, time.UTC), r.next(s.Add(time.Nanosecond)).UTC(), "once, then 01:30 EST the next day: %s", rule)
	}

	// BYSETPOS picks before nonexistent starts are dropped: the last
	// Sunday of March at 02:30 does not exist, so March has no start.
	r, err = parseRecurrence("DTSTART;TZID=Europe/Berlin:20260222T023000\nRRULE:FREQ=MONTHLY;BYDAY=SU;BYHOUR=2;BYMINUTE=30;BYSETPOS=-1", "")
	require.NoError(t, err)
	assert.Equal(t, []string{"20260222T023000", "20260426T023000", "20260531T023000"}, startsOf(r, 3))

	// A DTSTART in the gap is read with the offset before it (§3.3.5).
	r, err = parseRecurrence("DTSTART;TZID=Europe/Berlin:20260329T023000\nRRULE:FREQ=DAILY", "")
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC), r.start.UTC())
	assert.Equal(t, []string{"20260329T033000", "20260330T023000"}, startsOf(r, 2))
}

// Jumping to a period near t gives the same starts as counting from
// DTSTART.
func TestRRuleNextFarFromStart(t *testing.T) {
	for _, rule := range []string{"FREQ=DAILY;INTERVAL=3", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,FR", "FREQ=MONTHLY;BYDAY=-1FR", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29"} {
		r, err := parseRecurrence("DTSTART;TZID=Europe/Berlin:20000103T090000\nRRULE:"+rule, "")
		require.NoError(t, err)
		at := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		counting := *r
		counting.count = math.MaxInt32 // counts from DTSTART
		slow := counting.next(at)
		assert.Equal(t, slow, r.next(at), rule)
		assert.False(t, slow.IsZero(), rule)
	}
}

// UNTIL is inclusive; in UTC with Z, or read in the rule's zone without.
func TestRRuleUntil(t *testing.T) {
	for _, c := range []struct{ dtstart, rule string }{
		{"DTSTART:19970902T090000", "FREQ=DAILY;UNTIL=19970904T090000"},
		{"DTSTART;TZID=America/New_York:19970902T090000", "FREQ=DAILY;UNTIL=19970904T130000Z"},
		{"DTSTART;TZID=America/New_York:19970902T090000", "FREQ=DAILY;UNTIL=19970904T090000"},
	} {
		r, err := parseRecurrence(c.dtstart+"\nRRULE:"+c.rule, "")
		require.NoError(t, err)
		assert.Equal(t, []string{"19970902T090000", "19970903T090000", "19970904T090000"}, startsOf(r, 10), c)
	}
	r, err := parseRecurrence("DTSTART;TZID=America/New_York:19970902T090000\nRRULE:FREQ=DAILY;UNTIL=19970904T125959Z", "")
	require.NoError(t, err)
	assert.Len(t, startsOf(r, 10), 2, "a second before the third start")
}
