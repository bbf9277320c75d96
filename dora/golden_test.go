package dora_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/dora/doratest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// day0 is the start of the golden period; day(n, "15:04") is a time on
// day n of it.
var day0 = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

func day(n int, hhmm string) time.Time {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		panic(err)
	}
	return day0.AddDate(0, 0, n).Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute)
}

// goldenHistory writes, on a gitopstest.Fake whose commits are stamped
// by a fake clock, the history whose figures TestGolden computes by
// hand. Markers name the deploy they judged (Flightdeck-Deploy) unless
// said otherwise. Apps checkout (staging and prod) and payments (prod); the
// period is day 0 00:00 to day 10 00:00, ten days.
//
//	when         commit  target            what                                   source time
//	day -1 10:00 Q0      payments/prod     deploy p0 (before the period)           day -1 09:00
//	day 0  09:00 S1      checkout/staging  deploy c1                               day 0  08:00
//	day 0  10:00 P1      checkout/prod     promote c1 from staging                 (c1)
//	day 0  10:30         checkout/prod     marker: P1 verified
//	day 0  11:00         checkout/prod     a person's commit with deploy trailers (untrusted)
//	day 1  11:00 S2      checkout/staging  deploy c2                               day 1  06:00
//	day 1  12:00 P2      checkout/prod     promote c2                              (c2)
//	day 1  13:20 R1      checkout/prod     rollback to c1, reverts P2
//	day 1  13:25         checkout/prod     marker: P2 failed (after the rollback, as package rollback orders them)
//	day 1  13:50         checkout/prod     marker: R1 verified
//	day 2  10:00 Q1      payments/prod     deploy p1                               day 0  10:00
//	day 3  09:00 P3      checkout/prod     deploy c3                               day 2  09:00
//	day 3  15:00 F1      checkout/prod     unplanned fix c4                        day 3  14:00
//	day 3  15:30         checkout/prod     marker: F1 verified
//	day 5  10:00 Q2      payments/prod     deploy p2                               day 4  22:00
//	day 5  11:00         payments/prod     marker: p2 failed (naming no deploy: found by its digest)
//	day 6  10:00 P4      checkout/prod     deploy c5                               day 6  10:05 (after the deploy)
//	day 9  12:00 P5      checkout/prod     deploy c6                               day 8  12:00
//	day 9  18:00 R2      checkout/prod     rollback to c5, naming no commit
//	day 10 01:00 Q3      payments/prod     unplanned fix p3 (after the period)     day 9  23:00
func goldenHistory(t *testing.T) *gitopstest.Fake {
	t.Helper()
	ctx := context.Background()
	clk := clocktest.New(day(-1, "00:00"))
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout("checkout", "payments"), gitopstest.WithClock(clk))
	require.NoError(t, err)
	rec := doratest.NewRecorder(f)
	c := func(n int, src time.Time) flightdeck.Release { return doratest.Release("checkout", n, src) }
	p := func(n int, src time.Time) flightdeck.Release { return doratest.Release("payments", n, src) }
	c1, c2, c3, c4 := c(1, day(0, "08:00")), c(2, day(1, "06:00")), c(3, day(2, "09:00")), c(4, day(3, "14:00"))
	c5, c6 := c(5, day(6, "10:05")), c(6, day(8, "12:00"))
	p0, p1, p2, p3 := p(0, day(-1, "09:00")), p(1, day(0, "10:00")), p(2, day(4, "22:00")), p(3, day(9, "23:00"))

	at := func(when time.Time, fn func() (plumbing.Hash, error)) plumbing.Hash {
		t.Helper()
		clk.Set(when)
		h, err := fn()
		require.NoError(t, err)
		return h
	}
	at(day(-1, "10:00"), func() (plumbing.Hash, error) { return rec.Deploy(ctx, "prod", p0) })
	at(day(0, "09:00"), func() (plumbing.Hash, error) { return rec.Deploy(ctx, "staging", c1) })
	p1h := at(day(0, "10:00"), func() (plumbing.Hash, error) { return rec.Promote(ctx, "staging", "prod", c1) })
	at(day(0, "10:30"), func() (plumbing.Hash, error) {
		return rec.Verify(ctx, "checkout", "prod", p1h, c1, dora.VerdictVerified)
	})
	at(day(0, "11:00"), func() (plumbing.Hash, error) {
		msg := gitops.Change{Trailers: gitops.ReleaseTrailers(gitops.ActionDeploy, "prod", c2)}.CommitMessage()
		return f.Commit(msg, gitopstest.Files{"notes.txt": "copied trailers\n"})
	})
	at(day(1, "11:00"), func() (plumbing.Hash, error) { return rec.Deploy(ctx, "staging", c2) })
	p2h := at(day(1, "12:00"), func() (plumbing.Hash, error) { return rec.Promote(ctx, "staging", "prod", c2) })
	r1h := at(day(1, "13:20"), func() (plumbing.Hash, error) { return rec.Rollback(ctx, "prod", c1, p2h, "verification failed") })
	at(day(1, "13:25"), func() (plumbing.Hash, error) { return rec.Verify(ctx, "checkout", "prod", p2h, c2, dora.VerdictFailed) })
	at(day(1, "13:50"), func() (plumbing.Hash, error) {
		return rec.Verify(ctx, "checkout", "prod", r1h, c1, dora.VerdictVerified)
	})
	at(day(2, "10:00"), func() (plumbing.Hash, error) { return rec.Deploy(ctx, "prod", p1) })
	at(day(3, "09:00"), func() (plumbing.Hash, error) { return rec.Deploy(ctx, "prod", c3) })
	f1h := at(day(3, "15:00"), func() (plumbing.Hash, error) { return rec.Fix(ctx, "prod", c4, "hotfix for c3") })
	at(day(3, "15:30"), func() (plumbing.Hash, error) {
		return rec.Verify(ctx, "checkout", "prod", f1h, c4, dora.VerdictVerified)
	})
	at(day(5, "10:00"), func() (plumbing.Hash, error) { return rec.Deploy(ctx, "prod", p2) })
	at(day(5, "11:00"), func() (plumbing.Hash, error) {
		return rec.Verify(ctx, "payments", "prod", plumbing.ZeroHash, p2, dora.VerdictFailed)
	})
	at(day(6, "10:00"), func() (plumbing.Hash, error) { return rec.Deploy(ctx, "prod", c5) })
	at(day(9, "12:00"), func() (plumbing.Hash, error) { return rec.Deploy(ctx, "prod", c6) })
	at(day(9, "18:00"), func() (plumbing.Hash, error) { return rec.Rollback(ctx, "prod", c5, plumbing.ZeroHash, "error rate") })
	at(day(10, "01:00"), func() (plumbing.Hash, error) { return rec.Fix(ctx, "prod", p3, "") })
	return f
}

