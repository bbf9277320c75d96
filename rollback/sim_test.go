package rollback_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/rollback/rollbacktest"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// world is a GitOps repository on disk, a fake Argo CD rendering it
// into a simulated cluster, and a rollback Controller over a Repo, all
// on one auto-advancing clock.
type world struct {
	t       *testing.T
	clk     *clocktest.Clock
	dir     string
	repo    *gitops.Repo
	srv     *argocdtest.Server
	client  *argocd.Client
	cluster *sim.Cluster
	ctl     *rollback.Controller
	obs     *rollbacktest.Observer
	reg     *prometheus.Registry
	prod    gitops.Target
	service sim.Ref
}

type worldOptions struct {
	autoSync bool
	files    gitopstest.Files
	argo     bool
}

func newWorld(t *testing.T, o worldOptions) *world {
	t.Helper()
	clk := clocktest.NewAuto(start)
	files := o.files
	if files == nil {
		files = gitopstest.KustomizeLayout("web")
	}
	dir := gitopstest.NewBareRepo(t, files)
	cluster := sim.New(clk, sim.WithSeed(11))
	srv, err := argocdtest.New(argocdtest.WithClock(clk), argocdtest.WithCluster(cluster), argocdtest.WithReconcileInterval(10*time.Second))
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	ctx := context.Background()
	require.NoError(t, srv.AddApp(ctx, argocdtest.App{Name: "web-prod", RepoURL: gitopstest.FileURL(dir), Path: "apps/web/overlays/prod", AutoSync: o.autoSync}))
	client, err := srv.Client(argocd.WithClock(clk))
	require.NoError(t, err)
	w := &world{t: t, clk: clk, dir: dir, srv: srv, client: client, cluster: cluster, obs: &rollbacktest.Observer{}, reg: prometheus.NewPedanticRegistry(),
		prod:    target("web", "prod"),
		service: sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: "web-prod", Name: "web"}}
	w.repo = w.newRepo()
	opts := []rollback.Option{rollback.WithClock(clk), rollback.WithSyncer(client), rollback.WithObserver(w.obs), rollback.WithRegisterer(w.reg),
		rollback.WithWait(gitops.WaitOptions{PollInterval: 2 * time.Second, StableFor: 10 * time.Second, Timeout: -1})}
	if o.argo {
		opts = append(opts, rollback.WithArgoRollback(client))
	}
	w.ctl, err = rollback.New(w.repo, opts...)
	require.NoError(t, err)
	// The first sync, and steady traffic through the Service.
	if !o.autoSync {
		require.NoError(t, client.Sync(ctx, gitops.SyncRequest{App: "web-prod"}))
	}
	_, err = gitops.WaitFor(ctx, client, gitops.WaitOptions{App: "web-prod", Clock: clk, PollInterval: 2 * time.Second})
	require.NoError(t, err)
	require.NoError(t, cluster.SetLoad(w.service, 100))
	return w
}

// newRepo returns a new Repo on a new cache: another process.
func (w *world) newRepo() *gitops.Repo {
	r, err := gitops.New(gitopstest.FileURL(w.dir), gitops.WithCacheDir(filepath.Join(w.t.TempDir(), "cache")), gitops.WithClock(w.clk))
	require.NoError(w.t, err)
	return r
}

func (w *world) deploy(n int) gitops.Result {
	w.t.Helper()
	res, err := gitops.DeployRelease(context.Background(), w.repo, gitops.DeployRequest{Target: w.prod, Release: release("web", n)})
	require.NoError(w.t, err)
	return res
}

// synced waits until Argo CD has synced commit and the app is Healthy.
func (w *world) synced(ctx context.Context, commit plumbing.Hash) {
	w.t.Helper()
	_, err := w.client.Get(ctx, "web-prod", "normal")
	require.NoError(w.t, err)
	_, err = gitops.WaitFor(ctx, w.client, gitops.WaitOptions{App: "web-prod", Revision: commit.String(), Clock: w.clk, PollInterval: 2 * time.Second})
	require.NoError(w.t, err)
}

