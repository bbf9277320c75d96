package promote

import (
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"
)

// recurrence is a parsed RFC 5545 recurrence: a DTSTART in a time zone
// and an RRULE (FREQ DAILY, WEEKLY, MONTHLY or YEARLY).
type recurrence struct {
	loc      *time.Location
	start    time.Time // DTSTART, an instant
	wall     wallTime  // DTSTART's wall clock in loc
	freq     freq
	interval int
	count    int       // 0: unbounded
	until    time.Time // zero: unbounded; inclusive

	byMonth, byMonthDay, byYearDay []int
	byDay                          []weekdayNum
	byHour, byMinute, bySecond     []int
	bySetPos                       []int
	wkst                           time.Weekday
	monthScope                     bool // BYDAY ordinals count within the month
	ruleTime                       bool // BYHOUR, BYMINUTE or BYSECOND gives the time of day
	nominalDays                    int  // DURATION's days and weeks (wall-clock days)
	exact                          time.Duration
	hasDuration                    bool
}

type freq int

const (
	daily freq = iota
	weekly
	monthly
	yearly
)

var freqNames = map[string]freq{"DAILY": daily, "WEEKLY": weekly, "MONTHLY": monthly, "YEARLY": yearly}

type weekdayNum struct {
	n  int // 0: every such weekday of the period; ±1..53: the nth (from the end when negative)
	wd time.Weekday
}

var icalDays = []string{"SU", "MO", "TU", "WE", "TH", "FR", "SA"}

type wallTime struct {
	y          int
	m          time.Month
	d          int
	h, mi, sec int
}

// parseRecurrence parses RFC 5545 content lines: DTSTART (with an
// optional TZID parameter, or in UTC with a trailing Z, or floating and
// then read in zone), RRULE, and optionally DURATION. Lines may be
// separated by newlines and folded as RFC 5545 §3.1 says.
func parseRecurrence(text, zone string) (*recurrence, error) {
	var lines []string
	indented := "" // a folded line that reads like a property of its own
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if len(lines) > 0 && (strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t")) {
			lines[len(lines)-1] += l[1:]
			if t := strings.ToUpper(strings.TrimSpace(l)); indented == "" && (strings.HasPrefix(t, "RRULE:") || strings.HasPrefix(t, "DURATION:") || strings.HasPrefix(t, "DTSTART")) {
				indented = strings.TrimSpace(l)
			}
			continue
		}
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	r := &recurrence{interval: 1, wkst: time.Monday}
	var dtstart, rule, untilS string
	var tzid string
	seen := map[string]bool{}
	for _, l := range lines {
		head, value, ok := strings.Cut(l, ":")
		if !ok {
			if strings.HasPrefix(strings.ToUpper(l), "FREQ=") {
				return nil, fmt.Errorf("rrule %q: give it as content lines: \"DTSTART;TZID=<zone>:<yyyymmddThhmmss>\" and \"RRULE:%s\"", l, l)
			}
			return nil, fmt.Errorf("rrule: line %q is not NAME:VALUE", l)
		}
		params := strings.Split(head, ";")
		name := strings.ToUpper(params[0])
		if seen[name] {
			return nil, fmt.Errorf("rrule: %s is given twice", name)
		}
		seen[name] = true
		switch name {
		case "DTSTART":
			dtstart = value
			for _, p := range params[1:] {
				k, v, _ := strings.Cut(p, "=")
				switch strings.ToUpper(k) {
				case "TZID":
					tzid = strings.Trim(strings.TrimPrefix(v, "/"), `"`)
				case "VALUE":
					if !strings.EqualFold(v, "DATE-TIME") {
						return nil, fmt.Errorf("rrule: DTSTART;VALUE=%s is not supported: a window starts at a time of day (DATE-TIME)", v)
					}
				default:
					return nil, fmt.Errorf("rrule: DTSTART parameter %s is not supported", k)
				}
			}
		case "RRULE":
			rule = value
		case "DURATION":
			if err := r.parseDuration(value); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("rrule: property %s is not supported (DTSTART, RRULE and DURATION are)", name)
		}
	}
	if indented != "" && (dtstart == "" || rule == "" || strings.ContainsAny(dtstart, " \t")) {
		return nil, fmt.Errorf("rrule: line %q is indented, and a line that starts with a space or tab continues the line before it (RFC 5545 §3.1); start each content line at the beginning of its line", indented)
	}
	if dtstart == "" {
		return nil, fmt.Errorf("rrule: DTSTART is missing (a line like \"DTSTART;TZID=Europe/Berlin:20260302T090000\")")
	}
	if rule == "" {
		return nil, fmt.Errorf("rrule: RRULE is missing")
	}
	r.loc = time.UTC
	utc := strings.HasSuffix(dtstart, "Z")
	switch {
	case tzid != "" && utc:
		return nil, fmt.Errorf("rrule: DTSTART %s is in UTC and has TZID %s", dtstart, tzid)
	case tzid != "":
		if zone != "" && zone != tzid {
			return nil, fmt.Errorf("rrule: DTSTART's TZID %s differs from the window's time zone %s", tzid, zone)
		}
		zone = tzid
	case utc:
		if zone != "" && zone != "UTC" {
			return nil, fmt.Errorf("rrule: DTSTART %s is in UTC and the window's time zone is %s", dtstart, zone)
		}
		zone = ""
	}
	if zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return nil, fmt.Errorf("rrule: time zone: %w", err)
		}
		r.loc = loc
	}
	w, err := parseWall(strings.TrimSuffix(dtstart, "Z"))
	if err != nil {
		return nil, fmt.Errorf("rrule: DTSTART: %w", err)
	}
	r.wall = w
	r.start = w.interpret(r.loc)
	if err := r.parseRule(rule, &untilS); err != nil {
		return nil, fmt.Errorf("rrule %q: %w", rule, err)
	}
	if untilS != "" {
		if r.until, err = r.parseUntil(untilS); err != nil {
			return nil, fmt.Errorf("rrule %q: UNTIL: %w", rule, err)
		}
	}
	return r, nil
}

