package postdeploy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/gitops/syncertest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/command"
	"github.com/flightdeck-dev/flightdeck/pipeline/deploy"
	"github.com/flightdeck-dev/flightdeck/pipeline/gotest"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/postdeploy"
	"github.com/flightdeck-dev/flightdeck/promote"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

var hermetic = []string{"GOFLAGS=", "GOTOOLCHAIN=local", "GOWORK=off"}

// fixture is a GitOps repository on disk where staging runs release 2
// and prod release 1 of "shop".
type fixture struct {
	t    *testing.T
	repo *gitops.Repo
	clk  *clocktest.Clock
	rel  flightdeck.Release
	dep  deploy.Deployment
}

func release(n int) flightdeck.Release {
	return flightdeck.Release{App: "shop", Image: gitopstest.Image("shop"), Digest: fmt.Sprintf("sha256:%064x", n),
		Tag: fmt.Sprintf("1.%d.0", n), Revision: fmt.Sprintf("%040x", n), Time: t0.Add(-time.Hour)}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	bare := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	clk := clocktest.NewAuto(t0)
	repo, err := gitops.New(gitopstest.FileURL(bare), gitops.WithCacheDir(t.TempDir()), gitops.WithClock(clk))
	require.NoError(t, err)
	t.Cleanup(func() { repo.Close() })
	ctx := context.Background()
	f := &fixture{t: t, repo: repo, clk: clk, rel: release(2)}
	_, err = gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: target("prod"), Release: release(1)})
	require.NoError(t, err)
	res, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: target("staging"), Release: f.rel})
	require.NoError(t, err)
	f.dep = deploy.Deployment{Release: f.rel, Environment: "staging", Commit: res.Commit.String(), Changed: true}
	return f
}

func target(env string) gitops.Target {
	return gitops.Target{App: "shop", Environment: flightdeck.Environment{Name: env}}
}

func (f *fixture) state() *pipeline.State {
	st := pipeline.NewState()
	deploy.Deployed.Put(st, f.dep)
	return st
}

// shop serves /healthz and /checkout, the latter failing while broken.
func shop(t *testing.T, broken *atomic.Bool) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/healthz":
			fmt.Fprint(w, "up")
		case r.URL.Path == "/checkout" && broken.Load():
			http.Error(w, "payment backend down", http.StatusBadGateway)
		case r.URL.Path == "/checkout":
			fmt.Fprint(w, "ok")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func smokeSuite(endpoint string) postdeploy.Spec {
	return postdeploy.Spec{
		Suite: "smoke",
		Tests: postdeploy.GoTest(gotest.Spec{Dir: filepath.Join("testdata", "smoke"), Tags: []string{"smoke"}, Env: hermetic}),
		Endpoints: map[string]string{
			"api": endpoint,
			// Credentials in a URL reach the tests, never the report.
			"admin-ui": "http://robot:hunter2@admin.example.com/ui?token=abc",
			"db":       "db.staging:5432",
			"cache":    "redis:6379?password=hunter2",
		},
	}
}

// recorded returns the test commits of shop in staging, newest first,
// and the report file at the head.
func (f *fixture) recorded(suite string) ([]gitops.Entry, *postdeploy.Report) {
	f.t.Helper()
	ctx := context.Background()
	entries, err := f.repo.History(ctx, gitops.HistoryQuery{App: "shop", Environment: "staging", Actions: []gitops.Action{gitops.ActionTest}})
	require.NoError(f.t, err)
	data, err := f.repo.ReadFile(ctx, "", postdeploy.Path("shop", "staging", f.rel.Digest, suite))
	if err != nil {
		return entries, nil
	}
	var rep postdeploy.Report
	require.NoError(f.t, json.Unmarshal(data, &rep))
	return entries, &rep
}

