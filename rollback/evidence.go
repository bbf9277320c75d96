package rollback

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/health"
)

// Evidence is what a trigger saw: the analysis record that goes into the
// body of the rollback commit (and of the verification marker), so that
// Git says why as well as what.
type Evidence struct {
	// Trigger is what produced it.
	Trigger Trigger
	// Summary is the verdict in one line.
	Summary string
	// Started and Finished bound the observation.
	Started, Finished time.Time
	// Sync describes the wait for the sync, when there was one.
	Sync string
	// Metrics are the measured metrics or compared signals.
	Metrics []MetricEvidence
}

// MetricEvidence is one metric of an [Evidence].
type MetricEvidence struct {
	// Name is the metric's name; Query what it measures (a PromQL query,
	// a probe's URL), and Threshold the condition it was judged by.
	Name, Query, Threshold string
	// Phase is the metric's outcome, and Message its explanation.
	Phase   health.Phase
	Message string
	// Samples are the measurements taken (verification), newest last.
	Samples []Sample
	// Baseline and Current are the two windows compared (degradation).
	Baseline, Current *WindowStats
	// Verdict is the judge's classification of the signal
	// (degradation): Pass, High, Low or Nodata, with the ratio of means
	// and the Mann-Whitney test.
	Verdict *health.MetricVerdict
}

// Sample is one measurement of a metric.
type Sample struct {
	Time    time.Time
	Value   float64
	Phase   health.Phase
	Message string
}

// WindowStats summarises the samples of one window.
type WindowStats struct {
	Start, End   time.Time
	N            int
	Median, Mean float64
}

// maxSamples caps the samples of one metric written into a commit.
const maxSamples = 20

// Text renders the evidence as lines of a commit body: a heading, then
// one block per metric with its query, threshold, outcome and values.
// Lines never start with '#' or look like trailers of their own.
func (e *Evidence) Text() string {
	if e == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Evidence (%s", e.Trigger)
	if !e.Started.IsZero() {
		fmt.Fprintf(&b, ", %s to %s", stamp(e.Started), stamp(e.Finished))
	}
	b.WriteString("):\n")
	if e.Summary != "" {
		fmt.Fprintf(&b, "  verdict: %s\n", oneLine(e.Summary))
	}
	if e.Sync != "" {
		fmt.Fprintf(&b, "  sync: %s\n", oneLine(e.Sync))
	}
	for _, m := range e.Metrics {
		fmt.Fprintf(&b, "  metric %s: %s", m.Name, m.Phase)
		if m.Message != "" {
			fmt.Fprintf(&b, " (%s)", oneLine(m.Message))
		}
		b.WriteString("\n")
		if m.Query != "" {
			fmt.Fprintf(&b, "    query: %s\n", oneLine(m.Query))
		}
		if m.Threshold != "" {
			fmt.Fprintf(&b, "    threshold: %s\n", oneLine(m.Threshold))
		}
		for _, w := range []struct {
			name string
			s    *WindowStats
		}{{"baseline", m.Baseline}, {"current", m.Current}} {
			if w.s != nil {
				fmt.Fprintf(&b, "    %s window %s to %s: %d samples, median %s, mean %s\n", w.name,
					stamp(w.s.Start), stamp(w.s.End), w.s.N, num(w.s.Median), num(w.s.Mean))
			}
		}
		if v := m.Verdict; v != nil {
			fmt.Fprintf(&b, "    judged %s: ratio %s", v.Classification, num(v.Ratio))
			if t := v.Test; t != nil {
				fmt.Fprintf(&b, ", shift %s [%s, %s], p %s", num(t.Estimate), num(t.Lower), num(t.Upper), num(t.P))
			}
			b.WriteString("\n")
		}
		samples := m.Samples
		if len(samples) > maxSamples {
			fmt.Fprintf(&b, "    (%d earlier samples left out)\n", len(samples)-maxSamples)
			samples = samples[len(samples)-maxSamples:]
		}
		for _, s := range samples {
			b.WriteString("    ")
			if !s.Time.IsZero() {
				fmt.Fprintf(&b, "at %s ", stamp(s.Time))
			}
			fmt.Fprintf(&b, "value %s %s", num(s.Value), s.Phase)
			if s.Message != "" {
				fmt.Fprintf(&b, " (%s)", oneLine(s.Message))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "none"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// Check describes one metric of a verification's analysis for the
// evidence: what it measures and the condition it is judged by (a
// health.Metric carries neither as text).
type Check struct {
	Query, Threshold string
}

// verificationEvidence builds the evidence of an analysis run.
func verificationEvidence(res health.RunResult, checks map[string]Check) *Evidence {
	e := &Evidence{Trigger: TriggerVerification, Summary: res.Message, Started: res.Started, Finished: res.Finished}
	if e.Summary == "" {
		e.Summary = "analysis " + string(res.Phase)
	}
	for _, m := range res.Metrics {
		me := MetricEvidence{Name: m.Name, Query: checks[m.Name].Query, Threshold: checks[m.Name].Threshold,
			Phase: m.Phase, Message: m.Message}
		if m.DryRun {
			me.Message = strings.TrimSpace("dry run; " + me.Message)
		}
		for _, s := range m.Measurements {
			v := s.Value
			if len(s.Values) > 0 && math.IsNaN(v) {
				keys := make([]string, 0, len(s.Values))
				for k := range s.Values {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				v = s.Values[keys[0]]
			}
			msg := s.Message
			if s.Err != nil && msg == "" {
				msg = s.Err.Error()
			}
			me.Samples = append(me.Samples, Sample{Time: s.Time, Value: v, Phase: s.Phase, Message: msg})
		}
		e.Metrics = append(e.Metrics, me)
	}
	return e
}

func stats(start, end time.Time, xs []float64) *WindowStats {
	w := &WindowStats{Start: start, End: end, N: len(xs), Median: math.NaN(), Mean: math.NaN()}
	if len(xs) == 0 {
		return w
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		w.Median = s[n/2]
	} else {
		w.Median = (s[n/2-1] + s[n/2]) / 2
	}
	var sum float64
	for _, x := range s {
		sum += x
	}
	w.Mean = sum / float64(len(s))
	return w
}