func parseWall(s string) (wallTime, error) {
	t, err := time.Parse("20060102T150405", s)
	if err != nil {
		if _, derr := time.Parse("20060102", s); derr == nil {
			return wallTime{}, fmt.Errorf("%s is a DATE; a window needs a DATE-TIME (yyyymmddThhmmss)", s)
		}
		return wallTime{}, fmt.Errorf("%q is not a DATE-TIME (yyyymmddThhmmss)", s)
	}
	return wallOf(t), nil
}

func wallOf(t time.Time) wallTime {
	y, m, d := t.Date()
	h, mi, s := t.Clock()
	return wallTime{y, m, d, h, mi, s}
}

// naive is w as if it were UTC, for comparing wall times.
func (w wallTime) naive() time.Time {
	return time.Date(w.y, w.m, w.d, w.h, w.mi, w.sec, 0, time.UTC)
}

// interpret returns the instant an explicit DATE-TIME w names in loc
// (RFC 5545 §3.3.5): a wall time in a daylight-saving gap is read with
// the offset before the gap (02:30 is 03:30 summer time), one in a
// repeated hour names its first occurrence.
func (w wallTime) interpret(loc *time.Location) time.Time {
	if t, ok := w.resolve(loc); ok {
		return t
	}
	naive := w.naive()
	_, before := naive.Add(-36 * time.Hour).In(loc).Zone()
	return naive.Add(-time.Duration(before) * time.Second)
}

// resolve returns the instant of w in loc and whether w exists there:
// a wall time in a daylight-saving gap does not; one in a repeated hour
// is its first occurrence (RFC 5545 §3.3.5).
func (w wallTime) resolve(loc *time.Location) (time.Time, bool) {
	naive := w.naive()
	var best time.Time
	for _, probe := range []time.Duration{-36 * time.Hour, 0, 36 * time.Hour} {
		_, off := naive.Add(probe).In(loc).Zone()
		c := naive.Add(-time.Duration(off) * time.Second)
		if wallOf(c.In(loc)) == w && (best.IsZero() || c.Before(best)) {
			best = c
		}
	}
	return best, !best.IsZero()
}

