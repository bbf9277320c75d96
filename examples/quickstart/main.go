// Command quickstart runs flightdeck's main flow end to end on embedded
// defaults, with nothing but Go and git installed:
//
//  1. a source commit of a tiny Go app (./app) in a local Git repository;
//  2. the CI pipeline: go test, go build, a govulncheck source scan, a
//     daemonless image build, an image scan, a push to an in-process OCI
//     registry;
//  3. the deploy stage pins the pushed digest in the dev overlay of a
//     GitOps repository (a local bare repo seeded from ./gitops-repo) and
//     commits it with trailers, showing the rendered diff;
//  4. a simulated Argo CD syncs that commit into a simulated cluster, and
//     the program prints the application going from OutOfSync/Progressing
//     to Synced/Healthy;
//  5. a second release whose pods never become ready is deployed the same
//     way and ends Degraded once its progress deadline has passed.
//
// The simulated cluster runs on an accelerated clock, so ten minutes of
// rollout take well under a second. Run it with:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"
)

//go:embed app/main.go app/main_test.go
var appFS embed.FS

//go:embed all:gitops-repo
var gitopsFS embed.FS

//go:embed all:vulndb
var vulnFS embed.FS

func main() {
	keep := flag.Bool("keep", false, "keep the work directory (repositories, build output) and print its path")
	vulndb := flag.String("vulndb", "", `vulnerability database URL for the scans; empty means the embedded offline one (no advisories); "https://vuln.go.dev" is the real one`)
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()

	if err := run(ctx, os.Stdout, *keep, *vulndb); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run is the whole flow; main only parses flags.
func run(ctx context.Context, out io.Writer, keep bool, vulndb string) error {
	work, err := os.MkdirTemp("", "flightdeck-quickstart-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Fprintln(out, "work directory:", work)
	} else {
		defer os.RemoveAll(work)
	}
	env, err := setUp(ctx, work, vulndb)
	if err != nil {
		return err
	}
	defer env.Close()

	section(out, "1. GitOps repository and source")
	fmt.Fprintf(out, "gitops repo   %s (apps/hello: base + dev, staging, prod overlays)\n", env.gitopsURL)
	fmt.Fprintf(out, "source commit %s\n", short(env.revision))
	fmt.Fprintf(out, "registry      %s (in-process OCI registry)\n", env.registry)

	section(out, "2. Pipeline: test, build, scan, push, deploy to dev")
	good, err := env.release(ctx, out, "1.0.0")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ncommit %s on main deploys %s\n", short(good.Commit), good.Release.Ref())
	fmt.Fprintf(out, "rendered diff of %s:\n%s", good.Overlay, good.Diff)
	if err := env.printCurrent(ctx, out); err != nil {
		return err
	}

	section(out, "3. Argo CD syncs the commit into the cluster")
	if err := env.syncAndWatch(ctx, out, good.Commit, healthy); err != nil {
		return err
	}

	section(out, "4. A release whose pods never become ready")
	bad, err := env.release(ctx, out, "1.1.0-broken")
	if err != nil {
		return err
	}
	if err := env.neverReady(bad.Release.Ref()); err != nil {
		return err
	}
	fmt.Fprintf(out, "\ncommit %s on main deploys %s\n", short(bad.Commit), bad.Release.Ref())
	if err := env.syncAndWatch(ctx, out, bad.Commit, degraded); err != nil {
		return err
	}
	fmt.Fprintln(out, "\nThe Deployment exceeded its progress deadline: health and rollback")
	fmt.Fprintln(out, "decisions build on exactly this signal (see the health package).")
	return nil
}

func section(w io.Writer, title string) { fmt.Fprintf(w, "\n== %s\n", title) }

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
