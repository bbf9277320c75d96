package promote

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
)

// Window is a recurring span of time in a time zone. Its starts are
// given one of two ways: Schedule, a five-field cron expression read in
// TimeZone, with Duration; or RRule, RFC 5545 content lines: a DTSTART
// (with a TZID parameter, in UTC with a trailing Z, or floating and then
// read in TimeZone), an RRULE and, instead of Duration, optionally a
// DURATION. The last Friday of every month from 16:00 Berlin time for
// two days and sixteen hours:
//
//	DTSTART;TZID=Europe/Berlin:20261127T160000
//	RRULE:FREQ=MONTHLY;BYDAY=-1FR
//	DURATION:P2DT16H
//
// A window stays open for Duration after each start, as elapsed time (a
// window that spans a daylight-saving change lasts Duration all the same,
// as Argo CD's sync windows do); a DURATION's days and weeks are nominal
// (the same wall-clock time that many days later, RFC 5545 §3.3.6), its
// hours, minutes and seconds elapsed.
//
// RRULE supports FREQ DAILY, WEEKLY, MONTHLY and YEARLY with INTERVAL,
// COUNT, UNTIL, WKST, BYMONTH, BYMONTHDAY, BYYEARDAY (YEARLY), BYDAY
// (with ordinals such as 1MO or -1FR for MONTHLY and YEARLY), BYHOUR,
// BYMINUTE, BYSECOND and BYSETPOS, with RFC 5545's semantics; anything
// else (SECONDLY, MINUTELY and HOURLY frequencies, BYWEEKNO, RDATE,
// EXDATE) is refused with an error naming it.
//
// At daylight-saving changes: RFC 5545 §3.3.10 says both that a rule's
// instances at a nonexistent local time are ignored and not counted, and
// that a computed start time that does not exist is read as §3.3.5 reads
// a DATE-TIME (with the offset before the gap). Windows keep each where
// it speaks: a time of day the rule itself computes (BYHOUR, BYMINUTE or
// BYSECOND) that falls in the spring gap is ignored that day and not
// counted toward COUNT; a time of day taken from DTSTART happens at the
// same distance past the gap's start (02:30 becomes 03:30 summer time)
// and counts, as a cron start does. A start in the repeated autumn hour
// happens once, at its first occurrence (§3.3.5). BYSETPOS picks from a
// period's starts before the ignored ones are dropped.
//
// Where RFC 5545 leaves a choice this package takes one: a DTSTART the
// rule does not produce is not a start (the RFC calls that set
// undefined; python-dateutil reads it so); an UNTIL without Z is read in
// the rule's zone (RFC 5545 wants UTC when DTSTART has a TZID); DTSTART
// and UNTIL must be DATE-TIMEs, BYSECOND stops at 59, and a rule with no
// start within ten years of DTSTART (BYMONTHDAY=30 in February, an UNTIL
// before DTSTART) is refused rather than kept as a window that never
// opens.
type Window struct {
	// Name says what the window is for ("release freeze").
	Name string
	// Schedule is a five-field cron expression (minute hour
	// day-of-month month day-of-week) with *, lists, ranges, steps and
	// names.
	Schedule string
	// RRule is the other way to give the starts: RFC 5545 DTSTART,
	// RRULE and optional DURATION content lines, one a line. Give
	// Schedule or RRule, not both.
	RRule string
	// Duration is how long the window stays open after each start. With
	// RRule it may instead come from a DURATION line.
	Duration time.Duration
	// TimeZone is an IANA name ("Europe/Berlin"); empty means UTC (or,
	// with RRule, DTSTART's TZID).
	TimeZone string
}

// starts gives a window's starts.
type starts interface {
	// next returns the earliest start at or after t, or zero if none.
	next(t time.Time) time.Time
	// from yields the starts at or after t, in order.
	from(t time.Time) iter.Seq[time.Time]
}

type cronStarts struct {
	c   *cronSchedule
	loc *time.Location
}

func (c cronStarts) next(t time.Time) time.Time { return c.c.next(t, c.loc) }

func (c cronStarts) from(t time.Time) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		for s := c.next(t); !s.IsZero() && yield(s); s = c.next(s.Add(time.Nanosecond)) {
		}
	}
}

type compiledWindow struct {
	w      Window
	starts starts
	loc    *time.Location
	end    func(start time.Time) time.Time
	span   time.Duration // the longest the window is open after a start
}

func (w Window) compile() (compiledWindow, error) {
	cw := compiledWindow{w: w, loc: time.UTC}
	switch {
	case w.Schedule != "" && w.RRule != "":
		return cw, fmt.Errorf("window %s: give Schedule or RRule, not both", w.label())
	case w.RRule != "":
		r, err := parseRecurrence(w.RRule, w.TimeZone)
		if err != nil {
			return cw, fmt.Errorf("window %s: %w", w.label(), err)
		}
		switch {
		case r.hasDuration && w.Duration != 0:
			return cw, fmt.Errorf("window %s: give the duration once, as Duration or as a DURATION line", w.label())
		case !r.hasDuration && w.Duration <= 0:
			return cw, fmt.Errorf("window %s: duration %s is not positive", w.label(), w.Duration)
		case !r.hasDuration:
			r.exact = w.Duration
		}
		if r.next(r.start).IsZero() {
			// BYMONTHDAY=30 in February, an UNTIL before DTSTART: a window
			// that can never open is a mistake, not a policy.
			return cw, fmt.Errorf("window %s: the rule has no start within ten years of DTSTART", w.label())
		}
		cw.starts, cw.loc, cw.end, cw.span = r, r.loc, r.end, r.span()
		return cw, nil
	}
	c, err := parseCron(w.Schedule)
	if err != nil {
		return cw, fmt.Errorf("window %s: %w", w.label(), err)
	}
	if w.Duration <= 0 {
		return cw, fmt.Errorf("window %s: duration %s is not positive", w.label(), w.Duration)
	}
	if w.TimeZone != "" {
		if cw.loc, err = time.LoadLocation(w.TimeZone); err != nil {
			return cw, fmt.Errorf("window %s: time zone: %w", w.label(), err)
		}
	}
	cw.starts = cronStarts{c: c, loc: cw.loc}
	if cw.starts.next(time.Date(2000, 1, 1, 0, 0, 0, 0, cw.loc)).IsZero() {
		// A schedule's days repeat within four years: none then is none ever.
		return cw, fmt.Errorf("window %s: the schedule never starts (no such day)", w.label())
	}
	cw.end = func(s time.Time) time.Time { return s.Add(w.Duration) }
	cw.span = w.Duration
	return cw, nil
}