func (r *recurrence) parseUntil(s string) (time.Time, error) {
	if utc, ok := strings.CutSuffix(s, "Z"); ok {
		w, err := parseWall(utc)
		if err != nil {
			return time.Time{}, err
		}
		return time.Date(w.y, w.m, w.d, w.h, w.mi, w.sec, 0, time.UTC), nil
	}
	w, err := parseWall(s)
	if err != nil {
		return time.Time{}, err
	}
	// RFC 5545 wants UTC here when DTSTART has a TZID; a local UNTIL
	// is read in the rule's zone.
	return w.interpret(r.loc), nil
}

func (r *recurrence) parseDuration(v string) error {
	bad := fmt.Errorf("rrule: DURATION %q is not a positive duration like PT8H, P1D or P1DT12H (RFC 5545 §3.3.6)", v)
	s, ok := strings.CutPrefix(strings.TrimPrefix(strings.ToUpper(v), "+"), "P")
	if !ok || s == "" {
		return bad
	}
	inTime := false
	for s != "" {
		if s[0] == 'T' {
			if inTime || len(s) == 1 {
				return bad
			}
			inTime, s = true, s[1:]
			continue
		}
		i := strings.IndexFunc(s, func(c rune) bool { return c < '0' || c > '9' })
		if i <= 0 {
			return bad
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return bad
		}
		switch u := s[i]; {
		case !inTime && u == 'W':
			r.nominalDays += 7 * n
		case !inTime && u == 'D':
			r.nominalDays += n
		case inTime && u == 'H':
			r.exact += time.Duration(n) * time.Hour
		case inTime && u == 'M':
			r.exact += time.Duration(n) * time.Minute
		case inTime && u == 'S':
			r.exact += time.Duration(n) * time.Second
		default:
			return bad
		}
		s = s[i+1:]
	}
	if r.nominalDays == 0 && r.exact == 0 {
		return bad
	}
	r.hasDuration = true
	return nil
}

