package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

func digestN(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func appNames(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("app%02d", i))
	}
	return out
}

// concurrentBumps runs one writer per app, each with its own Repo and
// cache, and checks that every commit landed exactly once on a linear
// history.
func concurrentBumps(t *testing.T, dir, url string, opts ...gitops.Option) {
	apps := appNames(16)
	before := gitopstest.Head(t, dir)
	var wg sync.WaitGroup
	results := make([]gitops.Result, len(apps))
	errs := make([]error, len(apps))
	start := make(chan struct{})
	for i, app := range apps {
		r := newRepo(t, url, append([]gitops.Option{gitops.WithRetry(50, time.Millisecond, 2*time.Second)}, opts...)...)
		_, err := r.Fetch(context.Background()) // warm cache, like a long-running process
		require.NoError(t, err)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = r.Apply(context.Background(), deploy(app, "prod", digestN(i+1)))
		}()
	}
	close(start)
	wg.Wait()
	for i := range apps {
		require.NoError(t, errs[i], apps[i])
		assert.True(t, results[i].Changed)
	}

	log := gitopstest.Log(t, dir)
	require.Len(t, log, 16+1, "every bump is one commit, and none is duplicated")
	assert.Equal(t, before, log[16].Hash)
	seen := map[string]int{}
	for i, c := range log[:16] {
		require.Len(t, c.ParentHashes, 1, "linear history")
		assert.Equal(t, log[i+1].Hash, c.ParentHashes[0])
		seen[trailersOf(t, c.Message).App]++
	}
	retried, attempts := 0, 0
	for i, app := range apps {
		assert.Equal(t, 1, seen[app], app)
		assert.Contains(t, gitopstest.ReadFile(t, dir, "apps/"+app+"/overlays/prod/kustomization.yaml"), "digest: "+digestN(i+1))
		if results[i].Attempts > 1 {
			retried++
		}
		attempts += results[i].Attempts
	}
	t.Logf("%d of 16 writers replayed after losing a race; %d attempts in all", retried, attempts)
}

func TestConcurrentWritersFile(t *testing.T) {
	t.Parallel()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout(appNames(16)...))
	concurrentBumps(t, dir, gitopstest.FileURL(dir))
}

func TestConcurrentWritersHTTPAuth(t *testing.T) {
	t.Parallel()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout(appNames(16)...))
	srv := gitopstest.Serve(t, dir, gitopstest.WithBasicAuth("deployer", "s3cret-pw"))
	concurrentBumps(t, dir, srv.URL(), gitops.WithAuth(&githttp.BasicAuth{Username: "deployer", Password: "s3cret-pw"}))
	assert.GreaterOrEqual(t, srv.Pushes(), 16)
}

func TestTwoWritersSameFileLaterWins(t *testing.T) {
	t.Parallel()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	a := newRepo(t, srv.URL(), gitops.WithRetry(3, time.Millisecond, time.Millisecond))
	b := newRepo(t, srv.URL())
	ctx := context.Background()

	// a builds its commit first, but b's change lands while a's push is
	// on the wire: a's push is rejected and a replays on top of b, so a,
	// the later to land, wins.
	var rb gitops.Result
	srv.BeforeNextPush(func() {
		var err error
		rb, err = b.Apply(ctx, deploy("shop", "prod", digestB))
		assert.NoError(t, err)
	})
	ra, err := a.Apply(ctx, deploy("shop", "prod", digestA))
	require.NoError(t, err)
	assert.Equal(t, 1, rb.Attempts)
	assert.Equal(t, 2, ra.Attempts, "a lost the race and replayed")
	assert.Equal(t, rb.Commit, ra.Parent)

	got := gitopstest.ReadFile(t, dir, "apps/shop/overlays/prod/kustomization.yaml")
	assert.Equal(t, 1, strings.Count(got, "digest:"), "no duplicated entry")
	assert.Contains(t, got, "digest: "+digestA)
	assert.Contains(t, got, "# images is managed by flightdeck", "comments survive both edits")

	// Sequential writers: the second intent is the one that stays.
	_, err = b.Apply(ctx, deploy("shop", "prod", digestB))
	require.NoError(t, err)
	out, err := a.Render(ctx, "", "apps/shop/overlays/prod")
	require.NoError(t, err, "the result still renders")
	assert.Contains(t, string(out), "@"+digestB)
	assert.Len(t, gitopstest.Log(t, dir), 4)
}

