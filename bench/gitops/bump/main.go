// Command bump times flightdeck against a GitOps repository made by gen:
//
//	bump -mode cold -url file:///tmp/big.git       # first clone into an empty cache
//	bump -mode warm -url ... -n 20                 # image bumps with a warm cache
//	bump -mode concurrent -url ... -writers 16 -n 4
//	bump -mode shared -url ... -writers 64 -n 4    # 64 goroutines, one Repo
//
// It prints one line of results, "key=value" pairs, for bench/gitops.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

func main() {
	mode := flag.String("mode", "warm", "cold, warm, concurrent or shared")
	url := flag.String("url", "", "repository URL")
	apps := flag.Int("apps", 50, "number of apps in the repository")
	n := flag.Int("n", 10, "bumps (per writer in concurrent mode)")
	writers := flag.Int("writers", 16, "concurrent writers")
	attempts := flag.Int("attempts", 50, "push attempts per bump in concurrent mode")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed part to this file")
	flag.Parse()
	if *url == "" {
		flag.Usage()
		os.Exit(2)
	}
	tmp, err := os.MkdirTemp("", "fdbump")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	profile := func() func() {
		if *cpuprofile == "" {
			return func() {}
		}
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		return func() { pprof.StopCPUProfile(); f.Close() }
	}
	seed := time.Now().UnixNano()
	digest := func(i int) string { return fmt.Sprintf("sha256:%032x%032x", uint64(seed), uint64(i+1)) }
	bump := func(i, app int) gitops.Change {
		name := fmt.Sprintf("app%04d", app%*apps)
		return gitops.Change{
			Trailers: gitops.Trailers{App: name, Environment: "prod", Action: gitops.ActionDeploy, Image: gitopstest.Image(name), Digest: digest(i)},
			Edits: []gitops.Edit{gitops.SetImage{
				Dir: "apps/" + name + "/overlays/prod", Name: gitopstest.Image(name), Digest: digest(i),
			}},
		}
	}
	newRepo := func(name string, opts ...gitops.Option) *gitops.Repo {
		r, err := gitops.New(*url, append([]gitops.Option{gitops.WithCacheDir(filepath.Join(tmp, name))}, opts...)...)
		if err != nil {
			log.Fatal(err)
		}
		return r
	}

	switch *mode {
	case "cold":
		r := newRepo("cold")
		stop := profile()
		start := time.Now()
		if _, err := r.Fetch(ctx); err != nil {
			log.Fatal(err)
		}
		stop()
		fmt.Printf("cold_ms=%.1f\n", ms(time.Since(start)))
	case "warm":
		r := newRepo("warm")
		if _, err := r.Fetch(ctx); err != nil {
			log.Fatal(err)
		}
		// One bump before timing: the first render in a process pays
		// kustomize's one-time schema setup.
		if _, err := r.Apply(ctx, bump(-1, 1)); err != nil {
			log.Fatal(err)
		}
		var d []time.Duration
		stop := profile()
		for i := range *n {
			start := time.Now()
			res, err := r.Apply(ctx, bump(i, i*7+3))
			if err != nil {
				log.Fatal(err)
			}
			if !res.Changed {
				log.Fatal("bump changed nothing")
			}
			d = append(d, time.Since(start))
		}
		stop()
		slices.Sort(d)
		fmt.Printf("warm_median_ms=%.1f warm_min_ms=%.1f warm_max_ms=%.1f\n", ms(d[len(d)/2]), ms(d[0]), ms(d[len(d)-1]))
	case "concurrent":
		rs := make([]*gitops.Repo, *writers)
		for w := range rs {
			// 16 writers on one branch: a writer may lose more races in a
			// row than the default number of attempts allows.
			rs[w] = newRepo(fmt.Sprint("w", w), gitops.WithRetry(*attempts, gitops.DefaultBackoff, gitops.DefaultMaxBackoff))
		}
		// Long-running writers: each has its cache and has made one bump
		// (kustomize's setup, the render index of the tree), one writer
		// at a time.
		for w, r := range rs {
			if _, err := r.Apply(ctx, bump(-1-w, w)); err != nil {
				log.Fatal(err)
			}
		}
		stop := profile()
		commits, attempts, took := together(*writers, *n, func(w, i int) (gitops.Result, error) {
			return rs[w].Apply(ctx, bump(w*1000+i, w))
		})
		stop()
		fmt.Printf("commits=%d attempts=%d total_ms=%.0f commits_per_s=%.2f\n", commits, attempts, ms(took), float64(commits)/took.Seconds())
	case "shared":
		// A bot serving many apps: one Repo, many goroutines, each bumping
		// its own app; every change is its own commit.
		r := newRepo("shared", gitops.WithRetry(*attempts, gitops.DefaultBackoff, gitops.DefaultMaxBackoff))
		if _, err := r.Fetch(ctx); err != nil {
			log.Fatal(err)
		}
		if _, err := r.Apply(ctx, bump(-1, 1)); err != nil { // kustomize's one-time setup
			log.Fatal(err)
		}
		stop := profile()
		commits, _, took := together(*writers, *n, func(w, i int) (gitops.Result, error) {
			return r.Apply(ctx, bump(w*1000+i, w))
		})
		stop()
		fmt.Printf("changes=%d total_ms=%.0f changes_per_s=%.2f\n", commits, ms(took), float64(commits)/took.Seconds())
	default:
		log.Fatalf("unknown mode %q", *mode)
	}
}

// together runs n bumps in each of writers goroutines at once and returns
// the commits made, the attempts taken and the time it took.
func together(writers, n int, bump func(w, i int) (gitops.Result, error)) (commits, attempts int, took time.Duration) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				res, err := bump(w, i)
				if err != nil {
					log.Fatal(err)
				}
				mu.Lock()
				attempts += res.Attempts
				if res.Changed {
					commits++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return commits, attempts, time.Since(start)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