func (r *recurrence) parseRule(rule string, until *string) error {
	seen := map[string]bool{}
	hasFreq := false
	for _, part := range strings.Split(rule, ";") {
		if strings.TrimSpace(part) == "" {
			continue // "FREQ=DAILY;" as some generators write it
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.ToUpper(strings.TrimSpace(k))
		if !ok || v == "" {
			return fmt.Errorf("rule part %q is not NAME=VALUE", part)
		}
		if seen[k] {
			return fmt.Errorf("%s is given twice", k)
		}
		seen[k] = true
		var err error
		switch k {
		case "FREQ":
			f, ok := freqNames[strings.ToUpper(v)]
			if !ok {
				switch strings.ToUpper(v) {
				case "SECONDLY", "MINUTELY", "HOURLY":
					return fmt.Errorf("FREQ=%s is not supported (DAILY, WEEKLY, MONTHLY and YEARLY are; BYHOUR and BYMINUTE give several starts a day)", v)
				}
				return fmt.Errorf("FREQ=%s is not a frequency", v)
			}
			r.freq, hasFreq = f, true
		case "INTERVAL":
			r.interval, err = positive(v)
		case "COUNT":
			r.count, err = positive(v)
		case "UNTIL":
			*until = v
		case "WKST":
			i := slices.Index(icalDays, strings.ToUpper(v))
			if i < 0 {
				return fmt.Errorf("WKST=%s is not a day (SU, MO, …, SA)", v)
			}
			r.wkst = time.Weekday(i)
		case "BYMONTH":
			r.byMonth, err = intList(v, 1, 12, false)
		case "BYMONTHDAY":
			r.byMonthDay, err = intList(v, 1, 31, true)
		case "BYYEARDAY":
			r.byYearDay, err = intList(v, 1, 366, true)
		case "BYHOUR":
			r.byHour, err = intList(v, 0, 23, false)
		case "BYMINUTE":
			r.byMinute, err = intList(v, 0, 59, false)
		case "BYSECOND":
			r.bySecond, err = intList(v, 0, 59, false)
		case "BYSETPOS":
			r.bySetPos, err = intList(v, 1, 366, true)
		case "BYDAY":
			r.byDay, err = dayList(v)
		case "BYWEEKNO":
			return fmt.Errorf("BYWEEKNO is not supported")
		default:
			return fmt.Errorf("rule part %s is not supported", k)
		}
		if err != nil {
			return fmt.Errorf("%s=%s: %w", k, v, err)
		}
	}
	switch {
	case !hasFreq:
		return fmt.Errorf("FREQ is missing")
	case r.count > 0 && *until != "":
		return fmt.Errorf("COUNT and UNTIL must not both be given (RFC 5545 §3.3.10)")
	case r.freq == weekly && len(r.byMonthDay) > 0:
		return fmt.Errorf("BYMONTHDAY cannot be used with FREQ=WEEKLY (RFC 5545 §3.3.10)")
	case r.freq != yearly && len(r.byYearDay) > 0:
		return fmt.Errorf("BYYEARDAY can be used only with FREQ=YEARLY here")
	case len(r.bySetPos) > 0 && len(r.byMonth)+len(r.byMonthDay)+len(r.byYearDay)+len(r.byDay)+len(r.byHour)+len(r.byMinute)+len(r.bySecond) == 0:
		return fmt.Errorf("BYSETPOS needs another BY rule part (RFC 5545 §3.3.10)")
	}
	for _, d := range r.byDay {
		if d.n != 0 && r.freq != monthly && r.freq != yearly {
			return fmt.Errorf("BYDAY=%d%s: a numbered day needs FREQ=MONTHLY or YEARLY (RFC 5545 §3.3.10)", d.n, icalDays[d.wd])
		}
		if d.n != 0 && (r.freq == monthly || len(r.byMonth) > 0) && (d.n > 5 || d.n < -5) {
			return fmt.Errorf("BYDAY=%d%s: a month has at most 5 of a weekday", d.n, icalDays[d.wd])
		}
	}
	r.monthScope = r.freq == monthly || (r.freq == yearly && len(r.byMonth) > 0)
	r.ruleTime = len(r.byHour)+len(r.byMinute)+len(r.bySecond) > 0
	// Defaults from DTSTART, as RFC 5545's examples read them.
	if len(r.byYearDay)+len(r.byMonthDay)+len(r.byDay) == 0 {
		switch r.freq {
		case yearly:
			if len(r.byMonth) == 0 {
				r.byMonth = []int{int(r.wall.m)}
			}
			r.byMonthDay = []int{r.wall.d}
		case monthly:
			r.byMonthDay = []int{r.wall.d}
		case weekly:
			r.byDay = []weekdayNum{{wd: time.Date(r.wall.y, r.wall.m, r.wall.d, 0, 0, 0, 0, time.UTC).Weekday()}}
		}
	}
	if len(r.byHour) == 0 {
		r.byHour = []int{r.wall.h}
	}
	if len(r.byMinute) == 0 {
		r.byMinute = []int{r.wall.mi}
	}
	if len(r.bySecond) == 0 {
		r.bySecond = []int{r.wall.sec}
	}
	for _, l := range [][]int{r.byHour, r.byMinute, r.bySecond} {
		slices.Sort(l)
	}
	r.byHour, r.byMinute, r.bySecond = slices.Compact(r.byHour), slices.Compact(r.byMinute), slices.Compact(r.bySecond)
	return nil
}

func positive(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a positive number", v)
	}
	return n, nil
}