func TestTwoWritersSameFileConcurrent(t *testing.T) {
	t.Parallel()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	url := gitopstest.FileURL(dir)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i, d := range []string{digestA, digestB} {
		r := newRepo(t, url, gitops.WithRetry(20, time.Millisecond, 10*time.Millisecond))
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Apply(ctx, deploy("shop", "prod", d))
			assert.NoError(t, err, i)
		}()
	}
	wg.Wait()
	log := gitopstest.Log(t, dir)
	require.Len(t, log, 3)
	last := trailersOf(t, log[0].Message).Digest
	got := gitopstest.ReadFile(t, dir, "apps/shop/overlays/prod/kustomization.yaml")
	assert.Equal(t, 1, strings.Count(got, "digest:"))
	assert.Contains(t, got, "digest: "+last, "the change that landed last is the one in the file")
}

func TestApplyReplaysAfterRejectedPushHTTP(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	r := newRepo(t, srv.URL(), gitops.WithRetry(3, time.Millisecond, time.Millisecond))
	srv.RejectNextPush()

	res, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.NoError(t, err)
	assert.Equal(t, 2, res.Attempts)
	assert.Equal(t, 2, srv.Pushes())
	log := gitopstest.Log(t, dir)
	require.Len(t, log, 3)
	assert.Equal(t, "competing commit\n", log[1].Message, "the competing commit is kept")
	assert.Contains(t, srv.Stderr(), "cannot lock ref 'refs/heads/main'", "the server refused the stale update")
	assert.Equal(t, res.Commit, log[0].Hash)
	assert.Contains(t, gitopstest.ReadFile(t, dir, "apps/shop/overlays/dev/kustomization.yaml"), digestA)
}

func TestApplyGivesUpWithErrConflict(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	r := newRepo(t, srv.URL(), gitops.WithRetry(2, time.Millisecond, time.Millisecond))
	// The first push loses a race, and while it does, the hook arms a lost
	// race for the second push too.
	srv.RejectNextPush()
	srv.BeforeNextPush(func() { srv.RejectNextPush() })
	_, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrConflict)
	assert.ErrorContains(t, err, "after 2 attempts")
	var re *gitops.RemoteError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "push", re.Op)
	assert.Equal(t, 2, srv.Pushes())
	assert.NotContains(t, gitopstest.ReadFile(t, dir, "apps/shop/overlays/dev/kustomization.yaml"), digestA)
}

