// Command rollback shows flightdeck's rollback on embedded defaults, with
// nothing but Go and git installed: a GitOps repository (a local bare
// repository with one app, "shop"), a simulated Argo CD that renders it
// into a simulated cluster with live traffic, and package rollback
// watching every deploy to prod.
//
//  1. release 1.0 is deployed and verified: Synced, Healthy, and a
//     two-minute error-rate analysis passes; it becomes the
//     last-known-good;
//  2. release 1.1 fails its verification (30% of its requests fail), and
//     is rolled back at once: the overlay restored exactly as 1.0 left
//     it, a hold and a quarantine in the same commit, the evidence in its
//     body, then a sync of exactly that commit;
//  3. an automated redeploy of 1.1 is refused by the hold;
//  4. the hold is lifted; 1.1 stays quarantined;
//  5. the fix, 1.2, is deployed and verified.
//
// Time is a fake clock that jumps to each deadline, so the rollouts and
// analyses take minutes of cluster time and about a second of yours. Run
// it with:
//
//	go run ./examples/rollback
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/examples/internal/storyflags"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/sim"
)

func main() {
	storyflags.Parse(usage)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rollback:", err)
		os.Exit(1)
	}
}

const usage = `Usage: go run ./examples/rollback

Deploys a good release of "shop" to prod and verifies it, deploys one
that fails its verification and shows the automatic rollback (the
commit, its evidence, the hold and quarantine), refuses a redeploy of the
bad release, lifts the hold and deploys the fix, on a local GitOps
repository, a simulated Argo CD and cluster and a fake clock. It takes
no flags.
`

const app = "shop"

var (
	start = time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	prod  = gitops.Target{App: app, Environment: flightdeck.Environment{Name: "prod"}}
)

// releases are the three builds of the example, and how their pods
// behave in the cluster.
var releases = []struct {
	tag      string
	behavior sim.Behavior
}{
	{"1.0.0", sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.001, Latency: sim.Latency{Median: 40 * time.Millisecond, P99: 90 * time.Millisecond}}},
	{"1.1.0", sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.30, Latency: sim.Latency{Median: 40 * time.Millisecond, P99: 90 * time.Millisecond}}},
	{"1.2.0", sim.Behavior{ReadyAfter: 5 * time.Second, ErrorRate: 0.001, Latency: sim.Latency{Median: 35 * time.Millisecond, P99: 80 * time.Millisecond}}},
}

