package dora_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

func TestBands(t *testing.T) {
	h, d := time.Hour, dora.Day
	for _, c := range []struct {
		name string
		got  dora.Band
		want dora.Band
	}{
		{"2 a day", dora.FrequencyBand(2), dora.BandElite},
		{"1 a day is high: once per day starts the high range", dora.FrequencyBand(1), dora.BandHigh},
		{"1 a week", dora.FrequencyBand(1.0 / 7), dora.BandHigh},
		{"just under 1 a week", dora.FrequencyBand(0.99 / 7), dora.BandMedium},
		{"1 a month", dora.FrequencyBand(24.0 / 730), dora.BandMedium},
		{"under 1 a month", dora.FrequencyBand(0.03), dora.BandLow},
		{"none", dora.FrequencyBand(0), dora.BandLow},

		{"lead 23h59m", dora.LeadTimeBand(d - time.Minute), dora.BandElite},
		{"lead 1 day", dora.LeadTimeBand(d), dora.BandHigh},
		{"lead 1 week", dora.LeadTimeBand(dora.Week), dora.BandMedium},
		{"lead 1 month", dora.LeadTimeBand(dora.Month), dora.BandLow},
		{"lead 1 year", dora.LeadTimeBand(365 * d), dora.BandLow},

		{"fail 0%", dora.ChangeFailRateBand(0), dora.BandElite},
		{"fail 5%", dora.ChangeFailRateBand(0.05), dora.BandElite},
		{"fail 10% (the 2024 medium cluster's value)", dora.ChangeFailRateBand(0.10), dora.BandHigh},
		{"fail 20%", dora.ChangeFailRateBand(0.20), dora.BandHigh},
		{"fail 30%", dora.ChangeFailRateBand(0.30), dora.BandMedium},
		{"fail 40%", dora.ChangeFailRateBand(0.40), dora.BandLow},
		{"rework 6%", dora.ReworkRateBand(0.06), dora.BandHigh},

		{"recover 59m", dora.RecoveryBand(59 * time.Minute), dora.BandElite},
		{"recover 1h", dora.RecoveryBand(h), dora.BandHigh},
		{"recover 2 days", dora.RecoveryBand(2 * d), dora.BandMedium},
		{"recover 1 week", dora.RecoveryBand(dora.Week), dora.BandLow},
	} {
		assert.Equal(t, c.want, c.got, c.name)
	}
	assert.Equal(t, []float64{86400, 604800, 2628000, 15768000}, dora.LeadTimeBuckets())
	assert.Equal(t, []float64{3600, 86400, 604800, 2628000}, dora.RecoveryBuckets())
}

func TestMedian(t *testing.T) {
	v := []time.Duration{5, 1, 3}
	assert.Equal(t, time.Duration(3), dora.Median(v))
	assert.Equal(t, []time.Duration{5, 1, 3}, v, "unchanged")
	assert.Equal(t, time.Duration(4), dora.Median([]time.Duration{6, 1, 2, 10}), "mean of the two middle values")
	assert.Zero(t, dora.Median(nil))
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 12 * time.Minute: "12m", 90 * time.Second: "1m30s",
		2*time.Hour + 30*time.Minute: "2h30m", 3 * time.Hour: "3h", 76 * time.Hour: "3d4h", 48 * time.Hour: "2d",
	} {
		assert.Equal(t, want, dora.FormatDuration(d))
	}
}

// synthetic builds entries newest first from a list oldest first.
func synthetic(old ...gitops.Entry) []gitops.Entry {
	out := make([]gitops.Entry, len(old))
	for i, e := range old {
		e.Commit[0], e.Commit[1] = byte(i+1), 0xdd
		out[len(old)-1-i] = e
	}
	return out
}

func at(m int, tr gitops.Trailers) gitops.Entry {
	return gitops.Entry{Time: day0.Add(time.Duration(m) * time.Minute), Trailers: tr}
}

func deployTr(app, digest string, src time.Time) gitops.Trailers {
	return gitops.Trailers{Action: gitops.ActionDeploy, App: app, Environment: "prod",
		Image: "registry.example.com/" + app, Digest: digest, SourceTime: src}
}