// intList parses "1,2,-3": each value in lo..hi, or -hi..-lo when neg.
func intList(v string, lo, hi int, neg bool) ([]int, error) {
	var out []int
	for _, s := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "+"))
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		if !(n >= lo && n <= hi) && !(neg && n <= -lo && n >= -hi) {
			if neg {
				return nil, fmt.Errorf("%d is out of range %d..%d or -%d..-%d", n, lo, hi, hi, lo)
			}
			return nil, fmt.Errorf("%d is out of range %d..%d", n, lo, hi)
		}
		out = append(out, n)
	}
	return out, nil
}

func dayList(v string) ([]weekdayNum, error) {
	var out []weekdayNum
	for _, s := range strings.Split(strings.ToUpper(v), ",") {
		if len(s) < 2 {
			return nil, fmt.Errorf("%q is not a day", s)
		}
		i := slices.Index(icalDays, s[len(s)-2:])
		if i < 0 {
			return nil, fmt.Errorf("%q is not a day (SU, MO, …, SA, with an optional ordinal like 1MO or -1FR)", s)
		}
		d := weekdayNum{wd: time.Weekday(i)}
		if num := s[:len(s)-2]; num != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(num, "+"))
			if err != nil || n == 0 || n > 53 || n < -53 {
				return nil, fmt.Errorf("%q: the ordinal must be ±1..53", s)
			}
			d.n = n
		}
		out = append(out, d)
	}
	return out, nil
}

