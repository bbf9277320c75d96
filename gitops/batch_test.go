package gitops_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// queuedCounter is a slog handler that counts the changes a Repo queued
// behind a push in progress and closes full once it has seen n.
type queuedCounter struct {
	mu   *sync.Mutex
	n    *int
	full chan struct{}
}

func newQueuedCounter(n int) *queuedCounter {
	c := &queuedCounter{mu: new(sync.Mutex), n: new(int), full: make(chan struct{})}
	*c.n = n
	return c
}

func (c *queuedCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *queuedCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *queuedCounter) WithGroup(string) slog.Handler            { return c }
func (c *queuedCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "change queued behind the push in progress" {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if *c.n--; *c.n == 0 {
		close(c.full)
	}
	return nil
}

// batchFixture holds the first push of a Repo on the wire until the
// changes submitted meanwhile have queued behind it, so that they go
// together in the next push.
type batchFixture struct {
	dir  string
	srv  *gitopstest.Server
	repo *gitops.Repo
}

func newBatchFixture(t *testing.T, apps int) *batchFixture {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout(appNames(apps)...))
	return &batchFixture{dir: dir, srv: gitopstest.Serve(t, dir)}
}

// run applies first, holds its push, submits the others concurrently,
// and returns every result in the order of changes (first is index 0).
func (f *batchFixture) run(t *testing.T, first gitops.Change, others []gitops.Change, ctxs []context.Context, whileHeld func()) ([]gitops.Result, []error) {
	counter := newQueuedCounter(len(others))
	f.repo = newRepo(t, f.srv.URL(), gitops.WithLogger(slog.New(counter)))
	_, err := f.repo.Fetch(context.Background())
	require.NoError(t, err)
	inPush, release := make(chan struct{}), make(chan struct{})
	f.srv.BeforeNextPush(func() { close(inPush); <-release })

	results := make([]gitops.Result, len(others)+1)
	errs := make([]error, len(others)+1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		results[0], errs[0] = f.repo.Apply(context.Background(), first)
	}()
	<-inPush
	for i, ch := range others {
		ctx := context.Background()
		if ctxs != nil && ctxs[i] != nil {
			ctx = ctxs[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i+1], errs[i+1] = f.repo.Apply(ctx, ch)
		}()
	}
	<-counter.full
	if whileHeld != nil {
		whileHeld()
	}
	close(release)
	wg.Wait()
	return results, errs
}

// Changes submitted to one Repo while a push is on the wire go together
// in the next push, each as its own commit with its own trailers; a
// change that fails or changes nothing leaves the chain and the others
// land.
func TestConcurrentChangesShareOnePush(t *testing.T) {
	f := newBatchFixture(t, 16)
	before := gitopstest.Head(t, f.dir)
	var others []gitops.Change
	for i := 1; i < 16; i++ {
		others = append(others, deploy(appNames(16)[i], "prod", digestN(i)))
	}
	others[4] = gitops.Change{ // app05: its overlay no longer renders
		Trailers: gitops.Trailers{App: "app05", Environment: "prod", Action: gitops.ActionDeploy},
		Edits:    []gitops.Edit{gitops.WriteFile{Path: "apps/app05/overlays/prod/kustomization.yaml", Data: []byte("resources:\n- ../../missing\n")}},
	}
	same := gitopstest.ReadFile(t, f.dir, "apps/app06/overlays/prod/kustomization.yaml")
	others[5] = gitops.Change{ // app06: nothing to change
		Trailers: gitops.Trailers{App: "app06"},
		Edits:    []gitops.Edit{gitops.WriteFile{Path: "apps/app06/overlays/prod/kustomization.yaml", Data: []byte(same)}},
	}
	results, errs := f.run(t, deploy("app00", "prod", digestN(100)), others, nil, nil)

	assert.Equal(t, 2, f.srv.Pushes(), "the first change, then the 15 queued behind it in one push")
	var re *gitops.RenderError
	require.ErrorAs(t, errs[5], &re)
	assert.Equal(t, "apps/app05/overlays/prod", re.Dir)
	require.NoError(t, errs[6])
	assert.False(t, results[6].Changed)

	log := gitopstest.Log(t, f.dir)
	require.Len(t, log, 1+14, "14 commits: 16 changes less the refused and the unchanged one")
	assert.Equal(t, before, log[14].Hash)
	byCommit := map[plumbing.Hash]int{}
	for i, c := range log[:14] {
		require.Len(t, c.ParentHashes, 1)
		assert.Equal(t, log[i+1].Hash, c.ParentHashes[0], "linear history")
		byCommit[c.Hash] = i
	}
	for i, res := range results {
		if i == 5 || i == 6 {
			continue
		}
		require.NoError(t, errs[i], i)
		app := appNames(16)[i]
		k, ok := byCommit[res.Commit]
		require.True(t, ok, "%s: its commit landed", app)
		assert.Equal(t, log[k+1].Hash, res.Parent, "%s: Parent is the commit below it", app)
		tr := trailersOf(t, log[k].Message)
		assert.Equal(t, app, tr.App, "each commit carries its own change's trailers")
		assert.Equal(t, res.Tree, log[k].TreeHash)
		assert.Contains(t, gitopstest.ReadFile(t, f.dir, "apps/"+app+"/overlays/prod/kustomization.yaml"), tr.Digest)
		assert.Equal(t, 1, res.Attempts)
	}
}

