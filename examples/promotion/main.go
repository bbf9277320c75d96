// Command promotion walks one release up the ladder dev → staging → prod
// with flightdeck's promote package, on embedded defaults and with
// nothing but Go and git installed:
//
//  1. a commit to main of the source repository reaches dev by itself;
//  2. staging is promoted by hand, printing the plan: the release notes
//     read from the source repository and the rendered diff;
//  3. prod is blocked by a weekend freeze (an RFC 5545 RRULE; explain
//     prints when it reopens), then by approvals 1 of 2 (approvals signed
//     with SSH keys and verified against an allowed-signers file), then
//     by a scan finding until an allowlist entry accepts it; the next run
//     of the tool, a new process, reads the scan result kept in the GitOps
//     repository instead of scanning again, and promotes.
//
// Time is a fake clock, so the weekend passes at once. Run it with:
//
//	go run ./examples/promotion
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/examples/internal/storyflags"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
	"github.com/flightdeck-dev/flightdeck/promote"
	"github.com/flightdeck-dev/flightdeck/promote/promotetest"
)

func main() {
	storyflags.Parse(usage)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "promotion:", err)
		os.Exit(1)
	}
}

const usage = `Usage: go run ./examples/promotion

Walks one release up dev → staging → prod with package promote, on a
local GitOps repository and a fake clock: dev by itself on a commit to
main, staging by hand with the plan and release notes, prod blocked by a
weekend freeze, then by approvals 1 of 2, then by a scan finding until
an allowlist entry accepts it, then promoted. It takes no flags.
`

// start is Friday 2026-03-06, 17:00 in Berlin: the weekend freeze began
// an hour ago.
var start = time.Date(2026, 3, 6, 16, 0, 0, 0, time.UTC)

