// Command promote measures promote.Promoter on a generated GitOps
// repository: each round pins a new digest in staging for every app (one
// push, not timed), plans the promotion of every app to prod
// (Promoter.PlanAll, timed) and promotes them all in one push
// (Promoter.Promote, timed). It prints key=value pairs for
// bench/promote.sh. Over a file:// remote whose reflogs are on
// (core.logAllRefUpdates), it counts the pushes each Promote made from
// the branch updates the reflogs record.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/promote"
)

func main() {
	url := flag.String("url", "", "GitOps repository URL")
	apps := flag.Int("apps", 1000, "apps in the repository (app0000 …)")
	rounds := flag.Int("rounds", 3, "rounds")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the last round's Promote to this file")
	planprofile := flag.String("planprofile", "", "write a CPU profile of the last round's PlanAll to this file")
	flag.Parse()
	if err := run(*url, *apps, *rounds, *cpuprofile, *planprofile); err != nil {
		fmt.Fprintln(os.Stderr, "promote bench:", err)
		os.Exit(1)
	}
}

func run(url string, n, rounds int, cpuprofile, planprofile string) error {
	ctx := context.Background()
	cache, err := os.MkdirTemp("", "promote-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	repo, err := gitops.New(url, gitops.WithCacheDir(cache))
	if err != nil {
		return err
	}
	defer repo.Close()
	p, err := promote.New(repo, promote.DefaultLadder(), promote.WithReleaseNotes(nil))
	if err != nil {
		return err
	}
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("app%04d", i)
	}
	var planMs, promoteMs []float64
	pushes := -1
	for r := 1; r <= rounds; r++ {
		var edits []gitops.Edit
		for i, app := range names {
			edits = append(edits, gitops.SetImage{Dir: "apps/" + app + "/overlays/staging", Name: "registry.example.com/team/" + app,
				Digest: fmt.Sprintf("sha256:%060x%04d", r, i%10000)})
		}
		if _, err := repo.Apply(ctx, gitops.Change{Message: fmt.Sprintf("staging round %d", r), Edits: edits}); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		stop, err := profile(planprofile, r == rounds)
		if err != nil {
			return err
		}
		s := time.Now()
		plans, err := p.PlanAll(ctx, flightdeck.Prod, names...)
		stop()
		if err != nil {
			return err
		}
		planMs = append(planMs, ms(time.Since(s)))
		stop, err = profile(cpuprofile, r == rounds)
		if err != nil {
			return err
		}
		updates := refUpdates(url)
		s = time.Now()
		out, err := p.Promote(ctx, promote.Request{Actor: "bench"}, plans...)
		stop()
		if err != nil {
			return err
		}
		promoteMs = append(promoteMs, ms(time.Since(s)))
		pushes = refUpdates(url) - updates
		if updates < 0 {
			pushes = -1
		}
		for _, o := range out {
			if !o.Result.Changed {
				return fmt.Errorf("%s was not promoted", o.Plan.App)
			}
		}
		fmt.Fprintf(os.Stderr, "round %d: plan %.0f ms, promote %.0f ms (%d commits in %d pushes)\n", r, planMs[r-1], promoteMs[r-1], len(out), pushes)
	}
	fmt.Printf("plan_first_ms=%.0f promote_first_ms=%.0f plan_warm_ms=%.0f promote_warm_ms=%.0f promote_pushes=%d\n",
		planMs[0], promoteMs[0], median(planMs[1:]), median(promoteMs[1:]), pushes)
	return nil
}

// refUpdates returns how many branch updates the reflogs of the bare
// repository at a file:// url record, or -1 if url is not file:// or
// the repository keeps no reflogs.
func refUpdates(url string) int {
	dir, ok := strings.CutPrefix(url, "file://")
	if !ok {
		return -1
	}
	logs, err := filepath.Glob(filepath.Join(dir, "logs", "refs", "heads", "*"))
	if err != nil || len(logs) == 0 {
		return -1
	}
	n := 0
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			return -1
		}
		n += strings.Count(string(b), "\n")
	}
	return n
}

// profile starts a CPU profile into file when on and file is set, and
// returns what stops it.
func profile(file string, on bool) (func(), error) {
	if file == "" || !on {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	x = append([]float64(nil), x...)
	sort.Float64s(x)
	if len(x)%2 == 1 {
		return x[len(x)/2]
	}
	return (x[len(x)/2-1] + x[len(x)/2]) / 2
}