func TestApplyRetryStopsOnCancel(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	// A backoff of an hour: the test only ends if cancellation interrupts it.
	r := newRepo(t, srv.URL(), gitops.WithRetry(5, time.Hour, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	srv.RejectNextPush()
	srv.BeforeNextPush(cancel)
	_, err := r.Apply(ctx, deploy("shop", "dev", digestA))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, srv.Pushes(), "a cancelled context is never retried")
}

// badInputs are changes that must fail and leave the remote as it was.
func badInputs() map[string]struct {
	change gitops.Change
	target error
	text   string
} {
	return map[string]struct {
		change gitops.Change
		target error
		text   string
	}{
		"malformed yaml": {gitops.Change{Edits: []gitops.Edit{gitops.WriteFile{Path: "apps/shop/overlays/dev/kustomization.yaml", Data: []byte("resources: [\n")}}},
			gitops.ErrRender, "apps/shop/overlays/dev"},
		"malformed yaml under edit": {gitops.Change{Edits: []gitops.Edit{
			gitops.WriteFile{Path: "values.yaml", Data: []byte("a: b: c\n")},
			gitops.SetField{File: "values.yaml", Field: "a", Value: "x"}}},
			gitops.ErrInvalidYAML, "values.yaml"},
		"does not render": {gitops.Change{Edits: []gitops.Edit{gitops.WriteFile{Path: "apps/shop/overlays/dev/kustomization.yaml",
			Data: []byte("resources:\n- ../../missing-base\n")}}},
			gitops.ErrRender, "apps/shop/overlays/dev"},
		"invalid image": {gitops.Change{Edits: []gitops.Edit{gitops.SetImage{Dir: "apps/shop/overlays/dev", Name: gitopstest.Image("shop"), Digest: "sha256:nothex"}}},
			gitops.ErrInvalidImage, "sha256:nothex"},
		"path escape": {gitops.Change{Edits: []gitops.Edit{gitops.WriteFile{Path: "../../etc/passwd", Data: []byte("x")}}},
			gitops.ErrPathEscape, "../../etc/passwd"},
		"no edits": {gitops.Change{}, gitops.ErrInvalidChange, "no edits"},
		"trailers in the message": {gitops.Change{Message: "x\n\nFlightdeck-Version: 1\nFlightdeck-Action: rollback", Edits: []gitops.Edit{gitops.WriteFile{Path: "x", Data: []byte("x")}}},
			gitops.ErrInvalidChange, "Flightdeck-Version"},
		"release without digest": {gitops.Change{Trailers: gitops.Trailers{App: "a", Image: gitopstest.Image("a")}, Edits: []gitops.Edit{gitops.WriteFile{Path: "x", Data: []byte("x")}}},
			gitops.ErrInvalidChange, "Flightdeck-Release"},
	}
}

func TestBadInputsLeaveRemoteUntouched(t *testing.T) {
	t.Parallel()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	for name, c := range badInputs() {
		t.Run("file/"+name, func(t *testing.T) {
			before := gitopstest.Head(t, dir)
			r := newRepo(t, gitopstest.FileURL(dir))
			_, err := r.Apply(context.Background(), c.change)
			require.Error(t, err)
			assert.ErrorIs(t, err, c.target)
			assert.ErrorContains(t, err, c.text)
			assert.Equal(t, before, gitopstest.Head(t, dir), "remote unchanged")
		})
	}
	srv := gitopstest.Serve(t, dir, gitopstest.WithBasicAuth("u", "pw-123"))
	for name, c := range badInputs() {
		t.Run("http/"+name, func(t *testing.T) {
			before := gitopstest.Head(t, dir)
			r := newRepo(t, srv.URL(), gitops.WithAuth(&githttp.BasicAuth{Username: "u", Password: "pw-123"}))
			pushes := srv.Pushes()
			_, err := r.Apply(context.Background(), c.change)
			require.Error(t, err)
			assert.ErrorIs(t, err, c.target)
			assert.Equal(t, before, gitopstest.Head(t, dir), "remote unchanged")
			assert.Equal(t, pushes, srv.Pushes(), "nothing was pushed")
		})
	}
}

func TestRenderFailureNamesOverlayAndReason(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	r := newRepo(t, gitopstest.FileURL(dir))
	_, err := r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{
		gitops.WriteFile{Path: "apps/shop/overlays/prod/kustomization.yaml", Data: []byte("resources:\n- ../../base\npatches:\n- path: nope.yaml\n")},
	}})
	var re *gitops.RenderError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "apps/shop/overlays/prod", re.Dir)
	assert.ErrorContains(t, err, "nope.yaml", "kustomize's reason is kept")
}

func TestWrongCredentials(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	before := gitopstest.Head(t, dir)
	srv := gitopstest.Serve(t, dir, gitopstest.WithBasicAuth("deployer", "right-password"))
	cases := map[string]*gitops.Repo{
		"auth option":  newRepo(t, srv.URL(), gitops.WithAuth(&githttp.BasicAuth{Username: "deployer", Password: "hunter2-wrong"})),
		"url userinfo": newRepo(t, srv.URLWithPassword("deployer", "hunter2-wrong")),
		"token":        newRepo(t, srv.URL(), gitops.WithAuth(&githttp.TokenAuth{Token: "hunter2-wrong"})),
		"none":         newRepo(t, srv.URL()),
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
			require.Error(t, err)
			assert.ErrorIs(t, err, gitops.ErrAuth)
			assert.NotContains(t, err.Error(), "hunter2")
			assert.NotContains(t, r.URL(), "hunter2")
			assert.Contains(t, err.Error(), srv.URL()[len("http://"):], "the error names the remote")
			assert.Equal(t, before, gitopstest.Head(t, dir))
		})
	}
}

func TestUnreachableRemote(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	before := gitopstest.Head(t, dir)
	srv := gitopstest.Serve(t, dir)
	srv.SetDelay(time.Hour)
	r := newRepo(t, srv.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := r.Apply(ctx, deploy("shop", "dev", digestA))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, gitops.ErrRemote, "a server that never answers is a remote problem")
	assert.NotErrorIs(t, err, gitops.ErrCache)
	var re *gitops.RemoteError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "push", re.Op, "the first exchange asks where the branch is")
	assert.Contains(t, err.Error(), srv.URL())
	assert.Contains(t, err.Error(), "no answer in time")
	assert.Contains(t, err.Error(), "allow more time", "the error says what to do")
	assert.Equal(t, before, gitopstest.Head(t, dir))

	// Nothing listens: connection refused, reported as ErrRemote.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	r2 := newRepo(t, "http://user:topsecret@"+addr+"/repo.git")
	_, err = r2.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrRemote)
	assert.NotContains(t, err.Error(), "topsecret")
	assert.Contains(t, err.Error(), addr)
}

