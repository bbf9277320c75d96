// Command rollback times a flightdeck rollback against the script teams
// write (clone, `git revert`, push) on a GitOps repository made by
// bench/gitops/gen, for bench/rollback.sh:
//
//	rollback -url file:///tmp/big.git -apps 1000 -n 10
//
// It prints one line of "key=value" results: the time from a failed
// verdict to the rollback commit pushed, for flightdeck with a warm cache
// (decide on the head, find the last verified deploy, restore its overlay
// with a hold and a quarantine, render check, push) and for the script
// with a full and a shallow clone; then, in a simulated cluster behind a
// fake Argo CD, the time from the verdict to Synced and Healthy for both,
// in wall time and in cluster time.
//go:build unix

package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/sim"
)

var (
	url  = flag.String("url", "", "repository URL (a copy: the benchmark pushes to it)")
	apps = flag.Int("apps", 1000, "number of apps in the repository")
	n    = flag.Int("n", 10, "rollbacks timed per method")
)

func main() {
	flag.Parse()
	if *url == "" {
		flag.Usage()
		os.Exit(2)
	}
	tmp, err := os.MkdirTemp("", "fdrollback")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b := &bench{tmp: tmp, seed: time.Now().UnixNano()}
	if err := b.run(ctx); err != nil {
		log.Fatal(err)
	}
}

type bench struct {
	tmp  string
	seed int64
	next int
}

func appName(i int) string { return fmt.Sprintf("app%04d", i) }

func prod(app string) gitops.Target {
	return gitops.Target{App: app, Environment: flightdeck.Environment{Name: "prod"}}
}

func (b *bench) release(app string) flightdeck.Release {
	b.next++
	return flightdeck.Release{App: app, Image: gitopstest.Image(app), Digest: fmt.Sprintf("sha256:%032x%032x", uint64(b.seed), uint64(b.next))}
}

var pass = health.Analysis{Metrics: []health.Metric{{Name: "up", Evaluator: health.Func(func(context.Context) health.Measurement {
	return health.Measurement{Time: time.Now(), Value: 1, Phase: health.Successful}
})}}}

// setUp gives app a verified deploy and then a bad one, and returns the
// bad deploy's commit.
func (b *bench) setUp(ctx context.Context, repo *gitops.Repo, ctl *rollback.Controller, app string) (string, error) {
	t := prod(app)
	if _, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: t, Release: b.release(app)}); err != nil {
		return "", err
	}
	if _, err := ctl.Verify(ctx, rollback.VerifyRequest{Target: t, Analysis: pass}); err != nil {
		return "", err
	}
	res, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: t, Release: b.release(app)})
	if err != nil {
		return "", err
	}
	return res.Commit.String(), nil
}

func (b *bench) run(ctx context.Context) error {
	repo, err := gitops.New(*url, gitops.WithCacheDir(filepath.Join(b.tmp, "cache")))
	if err != nil {
		return err
	}
	if _, err := repo.Fetch(ctx); err != nil {
		return err
	}
	ctl, err := rollback.New(repo)
	if err != nil {
		return err
	}
	pick := func(i int) string { return appName((i*37 + 11) % *apps) }

	// flightdeck, warm: one rollback first (a process's first render and
	// a Repo's first render check pay one-time costs), then n timed.
	var fd []time.Duration
	var cpu time.Duration
	for i := -1; i < *n; i++ {
		app := pick(i + 1)
		bad, err := b.setUp(ctx, repo, ctl, app)
		if err != nil {
			return err
		}
		cpu0, start := cpuTime(), time.Now()
		out, err := ctl.Rollback(ctx, rollback.Request{Target: prod(app), Trigger: rollback.TriggerVerification, Reverts: bad, Reason: "verification failed"})
		took, used := time.Since(start), cpuTime()-cpu0
		if err != nil {
			return err
		}
		if out.Decision != rollback.RolledBack {
			return fmt.Errorf("%s: %s", app, out.Decision)
		}
		if i >= 0 {
			fd = append(fd, took)
			cpu += used
		}
	}
	// The floor in the same run: a plain image bump on the same Repo.
	var deploys []time.Duration
	for i := range *n {
		app := pick(300 + i)
		start := time.Now()
		if _, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: prod(app), Release: b.release(app)}); err != nil {
			return err
		}
		deploys = append(deploys, time.Since(start))
	}

	// The script, full and shallow clones.
	script := func(depth string, i int) (time.Duration, error) {
		app := pick(100 + i)
		if depth != "" {
			app = pick(200 + i)
		}
		bad, err := b.setUp(ctx, repo, ctl, app)
		if err != nil {
			return 0, err
		}
		return b.script(ctx, depth, bad)
	}
	var full, shallow []time.Duration
	for i := range *n {
		d, err := script("", i)
		if err != nil {
			return err
		}
		full = append(full, d)
		d, err = script("2", i)
		if err != nil {
			return err
		}
		shallow = append(shallow, d)
	}

	simFD, simScript, err := b.simRecovery(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("fd_commit_ms=%.1f fd_commit_min_ms=%.1f fd_commit_max_ms=%.1f fd_commit_cpu_ms=%.1f fd_deploy_ms=%.1f script_ms=%.1f script_shallow_ms=%.1f %s %s\n",
		ms(median(fd)), ms(slices.Min(fd)), ms(slices.Max(fd)), ms(cpu)/float64(len(fd)), ms(median(deploys)), ms(median(full)), ms(median(shallow)), simFD, simScript)
	return nil
}