func TestGoSuiteAgainstEnvironmentRecordsReport(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var broken atomic.Bool
	srv := shop(t, &broken)
	syncer := syncertest.New(f.clk)
	syncer.Set(gitops.AppStatus{App: "shop-staging"})
	require.NoError(t, syncer.Sync(ctx, gitops.SyncRequest{App: "shop-staging", Revision: f.dep.Commit}))
	key := pipeline.NewKey[*postdeploy.Report]("test.smoke")
	stage := postdeploy.New(f.repo, smokeSuite(srv.URL), postdeploy.WithSyncer(syncer, gitops.WaitOptions{StableFor: -1}),
		postdeploy.WithClock(f.clk), postdeploy.WithReport(key))
	assert.Equal(t, "test-smoke", stage.Name())
	st := f.state()
	require.NoError(t, stage.Run(ctx, st))
	assert.Positive(t, syncer.Count("AppStatus"), "waited for the environment")

	rep, err := key.Get(st)
	require.NoError(t, err)
	assert.Equal(t, postdeploy.Passed, rep.Result)
	assert.Equal(t, []int{3, 0, 0}, []int{rep.Passed, rep.Failed, rep.Skipped}, "TestEnvironment runs in staging")
	names := []string{}
	for _, tc := range rep.Tests {
		names = append(names, tc.String())
		assert.Equal(t, postdeploy.StatusPass, tc.Status)
	}
	assert.ElementsMatch(t, []string{"example.com/smoke TestHealth", "example.com/smoke TestCheckout", "example.com/smoke TestEnvironment"}, names)
	assert.Equal(t, f.dep.Commit, rep.Deploy)
	assert.Equal(t, f.rel.Ref(), rep.Release)
	assert.Equal(t, map[string]string{"api": srv.URL, "admin-ui": "http://admin.example.com/ui", "db": "db.staging:5432", "cache": "(redacted)"}, rep.Endpoints)

	entries, saved := f.recorded("smoke")
	require.Len(t, entries, 1)
	e := entries[0]
	v, ok := e.Trailers.Extra.Get(gitops.TrailerTests)
	assert.True(t, ok)
	assert.Equal(t, "smoke=passed", v)
	got, _ := e.Release()
	assert.Equal(t, f.rel, got, "the commit names the whole release")
	assert.Equal(t, "test shop in staging: smoke passed: 3 passed, 0 failed, 0 skipped in 0s", e.Subject)
	require.NotNil(t, saved)
	assert.Equal(t, rep.Tests, saved.Tests)
	assert.Equal(t, rep.Release, saved.Release)
	data, err := f.repo.ReadFile(ctx, "", postdeploy.Path("shop", "staging", f.rel.Digest, "smoke"))
	require.NoError(t, err)
	assert.NotContains(t, string(data), "hunter2")
	assert.NotContains(t, string(data), "token")
	assert.Equal(t, ".flightdeck/tests/shop/staging/"+strings.TrimPrefix(f.rel.Digest, "sha256:")+"/smoke.json",
		postdeploy.Path("shop", "staging", f.rel.Digest, "smoke"))
}

