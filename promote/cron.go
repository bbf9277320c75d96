package promote

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronSchedule is a parsed five-field cron expression: minute, hour, day
// of month, month, day of week.
type cronSchedule struct {
	min, hour, dom, month, dow uint64 // bit sets
	domStar, dowStar           bool
}

var monthNames = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// parseCron parses "m h dom mon dow" with *, lists, ranges, steps, and
// month and day names (jan..dec, sun..sat; 7 is also Sunday). When both
// day of month and day of week are restricted, a day matches either, as
// in Vixie cron.
func parseCron(s string) (*cronSchedule, error) {
	f := strings.Fields(s)
	if len(f) != 5 {
		return nil, fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", s, len(f))
	}
	c := &cronSchedule{}
	var err error
	if c.min, _, err = cronField(f[0], 0, 59, nil); err != nil {
		return nil, fmt.Errorf("cron %q: minute: %w", s, err)
	}
	if c.hour, _, err = cronField(f[1], 0, 23, nil); err != nil {
		return nil, fmt.Errorf("cron %q: hour: %w", s, err)
	}
	if c.dom, c.domStar, err = cronField(f[2], 1, 31, nil); err != nil {
		return nil, fmt.Errorf("cron %q: day of month: %w", s, err)
	}
	if c.month, _, err = cronField(f[3], 1, 12, monthNames); err != nil {
		return nil, fmt.Errorf("cron %q: month: %w", s, err)
	}
	if c.dow, c.dowStar, err = cronField(f[4], 0, 7, dayNames); err != nil {
		return nil, fmt.Errorf("cron %q: day of week: %w", s, err)
	}
	if c.dow&(1<<7) != 0 {
		c.dow |= 1
	}
	return c, nil
}

func cronValue(s string, lo int, names []string) (int, error) {
	for i, n := range names {
		if strings.EqualFold(s, n) {
			return i + lo, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

func cronField(s string, lo, hi int, names []string) (uint64, bool, error) {
	var bits uint64
	star := false
	for _, part := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n <= 0 {
				return 0, false, fmt.Errorf("step %q is not a positive number", stepS)
			}
			step = n
		}
		a, b := lo, hi
		switch {
		case rng == "*":
			star = !hasStep
			if names != nil && hi == 7 {
				b = 6
			}
		default:
			x, y, isRange := strings.Cut(rng, "-")
			var err error
			if a, err = cronValue(x, lo, names); err != nil {
				return 0, false, err
			}
			b = a
			if isRange {
				if b, err = cronValue(y, lo, names); err != nil {
					return 0, false, err
				}
			} else if hasStep {
				b = hi
			}
		}
		if a < lo || b > hi || a > b {
			return 0, false, fmt.Errorf("%q is out of range %d-%d", part, lo, hi)
		}
		for v := a; v <= b; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, star, nil
}

func (c *cronSchedule) dayMatches(t time.Time) bool {
	if c.month&(1<<uint(t.Month())) == 0 {
		return false
	}
	dom := c.dom&(1<<uint(t.Day())) != 0
	dow := c.dow&(1<<uint(t.Weekday())) != 0
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	}
	return dom || dow
}

// next returns the earliest start at or after t, in loc's wall clock, or
// the zero time if there is none within five years. A start that falls
// in a daylight-saving gap (02:30 on the night clocks go forward) happens
// at the same distance past the gap's start, as Go's time.Date resolves
// it; a start in a repeated hour happens once, at its first occurrence.
func (c *cronSchedule) next(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	y, mo, d := lt.Date()
	day := time.Date(y, mo, d, 12, 0, 0, 0, loc)
	for i := 0; i < 366*5; i++ {
		cd := day.AddDate(0, 0, i)
		if !c.dayMatches(cd) {
			continue
		}
		cy, cm, cdd := cd.Date()
		for h := 0; h < 24; h++ {
			if c.hour&(1<<uint(h)) == 0 {
				continue
			}
			for m := 0; m < 60; m++ {
				if c.min&(1<<uint(m)) == 0 {
					continue
				}
				s := time.Date(cy, cm, cdd, h, m, 0, 0, loc)
				if !s.Before(t) {
					return s
				}
			}
		}
	}
	return time.Time{}
}