func TestServerFailureIsNotRetriedAsConflict(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	r := newRepo(t, srv.URL())
	srv.FailNext(1, http.StatusInternalServerError)
	_, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrRemote)
	assert.False(t, errors.Is(err, gitops.ErrConflict))
	// The next call works: the failure was transient.
	res, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.NoError(t, err)
	assert.True(t, res.Changed)
}

func TestDryRunPushesNothing(t *testing.T) {
	t.Parallel()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	before := gitopstest.Head(t, dir)
	r := newRepo(t, gitopstest.FileURL(dir))
	ch := deploy("shop", "staging", digestA)
	ch.DryRun = true
	ch.Render = []string{"apps/shop/overlays/prod"}
	res, err := r.Apply(context.Background(), ch)
	require.NoError(t, err)
	assert.True(t, res.Changed)
	assert.False(t, res.Commit.IsZero())
	assert.Equal(t, before, gitopstest.Head(t, dir))
	assert.Equal(t, []string{"apps/shop/overlays/prod", "apps/shop/overlays/staging"}, res.Overlays)
	assert.Contains(t, res.Diff, "+++ b/apps/shop/overlays/staging")
	assert.NotContains(t, res.Diff, "+++ b/apps/shop/overlays/prod", "prod rendered the same")
}

// A dry run's objects stay readable, but an Apply that writes the same
// objects again must still push them: the remote never had them.
func TestApplyAfterIdenticalDryRunPushesItsObjects(t *testing.T) {
	t.Parallel()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	r := newRepo(t, gitopstest.FileURL(dir))
	ch := deploy("shop", "staging", digestA)
	ch.DryRun = true
	dry, err := r.Apply(context.Background(), ch)
	require.NoError(t, err)
	ch.DryRun = false
	res, err := r.Apply(context.Background(), ch)
	require.NoError(t, err)
	assert.Equal(t, dry.Tree, res.Tree)
	assert.Equal(t, res.Commit, gitopstest.Head(t, dir))
	out, err := exec.Command("git", "--git-dir", dir, "fsck", "--no-dangling").CombinedOutput()
	require.NoError(t, err, string(out))
}

func TestApplyToEmptyRemote(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, nil)
	r := newRepo(t, gitopstest.FileURL(dir))
	res, err := r.Apply(context.Background(), gitops.Change{Message: "bootstrap", Edits: []gitops.Edit{
		gitops.WriteFile{Path: "README.md", Data: []byte("gitops\n")},
	}})
	require.NoError(t, err)
	assert.True(t, res.Parent.IsZero())
	assert.Equal(t, res.Commit, gitopstest.Head(t, dir))
	assert.Equal(t, "gitops\n", gitopstest.ReadFile(t, dir, "README.md"))
}

func TestSignedCommit(t *testing.T) {
	t.Parallel()
	key, err := openpgp.NewEntity("flightdeck", "", "bot@example.com", nil)
	require.NoError(t, err)
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	r := newRepo(t, gitopstest.FileURL(dir), gitops.WithSignKey(key), gitops.WithAuthor("Deploy Bot", "bot@example.com"),
		gitops.WithCommitter("CI", "ci@example.com"), gitops.WithClock(clocktest.New(time.Unix(1700000000, 0))))
	_, err = r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.NoError(t, err)
	c := gitopstest.Log(t, dir)[0]
	require.NotEmpty(t, c.PGPSignature)
	var pub strings.Builder
	w, err := armorPublicKey(&pub, key)
	require.NoError(t, err)
	_ = w
	signer, err := c.Verify(pub.String())
	require.NoError(t, err)
	assert.Equal(t, key.PrimaryKey.KeyId, signer.PrimaryKey.KeyId)
	assert.Equal(t, "Deploy Bot", c.Author.Name)
	assert.Equal(t, "ci@example.com", c.Committer.Email)
	assert.Equal(t, int64(1700000000), c.Author.When.Unix())
}

