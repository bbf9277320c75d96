package argocdtest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd/argocdtest"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// TestHTTPStatus checks every gRPC code against grpc-gateway v1's
// HTTPStatusFromCode, which Argo CD v2's REST gateway uses.
func TestHTTPStatus(t *testing.T) {
	want := map[argocdtest.Code]int{
		argocdtest.CodeOK: 200, argocdtest.CodeCanceled: 408, argocdtest.CodeUnknown: 500,
		argocdtest.CodeInvalidArgument: 400, argocdtest.CodeDeadlineExceeded: 504, argocdtest.CodeNotFound: 404,
		argocdtest.CodeAlreadyExists: 409, argocdtest.CodePermissionDenied: 403, argocdtest.CodeResourceExhausted: 429,
		argocdtest.CodeFailedPrecondition: 400, argocdtest.CodeAborted: 409, argocdtest.CodeOutOfRange: 400,
		argocdtest.CodeUnimplemented: 501, argocdtest.CodeInternal: 500, argocdtest.CodeUnavailable: 503,
		argocdtest.CodeDataLoss: 500, argocdtest.CodeUnauthenticated: 401, argocdtest.Code(99): 500,
	}
	for code, status := range want {
		assert.Equal(t, status, argocdtest.HTTPStatus(code), "code %d", code)
	}
	assert.Equal(t, 5, int(argocdtest.CodeNotFound), "the values of grpc/codes")
	assert.Equal(t, 16, int(argocdtest.CodeUnauthenticated))
}

func TestRefusalsOnTheWire(t *testing.T) {
	srv, _ := start(t)
	for code := argocdtest.CodeCanceled; code <= argocdtest.CodeUnauthenticated; code++ {
		srv.RefuseNext(code, "refused")
		status, out := call(t, srv, "GET", "/api/v1/applications/shop", "")
		assert.Equal(t, argocdtest.HTTPStatus(code), status, "code %d", code)
		assert.Equal(t, map[string]any{"error": "refused", "code": float64(code), "message": "refused"}, out)
	}
	for status, code := range map[int]argocdtest.Code{400: 3, 401: 16, 403: 7, 404: 5, 408: 1, 409: 6, 429: 8, 500: 2, 501: 12, 418: 2} {
		srv.FailNext(status)
		got, out := call(t, srv, "GET", "/api/v1/applications/shop", "")
		assert.Equal(t, status, got)
		assert.Equal(t, float64(code), out["code"], "HTTP %d", status)
	}
	status, _ := call(t, srv, "GET", "/api/v1/applications/shop", "")
	assert.Equal(t, 200, status, "each fault is used once")
}

func TestAccessFaults(t *testing.T) {
	t.Run("deny access", func(t *testing.T) {
		srv, _ := start(t)
		srv.DenyAccess(true)
		status, out := call(t, srv, "GET", "/api/v1/applications/shop", "")
		assert.Equal(t, 403, status)
		assert.Equal(t, float64(7), out["code"])
		assert.Equal(t, "permission denied: applications, get, default/shop, sub: admin", out["message"])
		status, out = call(t, srv, "POST", "/api/v1/applications/shop/sync", `{}`)
		assert.Equal(t, 403, status)
		assert.Equal(t, "permission denied: applications, sync, default/shop, sub: admin", out["message"])
		status, _ = call(t, srv, "GET", "/api/v1/applications", "")
		assert.Equal(t, 200, status, "the list names no application")
		srv.DenyAccess(false)
		status, _ = call(t, srv, "GET", "/api/v1/applications/shop", "")
		assert.Equal(t, 200, status)
	})
	t.Run("revoked token", func(t *testing.T) {
		srv, _ := start(t)
		srv.RevokeToken()
		status, out := call(t, srv, "GET", "/api/v1/applications/shop", "")
		assert.Equal(t, 401, status)
		assert.Equal(t, float64(16), out["code"])
		assert.Equal(t, "invalid session: token is revoked, please re-login", out["message"])
	})
	t.Run("deleted app", func(t *testing.T) {
		srv, _ := start(t)
		require.NoError(t, srv.DeleteApp("shop"))
		status, out := call(t, srv, "GET", "/api/v1/applications/shop", "")
		assert.Equal(t, 404, status)
		assert.Equal(t, `applications.argoproj.io "shop" not found`, out["message"])
		_, ok := srv.Application(context.Background(), "shop")
		assert.False(t, ok)
		assert.ErrorContains(t, srv.DeleteApp("shop"), `DeleteApp "shop": no such application`)
	})
}

