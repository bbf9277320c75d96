package dora_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/dora/doratest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// historyLimits returns the Limit of every History call f recorded.
func historyLimits(f *gitopstest.Fake) []int {
	var out []int
	for _, c := range f.Calls() {
		if c.Op == gitopstest.OpHistory {
			out = append(out, c.Query.Limit)
		}
	}
	return out
}

func newFake(t *testing.T, apps ...string) (*gitopstest.Fake, *clocktest.Clock) {
	t.Helper()
	clk := clocktest.New(day0)
	f, err := gitopstest.NewFake(gitopstest.KustomizeLayout(apps...), gitopstest.WithClock(clk))
	require.NoError(t, err)
	return f, clk
}

// deployN deploys releases from..to-1 of app to prod, an hour apart,
// each built half an hour before its deploy.
func deployN(t *testing.T, f *gitopstest.Fake, clk *clocktest.Clock, app string, from, to int) {
	t.Helper()
	rec := doratest.NewRecorder(f)
	for i := from; i < to; i++ {
		clk.Advance(time.Hour)
		_, err := rec.Deploy(context.Background(), "prod", doratest.Release(app, i, clk.Now().Add(-30*time.Minute)))
		require.NoError(t, err)
	}
}

func TestReaderReadsOnlyWhatIsNew(t *testing.T) {
	ctx := context.Background()
	f, clk := newFake(t, "web")
	deployN(t, f, clk, "web", 1, 6)
	r := dora.NewReader(f, dora.WithClock(clk))

	rep, err := r.Report(ctx, dora.Query{})
	require.NoError(t, err)
	assert.Equal(t, 5, rep.Total.Frequency.Deployments)
	assert.Equal(t, []int{0}, historyLimits(f), "the first read lists the whole history")

	rep, err = r.Report(ctx, dora.Query{})
	require.NoError(t, err)
	assert.Equal(t, 5, rep.Total.Frequency.Deployments)
	assert.Equal(t, []int{0, dora.DefaultFirstPage}, historyLimits(f), "a warm read asks for one page")

	deployN(t, f, clk, "web", 6, 9)
	rep, err = r.Report(ctx, dora.Query{})
	require.NoError(t, err)
	assert.Equal(t, 8, rep.Total.Frequency.Deployments)
	assert.Equal(t, dora.Timing{Median: 30 * time.Minute, Count: 8, Band: dora.BandElite}, rep.Total.LeadTime)
	assert.Equal(t, []int{0, 64, 64}, historyLimits(f))

	// More new commits than a page: the Reader asks for bigger pages.
	deployN(t, f, clk, "web", 9, 9+dora.DefaultFirstPage+1)
	rep, err = r.Report(ctx, dora.Query{})
	require.NoError(t, err)
	assert.Equal(t, 8+dora.DefaultFirstPage+1, rep.Total.Frequency.Deployments)
	assert.Equal(t, []int{0, 64, 64, 64, 512}, historyLimits(f))

	entries, err := r.Entries(ctx)
	require.NoError(t, err)
	all, err := f.History(ctx, gitops.HistoryQuery{AllActions: true})
	require.NoError(t, err)
	assert.Equal(t, all, entries, "the index holds the history exactly as listed")
}

// entry is a synthetic deploy of app to prod at minute m.
func entry(app string, m int) gitops.Entry {
	var h plumbing.Hash
	copy(h[:], app)
	h[19] = byte(m)
	return gitops.Entry{
		Commit: h, Time: day0.Add(time.Duration(m) * time.Minute),
		Trailers: gitops.Trailers{Action: gitops.ActionDeploy, App: app, Environment: "prod"},
	}
}

// newestFirst returns a Source listing entries (given oldest first)
// newest first, honouring Limit, and counting its calls.
func newestFirst(entries *[]gitops.Entry, calls *int) dora.Source {
	return dora.SourceFunc(func(ctx context.Context, q gitops.HistoryQuery) ([]gitops.Entry, error) {
		*calls++
		var out []gitops.Entry
		for i := len(*entries) - 1; i >= 0; i-- {
			out = append(out, (*entries)[i])
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
		}
		return out, nil
	})
}