func (w Window) label() string {
	switch {
	case w.Name != "":
		return fmt.Sprintf("%q", w.Name)
	case w.RRule != "":
		for _, l := range strings.Split(w.RRule, "\n") {
			if r, ok := strings.CutPrefix(strings.TrimSpace(l), "RRULE:"); ok {
				return fmt.Sprintf("%q", r)
			}
		}
		return fmt.Sprintf("%q", strings.TrimSpace(w.RRule))
	}
	return fmt.Sprintf("%q", w.Schedule)
}

// openAt reports whether the window is open at t and, if so, until when
// (the latest end of the starts that cover t).
func (cw compiledWindow) openAt(t time.Time) (bool, time.Time) {
	var end time.Time
	for s := range cw.starts.from(t.Add(-cw.span)) {
		if s.After(t) {
			break
		}
		if e := cw.end(s); e.After(t) && e.After(end) {
			end = e
		}
	}
	return !end.IsZero(), end
}

// Windows is the policy of allow and deny windows. A promotion may go
// while no deny window is open and, when there are allow windows, one of
// them is open: deny wins. A caller holding one of OverrideRoles goes
// regardless, and the verdict says so. Rollbacks are judged only when
// GateRollbacks is set; by default a rollback is never kept out by a
// window (it is how an environment gets back to safety).
type Windows struct {
	Allow, Deny   []Window
	OverrideRoles []string
	GateRollbacks bool
}

// Name returns "windows".
func (Windows) Name() string { return "windows" }

// Validate checks every window's schedule, duration and time zone.
func (ws Windows) Validate() error {
	_, _, err := ws.compile()
	return err
}

func (ws Windows) compile() (allow, deny []compiledWindow, err error) {
	for _, w := range ws.Allow {
		c, err := w.compile()
		if err != nil {
			return nil, nil, err
		}
		allow = append(allow, c)
	}
	for _, w := range ws.Deny {
		c, err := w.compile()
		if err != nil {
			return nil, nil, err
		}
		deny = append(deny, c)
	}
	return allow, deny, nil
}

// Evaluate implements [Policy].
func (ws Windows) Evaluate(_ context.Context, in *Input) Verdict {
	if in.Rollback && !ws.GateRollbacks {
		return allow(ws, "rollbacks are not gated by windows")
	}
	allowW, denyW, err := ws.compile()
	if err != nil {
		return block(ws, "%v", err)
	}
	why, ok := ws.closed(allowW, denyW, in.Now)
	if ok {
		return allow(ws, "%s", why)
	}
	for _, r := range ws.OverrideRoles {
		if slices.Contains(in.Roles, r) {
			return allow(ws, "overridden by %s as %s: %s", actor(in), r, why)
		}
	}
	v := block(ws, "%s", why)
	v.NotBefore = ws.reopens(allowW, denyW, in.Now)
	return v
}

// closed says whether t is inside the windows, and why.
func (ws Windows) closed(allowW, denyW []compiledWindow, t time.Time) (string, bool) {
	for _, d := range denyW {
		if open, end := d.openAt(t); open {
			return fmt.Sprintf("deny window %s is open until %s", d.w.label(), end.In(d.loc).Format(time.RFC3339)), false
		}
	}
	if len(allowW) == 0 {
		return "no deny window is open", true
	}
	for _, a := range allowW {
		if open, end := a.openAt(t); open {
			return fmt.Sprintf("allow window %s is open until %s", a.w.label(), end.In(a.loc).Format(time.RFC3339)), true
		}
	}
	names := make([]string, len(allowW))
	for i, a := range allowW {
		names[i] = a.w.label()
	}
	return "outside every allow window (" + strings.Join(names, ", ") + ")", false
}

// reopens returns the earliest time at or after t at which no deny window
// is open and an allow window (if any) is, or zero if none within the
// search horizon.
func (ws Windows) reopens(allowW, denyW []compiledWindow, t time.Time) time.Time {
	for i := 0; i < 1000; i++ {
		moved := false
		for _, d := range denyW {
			if open, end := d.openAt(t); open {
				t, moved = end, true
			}
		}
		if moved {
			continue
		}
		if len(allowW) == 0 {
			return t
		}
		var next time.Time
		for _, a := range allowW {
			if open, _ := a.openAt(t); open {
				return t
			}
			if s := a.starts.next(t); !s.IsZero() && (next.IsZero() || s.Before(next)) {
				next = s
			}
		}
		if next.IsZero() {
			return time.Time{}
		}
		t = next
	}
	return time.Time{}
}