// TestOneClock lets one clocktest.Clock drive the simulated cluster, the
// fake Argo CD, the client's retry back-off and gitops.WaitFor: a healthy
// release, then one whose pods never become ready, which ends the wait
// with ErrDegraded at the Deployment's progress deadline.
func TestOneClock(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := clocktest.New(t0)
	cluster := sim.New(clk)
	cluster.SetBehavior(gitopstest.Image("shop")+":2.0.0", sim.Behavior{NeverReady: true})
	srv, err := argocdtest.New(argocdtest.WithClock(clk), argocdtest.WithCluster(cluster))
	require.NoError(t, err)
	defer srv.Close()
	require.Same(t, clk, srv.Clock())
	files := gitopstest.KustomizeLayout("shop")
	repo := gitopstest.NewBareRepo(t, files)
	ctx := context.Background()
	require.NoError(t, srv.AddApp(ctx, argocdtest.App{Name: "shop", RepoURL: gitopstest.FileURL(repo), Path: "apps/shop/overlays/dev"}))
	client, err := srv.Client(argocd.WithClock(clk), argocd.WithRetry(2, time.Second, time.Second))
	require.NoError(t, err)

	// deploy syncs and waits, moving the clock whenever every party is
	// waiting on it: the waiter's deadline, and its next poll or the
	// client's back-off. A wait that ended before its timeout leaves its
	// deadline pending on the clock (a clock.Clock timer cannot be
	// stopped), so the timers are counted from those already there.
	deploy := func(faults ...int) (time.Duration, gitops.AppStatus, error) {
		t.Helper()
		start := clk.Now()
		require.NoError(t, client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
		srv.FailNext(faults...)
		hang, cancel := context.WithTimeout(ctx, 30*time.Second) // hang guard only
		defer cancel()
		st, err := clocktest.Drive(hang, clk, clk.Pending()+2, func(ctx context.Context) (gitops.AppStatus, error) {
			return gitops.WaitFor(ctx, client, gitops.WaitOptions{
				App: "shop", Clock: clk, Timeout: 30 * time.Minute, PollInterval: 5 * time.Second, StableFor: 30 * time.Second,
			})
		})
		return clk.Now().Sub(start), st, err
	}

	took, st, err := deploy(503) // the first status read meets a proxy's 503: the client backs off on clk
	require.NoError(t, err)
	assert.Equal(t, health.Healthy, st.Health)
	assert.GreaterOrEqual(t, took, sim.DefaultBehavior.ReadyAfter+30*time.Second, "the pods' readiness on clk, then the stability window on clk")
	assert.Less(t, took, time.Minute)
	var backoff, polls, deadlines int
	for _, d := range clk.Waits() {
		switch {
		case d >= time.Second && d <= 1200*time.Millisecond:
			backoff++
		case d == 5*time.Second:
			polls++
		case d == 30*time.Minute:
			deadlines++
		}
	}
	assert.Equal(t, 1, backoff, "the client's retry waited on clk")
	assert.Equal(t, 1, deadlines)
	assert.GreaterOrEqual(t, polls, 7)
	tree, err := client.ResourceTree(ctx, "shop")
	require.NoError(t, err)
	for _, n := range tree.Nodes {
		require.NotNil(t, n.CreatedAt, n.Kind)
		assert.True(t, n.CreatedAt.Equal(t0), "%s created by the sync at t0 on clk", n.Kind)
	}

	overlay := "apps/shop/overlays/dev/kustomization.yaml"
	broken := strings.Replace(files[overlay], "newTag: 1.0.0", "newTag: 2.0.0", 1)
	gitopstest.Commit(t, repo, gitopstest.Files{overlay: broken}, nil, "release 2.0.0")
	require.NoError(t, client.Refresh(ctx, "shop"))
	took, st, err = deploy()
	require.ErrorIs(t, err, gitops.ErrDegraded)
	assert.ErrorContains(t, err, `health Degraded: Deployment "shop" exceeded its progress deadline`)
	assert.Equal(t, health.Degraded, st.Health)
	assert.GreaterOrEqual(t, took, 10*time.Minute, "the progress deadline passed on clk")
	assert.Less(t, took, 10*time.Minute+10*time.Second, "the first Degraded poll ended the wait, not its 30-minute timeout")
}
