package promote

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Window is a recurring span of time: it opens at every start of its
// cron Schedule, read in its TimeZone, and stays open for Duration
// (elapsed time, so a window that spans a daylight-saving change lasts
// Duration all the same, as Argo CD's sync windows do).
type Window struct {
	// Name says what the window is for ("release freeze").
	Name string
	// Schedule is a five-field cron expression (minute hour
	// day-of-month month day-of-week) with *, lists, ranges, steps and
	// names.
	Schedule string
	// Duration is how long the window stays open after each start.
	Duration time.Duration
	// TimeZone is an IANA name ("Europe/Berlin"); empty means UTC.
	TimeZone string
}

type compiledWindow struct {
	w   Window
	c   *cronSchedule
	loc *time.Location
}

func (w Window) compile() (compiledWindow, error) {
	c, err := parseCron(w.Schedule)
	if err != nil {
		return compiledWindow{}, fmt.Errorf("window %s: %w", w.label(), err)
	}
	if w.Duration <= 0 {
		return compiledWindow{}, fmt.Errorf("window %s: duration %s is not positive", w.label(), w.Duration)
	}
	loc := time.UTC
	if w.TimeZone != "" {
		if loc, err = time.LoadLocation(w.TimeZone); err != nil {
			return compiledWindow{}, fmt.Errorf("window %s: time zone: %w", w.label(), err)
		}
	}
	return compiledWindow{w: w, c: c, loc: loc}, nil
}

func (w Window) label() string {
	if w.Name != "" {
		return fmt.Sprintf("%q", w.Name)
	}
	return fmt.Sprintf("%q", w.Schedule)
}

// openAt reports whether the window is open at t and, if so, until when
// (the latest end of the starts that cover t).
func (cw compiledWindow) openAt(t time.Time) (bool, time.Time) {
	var end time.Time
	for s := cw.c.next(t.Add(-cw.w.Duration).Add(time.Nanosecond), cw.loc); !s.IsZero() && !s.After(t); s = cw.c.next(s.Add(time.Minute), cw.loc) {
		if e := s.Add(cw.w.Duration); e.After(end) {
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
			if s := a.c.next(t, a.loc); !s.IsZero() && (next.IsZero() || s.Before(next)) {
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
