package doratest

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// Spec describes a generated history for [Generate]. Zero fields take
// the defaults given.
type Spec struct {
	// Apps is the number of apps, named app0000, app0001, …; default 10.
	Apps int
	// Environments are the environments of every app; default dev,
	// staging, prod (the overlays of gitopstest.KustomizeLayout).
	Environments []string
	// Commits is the number of commits after the initial layout; default
	// 100.
	Commits int
	// Start is the time of the initial layout commit; default
	// 2024-01-01T00:00:00Z. Commit i (from 1) is made at Start plus i
	// times Interval (default one minute).
	Start    time.Time
	Interval time.Duration
	// RollbackEvery makes every n-th commit a rollback of the target's
	// newest deploy to the release before it (unplanned, naming the
	// deploy it reverts), and VerifyEvery every n-th commit a "verified"
	// marker of the target's newest deploy; zero means none. A commit
	// that would be both is a rollback; a target with nothing to roll
	// back or verify gets a deploy instead.
	RollbackEvery int
	VerifyEvery   int
	// Committer is the committer and author, "Name <email>"; default
	// gitops' default identity, which a gitops.Repo without options
	// trusts.
	Committer string
}

func (s Spec) withDefaults() Spec {
	if s.Apps <= 0 {
		s.Apps = 10
	}
	if len(s.Environments) == 0 {
		s.Environments = []string{flightdeck.Dev, flightdeck.Staging, flightdeck.Prod}
	}
	if s.Commits <= 0 {
		s.Commits = 100
	}
	if s.Start.IsZero() {
		s.Start = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if s.Interval <= 0 {
		s.Interval = time.Minute
	}
	if s.Committer == "" {
		s.Committer = gitops.DefaultAuthorName + " <" + gitops.DefaultAuthorEmail + ">"
	}
	return s
}

// AppName returns the name of app number i of a generated history.
func AppName(i int) string { return fmt.Sprintf("app%04d", i) }

// Target returns the app and environment commit i (from 1) of a history
// generated from s is about: app i mod Apps, and environment number
// (i / Apps) mod len(Environments).
func (s Spec) Target(i int) (app, env string) {
	s = s.withDefaults()
	return AppName(i % s.Apps), s.Environments[(i/s.Apps)%len(s.Environments)]
}

// LeadTime returns the lead time of the deploy made by commit i: its
// release's source commit is this much older than the deploy. It cycles
// through 1 to 97 times 7 minutes (7 minutes to about 11 hours).
func LeadTime(i int) time.Duration { return time.Duration(i%97+1) * 7 * time.Minute }

// Generate writes a bare repository at dir (which must not exist) on
// branch main: an initial commit with the gitopstest.KustomizeLayout of
// the apps and then s.Commits commits, each about one target
// ([Spec.Target]): deploys of a new release (release i of the app, built
// [LeadTime](i) before the commit), rollbacks and verification markers
// as s says, with the trailers flightdeck writes and its committer
// identity. It feeds `git fast-import`, so a history of tens of
// thousands of commits takes seconds (its output is one pack with
// deltas, as a server keeps a repository). It needs git on PATH.
func Generate(dir string, s Spec) error {
	s = s.withDefaults()
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("doratest: generate: %s exists", dir)
	}
	if out, err := exec.Command("git", "init", "-q", "--bare", "-b", gitops.DefaultBranch, dir).CombinedOutput(); err != nil {
		return fmt.Errorf("doratest: git init %s: %v: %s", dir, err, bytes.TrimSpace(out))
	}
	cmd := exec.Command("git", "fast-import", "--quiet", "--done")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("doratest: git fast-import: %w", err)
	}
	werr := write(bufio.NewWriterSize(in, 1<<20), s)
	if cerr := in.Close(); werr == nil {
		werr = cerr
	}
	if err := cmd.Wait(); err != nil || werr != nil {
		return fmt.Errorf("doratest: git fast-import: %w: %s", cmp.Or(err, werr), bytes.TrimSpace(stderr.Bytes()))
	}
	for _, args := range [][]string{{"config", "receive.autogc", "false"}} {
		c := exec.Command("git", args...)
		c.Dir = dir
		if out, err := c.CombinedOutput(); err != nil {
			return fmt.Errorf("doratest: git %s: %v: %s", args[0], err, bytes.TrimSpace(out))
		}
	}
	return nil
}

