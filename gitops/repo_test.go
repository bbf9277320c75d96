package gitops_test

import (
	"context"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
const digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func newRepo(t *testing.T, url string, opts ...gitops.Option) *gitops.Repo {
	t.Helper()
	opts = append([]gitops.Option{gitops.WithCacheDir(filepath.Join(t.TempDir(), "cache"))}, opts...)
	r, err := gitops.New(url, opts...)
	require.NoError(t, err)
	return r
}

func deploy(app, env, digest string) gitops.Change {
	return gitops.Change{
		Trailers: gitops.Trailers{App: app, Environment: env, Image: gitopstest.Image(app), Digest: digest, Action: gitops.ActionDeploy},
		Edits: []gitops.Edit{gitops.SetImage{
			Dir: "apps/" + app + "/overlays/" + env, Name: gitopstest.Image(app), Digest: digest,
		}},
	}
}

func TestApplySetImageFile(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("checkout", "cart"))
	before := gitopstest.Head(t, dir)
	r := newRepo(t, gitopstest.FileURL(dir))
	ctx := context.Background()

	res, err := r.Apply(ctx, deploy("checkout", "dev", digestA))
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.Equal(t, before, res.Parent)
	assert.Equal(t, gitopstest.Head(t, dir), res.Commit)
	assert.Equal(t, []string{"apps/checkout/overlays/dev/kustomization.yaml"}, res.Files)
	assert.Equal(t, []string{"apps/checkout/overlays/dev"}, res.Overlays)
	assert.Contains(t, res.Diff, "-      - image: registry.example.com/team/checkout:1.0.0")
	assert.Contains(t, res.Diff, "+      - image: registry.example.com/team/checkout@"+digestA)

	got := gitopstest.ReadFile(t, dir, "apps/checkout/overlays/dev/kustomization.yaml")
	// The line comment of the newTag the digest replaces moves to digest.
	assert.Contains(t, got, "# images is managed by flightdeck\nimages:\n- name: registry.example.com/team/checkout\n  digest: "+digestA+" # initial release\n")
	assert.NotContains(t, got, "newTag")

	out, err := r.Render(ctx, "", "apps/checkout/overlays/dev")
	require.NoError(t, err)
	assert.Contains(t, string(out), "image: registry.example.com/team/checkout@"+digestA)
	assert.Contains(t, string(out), "namespace: checkout-dev")

	log := gitopstest.Log(t, dir)
	require.Len(t, log, 2)
	assert.True(t, strings.HasPrefix(log[0].Message, "deploy checkout to dev\n\n"))
	assert.Contains(t, log[0].Message, "Flightdeck-Release: "+gitopstest.Image("checkout")+"@"+digestA)

	// Same change again: nothing to commit.
	res2, err := r.Apply(ctx, deploy("checkout", "dev", digestA))
	require.NoError(t, err)
	assert.False(t, res2.Changed)
	assert.True(t, res2.Commit.IsZero())
	assert.Equal(t, res.Commit, gitopstest.Head(t, dir))
}

// cacheFiles returns every regular file under dir with its content.
func cacheFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			out[p] = b
		}
		return nil
	}))
	return out
}

// assertPrivate checks that nothing under dir is readable, writable or
// searchable by anyone but its owner.
func assertPrivate(t *testing.T, dir string) {
	t.Helper()
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		fi, err := d.Info()
		require.NoError(t, err)
		assert.Zero(t, fi.Mode().Perm()&0o077, "%s is %v", p, fi.Mode().Perm())
		if d.IsDir() {
			assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), p)
		}
		n++
		return nil
	}))
	assert.Greater(t, n, 10, "the walk saw the cache")
}

// A token given as the URL's user is a secret like a password: redacted
// in URL(), RedactURL, errors and logs, and never written to the cache,
// whose files only the user can read.
func TestTokenInURL(t *testing.T) {
	const token = "ghp_s3cretT0ken"
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir, gitopstest.WithBasicAuth(token, ""))
	url := strings.Replace(srv.URL(), "://", "://"+token+"@", 1)
	assert.Equal(t, srv.URL()[:len("http://")]+"xxxxx@"+srv.URL()[len("http://"):], gitops.RedactURL(url))

	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := newRepo(t, url, gitops.WithLogger(logger))
	res, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.NoError(t, err, "the token is sent")
	require.True(t, res.Changed)
	require.NoError(t, r.Close())
	assert.NotContains(t, r.URL(), token)
	assert.Contains(t, logs.String(), "xxxxx@")
	assert.NotContains(t, logs.String(), token)

	wrong := newRepo(t, strings.Replace(url, token, "ghp_wr0ngT0ken", 1))
	_, err = wrong.Fetch(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrAuth)
	assert.NotErrorIs(t, err, gitops.ErrAuthRequired, "a token was given")
	assert.NotContains(t, err.Error(), "ghp_wr0ngT0ken")
	assert.NotContains(t, wrong.URL(), "ghp_wr0ngT0ken")

	for p, b := range cacheFiles(t, r.CacheDir()) {
		assert.NotContains(t, string(b), token, p)
	}
	assertPrivate(t, r.CacheDir())
}