func TestMetrics(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	reg := prometheus.NewPedanticRegistry()
	r := newRepo(t, gitopstest.FileURL(dir), gitops.WithRegisterer(reg))
	_, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.NoError(t, err)
	_, err = r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.NoError(t, err)
	_, err = r.Apply(context.Background(), gitops.Change{})
	require.Error(t, err)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP flightdeck_gitops_apply_total Changes applied to a GitOps repository, by result.
# TYPE flightdeck_gitops_apply_total counter
flightdeck_gitops_apply_total{result="committed"} 1
flightdeck_gitops_apply_total{result="dry_run"} 0
flightdeck_gitops_apply_total{result="error"} 1
flightdeck_gitops_apply_total{result="unchanged"} 1
`), "flightdeck_gitops_apply_total"))
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

func TestNewRejectsBadConfig(t *testing.T) {
	_, err := gitops.New("")
	assert.ErrorContains(t, err, "empty repository URL")
	_, err = gitops.New("https://u:pw@example.com/r.git", gitops.WithBranch("bad..name"))
	assert.ErrorContains(t, err, "invalid branch")
	assert.NotContains(t, err.Error(), ":pw@")
}

func TestCacheIsReused(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	cache := filepath.Join(t.TempDir(), "cache")
	r1, err := gitops.New(srv.URL(), gitops.WithCacheDir(cache))
	require.NoError(t, err)
	res, err := r1.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.NoError(t, err)
	require.NoError(t, r1.Close(), "Close writes the pushed commit to the cache")

	// A new Repo on the same cache (a restarted process) reads a known
	// commit without any request.
	r2, err := gitops.New(srv.URL(), gitops.WithCacheDir(cache))
	require.NoError(t, err)
	n := len(srv.Requests())
	out, err := r2.Render(context.Background(), res.Commit.String(), "apps/shop/overlays/dev")
	require.NoError(t, err)
	assert.Contains(t, string(out), digestA)
	assert.Len(t, srv.Requests(), n, "no network for a commit already in the cache")

	_, err = r2.Render(context.Background(), plumbing.NewHash("1234567890123456789012345678901234567890").String(), "apps/shop/overlays/dev")
	assert.ErrorIs(t, err, gitops.ErrNotExist)
}

func TestCredentialsNeverLogged(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir, gitopstest.WithBasicAuth("deployer", "right-password"))
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := newRepo(t, srv.URLWithPassword("deployer", "right-password"), gitops.WithLogger(logger))
	res, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.NoError(t, err, "credentials in the URL are used")
	require.True(t, res.Changed)
	assert.Contains(t, logs.String(), "pushed")
	assert.Contains(t, logs.String(), "deployer:xxxxx@")
	assert.NotContains(t, logs.String(), "right-password")
	assert.NotContains(t, r.URL(), "right-password")
	for _, c := range gitopstest.Log(t, dir) {
		assert.NotContains(t, c.Message, "right-password")
	}
}

// A password with characters that URLs escape is redacted in both forms.
func TestEscapedPasswordInURLNeverShown(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir, gitopstest.WithBasicAuth("deployer", "right-password"))
	var logs strings.Builder
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := newRepo(t, srv.URLWithPassword("deployer", "p%40ss%2Fw0rd"), gitops.WithLogger(logger))
	_, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.Error(t, err)
	assert.ErrorIs(t, err, gitops.ErrAuth)
	for _, s := range []string{err.Error(), logs.String(), r.URL()} {
		assert.NotContains(t, s, "p%40ss")
		assert.NotContains(t, s, "p@ss")
	}
}

// An SSH remote that cannot be reached is ErrRemote, names the host, and
// never shows the password of the URL or of the SSH auth method.
func TestUnreachableSSHRemote(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	for name, r := range map[string]*gitops.Repo{
		"url":  newRepo(t, "ssh://git:topsecret@"+addr+"/repo.git"),
		"auth": newRepo(t, "ssh://git@"+addr+"/repo.git", gitops.WithAuth(&gitssh.Password{User: "git", Password: "topsecret"})),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
			require.Error(t, err)
			assert.ErrorIs(t, err, gitops.ErrRemote)
			assert.Contains(t, err.Error(), addr)
			assert.NotContains(t, err.Error(), "topsecret")
			assert.NotContains(t, r.URL(), "topsecret")
		})
	}
}