func TestFailingSuiteNamesFailuresAndIsRecorded(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var broken atomic.Bool
	broken.Store(true)
	srv := shop(t, &broken)
	key := pipeline.NewKey[*postdeploy.Report]("test.smoke")
	stage := postdeploy.New(f.repo, smokeSuite(srv.URL), postdeploy.WithClock(f.clk), postdeploy.WithReport(key))
	st := f.state()
	err := stage.Run(ctx, st)
	require.ErrorIs(t, err, postdeploy.ErrTestsFailed)
	var fe *postdeploy.FailError
	require.ErrorAs(t, err, &fe)
	assert.Equal(t, []string{"example.com/smoke TestCheckout"}, fe.Failures)
	assert.Contains(t, err.Error(), "stage test-smoke: suite smoke against shop in staging: 1 failed: example.com/smoke TestCheckout")
	assert.Contains(t, err.Error(), `GET /checkout: 502 "payment backend down\n"`)
	assert.False(t, pipeline.IsPermanent(err), "a flaky suite may be retried by the step's policy")

	rep, err := key.Get(st)
	require.NoError(t, err)
	assert.Equal(t, postdeploy.Failed, rep.Result)
	assert.Equal(t, []int{2, 1}, []int{rep.Passed, rep.Failed})
	entries, saved := f.recorded("smoke")
	require.Len(t, entries, 1)
	v, _ := entries[0].Trailers.Extra.Get(gitops.TrailerTests)
	assert.Equal(t, "smoke=failed", v)
	require.NotNil(t, saved)
	assert.Equal(t, []string{"example.com/smoke TestCheckout"}, saved.Failures)
	for _, tc := range saved.Tests {
		if tc.Name == "TestCheckout" {
			assert.Contains(t, tc.Output, "payment backend down")
		} else {
			assert.Empty(t, tc.Output, "passing tests keep no output")
		}
	}
}

func TestCommandSuites(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	pass := postdeploy.New(f.repo, postdeploy.Spec{Suite: "probe", Endpoints: map[string]string{"web.public": "https://shop.example.com"},
		Tests: postdeploy.Command(command.Spec{Program: "sh", Args: []string{"-c",
			`test "$FLIGHTDECK_ENDPOINT_WEB_PUBLIC" = https://shop.example.com && test "$FLIGHTDECK_ENV" = staging && test "$FLIGHTDECK_RELEASE" = "$FLIGHTDECK_EXPECT"`},
			Env: []string{"FLIGHTDECK_EXPECT=" + f.rel.Ref()}})},
		postdeploy.WithClock(f.clk))
	require.NoError(t, pass.Run(ctx, f.state()))

	fail := postdeploy.New(f.repo, postdeploy.Spec{Suite: "e2e",
		Tests: postdeploy.Command(command.Spec{Program: "sh", Args: []string{"-c", `echo "cart total wrong: 9 != 10" >&2; exit 3`}})},
		postdeploy.WithClock(f.clk))
	err := fail.Run(ctx, f.state())
	require.ErrorIs(t, err, postdeploy.ErrTestsFailed)
	assert.Contains(t, err.Error(), "1 failed: sh\ncart total wrong: 9 != 10")

	entries, _ := f.recorded("e2e")
	require.Len(t, entries, 2)
	newest, _ := entries[0].Trailers.Extra.Get(gitops.TrailerTests)
	older, _ := entries[1].Trailers.Extra.Get(gitops.TrailerTests)
	assert.Equal(t, []string{"e2e=failed", "probe=passed"}, []string{newest, older})
	assert.Contains(t, entries[0].Subject, "test shop in staging: e2e failed: 0 passed, 1 failed")

	missing := postdeploy.New(nil, postdeploy.Spec{Suite: "e2e", Tests: postdeploy.Command(command.Spec{Program: "flightdeck-no-such-program"})})
	err = missing.Run(ctx, f.state())
	require.Error(t, err)
	assert.NotErrorIs(t, err, postdeploy.ErrTestsFailed, "a suite that cannot start did not fail its tests")
	assert.Contains(t, err.Error(), "flightdeck-no-such-program")
}

