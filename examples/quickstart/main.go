// Command quickstart tells flightdeck's whole story end to end, on
// embedded defaults, with nothing but Go and git installed:
//
//  1. a commit to main of a tiny Go app (./app) is tested, scanned,
//     built into an image, scanned again, pushed to an in-process OCI
//     registry and deployed to dev by the pipeline: the digest pinned in
//     the dev overlay of a GitOps repository (seeded from ./gitops-repo),
//     synced by a simulated Argo CD into a simulated cluster, and smoke
//     tested there once Synced and Healthy;
//  2. a bad release, failing five times as often as the good one, goes
//     to staging as a canary behind an HTTPRoute and is aborted at its
//     first analysis by the sequential error judge; package rollback
//     restores staging as its last promotion left it, holds it and
//     quarantines the bad digest;
//  3. the fix is released, the hold lifted, and the fix promoted to
//     staging by hand (the plan and its release notes printed) and to
//     prod, which waits for two approvals signed with SSH keys (made in
//     process) and verified, and a scan of the image by digest;
//  4. every step above was told to a webhook receiver in process,
//     through a notify.Fanout and each package's notify adapter; the
//     receiver checks each delivery's HMAC signature with notify.Verify;
//  5. the DORA figures of all of it, read from the GitOps repository's
//     history.
//
// The simulated cluster runs on a clock a thousand times faster than
// real time, so hours of rollouts and waits take seconds; every time in
// the output is the cluster's. Run it with:
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

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/rollback"
	"github.com/flightdeck-dev/flightdeck/sim"
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
	d, err := env.newDelivery()
	if err != nil {
		return err
	}

	section(out, "2. A commit to main: test, scan, build, push, deploy to dev")
	good, err := env.release(ctx, out, "1.0.0", true)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\ncommit %s on main deploys %s\n", short(good.Commit), good.Release.Ref())
	fmt.Fprintf(out, "rendered diff of %s:\n%s", good.Overlay, good.Diff)
	if err := env.printCurrent(ctx, out); err != nil {
		return err
	}
	if err := env.behave(good.Release, goodPods); err != nil {
		return err
	}

	section(out, "3. A canary in staging aborts a bad release; rollback holds staging")
	staged, err := env.promoteByHand(ctx, out, d, flightdeck.Staging, false)
	if err != nil {
		return err
	}
	if err := env.change("hello: answer faster (and, it turns out, fail more)"); err != nil {
		return err
	}
	bad, err := env.buildBehaving(ctx, out, "1.1.0", badPods)
	if err != nil {
		return err
	}
	aborted, err := env.canary(ctx, out, bad.Release)
	if err != nil {
		return err
	}
	promoted, err := env.repo.History(ctx, gitops.HistoryQuery{App: app, Environment: flightdeck.Staging,
		Actions: []gitops.Action{gitops.ActionPromote}, Digest: staged.Release.Digest, Limit: 1})
	if err != nil || len(promoted) == 0 {
		return fmt.Errorf("the promotion of %s to staging is not in the history: %v", staged.Release.Tag, err)
	}
	if err := env.rollBack(ctx, out, d, promoted[0].Commit.String(), aborted, bad.Release); err != nil {
		return err
	}

	section(out, "4. The fix: staging by hand, prod with two approvals and a scan")
	if err := env.change("hello: fix the errors of 1.1.0"); err != nil {
		return err
	}
	if _, err := env.buildBehaving(ctx, out, "1.2.0", goodPods); err != nil {
		return err
	}
	if _, err := d.rollback.Lift(ctx, rollback.HoldRequest{Target: target(flightdeck.Staging), By: ann, Reason: "1.2.0 fixes the errors"}); err != nil {
		return err
	}
	fmt.Fprintf(out, "%s lifts the hold on staging; %s stays quarantined there\n", ann, bad.Release.Tag)
	if _, err := env.promoteByHand(ctx, out, d, flightdeck.Staging, true); err != nil {
		return err
	}
	if err := env.toProd(ctx, out, d); err != nil {
		return err
	}

	section(out, "5. What the stakeholders heard")
	if err := env.notifications(ctx, out); err != nil {
		return err
	}

	section(out, "6. DORA metrics of what just happened")
	return env.doraReport(ctx, out)
}

// buildBehaving releases version to dev through the pipeline, quietly,
// and makes its pods behave as b.
func (e *env) buildBehaving(ctx context.Context, out io.Writer, version string, b sim.Behavior) (deployed, error) {
	d, err := e.release(ctx, out, version, false)
	if err != nil {
		return d, err
	}
	return d, e.behave(d.Release, b)
}

func section(w io.Writer, title string) { fmt.Fprintf(w, "\n== %s\n", title) }

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