// When the push of a chain loses a race, the whole chain is built again
// on the new head and pushed once more.
func TestChainReplayedAfterLostRace(t *testing.T) {
	f := newBatchFixture(t, 8)
	var others []gitops.Change
	for i := 1; i < 8; i++ {
		others = append(others, deploy(appNames(8)[i], "dev", digestN(i)))
	}
	// While the first push is held, arm a competing commit for the second.
	results, errs := f.run(t, deploy("app00", "dev", digestA), others, nil, f.srv.RejectNextPush)
	for i := range errs {
		require.NoError(t, errs[i], i)
	}
	assert.Equal(t, 3, f.srv.Pushes(), "first change, the chain rejected, the chain replayed")
	log := gitopstest.Log(t, f.dir)
	require.Len(t, log, 1+1+1+7)
	assert.Equal(t, "competing commit\n", log[7].Message, "the competing commit sits below the replayed chain")
	for i, res := range results[1:] {
		assert.Equal(t, 2, res.Attempts, "%s was replayed", appNames(8)[i+1])
		assert.Contains(t, gitopstest.ReadFile(t, f.dir, "apps/"+appNames(8)[i+1]+"/overlays/dev/kustomization.yaml"), digestN(i+1))
	}
}

// A change whose context ends while it waits for its turn is never
// pushed; the others are.
func TestCancelledChangeLeavesTheQueue(t *testing.T) {
	f := newBatchFixture(t, 4)
	others := []gitops.Change{deploy("app01", "dev", digestA), deploy("app02", "dev", digestA), deploy("app03", "dev", digestA)}
	ctx, cancel := context.WithCancel(context.Background())
	results, errs := f.run(t, deploy("app00", "dev", digestA), others, []context.Context{nil, ctx, nil}, cancel)
	assert.ErrorIs(t, errs[2], context.Canceled)
	assert.True(t, results[2].Commit.IsZero())
	for _, i := range []int{0, 1, 3} {
		require.NoError(t, errs[i])
	}
	for _, c := range gitopstest.Log(t, f.dir) {
		tr, _ := gitops.ParseTrailers(c.Message)
		assert.NotEqual(t, "app02", tr.App, "the cancelled change never landed")
	}
	assert.NotContains(t, gitopstest.ReadFile(t, f.dir, "apps/app02/overlays/dev/kustomization.yaml"), digestA)
}