func run(ctx context.Context, out io.Writer) error {
	dir, err := os.MkdirTemp("", "flightdeck-promotion-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	clk := clocktest.NewAuto(start)

	// The source repository: two commits of the app, by two people.
	src, err := newSource(filepath.Join(dir, "source"))
	if err != nil {
		return err
	}
	first, err := src.commit("Ann", "ann@example.com", "checkout: first release", start.Add(-72*time.Hour))
	if err != nil {
		return err
	}

	// The GitOps repository: one app with dev, staging and prod overlays,
	// all running the first release.
	bare := filepath.Join(dir, "gitops.git")
	if err := gitopstest.CreateBareRepo(bare, gitopstest.KustomizeLayout("checkout")); err != nil {
		return err
	}
	repo, err := gitops.New(gitopstest.FileURL(bare), gitops.WithCacheDir(filepath.Join(dir, "cache")), gitops.WithClock(clk))
	if err != nil {
		return err
	}
	defer repo.Close()
	v1 := release(src.dir, first, 1, start.Add(-72*time.Hour))
	for _, env := range []string{"dev", "staging", "prod"} {
		if _, err := gitops.DeployRelease(ctx, repo, gitops.DeployRequest{Target: gitops.Target{App: "checkout", Environment: flightdeck.Environment{Name: env}}, Release: v1}); err != nil {
			return err
		}
	}

	// Two approvers with SSH keys, as in an allowed-signers file.
	alice, err := promotetest.NewSSHKey("alice@example.com")
	if err != nil {
		return err
	}
	bob, err := promotetest.NewSSHKey("bob@example.com")
	if err != nil {
		return err
	}
	mallory, err := promotetest.NewSSHKey("bob@example.com")
	if err != nil {
		return err
	}
	allowed, err := promotetest.AllowedSigners(alice, bob)
	if err != nil {
		return err
	}

	// The scanner finds one advisory in the new image; the policy fails
	// at high. scans counts the scans of every run of the tool.
	scans := 0
	scanner := scan.ScannerFunc(func(_ context.Context, t scan.Target) ([]scan.Finding, error) {
		scans++
		return []scan.Finding{{ID: "GO-2026-4242", Package: "golang.org/x/net", Installed: "v0.30.0", Fixed: "v0.38.0", Severity: scan.SeverityHigh, Location: t.ImageRef}}, nil
	})
	scanPolicy := scan.Policy{FailAt: scan.SeverityHigh}

	// promoter is one run of the release tool, with its own scan policy.
	promoter := func(repo *gitops.Repo, scanPolicy scan.Policy) (*promote.Promoter, error) {
		ladder := promote.DefaultLadder()
		ladder[2].Policies = append(ladder[2].Policies,
			// From Friday 16:00 for two days (nominal, as RFC 5545 says)
			// and sixteen hours: Monday 08:00 in Berlin.
			promote.Windows{Deny: []promote.Window{{Name: "weekend freeze", RRule: "DTSTART;TZID=Europe/Berlin:20260102T160000\nRRULE:FREQ=WEEKLY;BYDAY=FR\nDURATION:P2DT16H"}}},
			promote.Approvals{Rules: []promote.Rule{{N: 2, Of: []string{"group:sre"}}},
				Groups: map[string][]string{"sre": {"alice@example.com", "bob@example.com"}}, Verifier: promote.SSHVerifier{Signers: allowed}},
			promote.NewScan(scanner, scanPolicy, 24*time.Hour, nil),
		)
		return promote.New(repo, ladder, promote.WithClock(clk), promote.WithObserver(func(e promote.Event) {
			fmt.Fprintf(out, "  event: %s %s → %s\n", e.Kind, e.App, e.To)
		}))
	}
	p, err := promoter(repo, scanPolicy)
	if err != nil {
		return err
	}

	fmt.Fprintln(out, "== 1. a commit to main reaches dev by itself")
	second, err := src.commit("Dev", "dev@example.com", "checkout: pay with vouchers", start.Add(-2*time.Hour))
	if err != nil {
		return err
	}
	v2 := release(src.dir, second, 2, start.Add(-2*time.Hour))
	o, err := p.OnCommit(ctx, v2, "main")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  dev runs %s (commit %s)\n", v2.Tag, short(o.Result.Commit.String()))

	fmt.Fprintln(out, "== 2. staging, by hand")
	pl, err := p.Plan(ctx, "checkout", "staging")
	if err != nil {
		return err
	}
	fmt.Fprint(out, indent(pl.Text()))
	if _, err := p.Promote(ctx, promote.Request{Actor: "ann@example.com"}, pl); err != nil {
		return err
	}
	fmt.Fprintln(out, "  staging runs", pl.Release.Tag)

	fmt.Fprintln(out, "== 3. prod")
	pl, err = p.Plan(ctx, "checkout", "prod")
	if err != nil {
		return err
	}
	explain := func() (promote.Explanation, error) {
		ex, err := p.Explain(ctx, pl, promote.Request{Actor: "ann@example.com"})
		if err == nil {
			fmt.Fprint(out, indent(ex.String()))
		}
		return ex, err
	}
	fmt.Fprintf(out, "  %s (Berlin) — the weekend freeze is on\n", clk.Now().In(berlin()).Format("Mon 15:04"))
	ex, err := explain()
	if err != nil {
		return err
	}
	for _, v := range ex.Verdicts {
		if v.Policy == "windows" && !v.Allowed {
			fmt.Fprintf(out, "  the freeze reopens %s (Berlin)\n", v.NotBefore.In(berlin()).Format("Mon 2 Jan 15:04"))
			clk.Set(v.NotBefore)
		}
	}
	approve := func(who string, k promotetest.SSHKey) error {
		a := promote.Approval{App: pl.App, Environment: pl.To, PlanHash: pl.Hash, Approver: who, Decision: promote.Approve, Time: clk.Now()}
		sig, err := k.Sign(a)
		if err != nil {
			return err
		}
		_, err = p.Approve(ctx, pl, a, sig)
		return err
	}
	fmt.Fprintln(out, "  Monday: alice approves the plan")
	if err := approve("alice@example.com", alice); err != nil {
		return err
	}
	if _, err := explain(); err != nil {
		return err
	}
	fmt.Fprintln(out, "  mallory signs an approval as bob with her own key:")
	if err := approve("bob@example.com", mallory); err != nil {
		fmt.Fprintln(out, "   ", err)
	} else {
		return fmt.Errorf("a forged approval was accepted")
	}
	fmt.Fprintln(out, "  bob approves")
	if err := approve("bob@example.com", bob); err != nil {
		return err
	}
	_, err = p.Promote(ctx, promote.Request{Actor: "ann@example.com"}, pl)
	if !errors.Is(err, promote.ErrBlocked) {
		return fmt.Errorf("prod with an unaccepted scan finding was not refused: %v", err)
	}
	fmt.Fprintln(out, "  refused:", err)
	fmt.Fprintf(out, "  the scan result is kept in the GitOps repository at %s\n", shortPath(promote.ScanPath(pl.App, pl.Release.Digest)))
	fmt.Fprintln(out, "  security accepts GO-2026-4242 for two weeks (not reachable)")
	scanPolicy.Allow = append(scanPolicy.Allow, scan.Allow{ID: "GO-2026-4242", Reason: "the vulnerable parser is not reachable", Expires: clk.Now().Add(14 * 24 * time.Hour)})
	fmt.Fprintln(out, "  the release tool runs again, a new process with its own clone:")
	clk.Advance(10 * time.Minute)
	repo2, err := gitops.New(gitopstest.FileURL(bare), gitops.WithCacheDir(filepath.Join(dir, "cache2")), gitops.WithClock(clk))
	if err != nil {
		return err
	}
	defer repo2.Close()
	if p, err = promoter(repo2, scanPolicy); err != nil {
		return err
	}
	scans = 0
	outs, err := p.Promote(ctx, promote.Request{Actor: "ann@example.com", Reason: "vouchers"}, pl)
	if err != nil {
		return err
	}
	for _, v := range outs[0].Explanation.Verdicts {
		if v.Policy == "scan" {
			fmt.Fprintf(out, "  %s; scans run: %d\n", v, scans)
		}
	}
	fmt.Fprintf(out, "  prod runs %s (commit %s)\n", pl.Release.Tag, short(outs[0].Result.Commit.String()))
	h, err := repo.History(ctx, gitops.HistoryQuery{App: "checkout", Environment: "prod", Limit: 1})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "  history: %s, %s, plan %s\n", h[0].Subject, h[0].Trailers.Ref(), short(strings.TrimPrefix(pl.Hash, "sha256:")))
	return nil
}