func TestComputeRules(t *testing.T) {
	dA, dB := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	src := day0.Add(-time.Hour)
	marker := gitops.Trailers{Action: "verify", App: "web", Environment: "prod",
		Extra: gitops.Extra{{Key: "flightdeck-verified", Value: " Verified "}}}
	rb := gitops.Trailers{Action: gitops.ActionRollback, App: "web", Environment: "prod",
		Extra: gitops.Extra{{Key: gitops.TrailerReverts, Value: strings.Repeat("0", 40)}}}
	plannedRb := rb
	plannedRb.Extra = gitops.Extra{{Key: gitops.TrailerChange, Value: gitops.ChangePlanned}}
	hist := synthetic(
		at(0, marker),                    // a marker before any deployment is about nothing
		at(10, deployTr("web", dA, src)), // A: lead 1h10m, verified at 20 by the marker without digest
		at(20, marker),
		at(30, deployTr("web", dA, src)),         // redeploy of A: no new change, no lead time
		at(40, deployTr("web", dB, time.Time{})), // B: no source time, no lead time
		at(50, rb),                               // reverts an unknown commit: the newest planned deploy (B) failed
		at(60, plannedRb),                        // a planned rollback is not unplanned and repairs nothing
		at(70, gitops.Trailers{Action: gitops.ActionStep, App: "web", Environment: "prod"}), // a step of no plan: not a rollout, not a deployment
		at(80, gitops.Trailers{Action: gitops.ActionDeploy, App: "web"}),                    // no environment
	)
	rep := dora.Compute(hist, dora.Query{})
	require.Len(t, rep.Targets, 1)
	st := rep.Targets[0]
	assert.Equal(t, day0.Add(10*time.Minute), rep.Since, "a zero Since is the first deployment")
	assert.Equal(t, day0.Add(80*time.Minute+time.Second), rep.Until, "a zero Until is the end of the newest commit's second")
	require.Len(t, st.Deployments, 5)
	a, a2, b, r1, r2 := st.Deployments[0], st.Deployments[1], st.Deployments[2], st.Deployments[3], st.Deployments[4]
	assert.Equal(t, day0.Add(20*time.Minute), a.VerifiedAt)
	assert.Equal(t, 80*time.Minute, a.LeadTime, "from the source time to the verified marker")
	assert.Zero(t, a2.LeadTime)
	assert.Zero(t, b.LeadTime)
	assert.True(t, b.Failed)
	assert.Equal(t, r1.Commit, b.FailedBy)
	assert.Equal(t, r1.Commit, b.RecoveredBy)
	assert.Equal(t, 10*time.Minute, b.Recovery)
	assert.True(t, r1.Unplanned)
	assert.False(t, r2.Unplanned)
	assert.False(t, a.Failed || a2.Failed || r1.Failed || r2.Failed)
	assert.Equal(t, dora.Rate{Count: 1, Of: 5, Value: 0.2, Band: dora.BandHigh}, st.ChangeFailRate)
	assert.Equal(t, dora.Rate{Count: 1, Of: 5, Value: 0.2, Band: dora.BandHigh}, st.ReworkRate)
}

func TestComputeFilters(t *testing.T) {
	d := "sha256:" + strings.Repeat("c", 64)
	hist := synthetic(at(0, deployTr("web", d, time.Time{})), at(1, deployTr("api", d, time.Time{})))
	rep := dora.Compute(hist, dora.Query{Apps: []string{"api"}})
	require.Len(t, rep.Targets, 1)
	assert.Equal(t, "api", rep.Targets[0].App)
	rep = dora.Compute(hist, dora.Query{Environments: []string{"dev"}})
	assert.Empty(t, rep.Targets)
	assert.Equal(t, dora.Frequency{Band: dora.BandLow}, rep.Total.Frequency)
	assert.Equal(t, dora.Rate{}, rep.Total.ChangeFailRate, "no deployments: no rate, no band")
	assert.Empty(t, dora.Compute(nil, dora.Query{}).Targets)
}