// write writes the fast-import stream of s to w.
func write(w *bufio.Writer, s Spec) error {
	names := make([]string, s.Apps)
	for i := range names {
		names[i] = AppName(i)
	}
	layout := gitopstest.KustomizeLayout(names...)
	mark := 0
	commit := func(when time.Time, msg string, files map[string]string) {
		mark++
		fmt.Fprintf(w, "commit refs/heads/%s\nmark :%d\n", gitops.DefaultBranch, mark)
		fmt.Fprintf(w, "author %s %d +0000\ncommitter %s %d +0000\n", s.Committer, when.Unix(), s.Committer, when.Unix())
		fmt.Fprintf(w, "data %d\n%s\n", len(msg), msg)
		if mark > 1 {
			fmt.Fprintf(w, "from :%d\n", mark-1)
		}
		for _, p := range slices.Sorted(maps.Keys(files)) {
			fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", p, len(files[p]), files[p])
		}
	}
	commit(s.Start, "initial layout\n", layout)
	type state struct{ deploys []flightdeck.Release }
	targets := map[[2]string]*state{}
	for i := 1; i <= s.Commits; i++ {
		app, env := s.Target(i)
		st := targets[[2]string{app, env}]
		if st == nil {
			st = &state{}
			targets[[2]string{app, env}] = st
		}
		when := s.Start.Add(time.Duration(i) * s.Interval)
		overlay := "apps/" + app + "/overlays/" + env + "/kustomization.yaml"
		pin := func(rel flightdeck.Release) map[string]string {
			body := strings.Replace(layout[overlay], "  newTag: 1.0.0 # initial release\n", "  digest: "+rel.Digest+"\n", 1)
			return map[string]string{overlay: body}
		}
		var ch gitops.Change
		var files map[string]string
		n := len(st.deploys)
		switch {
		case s.RollbackEvery > 0 && i%s.RollbackEvery == 0 && n >= 2:
			bad, good := st.deploys[n-1], st.deploys[n-2]
			ch.Trailers = gitops.ReleaseTrailers(gitops.ActionRollback, env, good)
			// fast-import does not tell the stream the hashes of the commits
			// it makes, so the rollback names no Flightdeck-Reverts: dora
			// then takes the newest planned deploy, the bad one.
			ch.Message = fmt.Sprintf("rollback %s in %s from %s", app, env, bad.Tag)
			ch.Trailers.Extra = gitops.Extra{
				{Key: gitops.TrailerReason, Value: "generated rollback"},
				{Key: gitops.TrailerChange, Value: gitops.ChangeUnplanned},
			}
			st.deploys = st.deploys[:n-1]
			files = pin(good)
		case s.VerifyEvery > 0 && i%s.VerifyEvery == 0 && n >= 1:
			rel := st.deploys[n-1]
			ch.Trailers = gitops.ReleaseTrailers(dora.ActionVerify, env, rel)
			ch.Trailers.Extra = gitops.Extra{{Key: gitops.TrailerVerified, Value: dora.VerdictVerified}}
			ch.Message = fmt.Sprintf("verified %s in %s", app, env)
			files = map[string]string{".flightdeck/verifications/" + app + "/" + env: fmt.Sprintf("%s %s %d\n", dora.VerdictVerified, rel.Ref(), i)}
		default:
			rel := Release(app, i, when.Add(-LeadTime(i)))
			ch.Trailers = gitops.ReleaseTrailers(gitops.ActionDeploy, env, rel)
			st.deploys = append(st.deploys, rel)
			files = pin(rel)
		}
		commit(when, ch.CommitMessage(), files)
	}
	fmt.Fprintf(w, "done\n")
	return w.Flush()
}