// verify verifies the current deploy on its sync alone and requires it
// Verified.
func (w *world) verify(ctx context.Context) {
	w.t.Helper()
	v, err := w.ctl.Verify(ctx, rollback.VerifyRequest{Target: w.prod, Sync: true})
	require.NoError(w.t, err)
	require.Equal(w.t, rollback.Verified, v.Verdict)
}

func (w *world) behave(n int, b sim.Behavior) {
	require.NoError(w.t, w.cluster.SetBehavior(gitopstest.Image("web")+"@"+digestN(n), b))
}

// liveDigest returns the digest the Deployment's pod template runs.
func (w *world) liveDigest() string {
	w.t.Helper()
	obj, err := w.cluster.Get(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web-prod", Name: "web"})
	require.NoError(w.t, err)
	spec := obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	img := spec["containers"].([]any)[0].(map[string]any)["image"].(string)
	return img[strings.LastIndexByte(img, '@')+1:]
}

// errorRate measures the error rate of the Deployment's requests since
// the previous measurement.
func errorRate(c *sim.Cluster, clk *clocktest.Clock) health.Evaluator {
	var mu sync.Mutex
	var served, failed float64
	ref := sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web-prod", Name: "web"}
	return health.Func(func(ctx context.Context) health.Measurement {
		mu.Lock()
		defer mu.Unlock()
		s, f, err := c.Requests(ref)
		if err != nil {
			return health.Measurement{Time: clk.Now(), Phase: health.Error, Err: err, Message: err.Error()}
		}
		ds, df := s-served, f-failed
		served, failed = s, f
		if ds <= 0 {
			return health.Measurement{Time: clk.Now(), Phase: health.Inconclusive, Message: "no requests"}
		}
		return health.Measurement{Time: clk.Now(), Value: df / ds, Phase: health.Successful,
			Message: fmt.Sprintf("%.0f of %.0f requests failed", df, ds)}
	})
}

func errorAnalysis(c *sim.Cluster, clk *clocktest.Clock) health.Analysis {
	return health.Analysis{Metrics: []health.Metric{{Name: "error-rate", Evaluator: errorRate(c, clk), InitialDelay: 30 * time.Second,
		Interval: 30 * time.Second, Count: 4, FailureCondition: health.Above(0.05)}}}
}

// treeAt returns the tree hash of path at commit c in the bare repository.
func treeAt(t *testing.T, dir string, c plumbing.Hash, path string) plumbing.Hash {
	t.Helper()
	repo, err := git.PlainOpen(dir)
	require.NoError(t, err)
	commit, err := repo.CommitObject(c)
	require.NoError(t, err)
	root, err := commit.Tree()
	require.NoError(t, err)
	e, err := root.FindEntry(path)
	require.NoError(t, err)
	return e.Hash
}

func realCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestFailedVerificationRollsBackToTheLastVerifiedDeploy(t *testing.T) {
	w := newWorld(t, worldOptions{autoSync: true})
	ctx := realCtx(t)
	w.behave(3, sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.3})

	good := w.deploy(1)
	checks := map[string]rollback.Check{"error-rate": {Query: "5xx / all requests of Deployment web-prod/web", Threshold: "above 0.05 fails"}}
	v, err := w.ctl.Verify(ctx, rollback.VerifyRequest{Target: w.prod, Analysis: errorAnalysis(w.cluster, w.clk), Sync: true, Checks: checks})
	require.NoError(t, err)
	require.Equal(t, rollback.Verified, v.Verdict, v.Evidence.Text())
	assert.Equal(t, digestN(1), w.liveDigest())

	unverified := w.deploy(2) // deployed and synced, never verified
	w.synced(ctx, unverified.Commit)
	assert.Equal(t, digestN(2), w.liveDigest())

	bad := w.deploy(3)
	v, err = w.ctl.Verify(ctx, rollback.VerifyRequest{Target: w.prod, Analysis: errorAnalysis(w.cluster, w.clk), Sync: true, Checks: checks})
	require.NoError(t, err)
	assert.Equal(t, rollback.Failed, v.Verdict)
	assert.Equal(t, bad.Commit, v.Deploy.Commit)
	require.NotNil(t, v.Rollback)
	out := *v.Rollback
	require.Equal(t, rollback.RolledBack, out.Decision)
	assert.Equal(t, good.Commit, out.Restored.Commit, "the last verified deploy, not the previous commit")
	assert.NotEqual(t, unverified.Commit, out.Restored.Commit)

	// Git: one rollback commit whose overlay is the verified deploy's.
	ov := w.prod.Overlay()
	assert.Equal(t, treeAt(t, w.dir, good.Commit, ov), treeAt(t, w.dir, out.Commit, ov))
	assert.Equal(t, treeAt(t, w.dir, good.Commit, ov), out.Tree)

	// The cluster: recovered to exactly that revision, Synced and Healthy.
	assert.Equal(t, rollback.RecoverSyncTarget, out.Recovery, "auto-sync is on: Argo CD syncs only its target revision")
	require.NotNil(t, out.Status)
	assert.Equal(t, out.Commit.String(), out.Status.Revision)
	assert.Equal(t, health.Healthy, out.Status.Health)
	assert.Equal(t, digestN(1), w.liveDigest())
	assert.False(t, out.Recovered.Before(out.Committed))

	// The evidence is in the rollback commit's body.
	var msg string
	for _, c := range gitopstest.Log(t, w.dir) {
		if c.Hash == out.Commit {
			msg = c.Message
		}
	}
	assert.Contains(t, msg, "metric error-rate: Failed")
	assert.Contains(t, msg, "threshold: above 0.05 fails")

	// Metrics.
	assert.Equal(t, 1.0, counter(t, w.reg, "flightdeck_rollback_triggers_total", "trigger", "verification"))
	assert.Equal(t, 1.0, counter(t, w.reg, "flightdeck_rollback_verifications_total", "verdict", "failed"))
	count, err := testutil.GatherAndCount(w.reg, "flightdeck_rollback_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 2, count, "commit and recovered")
}

// counter returns the value of the counter name{label=value} in reg.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}

// degradationRun deploys a verified release 1, records traffic for ten
// minutes, deploys release n with behaviour b, records ten more minutes
// and checks for degradation.
func degradationRun(t *testing.T, b sim.Behavior) (*world, rollback.Comparison, gitops.Result) {
	w := newWorld(t, worldOptions{autoSync: true})
	ctx := realCtx(t)
	base := sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.002, CPUPerRequest: 4 * time.Millisecond,
		Latency: sim.Latency{Median: 300 * time.Millisecond, P99: 450 * time.Millisecond}}
	w.behave(1, base)
	w.behave(2, b)
	w.deploy(1)
	w.verify(ctx)

	step := 30 * time.Second
	rec := rollbacktest.NewSimRecorder(w.cluster, "web-prod", "web", step)
	require.NoError(t, rec.Record(w.clk.Now()))
	require.NoError(t, rec.Advance(w.clk, 10*time.Minute))

	next := w.deploy(2)
	w.synced(ctx, next.Commit)
	since := w.clk.Now()
	require.NoError(t, rec.Record(since)) // the step of the rollout itself
	require.NoError(t, rec.Advance(w.clk, 10*time.Minute))

	cmp, err := w.ctl.CheckDegradation(ctx, rollback.DegradationRequest{Target: w.prod, Signals: rec.Signals(1.2),
		Since: since, Window: 10 * time.Minute, Step: step})
	require.NoError(t, err)
	return w, cmp, next
}