// No credential reaches the disk, whichever way it is given, and a cache
// written by an earlier version with the credentials in its config is
// cleaned on first use.
func TestNoCredentialOnDisk(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir, gitopstest.WithBasicAuth("deployer", "pw-on-the-url"))
	secrets := []string{"pw-on-the-url", "pw%2Don%2Dthe%2Durl"}
	for name, url := range map[string]string{
		"password":         srv.URLWithPassword("deployer", "pw-on-the-url"),
		"escaped password": srv.URLWithPassword("deployer", "pw%2Don%2Dthe%2Durl"),
	} {
		t.Run(name, func(t *testing.T) {
			r := newRepo(t, url)
			for i, env := range []string{"dev", "staging"} {
				_, err := r.Apply(context.Background(), deploy("shop", env, digestN(len(name)*10+i)))
				require.NoError(t, err)
			}
			require.NoError(t, r.Close())
			files := cacheFiles(t, r.CacheDir())
			require.Contains(t, files, filepath.Join(r.CacheDir(), "config"))
			assert.Contains(t, string(files[filepath.Join(r.CacheDir(), "config")]), srv.URL(), "the config names the remote")
			for p, b := range files {
				for _, s := range secrets {
					assert.NotContains(t, string(b), s, p)
				}
			}
			assertPrivate(t, r.CacheDir())
		})
	}

	t.Run("old cache", func(t *testing.T) {
		url := srv.URLWithPassword("deployer", "pw-on-the-url")
		cache := filepath.Join(t.TempDir(), "cache")
		cmd := exec.Command("git", "clone", "-q", "--bare", url, cache)
		require.NoError(t, cmd.Run())
		cfg, err := os.ReadFile(filepath.Join(cache, "config"))
		require.NoError(t, err)
		require.Contains(t, string(cfg), "pw-on-the-url", "as git itself stores it")
		r, err := gitops.New(url, gitops.WithCacheDir(cache))
		require.NoError(t, err)
		_, err = r.Fetch(context.Background())
		require.NoError(t, err)
		cfg, err = os.ReadFile(filepath.Join(cache, "config"))
		require.NoError(t, err)
		assert.NotContains(t, string(cfg), "pw-on-the-url")
		fi, err := os.Stat(cache)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	})
}

func TestRedactURLCredentials(t *testing.T) {
	for in, want := range map[string]string{
		"https://TOKEN@git.example.com/r.git":          "https://xxxxx@git.example.com/r.git",
		"https://bot:pw@git.example.com/r.git":         "https://bot:xxxxx@git.example.com/r.git",
		"http://x-access-token:t0k@host/r.git":         "http://x-access-token:xxxxx@host/r.git",
		"ssh://git@host/r.git":                         "ssh://git@host/r.git",
		"ssh://git:pw@host/r.git":                      "ssh://git:xxxxx@host/r.git",
		"git@github.com:org/r.git":                     "git@github.com:org/r.git",
		"https://git.example.com/r.git":                "https://git.example.com/r.git",
		"file:///srv/git/r.git":                        "file:///srv/git/r.git",
		"https://tok%2Fen@git.example.com/r.git":       "https://xxxxx@git.example.com/r.git",
		"weird://user:p@ss@host:bad port/r.git":        "weird://xxxxx@host:bad port/r.git",
		"HTTPS://TOKEN@git.example.com/r.git?x=1#frag": "https://xxxxx@git.example.com/r.git?x=1#frag",
	} {
		assert.Equal(t, want, gitops.RedactURL(in), in)
	}
}

// A wrong password, no credentials, and an SSH remote without an agent are
// three different errors, each naming the remote and saying what to do.
func TestAuthErrorsSayWhatIsWrong(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir, gitopstest.WithBasicAuth("deployer", "right-password"))
	ctx := context.Background()

	_, err := newRepo(t, srv.URL(), gitops.WithAuth(&githttp.BasicAuth{Username: "deployer", Password: "wrong-password"})).Fetch(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrAuth)
	assert.NotErrorIs(t, err, gitops.ErrAuthRequired)
	assert.NotErrorIs(t, err, gitops.ErrRemote)
	assert.Contains(t, err.Error(), srv.URL())
	assert.Contains(t, err.Error(), "refused the credentials given")
	assert.NotContains(t, err.Error(), "wrong-password")
	assert.Equal(t, 1, strings.Count(err.Error(), "gitops:"), "no stuttering prefix: %s", err)

	_, err = newRepo(t, srv.URL()).Fetch(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrAuthRequired)
	assert.ErrorIs(t, err, gitops.ErrAuth, "a missing credential is an auth problem too")
	assert.Contains(t, err.Error(), "credentials required")
	assert.Contains(t, err.Error(), "WithAuth")

	t.Setenv("SSH_AUTH_SOCK", "")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	_, err = newRepo(t, "ssh://git@"+l.Addr().String()+"/repo.git").Fetch(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrAuthRequired, "no SSH agent: %v", err)
	assert.NotErrorIs(t, err, gitops.ErrRemote, "not a remote problem")
	assert.Contains(t, err.Error(), "ssh://git@"+l.Addr().String()+"/repo.git")
	assert.Contains(t, err.Error(), "ssh-agent")
}

// A server that accepts the connection and never answers ends the fetch
// at the context's deadline with a remote error that says so.
func TestFetchFromServerThatNeverAnswers(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	srv.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := newRepo(t, srv.URL()).Fetch(ctx)
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrRemote)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var re *gitops.RemoteError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "fetch", re.Op)
	assert.Equal(t, srv.URL(), re.URL)
	assert.Contains(t, err.Error(), "no answer in time")
}