func berlin() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return time.UTC
	}
	return loc
}

func release(srcDir, rev string, n int, at time.Time) flightdeck.Release {
	return flightdeck.Release{App: "checkout", Image: gitopstest.Image("checkout"), Digest: fmt.Sprintf("sha256:%064x", n),
		Tag: fmt.Sprintf("1.%d.0", n), SourceRepo: srcDir, Revision: rev, Time: at}
}

// shortPath abbreviates the digest in a scan record's path.
func shortPath(p string) string {
	dir, file := filepath.Split(p)
	return dir + short(file) + "….json"
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n"
}

type source struct {
	dir string
	r   *git.Repository
	n   int
}

func newSource(dir string) (*source, error) {
	r, err := git.PlainInit(dir, false)
	if err != nil {
		return nil, err
	}
	return &source{dir: dir, r: r}, nil
}

func (s *source) commit(name, email, msg string, at time.Time) (string, error) {
	s.n++
	if err := os.WriteFile(filepath.Join(s.dir, "main.go"), []byte(fmt.Sprintf("package main\n\n// version %d\nfunc main() {}\n", s.n)), 0o644); err != nil {
		return "", err
	}
	wt, err := s.r.Worktree()
	if err != nil {
		return "", err
	}
	if _, err := wt.Add("main.go"); err != nil {
		return "", err
	}
	h, err := wt.Commit(msg, &git.CommitOptions{Author: &object.Signature{Name: name, Email: email, When: at}})
	return h.String(), err
}