func TestNotReadyRunsNoTestsAndRecordsNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var ran atomic.Int32
	runner := postdeploy.RunnerFunc(func(context.Context, []string) (postdeploy.Outcome, error) {
		ran.Add(1)
		return postdeploy.Outcome{Tests: []postdeploy.Test{{Name: "x", Status: postdeploy.StatusPass}}}, nil
	})
	syncer := syncertest.New(f.clk)
	syncer.Set(gitops.AppStatus{App: "shop-staging"})
	require.NoError(t, syncer.Sync(ctx, gitops.SyncRequest{App: "shop-staging", Revision: "0123456789abcdef0123456789abcdef01234567"}))
	stage := postdeploy.New(f.repo, postdeploy.Spec{Suite: "smoke", Tests: runner},
		postdeploy.WithSyncer(syncer, gitops.WaitOptions{StableFor: -1, Timeout: time.Minute}), postdeploy.WithClock(f.clk))
	err := stage.Run(ctx, f.state())
	require.ErrorIs(t, err, postdeploy.ErrNotReady)
	assert.ErrorIs(t, err, gitops.ErrWaitTimeout, "synced at another revision than the deploy")

	probe := postdeploy.New(f.repo, postdeploy.Spec{Suite: "smoke", Tests: runner}, postdeploy.WithClock(f.clk),
		postdeploy.WithReady(func(_ context.Context, tg postdeploy.Target) error {
			return fmt.Errorf("%s in %s: /healthz answers 503", tg.Release.App, tg.Environment)
		}))
	err = probe.Run(ctx, f.state())
	require.ErrorIs(t, err, postdeploy.ErrNotReady)
	assert.Contains(t, err.Error(), "shop in staging: /healthz answers 503")

	assert.Zero(t, ran.Load())
	entries, _ := f.recorded("smoke")
	assert.Empty(t, entries)
}

func TestInvalidSpecIsPermanent(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	ok := postdeploy.RunnerFunc(func(context.Context, []string) (postdeploy.Outcome, error) { return postdeploy.Outcome{}, nil })
	for name, spec := range map[string]postdeploy.Spec{
		"no suite":           {Tests: ok},
		"bad suite":          {Suite: "Smoke Tests", Tests: ok},
		"no runner":          {Suite: "smoke"},
		"bad endpoint":       {Suite: "smoke", Tests: ok, Endpoints: map[string]string{"api url": "http://x"}},
		"clashing endpoints": {Suite: "smoke", Tests: ok, Endpoints: map[string]string{"a-b": "http://x", "a.b": "http://y"}},
		"not by digest": {Suite: "smoke", Tests: ok, Target: func(context.Context, *pipeline.State) (postdeploy.Target, error) {
			return postdeploy.Target{Release: flightdeck.Release{App: "shop", Image: gitopstest.Image("shop")}, Environment: "staging"}, nil
		}},
	} {
		t.Run(name, func(t *testing.T) {
			err := postdeploy.New(f.repo, spec).Run(ctx, f.state())
			require.ErrorIs(t, err, postdeploy.ErrInvalidSpec)
			assert.True(t, pipeline.IsPermanent(err))
		})
	}
	err := postdeploy.New(f.repo, postdeploy.Spec{Suite: "smoke", Tests: ok}).Run(ctx, pipeline.NewState())
	require.ErrorIs(t, err, pipeline.ErrNoValue, "no deployment in the state")
}

func TestCurrentTargetsWhatTheEnvironmentRuns(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	var got []string
	runner := postdeploy.RunnerFunc(func(_ context.Context, env []string) (postdeploy.Outcome, error) {
		got = env
		return postdeploy.Outcome{Tests: []postdeploy.Test{{Name: "nightly", Status: postdeploy.StatusPass, Seconds: 1}}}, nil
	})
	stage := postdeploy.New(f.repo, postdeploy.Spec{Suite: "nightly", Tests: runner, Target: postdeploy.Current(f.repo, target("staging"))})
	require.NoError(t, stage.Run(ctx, pipeline.NewState()))
	assert.Contains(t, got, "FLIGHTDECK_RELEASE="+f.rel.Ref())
	assert.Contains(t, got, "FLIGHTDECK_DIGEST="+f.rel.Digest)
	entries, saved := f.recorded("nightly")
	require.Len(t, entries, 1)
	require.NotNil(t, saved)
	assert.Equal(t, f.dep.Commit, saved.Deploy)

	cur, err := gitops.CurrentRelease(ctx, f.repo, target("staging"), "")
	require.NoError(t, err)
	assert.Equal(t, f.rel, cur.Release, "a test commit keeps the release's tag and source for readers of the environment")
}