func release(i int) flightdeck.Release {
	return flightdeck.Release{App: app, Image: gitopstest.Image(app), Digest: fmt.Sprintf("sha256:%064x", 0xa11ce00+i),
		Tag: releases[i].tag, SourceRepo: "https://git.example.com/team/shop", Revision: fmt.Sprintf("%040x", 0xbeef00+i)}
}

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "flightdeck-rollback-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	clk := clocktest.NewAuto(start)

	// The GitOps repository, and a Repo with its cache: what a deploy bot
	// and the rollback controller use.
	bare := filepath.Join(dir, "gitops.git")
	if err := gitopstest.CreateBareRepo(bare, gitopstest.KustomizeLayout(app)); err != nil {
		return err
	}
	repo, err := gitops.New(gitopstest.FileURL(bare), gitops.WithCacheDir(filepath.Join(dir, "cache")), gitops.WithClock(clk))
	if err != nil {
		return err
	}
	defer repo.Close()

	// The cluster and Argo CD, with auto-sync, and traffic on the Service.
	cluster := sim.New(clk, sim.WithSeed(3))
	for i, r := range releases {
		if err := cluster.SetBehavior(release(i).Ref(), r.behavior); err != nil {
			return err
		}
	}
	argo, err := argocdtest.New(argocdtest.WithClock(clk), argocdtest.WithCluster(cluster), argocdtest.WithReconcileInterval(10*time.Second))
	if err != nil {
		return err
	}
	defer argo.Close()
	if err := argo.AddApp(ctx, argocdtest.App{Name: "shop-prod", RepoURL: gitopstest.FileURL(bare), Path: prod.Overlay(), AutoSync: true}); err != nil {
		return err
	}
	client, err := argo.Client(argocd.WithClock(clk))
	if err != nil {
		return err
	}
	if _, err := gitops.WaitFor(ctx, client, gitops.WaitOptions{App: "shop-prod", Clock: clk, PollInterval: 2 * time.Second}); err != nil {
		return err
	}
	service := sim.Ref{APIVersion: "v1", Kind: "Service", Namespace: "shop-prod", Name: app}
	if err := cluster.SetLoad(service, 50); err != nil {
		return err
	}

	ctl, err := rollback.New(repo, rollback.WithClock(clk), rollback.WithSyncer(client),
		rollback.WithWait(gitops.WaitOptions{PollInterval: 2 * time.Second, StableFor: 10 * time.Second, Timeout: -1}),
		rollback.WithObserver(rollback.ObserverFunc(func(_ context.Context, e rollback.Event) {
			if e.Kind != rollback.EventVerdict {
				fmt.Fprintf(out, "  event %s\n", e)
			}
		})))
	if err != nil {
		return err
	}
	deployment := sim.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop-prod", Name: app}
	verify := func() (rollback.Verification, error) {
		return ctl.Verify(ctx, rollback.VerifyRequest{Target: prod, Sync: true, Analysis: errorRateAnalysis(cluster, deployment, clk),
			Checks: map[string]rollback.Check{"error-rate": {
				Query:     `sum(rate(flightdeck_sim_requests_total{namespace="shop-prod",deployment="shop",code=~"5.."}[30s])) / sum(rate(flightdeck_sim_requests_total{namespace="shop-prod",deployment="shop"}[30s]))`,
				Threshold: "above 0.05 fails; 4 measurements 30s apart",
			}}})
	}
	deploy := func(i int) (gitops.Result, error) {
		return gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod, Release: release(i)})
	}

	fmt.Fprintln(out, "== 1. deploy 1.0.0 and verify it")
	if _, err := deploy(0); err != nil {
		return err
	}
	v, err := verify()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  1.0.0 %s; it is the last-known-good\n", v.Evidence.Summary)

	fmt.Fprintln(out, "== 2. deploy 1.1.0: its verification fails, and it is rolled back")
	if _, err := deploy(1); err != nil {
		return err
	}
	v, err = verify()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  1.1.0 %s\n", v.Evidence.Summary)
	o := v.Rollback
	if o == nil {
		return fmt.Errorf("the failed verification did not roll back")
	}
	fmt.Fprintf(out, "  rollback commit %s restores %s (overlay tree %s, the verified deploy's own)\n", short(o.Commit), short(o.Restored.Commit), short(o.Tree))
	fmt.Fprintf(out, "  recovered by %s: %s %s at %s, %s after the verdict (cluster time)\n",
		o.Recovery, o.Status.SyncStatus, o.Status.Health, o.Status.Revision[:12], o.Recovered.Sub(o.Started).Round(time.Second))
	fmt.Fprintf(out, "  prod runs %s\n", liveTag(cluster, deployment))
	msg, err := commitMessage(bare, o.Commit.String())
	if err != nil {
		return err
	}
	fmt.Fprint(out, indent("  | ", msg))

	fmt.Fprintln(out, "== 3. an automated redeploy of 1.1.0 is refused")
	if _, err := deploy(1); err != nil {
		fmt.Fprintf(out, "  refused: %s\n", err)
	} else {
		return fmt.Errorf("the held environment took a deploy")
	}

	fmt.Fprintln(out, "== 4. lift the hold")
	if _, err := ctl.Lift(ctx, rollback.HoldRequest{Target: prod, By: "jo@example.com", Reason: "the fix is ready"}); err != nil {
		return err
	}
	if _, err := deploy(1); err != nil {
		fmt.Fprintf(out, "  1.1.0 is still refused: %s\n", err)
	} else {
		return fmt.Errorf("a quarantined digest was deployed")
	}

	fmt.Fprintln(out, "== 5. deploy the fix, 1.2.0")
	if _, err := deploy(2); err != nil {
		return err
	}
	v, err = verify()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  %s is %s; prod runs %s\n", releases[2].tag, v.Verdict, liveTag(cluster, deployment))

	fmt.Fprintln(out, "== history of shop in prod")
	entries, err := repo.History(ctx, gitops.HistoryQuery{App: app, Environment: "prod", AllActions: true})
	if err != nil {
		return err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		fmt.Fprintf(out, "  %s %-8s %s\n", short(e.Commit), e.Trailers.Action, e.Subject)
	}
	return nil
}

// errorRateAnalysis measures the Deployment's error rate over each 30
// seconds, four times, failing above 5%.
func errorRateAnalysis(c *sim.Cluster, ref sim.Ref, clk *clocktest.Clock) health.Analysis {
	var mu sync.Mutex
	var served, failed float64
	first := true
	eval := health.Func(func(ctx context.Context) health.Measurement {
		mu.Lock()
		defer mu.Unlock()
		now := clk.Now()
		s, f, err := c.Requests(ref)
		if err != nil {
			return health.Measurement{Time: now, Phase: health.Error, Err: err, Message: err.Error()}
		}
		ds, df := s-served, f-failed
		served, failed = s, f
		if first || ds <= 0 {
			first = false
			return health.Measurement{Time: now, Phase: health.Inconclusive, Message: "no requests yet"}
		}
		return health.Measurement{Time: now, Value: df / ds, Phase: health.Successful, Message: fmt.Sprintf("%.0f of %.0f requests failed", df, ds)}
	})
	// The first reading only sets the starting point.
	eval(context.Background())
	return health.Analysis{Metrics: []health.Metric{{Name: "error-rate", Evaluator: eval, InitialDelay: 30 * time.Second,
		Interval: 30 * time.Second, Count: 4, FailureCondition: health.Above(0.05)}}}
}

func liveTag(c *sim.Cluster, ref sim.Ref) string {
	obj, err := c.Get(ref)
	if err != nil {
		return err.Error()
	}
	spec := obj["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
	img := spec["containers"].([]any)[0].(map[string]any)["image"].(string)
	for i := range releases {
		if strings.HasSuffix(img, release(i).Digest) {
			return releases[i].tag
		}
	}
	return img
}

type hash interface{ String() string }

func short(h hash) string { return h.String()[:12] }

func indent(prefix, s string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(strings.TrimRight(prefix+l, " ") + "\n")
	}
	return b.String()
}

// commitMessage reads the message of commit sha in the bare repository.
func commitMessage(bare, sha string) (string, error) {
	r, err := git.PlainOpen(bare)
	if err != nil {
		return "", err
	}
	c, err := r.CommitObject(plumbing.NewHash(sha))
	if err != nil {
		return "", err
	}
	return c.Message, nil
}