func TestReaderStartsOverOnRewrittenHistory(t *testing.T) {
	ctx := context.Background()
	hist := []gitops.Entry{entry("a", 1), entry("a", 2), entry("a", 3)}
	calls := 0
	r := dora.NewReader(newestFirst(&hist, &calls))
	until := day0.Add(time.Hour)
	rep, err := r.Report(ctx, dora.Query{Until: until})
	require.NoError(t, err)
	assert.Equal(t, 3, rep.Total.Frequency.Deployments)

	// A force-push replaced the last two commits with one other.
	hist = []gitops.Entry{entry("a", 1), entry("b", 4)}
	rep, err = r.Report(ctx, dora.Query{Until: until})
	require.NoError(t, err)
	require.Len(t, rep.Targets, 2)
	assert.Equal(t, 1, rep.Targets[0].Frequency.Deployments)
	assert.Equal(t, "b", rep.Targets[1].App)
	assert.Equal(t, 2, calls, "the short listing was the whole history; no second read")
}

func TestReaderReadsAllAfterManyNewCommits(t *testing.T) {
	ctx := context.Background()
	hist := []gitops.Entry{entry("a", 0)}
	calls := 0
	r := dora.NewReader(newestFirst(&hist, &calls))
	until := day0.Add(30 * 24 * time.Hour)
	_, err := r.Report(ctx, dora.Query{Until: until})
	require.NoError(t, err)
	for m := 1; m <= 20000; m++ {
		e := entry("a", m)
		e.Commit[18] = byte(m >> 8)
		hist = append(hist, e)
	}
	rep, err := r.Report(ctx, dora.Query{Until: until})
	require.NoError(t, err)
	assert.Equal(t, 20001, rep.Total.Frequency.Deployments)
	assert.Equal(t, 1+3+1, calls, "pages of 64, 512 and 4096 entries, then the whole history")
}

func TestReaderErrors(t *testing.T) {
	boom := errors.New("remote down")
	f, _ := newFake(t, "web")
	f.FailNext(gitopstest.OpHistory, boom)
	r := dora.NewReader(f)
	_, err := r.Report(context.Background(), dora.Query{})
	assert.ErrorIs(t, err, boom)
	assert.ErrorContains(t, err, "dora: history: remote down")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = r.Report(ctx, dora.Query{})
	assert.ErrorIs(t, err, context.Canceled)
	_, err = r.Entries(ctx)
	assert.ErrorIs(t, err, context.Canceled)

	rep, err := r.Report(context.Background(), dora.Query{})
	require.NoError(t, err, "a failed read loses nothing: the next one works")
	assert.Empty(t, rep.Targets)
}

func TestReaderOnARealRepository(t *testing.T) {
	ctx := context.Background()
	w := gitopstest.NewWriter(t, gitopstest.KustomizeLayout("web"), gitops.WithCommitter("deployer", "deployer@example.com"))
	rec := doratest.NewRecorder(w)
	src := day0.Add(-time.Hour)
	_, err := rec.Deploy(ctx, "prod", doratest.Release("web", 1, src))
	require.NoError(t, err)

	r := dora.NewReader(w.Repo)
	rep, err := r.Report(ctx, dora.Query{})
	require.NoError(t, err)
	require.Len(t, rep.Targets, 1)
	assert.Equal(t, 1, rep.Total.Frequency.Deployments)
	assert.Equal(t, 1, rep.Total.LeadTime.Count)

	gitopstest.Commit(t, w.Dir, gitopstest.Files{"x.txt": "x"}, nil,
		gitops.Change{Trailers: gitops.ReleaseTrailers(gitops.ActionDeploy, "prod", doratest.Release("web", 2, src))}.CommitMessage())
	rep, err = r.Report(ctx, dora.Query{})
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Total.Frequency.Deployments, "a commit by another identity is not a deployment")

	trusting := dora.NewReader(w.Repo, dora.WithCommitters("gitopstest <gitopstest@localhost>"))
	rep, err = trusting.Report(ctx, dora.Query{})
	require.NoError(t, err)
	assert.Equal(t, 2, rep.Total.Frequency.Deployments, "unless its committer is trusted")
}