// Many goroutines sharing one Repo: every change lands exactly once, in
// fewer pushes than changes.
func TestManyGoroutinesOneRepo(t *testing.T) {
	t.Parallel()
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout(appNames(32)...))
	srv := gitopstest.Serve(t, dir)
	r := newRepo(t, srv.URL())
	var wg sync.WaitGroup
	errs := make([]error, 32)
	for i, app := range appNames(32) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = r.Apply(context.Background(), deploy(app, "staging", digestN(i+1)))
		}()
	}
	wg.Wait()
	for i := range errs {
		require.NoError(t, errs[i])
	}
	log := gitopstest.Log(t, dir)
	require.Len(t, log, 33)
	seen := map[string]int{}
	for _, c := range log[:32] {
		seen[trailersOf(t, c.Message).App]++
	}
	for _, app := range appNames(32) {
		assert.Equal(t, 1, seen[app], app)
	}
	assert.Less(t, srv.Pushes(), 32, "changes shared pushes")
	t.Logf("32 changes in %d pushes", srv.Pushes())
}

// Over file:// (and SSH) the pack goes to the server while the renders
// are checked; a change whose check fails ends the pack with a checksum
// that cannot match, so the server stores nothing and moves no ref.
func TestRefusedChangeLeavesNothingOnTheServer(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	count := func() string {
		out, err := exec.Command("git", "-C", dir, "count-objects", "-v").CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	before, objects := gitopstest.Head(t, dir), count()
	r := newRepo(t, gitopstest.FileURL(dir))
	_, err := r.Apply(context.Background(), gitops.Change{Edits: []gitops.Edit{
		gitops.WriteFile{Path: "apps/shop/overlays/dev/kustomization.yaml", Data: []byte("resources:\n- ../../missing\n")},
	}})
	require.ErrorIs(t, err, gitops.ErrRender)
	assert.Equal(t, before, gitopstest.Head(t, dir))
	assert.Equal(t, objects, count(), "the server kept none of the refused change's objects")

	// The Repo goes on: the next change lands.
	res, err := r.Apply(context.Background(), deploy("shop", "dev", digestA))
	require.NoError(t, err)
	assert.Equal(t, res.Commit, gitopstest.Head(t, dir))
}

// Changes given to ApplyAll together go in exactly one push, one commit
// each in order with its own trailers; one whose edit refuses and one
// that changes nothing answer alone and the others still go in that
// push; a dry run is applied on its own and pushes nothing.
func TestApplyAllIsOnePush(t *testing.T) {
	const n = 40
	apps := appNames(n)
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout(apps...))
	srv := gitopstest.Serve(t, dir)
	r := newRepo(t, srv.URL())
	before := gitopstest.Head(t, dir)
	var chs []gitops.Change
	for i, app := range apps {
		chs = append(chs, deploy(app, "prod", digestN(i+1)))
	}
	refused := errors.New("plan drifted")
	chs[7].Edits = append([]gitops.Edit{gitops.EditFunc(func(*gitops.Tree) error { return refused })}, chs[7].Edits...)
	same := gitopstest.ReadFile(t, dir, "apps/app08/overlays/prod/kustomization.yaml")
	chs[8] = gitops.Change{Trailers: gitops.Trailers{App: "app08"},
		Edits: []gitops.Edit{gitops.WriteFile{Path: "apps/app08/overlays/prod/kustomization.yaml", Data: []byte(same)}}}
	chs[9].DryRun = true

	results, errs := r.ApplyAll(context.Background(), chs)
	require.Len(t, results, n)
	require.Len(t, errs, n)

	assert.Equal(t, 1, srv.Pushes(), "every commit in one push")
	assert.ErrorIs(t, errs[7], refused, "the refused change answers with its own error")
	assert.True(t, results[7].Commit.IsZero())
	require.NoError(t, errs[8])
	assert.False(t, results[8].Changed)
	require.NoError(t, errs[9])
	assert.True(t, results[9].Changed, "the dry run computed its commit")
	log := gitopstest.Log(t, dir)
	require.Len(t, log, 1+n-3, "one commit per change less the refused, the unchanged and the dry run")
	assert.Equal(t, before, log[n-3].Hash)
	k := n - 4 // the oldest new commit
	for i, res := range results {
		if i >= 7 && i <= 9 {
			continue
		}
		require.NoError(t, errs[i], apps[i])
		require.Equal(t, log[k].Hash, res.Commit, "%s: commits in the order of the changes", apps[i])
		assert.Equal(t, log[k+1].Hash, res.Parent)
		assert.Equal(t, apps[i], trailersOf(t, log[k].Message).App, "each commit carries its own change's trailers")
		assert.Contains(t, gitopstest.ReadFile(t, dir, "apps/"+apps[i]+"/overlays/prod/kustomization.yaml"), digestN(i+1))
		k--
	}
	assert.NotContains(t, gitopstest.ReadFile(t, dir, "apps/app07/overlays/prod/kustomization.yaml"), digestN(8))
	assert.NotContains(t, gitopstest.ReadFile(t, dir, "apps/app09/overlays/prod/kustomization.yaml"), digestN(10))
}