func TestDegradationOfP95LatencyIsCaughtAndRolledBack(t *testing.T) {
	slow := sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.002, CPUPerRequest: 4 * time.Millisecond,
		Latency: sim.Latency{Median: 450 * time.Millisecond, P99: 675 * time.Millisecond}} // +50% at every quantile
	w, cmp, next := degradationRun(t, slow)
	require.True(t, cmp.Degraded, cmp.Evidence.Text())
	verdicts := map[string]health.Classification{}
	for _, v := range cmp.Judgement.Metrics {
		verdicts[v.Name] = v.Classification
	}
	assert.Equal(t, health.High, verdicts[rollbacktest.SignalLatency])
	assert.Equal(t, health.Pass, verdicts[rollbacktest.SignalCPU])
	assert.Equal(t, next.Commit, cmp.Deploy.Commit)
	require.NotNil(t, cmp.Rollback)
	assert.Equal(t, rollback.RolledBack, cmp.Rollback.Decision)
	assert.Equal(t, digestN(1), w.liveDigest())
	text := cmp.Evidence.Text()
	assert.Contains(t, text, "metric latency-p95: Failed")
	assert.Contains(t, text, "query: histogram_quantile(0.95, sum by (le) (rate(flightdeck_sim_request_duration_seconds_bucket{namespace=\"web-prod\",deployment=\"web\"}[30s])))")
	assert.Contains(t, text, "baseline window ")
	assert.Contains(t, text, "judged High: ratio ")
	for _, m := range cmp.Evidence.Metrics {
		if m.Name == rollbacktest.SignalLatency {
			assert.GreaterOrEqual(t, m.Baseline.N, 18)
			assert.Equal(t, 20, m.Current.N)
			assert.Greater(t, m.Current.Median/m.Baseline.Median, 1.4, "the p95 rose by about half")
		}
	}
}

