package dora

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the report as a table for terminals: one row per app
// and environment and a last row for all of them, each figure with its
// band. Lead and recovery times are medians, with the number of values
// in parentheses (and of unrecovered failures); rates show their counts.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "DORA metrics %s to %s (%s)\n\n", r.Since.UTC().Format(time.RFC3339), r.Until.UTC().Format(time.RFC3339), periodText(r.Since, r.Until))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "APP\tENVIRONMENT\tDEPLOYS\tPER DAY\tLEAD TIME\tCHANGE FAIL RATE\tRECOVERY TIME\tREWORK RATE")
	row := func(app, env string, st Stats) {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\n", app, env, st.Frequency.Deployments,
			banded(trimFloat(st.Frequency.PerDay, 2), st.Frequency.Band),
			timingText(st.LeadTime, -1), rateText(st.ChangeFailRate), timingText(st.Recovery, st.Unrecovered), rateText(st.ReworkRate))
	}
	for _, st := range r.Targets {
		row(st.App, st.Environment, st)
	}
	row("all", "-", r.Total)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func banded(v string, b Band) string {
	if b == "" {
		return v
	}
	return v + " " + string(b)
}

func timingText(t Timing, open int) string {
	if t.Count == 0 && open <= 0 {
		return "-"
	}
	n := fmt.Sprintf("(%d)", t.Count)
	if open > 0 {
		n = fmt.Sprintf("(%d, %d open)", t.Count, open)
	}
	if t.Count == 0 {
		return "- " + n
	}
	return banded(FormatDuration(t.Median), t.Band) + " " + n
}

func rateText(r Rate) string {
	if r.Of == 0 {
		return "-"
	}
	return banded(fmt.Sprintf("%d/%d %s%%", r.Count, r.Of, trimFloat(100*r.Value, 1)), r.Band)
}

// trimFloat formats v with at most prec decimals, without trailing
// zeros.
func trimFloat(v float64, prec int) string {
	s := fmt.Sprintf("%.*f", prec, v)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// FormatDuration formats d for people, to two units at most: "45s",
// "12m", "2h30m", "3d4h".
func FormatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	case d < Day:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	}
	days, h := int(d/Day), int(d%Day/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, h)
}

// periodText prints a period's length: in days ("7 days"), or, for a
// period shorter than the day [Report.Days] counts it as, its duration
// and that ("1h4m; per-day figures count it as 1 day").
func periodText(since, until time.Time) string {
	if span := until.Sub(since); span < Day {
		return FormatDuration(span) + "; per-day figures count it as 1 day"
	}
	return dayCount(periodDays(since, until))
}

// dayCount prints a period's length in days, "1 day", "7 days", "0.5 days".
func dayCount(d float64) string {
	if d == 1 {
		return "1 day"
	}
	return trimFloat(d, 1) + " days"
}