// script reverts commit as a shell script would: clone, git revert, push.
func (b *bench) script(ctx context.Context, depth, commit string) (time.Duration, error) {
	w, err := os.MkdirTemp(b.tmp, "script")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(w)
	clone := []string{"clone", "-q", "--branch", "main"}
	if depth != "" {
		clone = append(clone, "--depth", depth)
	}
	start := time.Now()
	steps := [][]string{
		append(clone, *url, w+"/r"),
		{"-C", w + "/r", "-c", "user.name=ci", "-c", "user.email=ci@example.com", "revert", "--no-edit", commit},
		{"-C", w + "/r", "push", "-q", "origin", "HEAD:main"},
	}
	for _, s := range steps {
		if out, err := exec.CommandContext(ctx, "git", s...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("git %s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return time.Since(start), nil
}

// simRecovery times, in a simulated cluster behind a fake Argo CD with
// auto-sync, the way from the failed verdict to Synced and Healthy: for
// flightdeck's rollback (commit, sync of exactly that revision, wait) and
// for the script (clone, revert, push, then the same sync and wait).
func (b *bench) simRecovery(ctx context.Context) (string, string, error) {
	clk := clocktest.NewAuto(time.Now().Truncate(time.Second))
	cluster := sim.New(clk)
	srv, err := argocdtest.New(argocdtest.WithClock(clk), argocdtest.WithCluster(cluster), argocdtest.WithReconcileInterval(10*time.Second))
	if err != nil {
		return "", "", err
	}
	defer srv.Close()
	client, err := srv.Client(argocd.WithClock(clk))
	if err != nil {
		return "", "", err
	}
	wait := gitops.WaitOptions{PollInterval: 2 * time.Second, StableFor: 10 * time.Second}
	repo, err := gitops.New(*url, gitops.WithCacheDir(filepath.Join(b.tmp, "sim-cache")), gitops.WithClock(clk))
	if err != nil {
		return "", "", err
	}
	w := wait
	w.Timeout = -1
	ctl, err := rollback.New(repo, rollback.WithClock(clk), rollback.WithSyncer(client), rollback.WithWait(w))
	if err != nil {
		return "", "", err
	}
	var res [2]string
	for k, name := range []string{"fd", "script"} {
		app := appName(500 + k)
		argoApp := app + "-prod"
		if err := srv.AddApp(ctx, argocdtest.App{Name: argoApp, RepoURL: *url, Path: prod(app).Overlay(), AutoSync: true}); err != nil {
			return "", "", err
		}
		bad, err := b.setUp(ctx, repo, ctl, app)
		if err != nil {
			return "", "", err
		}
		if _, err := client.Get(ctx, argoApp, "normal"); err != nil {
			return "", "", err
		}
		ow := wait
		ow.App, ow.Revision, ow.Clock = argoApp, bad, clk
		if _, err := gitops.WaitFor(ctx, client, ow); err != nil {
			return "", "", err
		}
		startWall, startSim := time.Now(), clk.Now()
		if name == "fd" {
			out, err := ctl.Rollback(ctx, rollback.Request{Target: prod(app), Trigger: rollback.TriggerVerification, Reverts: bad, Reason: "verification failed"})
			if err != nil {
				return "", "", err
			}
			if out.Status == nil || out.Status.Health != health.Healthy {
				return "", "", fmt.Errorf("not recovered: %+v", out.Status)
			}
		} else {
			if _, err := b.script(ctx, "", bad); err != nil {
				return "", "", err
			}
			head, err := repo.Fetch(ctx)
			if err != nil {
				return "", "", err
			}
			if _, err := client.Get(ctx, argoApp, "normal"); err != nil {
				return "", "", err
			}
			ow.Revision = head.String()
			if _, err := gitops.WaitFor(ctx, client, ow); err != nil {
				return "", "", err
			}
		}
		res[k] = fmt.Sprintf("%s_healthy_wall_ms=%.0f %s_healthy_cluster_s=%.0f", name, ms(time.Since(startWall)), name, clk.Now().Sub(startSim).Seconds())
	}
	return res[0], res[1], nil
}

// cpuTime is the CPU time this process and its finished children (git
// receive-pack and upload-pack) used so far.
func cpuTime() time.Duration {
	var total time.Duration
	for _, who := range []int{syscall.RUSAGE_SELF, syscall.RUSAGE_CHILDREN} {
		var ru syscall.Rusage
		if syscall.Getrusage(who, &ru) == nil {
			total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	return total
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
