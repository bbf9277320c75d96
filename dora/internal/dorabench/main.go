// Command dorabench is the flightdeck side of bench/dora.sh.
//
//	dorabench -gen -out DIR [-apps 1000 -commits 30000]
//
// writes the benchmark's GitOps repository (doratest.Generate: deploys,
// every 41st commit a rollback, every 7th a verified marker).
//
//	dorabench -url URL -until UNIX [-runs 5] [-targets FILE]
//
// reads it with a dora.Reader over a gitops.Repo and prints, as
// key=value words: cold_ms (a new Repo with an empty cache: clone and
// the first read), restart_ms (a new Reader on the filled cache, as a
// restarted process: the whole history walked again), warm_ms (the
// median of -runs reads on the open Reader: the second and later History
// reads), new_commit_ms (a read after one more deploy was pushed),
// deployments, per_day and lead_median_s (all targets) of the period
// from the first deployment to -until. With -targets it writes
// "app env deployments lead_median_seconds" per target, for the script's
// figures to be compared with.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/dora/doratest"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

func main() {
	gen := flag.Bool("gen", false, "generate the repository")
	out := flag.String("out", "", "with -gen: the bare repository to write")
	apps := flag.Int("apps", 1000, "with -gen: apps")
	commits := flag.Int("commits", 30000, "with -gen: commits")
	url := flag.String("url", "", "the repository to read")
	until := flag.Int64("until", 0, "end of the period, Unix seconds")
	runs := flag.Int("runs", 5, "warm reads")
	targets := flag.String("targets", "", "write per-target figures here")
	flag.Parse()
	var err error
	switch {
	case *gen && *out != "":
		err = doratest.Generate(*out, doratest.Spec{Apps: *apps, Commits: *commits, RollbackEvery: 41, VerifyEvery: 7})
	case !*gen && *url != "" && *until > 0:
		err = measure(*url, time.Unix(*until, 0).UTC(), *runs, *targets)
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func measure(url string, until time.Time, runs int, targets string) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "dorabench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	cache := filepath.Join(tmp, "cache")
	q := dora.Query{Until: until}

	repo, err := gitops.New(url, gitops.WithCacheDir(cache))
	if err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := dora.NewReader(repo).Report(ctx, q); err != nil {
		return err
	}
	cold := time.Since(t0)

	repo, err = gitops.New(url, gitops.WithCacheDir(cache))
	if err != nil {
		return err
	}
	r := dora.NewReader(repo)
	t0 = time.Now()
	rep, err := r.Report(ctx, q)
	if err != nil {
		return err
	}
	restart := time.Since(t0)

	var warm []time.Duration
	for range runs {
		t0 = time.Now()
		if rep, err = r.Report(ctx, q); err != nil {
			return err
		}
		warm = append(warm, time.Since(t0))
	}
	slices.Sort(warm)

	if targets != "" {
		var b strings.Builder
		for _, st := range rep.Targets {
			fmt.Fprintf(&b, "%s %s %d %.0f\n", st.App, st.Environment, st.Frequency.Deployments, st.LeadTime.Median.Seconds())
		}
		if err := os.WriteFile(targets, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	tot := rep.Total

	// One more deploy, pushed by the same Repo, then a read.
	rel := doratest.Release("app0000", 1<<20, until.Add(-time.Hour))
	if _, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{
		Target: gitops.Target{App: rel.App, Environment: flightdeck.Environment{Name: flightdeck.Prod}}, Release: rel,
	}); err != nil {
		return err
	}
	t0 = time.Now()
	after, err := r.Report(ctx, dora.Query{})
	if err != nil {
		return err
	}
	newCommit := time.Since(t0)
	if after.Total.Frequency.Deployments != tot.Frequency.Deployments+1 {
		return fmt.Errorf("after one more deploy: %d deployments, want %d", after.Total.Frequency.Deployments, tot.Frequency.Deployments+1)
	}

	fmt.Printf("cold_ms=%s restart_ms=%s warm_ms=%s new_commit_ms=%s deployments=%d per_day=%.2f lead_median_s=%.0f targets=%d\n",
		ms(cold), ms(restart), ms(warm[len(warm)/2]), ms(newCommit),
		tot.Frequency.Deployments, tot.Frequency.PerDay, tot.LeadTime.Median.Seconds(), len(rep.Targets))
	return nil
}