func civil(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func daysIn(y int, m time.Month) int { return civil(y, m+1, 0).Day() }

func daysInYear(y int) int { return civil(y, 12, 31).YearDay() }

// period returns the first and the number of civil days of the k-th
// period of the rule (a day, week, month or year, every INTERVAL).
func (r *recurrence) period(k int) (time.Time, int) {
	w := r.wall
	switch r.freq {
	case daily:
		return civil(w.y, w.m, w.d+k*r.interval), 1
	case weekly:
		d0 := civil(w.y, w.m, w.d)
		back := (int(d0.Weekday()) - int(r.wkst) + 7) % 7
		return civil(w.y, w.m, w.d-back+7*k*r.interval), 7
	case monthly:
		first := civil(w.y, w.m+time.Month(k*r.interval), 1)
		return first, daysIn(first.Year(), first.Month())
	default:
		y := w.y + k*r.interval
		return civil(y, 1, 1), daysInYear(y)
	}
}

// firstPeriod is the index of a period at or before the one holding t,
// 0 when instances must be counted from DTSTART.
func (r *recurrence) firstPeriod(t time.Time) int {
	if r.count > 0 || !t.After(r.start) {
		return 0
	}
	lt := t.In(r.loc)
	p0, _ := r.period(0)
	var k int
	switch r.freq {
	case daily, weekly:
		span := 1
		if r.freq == weekly {
			span = 7
		}
		k = int(civil(lt.Date()).Sub(p0)/(24*time.Hour)) / (span * r.interval)
	case monthly:
		k = ((lt.Year()-p0.Year())*12 + int(lt.Month()-p0.Month())) / r.interval
	default:
		k = (lt.Year() - p0.Year()) / r.interval
	}
	return max(k-1, 0)
}

func (r *recurrence) dayMatches(d time.Time) bool {
	y, m, dd := d.Date()
	if len(r.byMonth) > 0 && !slices.Contains(r.byMonth, int(m)) {
		return false
	}
	if len(r.byYearDay) > 0 {
		yd, n := d.YearDay(), daysInYear(y)
		if !slices.ContainsFunc(r.byYearDay, func(v int) bool { return v == yd || v == yd-n-1 }) {
			return false
		}
	}
	if len(r.byMonthDay) > 0 {
		n := daysIn(y, m)
		if !slices.ContainsFunc(r.byMonthDay, func(v int) bool { return v == dd || v == dd-n-1 }) {
			return false
		}
	}
	if len(r.byDay) > 0 {
		pos, n := d.YearDay(), daysInYear(y)
		if r.monthScope {
			pos, n = dd, daysIn(y, m)
		}
		nth, last := (pos-1)/7+1, -((n-pos)/7 + 1)
		if !slices.ContainsFunc(r.byDay, func(b weekdayNum) bool {
			return b.wd == d.Weekday() && (b.n == 0 || b.n == nth || b.n == last)
		}) {
			return false
		}
	}
	return true
}

// instances returns the wall times the k-th period produces, in order,
// after BYSETPOS.
func (r *recurrence) instances(k int) []wallTime {
	first, n := r.period(k)
	var out []wallTime
	for i := 0; i < n; i++ {
		d := first.AddDate(0, 0, i)
		if !r.dayMatches(d) {
			continue
		}
		y, m, dd := d.Date()
		for _, h := range r.byHour {
			for _, mi := range r.byMinute {
				for _, s := range r.bySecond {
					out = append(out, wallTime{y, m, dd, h, mi, s})
				}
			}
		}
	}
	if len(r.bySetPos) == 0 {
		return out
	}
	var picked []int
	for _, p := range r.bySetPos {
		i := p - 1
		if p < 0 {
			i = len(out) + p
		}
		if i >= 0 && i < len(out) && !slices.Contains(picked, i) {
			picked = append(picked, i)
		}
	}
	slices.Sort(picked)
	sel := make([]wallTime, len(picked))
	for j, i := range picked {
		sel[j] = out[i]
	}
	return sel
}

// horizon bounds the search for a next start: past it, none is looked for.
const horizon = 10 * 366 * 24 * time.Hour

// next returns the earliest start at or after t, or the zero time when
// there is none (the rule ended by COUNT or UNTIL, or none within ten
// years).
//
// RFC 5545 §3.3.10 says two things of a start whose wall time does not
// exist in the zone (a daylight-saving gap): that a rule's instances
// with a nonexistent local time are ignored and not counted, and that a
// computed start time that does not exist is read as §3.3.5 reads an
// explicit DATE-TIME (with the offset before the gap). Both hold here,
// each where it speaks: a time of day the rule computes (BYHOUR,
// BYMINUTE or BYSECOND) that does not exist is ignored and not counted;
// a time of day taken from DTSTART happens at the same distance past the
// gap's start, and counts. A start in a repeated hour is its first
// occurrence (§3.3.5) either way.
func (r *recurrence) next(t time.Time) time.Time {
	for s := range r.from(t) {
		return s
	}
	return time.Time{}
}

// from yields the starts at or after t in order (see next).
func (r *recurrence) from(t time.Time) iter.Seq[time.Time] {
	return func(yield func(time.Time) bool) {
		n := 0
		end := civil(t.Add(horizon).Date())
		var last time.Time
		if !r.until.IsZero() {
			last = civil(r.until.In(r.loc).Date())
		}
		// Wall times two days before t cannot be at or after it; without
		// COUNT they need not be resolved.
		floor := wallOf(t.In(r.loc)).naive().Add(-48 * time.Hour)
		for k := r.firstPeriod(t); ; k++ {
			first, _ := r.period(k)
			if first.After(end) || (!last.IsZero() && first.After(last)) {
				return
			}
			for _, w := range r.instances(k) {
				if r.count == 0 && w.naive().Before(floor) {
					continue
				}
				s, ok := w.resolve(r.loc)
				if !ok {
					if r.ruleTime {
						continue
					}
					s = w.interpret(r.loc)
				}
				if s.Before(r.start) {
					continue
				}
				if !r.until.IsZero() && s.After(r.until) {
					return
				}
				if n++; r.count > 0 && n > r.count {
					return
				}
				if !s.Before(t) && !yield(s) {
					return
				}
			}
		}
	}
}

// end returns when a window that starts at s closes: DURATION's days
// and weeks are nominal (the same wall-clock time that many days later,
// RFC 5545 §3.3.6), its hours, minutes and seconds exact.
func (r *recurrence) end(s time.Time) time.Time {
	return s.In(r.loc).AddDate(0, 0, r.nominalDays).Add(r.exact)
}

// span is the longest a DURATION can last.
func (r *recurrence) span() time.Duration {
	return time.Duration(r.nominalDays)*25*time.Hour + r.exact
}