func TestAnAARelease_IsNotADegradation(t *testing.T) {
	same := sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.002, CPUPerRequest: 4 * time.Millisecond,
		Latency: sim.Latency{Median: 300 * time.Millisecond, P99: 450 * time.Millisecond}}
	w, cmp, _ := degradationRun(t, same)
	assert.False(t, cmp.Degraded, cmp.Evidence.Text())
	assert.Nil(t, cmp.Rollback)
	assert.Equal(t, digestN(2), w.liveDigest())
	for _, v := range cmp.Judgement.Metrics {
		assert.Equal(t, health.Pass, v.Classification, v.Name)
	}
}

func TestManualRollbackToANamedDeployRestoresTheOverlayByteForByte(t *testing.T) {
	files := gitopstest.KustomizeLayout("web")
	w := newWorld(t, worldOptions{files: files})
	ctx := realCtx(t)
	ov := w.prod.Overlay()

	w.deploy(1)
	// Release 2 comes with configuration: three replicas.
	named, err := w.repo.Apply(ctx, gitops.Change{Trailers: gitops.ReleaseTrailers(gitops.ActionDeploy, "prod", release("web", 2)),
		Edits: []gitops.Edit{
			gitops.SetImage{Dir: ov, Name: gitopstest.Image("web"), Digest: digestN(2)},
			gitops.SetField{File: ov + "/replicas.yaml", Field: "spec.replicas", Value: "3"},
		}})
	require.NoError(t, err)
	// Release 3 changes the configuration again; the shared base changes too.
	_, err = w.repo.Apply(ctx, gitops.Change{Trailers: gitops.ReleaseTrailers(gitops.ActionDeploy, "prod", release("web", 3)),
		Edits: []gitops.Edit{
			gitops.SetImage{Dir: ov, Name: gitopstest.Image("web"), Digest: digestN(3)},
			gitops.SetField{File: ov + "/replicas.yaml", Field: "spec.replicas", Value: "5"},
			gitops.WriteFile{Path: ov + "/notes.yaml", Data: []byte("# added by release 3\n")},
		}})
	require.NoError(t, err)
	gitopstest.Commit(t, w.dir, gitopstest.Files{"apps/web/base/service.yaml": strings.Replace(files["apps/web/base/service.yaml"], "port: 80", "port: 8080", 1)}, nil, "a person edits the shared base")

	out, err := w.ctl.Rollback(ctx, rollback.Request{Target: w.prod, To: named.Commit.String()[:12], Reason: "release 3 breaks checkout", By: "jo"})
	require.NoError(t, err)
	assert.Equal(t, rollback.RolledBack, out.Decision)
	assert.Equal(t, named.Commit, out.Restored.Commit)
	assert.Equal(t, treeAt(t, w.dir, named.Commit, ov), treeAt(t, w.dir, out.Commit, ov), "byte-identical overlay")
	require.Len(t, out.Shared, 1)
	assert.Equal(t, "apps/web/base", out.Shared[0].Path, "the shared base is reported")
	assert.Equal(t, gitopstest.ReadFile(t, w.dir, "apps/web/base/service.yaml"), strings.Replace(files["apps/web/base/service.yaml"], "port: 80", "port: 8080", 1), "and left alone")

	// Recovery synced exactly the rollback commit (auto-sync is off).
	assert.Equal(t, rollback.RecoverSync, out.Recovery)
	assert.Equal(t, out.Commit.String(), out.Status.Revision)
	assert.Equal(t, digestN(2), w.liveDigest())
	dep, err := w.cluster.Get(sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web-prod", Name: "web"})
	require.NoError(t, err)
	assert.EqualValues(t, 3, dep["spec"].(map[string]any)["replicas"], "configuration restored with the image")

	head := gitopstest.Log(t, w.dir)[0]
	assert.Contains(t, head.Message, "Asked by jo (manual): release 3 breaks checkout\n")
	assert.Contains(t, head.Message, "Flightdeck-Trigger: manual\n")
}

func TestArgoCDsRollbackAPIOnlyWithoutAutoSync(t *testing.T) {
	for _, autoSync := range []bool{false, true} {
		w := newWorld(t, worldOptions{autoSync: autoSync, argo: true})
		ctx := realCtx(t)
		good := w.deploy(1)
		w.verify(ctx)
		w.deploy(2)
		w.verify(ctx)
		out, err := w.ctl.Rollback(ctx, rollback.Request{Target: w.prod, Reason: "bad config", ArgoRollback: true})
		require.NoError(t, err)
		assert.Equal(t, good.Commit, out.Restored.Commit)
		assert.False(t, out.Commit.IsZero(), "the rollback is in Git either way")
		assert.Equal(t, digestN(1), w.liveDigest())
		if autoSync {
			assert.Equal(t, rollback.RecoverSyncTarget, out.Recovery, "Argo CD refuses its rollback while auto-sync is on")
		} else {
			assert.Equal(t, rollback.RecoverArgoRollback, out.Recovery)
			var rollbacks int
			for _, c := range w.srv.Calls() {
				if strings.HasSuffix(c.Path, "/rollback") {
					rollbacks++
				}
			}
			assert.Equal(t, 1, rollbacks)
		}
	}
}

func TestHoldSurvivesAnAutomatedDeployLoopAndARestart(t *testing.T) {
	w := newWorld(t, worldOptions{autoSync: true})
	ctx := realCtx(t)
	w.deploy(1)
	w.verify(ctx)
	w.deploy(2)
	out, err := w.ctl.Rollback(ctx, rollback.Request{Target: w.prod, Reason: "release 2 is broken"})
	require.NoError(t, err)
	require.Equal(t, rollback.RolledBack, out.Decision)
	held := gitopstest.Head(t, w.dir)

	// An image updater that keeps trying: the bad digest and new ones.
	for i := range 100 {
		n := 2
		if i%2 == 1 {
			n = 100 + i
		}
		_, err := gitops.DeployRelease(ctx, w.repo, gitops.DeployRequest{Target: w.prod, Release: release("web", n)})
		require.ErrorIs(t, err, gitops.ErrHeld, "attempt %d", i)
		require.Contains(t, err.Error(), "web in prod is on hold since ")
		require.Contains(t, err.Error(), "(rolled back from "+gitopstest.Image("web")+"@"+digestN(2)+")")
	}
	assert.Equal(t, held, gitopstest.Head(t, w.dir), "nothing landed")
	assert.Equal(t, digestN(1), w.liveDigest())

	// A new process: a new Repo on a new cache, a new Controller.
	repo := w.newRepo()
	_, err = gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: w.prod, Release: release("web", 3)})
	require.ErrorIs(t, err, gitops.ErrHeld)
	ctl, err := rollback.New(repo, rollback.WithClock(w.clk))
	require.NoError(t, err)
	_, err = ctl.Lift(ctx, rollback.HoldRequest{Target: w.prod, By: "jo", Reason: "fix is ready"})
	require.NoError(t, err)
	_, err = gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: w.prod, Release: release("web", 2)})
	require.ErrorIs(t, err, gitops.ErrQuarantined, "the digest rolled back from stays out")
	res, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: w.prod, Release: release("web", 3)})
	require.NoError(t, err, "lifting the hold lets the next deploy through")
	assert.True(t, res.Changed)
}

