package dora

import (
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// Colours of the HTML report: one per band, and the series of the
// charts.
const (
	colourElite     = "#16a34a"
	colourHigh      = "#2563eb"
	colourMedium    = "#d97706"
	colourLow       = "#dc2626"
	colourPlanned   = "#0ea5e9"
	colourUnplanned = "#f59e0b"
	colourFailure   = "#dc2626"
	colourAxis      = "#9ca3af"
)

func bandColour(b Band) string {
	switch b {
	case BandElite:
		return colourElite
	case BandHigh:
		return colourHigh
	case BandMedium:
		return colourMedium
	case BandLow:
		return colourLow
	}
	return colourAxis
}

// WriteHTML writes the report as one self-contained HTML page: the five
// figures of all targets together with their bands, three inline SVG
// charts (deployments per day, or per week for periods over 120 days,
// split into planned and unplanned; the distribution of change lead
// times over the lead time bands; and every failed deployment over time
// against its recovery time, with the recovery bands drawn), and a table
// of every app and environment. It loads nothing: no script, font,
// stylesheet or image from anywhere.
func (r Report) WriteHTML(w io.Writer) error {
	apps, envs := map[string]bool{}, map[string]bool{}
	for _, st := range r.Targets {
		apps[st.App], envs[st.Environment] = true, true
	}
	data := htmlData{
		Since: r.Since.UTC().Format("2006-01-02 15:04"), Until: r.Until.UTC().Format("2006-01-02 15:04"),
		DayCount: periodText(r.Since, r.Until), Apps: len(apps), Envs: len(envs),
		Cards: []htmlCard{
			{"Deployment frequency", trimFloat(r.Total.Frequency.PerDay, 2) + " / day", fmt.Sprintf("%d deployments", r.Total.Frequency.Deployments), r.Total.Frequency.Band},
			{"Change lead time", timingValue(r.Total.LeadTime), fmt.Sprintf("median of %d", r.Total.LeadTime.Count), r.Total.LeadTime.Band},
			{"Change fail rate", rateValue(r.Total.ChangeFailRate), fmt.Sprintf("%d of %d failed", r.Total.ChangeFailRate.Count, r.Total.ChangeFailRate.Of), r.Total.ChangeFailRate.Band},
			{"Failed deployment recovery time", timingValue(r.Total.Recovery), fmt.Sprintf("median of %d, %d unrecovered", r.Total.Recovery.Count, r.Total.Unrecovered), r.Total.Recovery.Band},
			{"Deployment rework rate", rateValue(r.Total.ReworkRate), fmt.Sprintf("%d of %d unplanned", r.Total.ReworkRate.Count, r.Total.ReworkRate.Of), r.Total.ReworkRate.Band},
		},
		DeploysTitle: "Deployments per day",
		Deploys:      template.HTML(deploysChart(r)),
		LeadTimes:    template.HTML(leadTimeChart(r.Total)),
		Failures:     template.HTML(failuresChart(r)),
	}
	if r.Until.Sub(r.Since) > 120*Day {
		data.DeploysTitle = "Deployments per week"
	}
	for _, st := range r.Targets {
		data.Rows = append(data.Rows, htmlRow{
			App: st.App, Env: st.Environment, Deploys: st.Frequency.Deployments,
			Cells: []htmlCell{
				{trimFloat(st.Frequency.PerDay, 2), st.Frequency.Band},
				{timingValue(st.LeadTime), st.LeadTime.Band},
				{rateValue(st.ChangeFailRate), st.ChangeFailRate.Band},
				{timingValue(st.Recovery), st.Recovery.Band},
				{rateValue(st.ReworkRate), st.ReworkRate.Band},
			},
		})
	}
	return page.Execute(w, data)
}

type htmlData struct {
	Since, Until, DayCount string
	Apps, Envs             int
	Cards                  []htmlCard
	DeploysTitle           string
	Deploys, LeadTimes     template.HTML
	Failures               template.HTML
	Rows                   []htmlRow
}

type htmlCard struct {
	Title, Value, Detail string
	Band                 Band
}

type htmlRow struct {
	App, Env string
	Deploys  int
	Cells    []htmlCell
}

type htmlCell struct {
	Value string
	Band  Band
}

func timingValue(t Timing) string {
	if t.Count == 0 {
		return "–"
	}
	return FormatDuration(t.Median)
}

func rateValue(r Rate) string {
	if r.Of == 0 {
		return "–"
	}
	return trimFloat(100*r.Value, 1) + "%"
}

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"colour": bandColour,
	"band": func(b Band) string {
		if b == "" {
			return "no data"
		}
		return string(b)
	},
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>DORA metrics {{.Since}} to {{.Until}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;padding:20px 28px;color:#111827;background:#fff}
h1{font-size:22px;margin:0 0 4px}
.sub{color:#4b5563;margin:0 0 16px;font-size:14px}
.cards{display:flex;gap:12px;margin-bottom:16px}
.card{flex:1;border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px;border-top:6px solid var(--c)}
.card h2{font-size:12px;font-weight:600;color:#4b5563;margin:0 0 6px;text-transform:uppercase;letter-spacing:.03em}
.card .v{font-size:24px;font-weight:700}
.card .d{font-size:12px;color:#6b7280}
.badge{display:inline-block;padding:1px 8px;border-radius:9px;color:#fff;font-size:12px;font-weight:600;background:var(--c)}
.charts{display:flex;flex-wrap:wrap;gap:12px}
figure{margin:0;border:1px solid #e5e7eb;border-radius:8px;padding:8px 10px;flex:1 1 540px}
figure.wide{flex-basis:100%}
figcaption{font-size:13px;font-weight:600;margin-bottom:4px}
svg{display:block;width:100%;height:auto}
svg text{font-size:11px;fill:#374151}
table{border-collapse:collapse;margin-top:16px;font-size:13px;width:100%}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 8px;text-align:left}
th{background:#f9fafb}
td .badge{margin-left:6px}
footer{margin-top:16px;font-size:12px;color:#6b7280}
</style>
</head>
<body>
<h1>DORA metrics</h1>
<p class="sub">{{.Since}} to {{.Until}} UTC ({{.DayCount}}) · {{.Apps}} apps in {{.Envs}} environments · read from the GitOps repository's history</p>
<section class="cards">
{{- range .Cards}}
<div class="card" style="--c:{{colour .Band}}"><h2>{{.Title}}</h2><div class="v">{{.Value}}</div><div class="d">{{.Detail}} <span class="badge">{{band .Band}}</span></div></div>
{{- end}}
</section>
<section class="charts">
<figure id="deploys"><figcaption>{{.DeploysTitle}}</figcaption>{{.Deploys}}</figure>
<figure id="leadtimes"><figcaption>Change lead time distribution</figcaption>{{.LeadTimes}}</figure>
<figure id="failures" class="wide"><figcaption>Failed deployments and their recovery time</figcaption>{{.Failures}}</figure>
</section>
<table>
<thead><tr><th>App</th><th>Environment</th><th>Deployments</th><th>Per day</th><th>Lead time</th><th>Change fail rate</th><th>Recovery time</th><th>Rework rate</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td>{{.App}}</td><td>{{.Env}}</td><td>{{.Deploys}}</td>{{range .Cells}}<td>{{.Value}}{{if .Band}}<span class="badge" style="--c:{{colour .Band}}">{{.Band}}</span>{{end}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
<footer>Bands after the software delivery performance levels of DORA's 2024 Accelerate State of DevOps Report.
Frequency: elite above 1 a day, high from 1 a week, medium from 1 a month. Lead time: elite under a day, high under a week, medium under a month.
Change fail and rework rate: elite to 5%, high to 20%, medium under 40%. Recovery: elite under an hour, high under a day, medium under a week.</footer>
</body>
</html>
`))

// svgPlot is the frame of a chart: its size and the plot area inside
// the margins.
type svgPlot struct {
	b                      strings.Builder
	w, h                   float64
	left, right, top, bott float64
}

func newPlot(w, h float64) *svgPlot {
	p := &svgPlot{w: w, h: h, left: 44, right: 12, top: 12, bott: 30}
	fmt.Fprintf(&p.b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" role="img" shape-rendering="crispEdges">`, w, h)
	return p
}

func (p *svgPlot) plotW() float64 { return p.w - p.left - p.right }
func (p *svgPlot) plotH() float64 { return p.h - p.top - p.bott }

func (p *svgPlot) rect(x, y, w, h float64, fill, title string) {
	fmt.Fprintf(&p.b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`, x, y, w, h, fill, html.EscapeString(title))
}

func (p *svgPlot) line(x1, y1, x2, y2 float64, stroke string, dashed bool) {
	dash := ""
	if dashed {
		dash = ` stroke-dasharray="4 3"`
	}
	fmt.Fprintf(&p.b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"%s/>`, x1, y1, x2, y2, stroke, dash)
}

func (p *svgPlot) text(x, y float64, anchor, s string) {
	fmt.Fprintf(&p.b, `<text x="%.1f" y="%.1f" text-anchor="%s">%s</text>`, x, y, anchor, html.EscapeString(s))
}

func (p *svgPlot) axes() {
	p.line(p.left, p.top, p.left, p.h-p.bott, colourAxis, false)
	p.line(p.left, p.h-p.bott, p.w-p.right, p.h-p.bott, colourAxis, false)
}

// yTicks draws a count axis from 0 to max.
func (p *svgPlot) yTicks(max int) {
	for _, v := range []int{0, (max + 1) / 2, max} {
		y := p.h - p.bott - float64(v)/float64(max)*p.plotH()
		p.text(p.left-6, y+4, "end", fmt.Sprint(v))
		if v > 0 {
			p.line(p.left, y, p.w-p.right, y, "#e5e7eb", false)
		}
	}
}

func (p *svgPlot) empty(msg string) string {
	p.axes()
	p.text(p.left+p.plotW()/2, p.top+p.plotH()/2, "middle", msg)
	return p.done()
}

func (p *svgPlot) done() string {
	p.b.WriteString(`</svg>`)
	return p.b.String()
}

// buckets splits the period into days (weeks beyond 120 days) and
// returns their starts and width.
func buckets(since, until time.Time) ([]time.Time, time.Duration) {
	width := Day
	if until.Sub(since) > 120*Day {
		width = Week
	}
	start := since.UTC().Truncate(Day)
	var out []time.Time
	for t := start; t.Before(until); t = t.Add(width) {
		out = append(out, t)
	}
	if len(out) == 0 {
		out = []time.Time{start}
	}
	return out, width
}

func deploysChart(r Report) string {
	p := newPlot(560, 250)
	starts, width := buckets(r.Since, r.Until)
	planned := make([]int, len(starts))
	unplanned := make([]int, len(starts))
	for _, d := range r.Total.Deployments {
		i := int(d.Time.Sub(starts[0]) / width)
		if i < 0 || i >= len(starts) {
			continue
		}
		if d.Unplanned {
			unplanned[i]++
		} else {
			planned[i]++
		}
	}
	top := 0
	for i := range starts {
		top = max(top, planned[i]+unplanned[i])
	}
	if top == 0 {
		return p.empty("no deployments in the period")
	}
	p.yTicks(top)
	bw := p.plotW() / float64(len(starts))
	gap := min(bw*0.2, 2)
	base := p.h - p.bott
	for i, s := range starts {
		x := p.left + float64(i)*bw + gap/2
		hp := float64(planned[i]) / float64(top) * p.plotH()
		hu := float64(unplanned[i]) / float64(top) * p.plotH()
		day := s.Format("2006-01-02")
		if planned[i] > 0 {
			p.rect(x, base-hp, bw-gap, hp, colourPlanned, fmt.Sprintf("%s: %d planned", day, planned[i]))
		}
		if unplanned[i] > 0 {
			p.rect(x, base-hp-hu, bw-gap, hu, colourUnplanned, fmt.Sprintf("%s: %d unplanned", day, unplanned[i]))
		}
	}
	p.axes()
	last := len(starts) - 1
	p.text(p.left, p.h-p.bott+16, "start", starts[0].Format("Jan 2"))
	if last > 0 {
		p.text(p.w-p.right, p.h-p.bott+16, "end", starts[last].Format("Jan 2"))
	}
	p.rect(p.left+p.plotW()-150, p.top, 10, 10, colourPlanned, "planned")
	p.text(p.left+p.plotW()-136, p.top+9, "start", "planned")
	p.rect(p.left+p.plotW()-80, p.top, 10, 10, colourUnplanned, "unplanned")
	p.text(p.left+p.plotW()-66, p.top+9, "start", "unplanned")
	return p.done()
}

type leadTimeBin struct {
	label string
	upTo  time.Duration
	band  Band
}

// leadTimeBins returns the bins of the lead time distribution, with the
// band of their values.
func leadTimeBins() []leadTimeBin {
	return []leadTimeBin{
		{"< 1h", time.Hour, BandElite},
		{"1h–1d", Day, BandElite},
		{"1d–1w", Week, BandHigh},
		{"1w–1mo", Month, BandMedium},
		{"1mo–6mo", SixMonths, BandLow},
		{"≥ 6mo", math.MaxInt64, BandLow},
	}
}

func leadTimeChart(st Stats) string {
	p := newPlot(560, 250)
	bins := leadTimeBins()
	counts := make([]int, len(bins))
	for _, d := range st.Deployments {
		if d.LeadTime <= 0 {
			continue
		}
		for i, b := range bins {
			if d.LeadTime < b.upTo {
				counts[i]++
				break
			}
		}
	}
	top := 0
	for _, c := range counts {
		top = max(top, c)
	}
	if top == 0 {
		return p.empty("no lead times in the period")
	}
	p.yTicks(top)
	bw := p.plotW() / float64(len(counts))
	base := p.h - p.bott
	for i, b := range bins {
		h := float64(counts[i]) / float64(top) * p.plotH()
		x := p.left + float64(i)*bw
		if counts[i] > 0 {
			p.rect(x+6, base-h, bw-12, h, bandColour(b.band), fmt.Sprintf("%s: %d (%s)", b.label, counts[i], b.band))
		}
		p.text(x+bw/2, base+16, "middle", b.label)
		p.text(x+bw/2, base-h-4, "middle", fmt.Sprint(counts[i]))
	}
	p.axes()
	p.text(p.w-p.right, p.top+10, "end", "median "+FormatDuration(st.LeadTime.Median))
	return p.done()
}

// failuresChart plots every failed deployment: x is when it was
// deployed, y its recovery time on a log scale from a minute to a month
// (unrecovered ones at the top, hollow), with the recovery band
// boundaries drawn across.
func failuresChart(r Report) string {
	p := newPlot(1140, 250)
	p.left = 70
	var failed []Deployment
	for _, d := range r.Total.Deployments {
		if d.Failed {
			failed = append(failed, d)
		}
	}
	if len(failed) == 0 {
		return p.empty("no failed deployments in the period")
	}
	lo, hi := math.Log(time.Minute.Seconds()), math.Log(Month.Seconds())
	y := func(d time.Duration) float64 {
		v := math.Log(max(d.Seconds(), time.Minute.Seconds()))
		v = min(v, hi)
		return p.h - p.bott - (v-lo)/(hi-lo)*p.plotH()
	}
	span := r.Until.Sub(r.Since)
	x := func(t time.Time) float64 {
		if span <= 0 {
			return p.left
		}
		return p.left + float64(t.Sub(r.Since))/float64(span)*p.plotW()
	}
	// Band areas, lightest first: under an hour is elite, and so on.
	prev := p.h - p.bott
	for _, b := range []struct {
		upTo  time.Duration
		label string
		band  Band
		fill  string
	}{{RecoveryElite, "1 hour", BandElite, "#f0fdf4"}, {RecoveryHigh, "1 day", BandHigh, "#eff6ff"},
		{RecoveryMedium, "1 week", BandMedium, "#fffbeb"}, {Month, "1 month", BandLow, "#fef2f2"}} {
		yy := y(b.upTo)
		p.rect(p.left, yy, p.plotW(), prev-yy, b.fill, fmt.Sprintf("%s: recovered in under %s", b.band, b.label))
		p.line(p.left, yy, p.w-p.right, yy, bandColour(b.band), true)
		p.text(p.left-6, yy+4, "end", b.label)
		prev = yy
	}
	p.b.WriteString(`<g shape-rendering="geometricPrecision">`)
	for _, d := range failed {
		cx := x(d.Time)
		if !d.Recovered() {
			fmt.Fprintf(&p.b, `<circle cx="%.1f" cy="%.1f" r="5" fill="none" stroke="%s" stroke-width="2"><title>%s: unrecovered</title></circle>`,
				cx, p.top+5, colourFailure, html.EscapeString(d.App+" in "+d.Environment+" "+d.Time.UTC().Format(time.RFC3339)))
			continue
		}
		fmt.Fprintf(&p.b, `<circle cx="%.1f" cy="%.1f" r="5" fill="%s"><title>%s: recovered in %s</title></circle>`,
			cx, y(d.Recovery), colourFailure, html.EscapeString(d.App+" in "+d.Environment+" "+d.Time.UTC().Format(time.RFC3339)), FormatDuration(d.Recovery))
	}
	p.b.WriteString(`</g>`)
	p.axes()
	p.text(p.left, p.h-p.bott+16, "start", r.Since.UTC().Format("Jan 2 15:04"))
	p.text(p.w-p.right, p.h-p.bott+16, "end", r.Until.UTC().Format("Jan 2 15:04"))
	p.text(p.left+p.plotW()/2, p.h-p.bott+16, "middle", fmt.Sprintf("%d failed, %d recovered (median %s), %d unrecovered",
		len(failed), r.Total.Recovery.Count, FormatDuration(r.Total.Recovery.Median), r.Total.Unrecovered))
	return p.done()
}