func goldenQuery() dora.Query { return dora.Query{Since: day(0, "00:00"), Until: day(10, "00:00")} }

// TestGolden checks every figure of the golden history against the hand
// computation below, then the text and JSON reports against their
// golden files (go test -run TestGolden -update rewrites them).
//
// checkout/staging: S1, S2. 2 deployments / 10 days = 0.2 a day: high
// (at least one a week, not more than one a day). Lead times 1h
// (09:00 - 08:00) and 5h (11:00 - 06:00): median 3h, elite. Nothing
// failed: 0/2, elite; no recovery time; rework 0/2, elite.
//
// checkout/prod: P1, P2, R1, P3, F1, P4, P5, R2: 8 deployments, 0.8 a
// day, high. Lead times: P1 2h30m (source 08:00 to its verified marker
// 10:30, not to its commit at 10:00), P2 6h (no verified marker: 06:00
// to the commit at 12:00), P3 24h, F1 1h30m (14:00 to the marker at
// 15:30), P5 24h; P4's source time is after its deploy (-5m, left out);
// rollbacks bring no change. Sorted 1h30m 2h30m 6h 24h 24h: median 6h,
// elite. Failed: P2 (R1 reverts it, and its marker says failed), P3 (the
// unplanned fix F1 follows it), P5 (R2 names no commit, so the newest
// planned deployment before it): 3/8 = 37.5%, medium (above 20%, under
// 40%). Recovery: P2 12:00 to R1's verified marker 13:50 = 1h50m; P3
// 09:00 to F1's marker 15:30 = 6h30m; P5 12:00 to R2's commit 18:00
// (no marker) = 6h. Sorted 1h50m 6h 6h30m: median 6h, high (under a
// day). Unplanned: R1, F1, R2: 3/8 = 37.5%, medium.
//
// payments/prod: Q1, Q2 (Q0 is before the period; Q3 after its end, so
// it neither counts nor repairs Q2). 0.2 a day, high. Lead times 48h and
// 12h: median 30h, high (under a week). Failed: Q2 (its marker): 1/2 =
// 50%, low; it is unrecovered at the period's end, so there is no
// recovery time. Rework 0/2, elite.
//
// All: 12 deployments, 1.2 a day: elite. Lead times 1h 1h30m 2h30m 5h
// 6h 12h 24h 24h 48h: median (the 5th of 9) 6h, elite. Failed 4/12 =
// 33.3%, medium. Recovery 1h50m 6h 6h30m: median 6h, high, 1
// unrecovered. Unplanned 3/12 = 25%, medium.
func TestGolden(t *testing.T) {
	f := goldenHistory(t)
	rep, err := dora.NewReader(f).Report(context.Background(), goldenQuery())
	require.NoError(t, err)
	require.Len(t, rep.Targets, 3)
	h := time.Hour

	prod, staging, pay := rep.Targets[0], rep.Targets[1], rep.Targets[2] // by app, then environment
	assert.Equal(t, [2]string{"checkout", "staging"}, [2]string{staging.App, staging.Environment})
	assert.Equal(t, dora.Frequency{Deployments: 2, PerDay: 0.2, Band: dora.BandHigh}, staging.Frequency)
	assert.Equal(t, dora.Timing{Median: 3 * h, Count: 2, Band: dora.BandElite}, staging.LeadTime)
	assert.Equal(t, dora.Rate{Count: 0, Of: 2, Value: 0, Band: dora.BandElite}, staging.ChangeFailRate)
	assert.Equal(t, dora.Timing{}, staging.Recovery)
	assert.Equal(t, dora.Rate{Count: 0, Of: 2, Value: 0, Band: dora.BandElite}, staging.ReworkRate)

	assert.Equal(t, [2]string{"checkout", "prod"}, [2]string{prod.App, prod.Environment})
	assert.Equal(t, dora.Frequency{Deployments: 8, PerDay: 0.8, Band: dora.BandHigh}, prod.Frequency)
	assert.Equal(t, dora.Timing{Median: 6 * h, Count: 5, Band: dora.BandElite}, prod.LeadTime)
	assert.Equal(t, dora.Rate{Count: 3, Of: 8, Value: 0.375, Band: dora.BandMedium}, prod.ChangeFailRate)
	assert.Equal(t, dora.Timing{Median: 6 * h, Count: 3, Band: dora.BandHigh}, prod.Recovery)
	assert.Zero(t, prod.Unrecovered)
	assert.Equal(t, dora.Rate{Count: 3, Of: 8, Value: 0.375, Band: dora.BandMedium}, prod.ReworkRate)
	var leads, recs []time.Duration
	var actions []gitops.Action
	for _, d := range prod.Deployments {
		leads, recs, actions = append(leads, d.LeadTime), append(recs, d.Recovery), append(actions, d.Action)
	}
	assert.Equal(t, []gitops.Action{"promote", "promote", "rollback", "deploy", "deploy", "deploy", "deploy", "rollback"}, actions)
	assert.Equal(t, []time.Duration{150 * time.Minute, 6 * h, 0, 24 * h, 90 * time.Minute, 0, 24 * h, 0}, leads)
	assert.Equal(t, []time.Duration{0, 110 * time.Minute, 0, 390 * time.Minute, 0, 0, 6 * h, 0}, recs)
	assert.Equal(t, prod.Deployments[2].Commit, prod.Deployments[1].RecoveredBy, "R1 recovers P2")
	assert.Equal(t, prod.Deployments[2].Commit, prod.Deployments[1].FailedBy, "R1 came before P2's failed marker")
	assert.True(t, day(1, "13:50").Equal(prod.Deployments[2].VerifiedAt), "R1's marker names it, though P1 has its digest too")
	assert.True(t, day(0, "10:30").Equal(prod.Deployments[0].VerifiedAt), "P1 keeps its own marker")

	assert.Equal(t, [2]string{"payments", "prod"}, [2]string{pay.App, pay.Environment})
	assert.Equal(t, dora.Frequency{Deployments: 2, PerDay: 0.2, Band: dora.BandHigh}, pay.Frequency)
	assert.Equal(t, dora.Timing{Median: 30 * h, Count: 2, Band: dora.BandHigh}, pay.LeadTime)
	assert.Equal(t, dora.Rate{Count: 1, Of: 2, Value: 0.5, Band: dora.BandLow}, pay.ChangeFailRate)
	assert.Equal(t, dora.Timing{}, pay.Recovery)
	assert.Equal(t, 1, pay.Unrecovered)
	assert.Equal(t, dora.Rate{Count: 0, Of: 2, Value: 0, Band: dora.BandElite}, pay.ReworkRate)

	tot := rep.Total
	assert.Equal(t, dora.Frequency{Deployments: 12, PerDay: 1.2, Band: dora.BandElite}, tot.Frequency)
	assert.Equal(t, dora.Timing{Median: 6 * h, Count: 9, Band: dora.BandElite}, tot.LeadTime)
	assert.Equal(t, dora.Rate{Count: 4, Of: 12, Value: 4.0 / 12, Band: dora.BandMedium}, tot.ChangeFailRate)
	assert.Equal(t, dora.Timing{Median: 6 * h, Count: 3, Band: dora.BandHigh}, tot.Recovery)
	assert.Equal(t, 1, tot.Unrecovered)
	assert.Equal(t, dora.Rate{Count: 3, Of: 12, Value: 0.25, Band: dora.BandMedium}, tot.ReworkRate)

	var text, js bytes.Buffer
	require.NoError(t, rep.WriteText(&text))
	require.NoError(t, rep.WriteJSON(&js))
	golden(t, "report.txt", text.Bytes())
	golden(t, "report.json", js.Bytes())
}

// TestGoldenLater: with Until after Q3, payments' unplanned fix counts,
// marks Q2 failed (already) and recovers it.
func TestGoldenLater(t *testing.T) {
	f := goldenHistory(t)
	q := goldenQuery()
	q.Until = day(11, "00:00")
	q.Apps = []string{"payments"}
	rep, err := dora.NewReader(f).Report(context.Background(), q)
	require.NoError(t, err)
	require.Len(t, rep.Targets, 1)
	pay := rep.Targets[0]
	assert.Equal(t, 3, pay.Frequency.Deployments)
	assert.Equal(t, dora.Timing{Median: 111 * time.Hour, Count: 1, Band: dora.BandMedium}, pay.Recovery,
		"Q2 at day 5 10:00, Q3 at day 10 01:00: 4 days 15 hours, under a week")
	assert.Zero(t, pay.Unrecovered)
	assert.Equal(t, dora.Rate{Count: 1, Of: 3, Value: 1.0 / 3, Band: dora.BandMedium}, pay.ReworkRate)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(p, got, 0o644))
	}
	want, err := os.ReadFile(p)
	require.NoError(t, err, "run go test -run %s -update to write it", t.Name())
	assert.Equal(t, string(want), string(got))
}