// More changes than one push carries are split into as few pushes as
// the cap allows.
func TestApplyAllOverTheCapSplits(t *testing.T) {
	dir := gitopstest.NewBareRepo(t, gitopstest.KustomizeLayout("shop"))
	srv := gitopstest.Serve(t, dir)
	r := newRepo(t, srv.URL())
	chs := make([]gitops.Change, gitops.MaxBatch+1)
	for i := range chs {
		chs[i] = gitops.Change{Message: fmt.Sprintf("note %d", i),
			Edits: []gitops.Edit{gitops.WriteFile{Path: fmt.Sprintf("notes/%04d.txt", i), Data: []byte("x\n")}}}
	}
	_, errs := r.ApplyAll(context.Background(), chs)
	for i := range errs {
		require.NoError(t, errs[i], i)
	}
	assert.Equal(t, 2, srv.Pushes(), "a full push, then the one change left")
	assert.Len(t, gitopstest.Log(t, dir), 1+len(chs))
}

// ApplyAll under a cancelled context pushes nothing; changes whose
// context ends while they wait behind a push in progress leave the queue
// and are never pushed.
func TestApplyAllCancelled(t *testing.T) {
	f := newBatchFixture(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := gitopstest.Head(t, f.dir)
	f.repo = newRepo(t, f.srv.URL())
	_, errs := f.repo.ApplyAll(ctx, []gitops.Change{deploy("app01", "dev", digestA), deploy("app02", "dev", digestA)})
	for _, err := range errs {
		assert.ErrorIs(t, err, context.Canceled)
	}
	assert.Zero(t, f.srv.Pushes())
	assert.Equal(t, before, gitopstest.Head(t, f.dir))

	counter := newQueuedCounter(3)
	f.repo = newRepo(t, f.srv.URL(), gitops.WithLogger(slog.New(counter)))
	inPush, release := make(chan struct{}), make(chan struct{})
	f.srv.BeforeNextPush(func() { close(inPush); <-release })
	first := make(chan error, 1)
	go func() {
		_, err := f.repo.Apply(context.Background(), deploy("app00", "dev", digestA))
		first <- err
	}()
	<-inPush
	ctx, cancel = context.WithCancel(context.Background())
	all := make(chan []error, 1)
	go func() {
		_, errs := f.repo.ApplyAll(ctx, []gitops.Change{deploy("app01", "dev", digestA), deploy("app02", "dev", digestA), deploy("app03", "dev", digestA)})
		all <- errs
	}()
	<-counter.full
	cancel()
	errs = <-all
	close(release)
	require.NoError(t, <-first)
	for i, err := range errs {
		assert.ErrorIs(t, err, context.Canceled, i)
	}
	assert.Equal(t, 1, f.srv.Pushes(), "only the first change was pushed")
	log := gitopstest.Log(t, f.dir)
	require.Len(t, log, 2)
	assert.Equal(t, "app00", trailersOf(t, log[0].Message).App)
}