func TestTwoProcessesRollingBackAtOnceMakeOneCommit(t *testing.T) {
	w := newWorld(t, worldOptions{autoSync: true})
	ctx := realCtx(t)
	w.deploy(1)
	w.verify(ctx)
	bad := w.deploy(2)

	// Deterministic interleaving: the second process decides on the head
	// with the bad deploy, and the first pushes its rollback before the
	// second's push.
	first, err := rollback.New(w.newRepo(), rollback.WithClock(w.clk))
	require.NoError(t, err)
	var firstOut rollback.Outcome
	second := w.newRepo()
	racer := &beforeApply{Repo: second, once: func() {
		firstOut, err = first.Rollback(ctx, rollback.Request{Target: w.prod, Trigger: rollback.TriggerVerification, Reverts: bad.Commit.String()})
		require.NoError(t, err)
	}}
	ctl2, err := rollback.New(racer, rollback.WithClock(w.clk))
	require.NoError(t, err)
	out2, err := ctl2.Rollback(ctx, rollback.Request{Target: w.prod, Trigger: rollback.TriggerVerification, Reverts: bad.Commit.String()})
	require.NoError(t, err)
	assert.Equal(t, rollback.RolledBack, firstOut.Decision)
	assert.Equal(t, rollback.AlreadyRolledBack, out2.Decision)
	assert.Equal(t, firstOut.Commit, out2.Commit)
	assert.Equal(t, 1, rollbackCommits(t, w.dir))

	// And truly at once: four processes, one more bad deploy.
	_, err = w.ctl.Lift(ctx, rollback.HoldRequest{Target: w.prod, Reason: "next"})
	require.NoError(t, err)
	bad = w.deploy(3)
	var wg sync.WaitGroup
	outs := make([]rollback.Outcome, 4)
	errs := make([]error, 4)
	ctls := make([]*rollback.Controller, 4)
	for i := range ctls {
		ctls[i], err = rollback.New(w.newRepo(), rollback.WithClock(w.clk))
		require.NoError(t, err)
	}
	for i := range ctls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = ctls[i].Rollback(ctx, rollback.Request{Target: w.prod, Trigger: rollback.TriggerVerification, Reverts: bad.Commit.String()})
		}()
	}
	wg.Wait()
	decisions := map[rollback.Decision]int{}
	for i := range outs {
		require.NoError(t, errs[i])
		decisions[outs[i].Decision]++
	}
	assert.Equal(t, map[rollback.Decision]int{rollback.RolledBack: 1, rollback.AlreadyRolledBack: 3}, decisions)
	assert.Equal(t, 2, rollbackCommits(t, w.dir))
}

func rollbackCommits(t *testing.T, dir string) int {
	n := 0
	for _, c := range gitopstest.Log(t, dir) {
		if tr, err := gitops.ParseTrailers(c.Message); err == nil && tr.Action == gitops.ActionRollback {
			n++
		}
	}
	return n
}

// beforeApply runs once before its first Apply.
type beforeApply struct {
	*gitops.Repo
	mu   sync.Mutex
	once func()
}

func (b *beforeApply) Apply(ctx context.Context, ch gitops.Change) (gitops.Result, error) {
	b.mu.Lock()
	if f := b.once; f != nil {
		b.once = nil
		f()
	}
	b.mu.Unlock()
	return b.Repo.Apply(ctx, ch)
}