// The promote Tests policy reads what the stage recorded: no result
// blocks, a failed suite blocks, and a later pass lets the release go.
func TestPromoteTestsPolicyReadsRecordedResults(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	p, err := promote.New(f.repo, promote.Ladder{
		{Name: "staging", Policies: []promote.Policy{promote.Manual{}}},
		{Name: "prod", Policies: []promote.Policy{promote.Tests{Suites: []string{"smoke"}}}},
	}, promote.WithClock(f.clk))
	require.NoError(t, err)
	explain := func() promote.Explanation {
		pl, err := p.Plan(ctx, "shop", "prod")
		require.NoError(t, err)
		require.Equal(t, f.rel.Digest, pl.Release.Digest)
		ex, err := p.Explain(ctx, pl, promote.Request{})
		require.NoError(t, err)
		return ex
	}
	ex := explain()
	assert.False(t, ex.Allowed)
	assert.Contains(t, ex.String(), "no result recorded in staging")

	var broken atomic.Bool
	broken.Store(true)
	srv := shop(t, &broken)
	stage := postdeploy.New(f.repo, smokeSuite(srv.URL), postdeploy.WithClock(f.clk))
	require.ErrorIs(t, stage.Run(ctx, f.state()), postdeploy.ErrTestsFailed)
	ex = explain()
	assert.False(t, ex.Allowed)
	assert.Contains(t, ex.String(), "smoke failed")

	broken.Store(false)
	require.NoError(t, stage.Run(ctx, f.state()))
	ex = explain()
	assert.True(t, ex.Allowed, ex.String())
	assert.Contains(t, ex.String(), "passed in staging: smoke")
}

// In a pipeline the stage follows the deploy stage and tests what it
// deployed.
func TestInAPipelineAfterTheDeployStage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	next := release(3)
	st := pipeline.NewState()
	push := pipeline.Step{Stage: pipeline.Func("push", func(_ context.Context, st *pipeline.State) error {
		image.Ref.Put(st, next.Ref())
		return nil
	}), Provides: []pipeline.AnyKey{image.Ref}}
	key := pipeline.NewKey[*postdeploy.Report]("test.smoke")
	var broken atomic.Bool
	srv := shop(t, &broken)
	tests := postdeploy.New(f.repo, smokeSuite(srv.URL), postdeploy.WithReport(key), postdeploy.WithClock(f.clk))
	step := tests.Step()
	assert.Equal(t, []pipeline.AnyKey{deploy.Deployed}, step.Needs)
	assert.Equal(t, []pipeline.AnyKey{key}, step.Provides)

	var b pipeline.Builder
	b.Add(push, deploy.New(f.repo, deploy.Spec{App: "shop", Environment: flightdeck.Environment{Name: "staging"}}).Step(), step)
	g, err := b.Build()
	require.NoError(t, err)
	eng, err := pipeline.New(pipeline.WithClock(f.clk))
	require.NoError(t, err)
	_, err = eng.Run(ctx, g, st)
	require.NoError(t, err)
	rep, err := key.Get(st)
	require.NoError(t, err)
	d, err := deploy.Deployed.Get(st)
	require.NoError(t, err)
	assert.Equal(t, next.Digest, rep.Digest)
	assert.Equal(t, d.Commit, rep.Deploy)

	entries, err := f.repo.History(ctx, gitops.HistoryQuery{App: "shop", Environment: "staging", Actions: []gitops.Action{gitops.ActionTest}, Digest: next.Digest})
	require.NoError(t, err)
	require.Len(t, entries, 1)

	cur := postdeploy.New(nil, postdeploy.Spec{Suite: "nightly", Tests: postdeploy.Command(command.Spec{Program: "true"}),
		Target: postdeploy.Current(f.repo, target("staging"))})
	assert.Empty(t, cur.Step().Needs, "a stage that reads the environment needs no deployment")
}
