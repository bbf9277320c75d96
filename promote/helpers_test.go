package promote_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/promote"
)

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // a Monday

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// source is a source repository on disk with commits by several authors.
type source struct {
	dir     string
	commits []string // oldest first
}

func newSource(t *testing.T, authors ...string) *source {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	require.NoError(t, err)
	wt, err := r.Worktree()
	require.NoError(t, err)
	s := &source{dir: dir}
	for i, a := range authors {
		name, email, _ := strings.Cut(a, " ")
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(fmt.Sprintf("package main // %d\n", i)), 0o644))
		_, err := wt.Add("main.go")
		require.NoError(t, err)
		h, err := wt.Commit(fmt.Sprintf("change %d", i), &git.CommitOptions{Author: &object.Signature{Name: name, Email: strings.Trim(email, "<>"), When: t0.Add(time.Duration(i) * time.Minute)}})
		require.NoError(t, err)
		s.commits = append(s.commits, h.String())
	}
	return s
}

func (s *source) release(app string, i int) flightdeck.Release {
	return flightdeck.Release{App: app, Image: gitopstest.Image(app), Digest: digest(i + 1), Tag: fmt.Sprintf("1.%d.0", i),
		SourceRepo: s.dir, Revision: s.commits[i], Time: t0.Add(time.Duration(i) * time.Minute)}
}

// env is a GitOps repository with apps whose staging runs the source's
// newest commit and prod its first.
type env struct {
	t    *testing.T
	bare string
	repo *gitops.Repo
	clk  *clocktest.Clock
	src  *source
	apps []string
}

func newEnv(t *testing.T, apps ...string) *env {
	t.Helper()
	if len(apps) == 0 {
		apps = []string{"shop"}
	}
	e := &env{t: t, bare: gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout(apps...)), clk: clocktest.NewAuto(t0), apps: apps}
	e.src = newSource(t, "Ann <ann@example.com>", "Dev <dev@example.com>", "Eve <eve@example.com>")
	e.repo = e.newRepo()
	ctx := context.Background()
	for _, app := range apps {
		for _, d := range []struct {
			env string
			i   int
		}{{"prod", 0}, {"staging", 2}, {"dev", 2}} {
			_, err := gitops.DeployRelease(ctx, e.repo, gitops.DeployRequest{Target: target(app, d.env), Release: e.src.release(app, d.i)})
			require.NoError(t, err)
		}
	}
	return e
}

func (e *env) newRepo() *gitops.Repo {
	r, err := gitops.New(gitopstest.FileURL(e.bare), gitops.WithCacheDir(e.t.TempDir()), gitops.WithClock(e.clk))
	require.NoError(e.t, err)
	e.t.Cleanup(func() { r.Close() })
	return r
}

func target(app, env string) gitops.Target {
	return gitops.Target{App: app, Environment: flightdeck.Environment{Name: env}}
}

func ladder(prod ...promote.Policy) promote.Ladder {
	l := promote.DefaultLadder()
	l[2].Policies = append(l[2].Policies, prod...)
	return l
}

func (e *env) promoter(l promote.Ladder, opts ...promote.Option) *promote.Promoter {
	p, err := promote.New(e.repo, l, append([]promote.Option{promote.WithClock(e.clk)}, opts...)...)
	require.NoError(e.t, err)
	return p
}

// mark records a verification marker for app in env at the clock's time.
func (e *env) mark(app, envName string, rel flightdeck.Release, verdict string, extra ...gitops.Trailer) {
	tr := gitops.ReleaseTrailers("verify", envName, rel)
	tr.Extra.Set(gitops.TrailerVerified, verdict)
	for _, x := range extra {
		tr.Extra.Set(x.Key, x.Value)
	}
	_, err := e.repo.Apply(context.Background(), gitops.Change{Trailers: tr, Edits: []gitops.Edit{
		gitops.WriteFile{Path: fmt.Sprintf(".flightdeck/verifications/%s/%s.txt", app, envName), Data: []byte(fmt.Sprintf("%s %s %v\n", verdict, e.clk.Now(), extra))}}})
	require.NoError(e.t, err)
}

type sshKey struct {
	signer ssh.Signer
	priv   ed25519.PrivateKey
}

func newKey(t *testing.T) sshKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	s, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	return sshKey{signer: s, priv: priv}
}

func (k sshKey) line(principal string) string {
	return principal + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.signer.PublicKey())))
}

func signers(t *testing.T, lines ...string) promote.AllowedSigners {
	s, err := promote.ParseAllowedSigners([]byte(strings.Join(lines, "\n") + "\n"))
	require.NoError(t, err)
	return s
}

func approval(pl *promote.Plan, who string, d promote.Decision, at time.Time) promote.Approval {
	return promote.Approval{App: pl.App, Environment: pl.To, PlanHash: pl.Hash, Approver: who, Decision: d, Time: at}
}

func sign(t *testing.T, k sshKey, a promote.Approval) []byte {
	data, err := a.Marshal()
	require.NoError(t, err)
	sig, err := promote.SignSSH(k.signer, promote.SSHNamespace, data)
	require.NoError(t, err)
	return sig
}