func TestHTMLIsSelfContainedAndEscaped(t *testing.T) {
	d := "sha256:" + strings.Repeat("d", 64)
	hist := synthetic(
		at(0, deployTr(`<script>alert(1)</script>`, d, day0.Add(-time.Hour))),
		at(5, gitops.Trailers{Action: gitops.ActionRollback, App: `<script>alert(1)</script>`, Environment: "prod"}),
	)
	var b bytes.Buffer
	require.NoError(t, dora.Compute(hist, dora.Query{}).WriteHTML(&b))
	page := b.String()
	assert.NotContains(t, page, "<script>")
	assert.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.Equal(t, 3, strings.Count(page, "<svg "), "three charts")
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)\s(src|href)\s*=`), regexp.MustCompile(`(?i)url\(`),
		regexp.MustCompile(`(?i)<(link|img|iframe|object|embed)\b`), regexp.MustCompile(`(?i)@import`),
	} {
		assert.NotRegexp(t, bad, page, "the page loads nothing")
	}
	for _, want := range []string{`id="deploys"`, `id="leadtimes"`, `id="failures"`, "1 failed, 1 recovered"} {
		assert.Contains(t, page, want)
	}

	b.Reset()
	require.NoError(t, dora.Compute(nil, dora.Query{}).WriteHTML(&b))
	assert.Contains(t, b.String(), "no deployments in the period")
	assert.Contains(t, b.String(), "no failed deployments in the period")
}

func rolloutTr(action gitops.Action, digest, plan, phase string, src time.Time) gitops.Trailers {
	tr := deployTr("web", digest, src)
	tr.Action = action
	tr.Extra = gitops.Extra{{Key: gitops.TrailerPlanHash, Value: plan}, {Key: dora.TrailerRolloutPhase, Value: phase}}
	return tr
}

func TestComputeRollouts(t *testing.T) {
	dA, dB := "sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("b", 64)
	src := day0.Add(-time.Hour)
	step, abort := dora.ActionRolloutStep, dora.ActionRolloutAbort
	hist := synthetic(
		at(0, rolloutTr(abort, dA, "p1", "Aborted", src)),     // the abort of a run not read: nothing
		at(10, rolloutTr(step, dA, "p1", "Progressing", src)), // run 1 of A begins
		at(20, rolloutTr(step, dA, "p1", "Paused", src)),      // same run
		at(30, rolloutTr(abort, dA, "p1", "Aborted", src)),    // aborted: run 1 failed, the abort recovers it
		at(35, rolloutTr(abort, dA, "p1", "Aborted", src)),    // its scale-down: the same abort
		at(40, rolloutTr(step, dA, "p1", "Progressing", src)), // a retry: run 2
		at(50, rolloutTr(step, dA, "p1", "Completed", src)),   // completed
		at(60, rolloutTr(step, dB, "p2", "Progressing", src)), // run of B, still under way
	)
	rep := dora.Compute(hist, dora.Query{})
	require.Len(t, rep.Targets, 1)
	deps := rep.Targets[0].Deployments
	require.Len(t, deps, 4)
	run1, ab, run2, runB := deps[0], deps[1], deps[2], deps[3]
	assert.True(t, run1.Failed)
	assert.Equal(t, ab.Commit, run1.FailedBy)
	assert.Equal(t, 20*time.Minute, run1.Recovery)
	assert.Zero(t, run1.LeadTime)
	assert.True(t, ab.Unplanned)
	assert.Equal(t, abort, ab.Action)
	assert.True(t, day0.Add(50*time.Minute).Equal(run2.Completed))
	assert.Equal(t, 110*time.Minute, run2.LeadTime, "the aborted run delivered nothing: the retry brings the change, from its source to its completion")
	assert.True(t, runB.Completed.IsZero())
	assert.Zero(t, runB.LeadTime, "not delivered yet")
	assert.Equal(t, dora.Rate{Count: 1, Of: 4, Value: 0.25, Band: dora.BandMedium}, rep.Targets[0].ChangeFailRate)
}
