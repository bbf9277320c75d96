package argocdv2_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/argoproj/argo-cd/v2/pkg/apiclient"
	"github.com/argoproj/argo-cd/v2/pkg/apis/application/v1alpha1"
	synccommon "github.com/argoproj/gitops-engine/pkg/sync/common"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/flightdeck-dev/flightdeck/clock"
	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/argocdv2test"
	"github.com/flightdeck-dev/flightdeck/contrib/argocdv2/internal/fixture"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/health"
)

var transports = []struct {
	name    string
	grpcWeb bool
}{{"grpc", false}, {"grpc-web", true}}

func TestSyncerSyncAndStatus(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			s, e := fixture.Start(t)
			c := dial(t, e, fixture.Token, tr.grpcWeb)

			st, err := c.AppStatus(t.Context(), "shop")
			require.NoError(t, err)
			assert.Equal(t, "shop", st.App)
			assert.Equal(t, gitops.SyncOutOfSync, st.SyncStatus)
			assert.Equal(t, "1111111", st.Revision)
			assert.Equal(t, health.Healthy, st.Health)
			assert.Nil(t, st.Operation)
			require.Len(t, st.History, 1)
			assert.True(t, st.History[0].DeployedAt.Equal(fixture.T0))
			require.Len(t, st.Resources, 1)
			assert.Equal(t, health.Progressing, st.Resources[0].Health)
			assert.Equal(t, "rollout", st.Resources[0].HealthMessage)

			require.NoError(t, c.Sync(t.Context(), gitops.SyncRequest{
				App: "shop", Revision: "2222222", Prune: true,
				Resources: []gitops.ResourceRef{{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "shop"}},
				Retry:     &gitops.SyncRetry{Limit: 2, Backoff: 5 * time.Second, Factor: 2, MaxBackoff: time.Minute},
			}))
			a, _ := s.App("shop")
			require.NotNil(t, a.Operation)
			assert.Equal(t, "2222222", a.Operation.Sync.Revision)
			assert.True(t, a.Operation.Sync.Prune)
			assert.False(t, a.Operation.Sync.DryRun)
			assert.Equal(t, []v1alpha1.SyncOperationResource{{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "shop"}}, a.Operation.Sync.Resources)
			assert.Equal(t, "5s", a.Operation.Retry.Backoff.Duration)
			assert.Equal(t, "1m0s", a.Operation.Retry.Backoff.MaxDuration)

			st, err = c.AppStatus(t.Context(), "shop")
			require.NoError(t, err)
			require.NotNil(t, st.Operation)
			assert.Equal(t, gitops.OpRunning, st.Operation.Phase, "requested but not started reads as running")
			assert.Equal(t, "2222222", st.Operation.Revision)

			require.NoError(t, s.FinishOperation("shop", argocdv2test.Result{Health: "Degraded", HealthMessage: "pods crash"}))
			st, err = c.AppStatus(t.Context(), "shop")
			require.NoError(t, err)
			assert.Equal(t, gitops.OpSucceeded, st.Operation.Phase)
			assert.True(t, st.Operation.FinishedAt.Equal(fixture.T0))
			assert.Equal(t, gitops.SyncSynced, st.SyncStatus)
			assert.Equal(t, "2222222", st.Revision)
			assert.Equal(t, health.Degraded, st.Health)
			assert.Equal(t, "pods crash", st.HealthMessage)
			assert.True(t, st.ReconciledAt.Equal(fixture.T0))
			require.Len(t, st.History, 2)
			assert.Equal(t, int64(1), st.History[1].ID)

			for _, call := range s.Calls() {
				assert.Equal(t, tr.name, call.Via, "%s went by the wrong transport", call.Method)
			}
		})
	}
}

func TestSyncerRollbackRefreshTerminate(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			s, e := fixture.Start(t, argocdv2test.WithClock(clock.System()))
			c := dial(t, e, fixture.Token, tr.grpcWeb)

			before := time.Now()
			require.NoError(t, c.Refresh(t.Context(), "shop"))
			a, _ := s.App("shop")
			require.NotNil(t, a.Status.ReconciledAt)
			assert.False(t, a.Status.ReconciledAt.Time.Before(before.Truncate(time.Second)))

			require.NoError(t, c.Rollback(t.Context(), "shop", 0, argocd.RollbackOptions{DryRun: true}))
			a, _ = s.App("shop")
			require.NotNil(t, a.Operation)
			assert.Equal(t, "1111111", a.Operation.Sync.Revision)
			assert.True(t, a.Operation.Sync.DryRun)

			require.NoError(t, s.StartOperation("shop"))
			require.NoError(t, c.TerminateOperation(t.Context(), "shop"))
			a, _ = s.App("shop")
			assert.Equal(t, synccommon.OperationTerminating, a.Status.OperationState.Phase)

			err := c.Rollback(t.Context(), "shop", 0, argocd.RollbackOptions{})
			var ae *argocd.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, int(codes.FailedPrecondition), ae.Code, "the terminating operation is still in progress")
			assert.ErrorIs(t, err, argocd.ErrOperationInProgress)
			require.NoError(t, s.FinishOperation("shop", argocdv2test.Result{}))

			err = c.Rollback(t.Context(), "shop", 7, argocd.RollbackOptions{})
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, int(codes.InvalidArgument), ae.Code)
			assert.Equal(t, 400, ae.StatusCode)
			assert.Contains(t, ae.Message, "does not have deployment with id 7")
			assert.NoError(t, errors.Unwrap(err), "no sentinel applies")

			err = c.TerminateOperation(t.Context(), "shop")
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, int(codes.InvalidArgument), ae.Code)
		})
	}
}

func TestSyncerErrorSentinels(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			s, e := fixture.Start(t)
			fixture.PutRefusing(t, s)
			admin := dial(t, e, fixture.Token, tr.grpcWeb)
			tests := []struct {
				name     string
				call     func(ctx context.Context) error
				sentinel error
				code     codes.Code
				msg      string
			}{
				{"wrong token", func(ctx context.Context) error {
					return dial(t, e, "wrong-token", tr.grpcWeb).Sync(ctx, gitops.SyncRequest{App: "shop"})
				}, argocd.ErrUnauthenticated, codes.Unauthenticated, "invalid session: token signature is invalid"},
				{"read-only token", func(ctx context.Context) error {
					return dial(t, e, fixture.ReadOnlyToken, tr.grpcWeb).Sync(ctx, gitops.SyncRequest{App: "shop"})
				}, argocd.ErrPermissionDenied, codes.PermissionDenied, "permission denied: applications, sync, shop"},
				{"unknown app", func(ctx context.Context) error { _, err := admin.AppStatus(ctx, "nope"); return err },
					argocd.ErrPermissionDenied, codes.PermissionDenied, "permission denied"},
				{"unknown app in a named project", func(ctx context.Context) error {
					_, err := dial(t, e, fixture.Token, tr.grpcWeb, argocdv2.WithProject("default")).AppStatus(ctx, "nope")
					return err
				}, argocd.ErrNotFound, codes.NotFound, `applications.argoproj.io "nope" not found`},
				{"sync window", func(ctx context.Context) error { return admin.Sync(ctx, gitops.SyncRequest{App: "windowed"}) },
					argocd.ErrSyncWindow, codes.PermissionDenied, "cannot sync: blocked by sync window"},
				{"operation in progress", func(ctx context.Context) error { return admin.Sync(ctx, gitops.SyncRequest{App: "busy"}) },
					argocd.ErrOperationInProgress, codes.FailedPrecondition, "error setting app operation: rpc error: code = FailedPrecondition desc = another operation is already in progress"},
				{"auto-sync revision", func(ctx context.Context) error {
					return admin.Sync(ctx, gitops.SyncRequest{App: "auto", Revision: "abc"})
				}, argocd.ErrAutoSyncRevision, codes.FailedPrecondition, "Cannot sync to abc: auto-sync currently set to main"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					err := tt.call(t.Context())
					require.ErrorIs(t, err, tt.sentinel)
					var ae *argocd.APIError
					require.ErrorAs(t, err, &ae)
					assert.Equal(t, int(tt.code), ae.Code)
					assert.Equal(t, tt.msg, ae.Message)
					assert.NotContains(t, err.Error(), fixture.Token)
					assert.NotContains(t, err.Error(), "wrong-token")
				})
			}
		})
	}
}

func TestSyncerBadInputs(t *testing.T) {
	_, e := fixture.Start(t)
	c := dial(t, e, fixture.Token, false)
	ctx := t.Context()
	assert.ErrorContains(t, c.Sync(ctx, gitops.SyncRequest{}), "application name is required")
	_, err := c.AppStatus(ctx, "")
	assert.ErrorContains(t, err, "application name is required")
	_, err = c.Get(ctx, "shop", "sometimes")
	assert.ErrorContains(t, err, `unknown refresh mode "sometimes"`)
	assert.ErrorContains(t, c.Rollback(ctx, "", 1, argocd.RollbackOptions{}), "application name is required")
	assert.ErrorContains(t, c.TerminateOperation(ctx, ""), "application name is required")

	for name, co := range map[string]apiclient.ClientOptions{
		"no address":   {AuthToken: fixture.Token},
		"URL":          {ServerAddr: "https://argocd.example.com", AuthToken: fixture.Token},
		"credentials":  {ServerAddr: "admin:hunter2@argocd.example.com:443"},
		"scheme creds": {ServerAddr: "https://admin:hunter2@argocd.example.com"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := argocdv2.New(ctx, co)
			require.ErrorIs(t, err, argocdv2.ErrInvalidOptions)
			assert.NotContains(t, err.Error(), "hunter2")
			assert.NotContains(t, err.Error(), fixture.Token)
		})
	}
}

func TestSyncerServerDown(t *testing.T) {
	_, e := fixture.Start(t)
	require.NoError(t, e.Close())
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	_, err := argocdv2.New(ctx, apiclient.ClientOptions{ServerAddr: e.Addr, AuthToken: fixture.Token, PlainText: true})
	require.Error(t, err, "plain gRPC dials at once and fails")
	assert.Contains(t, err.Error(), e.Addr)
	assert.NotContains(t, err.Error(), fixture.Token)

	// gRPC-web dials the client's local proxy, so the failure shows on the
	// first call.
	c, err := argocdv2.New(ctx, apiclient.ClientOptions{ServerAddr: e.Addr, AuthToken: fixture.Token, PlainText: true, GRPCWeb: true})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.AppStatus(ctx, "shop")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connection refused")
	assert.NotContains(t, err.Error(), fixture.Token)
	assert.NoError(t, ctx.Err(), "the failure came before the deadline")
}

func TestSyncerContext(t *testing.T) {
	_, e := fixture.Start(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := argocdv2.New(ctx, apiclient.ClientOptions{ServerAddr: e.Addr, AuthToken: fixture.Token, PlainText: true})
	require.ErrorIs(t, err, context.Canceled)

	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			c := dial(t, e, fixture.Token, tr.grpcWeb)
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			_, err := c.AppStatus(ctx, "shop")
			require.ErrorIs(t, err, context.Canceled)
			assert.Contains(t, err.Error(), `get app "shop"`)
		})
	}
}

func TestSyncerRetriesUnavailable(t *testing.T) {
	s, e := fixture.Start(t)
	c := dial(t, e, fixture.Token, false, argocdv2.WithRetry(2, time.Millisecond, time.Millisecond))
	s.FailNext("Get", status.Error(codes.Unavailable, "etcd is down"))
	st, err := c.AppStatus(t.Context(), "shop")
	require.NoError(t, err, "one Unavailable is retried")
	assert.Equal(t, "shop", st.App)
	assert.Len(t, s.Calls(), 2)

	for range 3 { // one more than the retries
		s.FailNext("Sync", status.Error(codes.Unavailable, "etcd is down"))
	}
	err = c.Sync(t.Context(), gitops.SyncRequest{App: "shop"})
	require.ErrorIs(t, err, argocd.ErrUnavailable)
	var ae *argocd.APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 503, ae.StatusCode)
	assert.Equal(t, "etcd is down", ae.Message)
	assert.Len(t, s.Calls(), 5)

	s.FailNext("Get", status.Error(codes.Internal, "boom"))
	_, err = c.AppStatus(t.Context(), "shop")
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, int(codes.Internal), ae.Code, "other codes are not retried")
	assert.Len(t, s.Calls(), 6)
}

// signal is an io.Writer that closes ch on its first write.
type signal struct {
	once sync.Once
	ch   chan struct{}
}

func (s *signal) Write(p []byte) (int, error) {
	s.once.Do(func() { close(s.ch) })
	return len(p), nil
}

func TestSyncerRetryWaitEndsWithTheContext(t *testing.T) {
	s, e := fixture.Start(t)
	waiting := &signal{ch: make(chan struct{})}
	log := slog.New(slog.NewTextHandler(waiting, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c := dial(t, e, fixture.Token, false, argocdv2.WithRetry(5, time.Hour, time.Hour), argocdv2.WithLogger(log))
	s.FailNext("Get", status.Error(codes.Unavailable, "etcd is down"))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := c.AppStatus(ctx, "shop"); done <- err }()
	<-waiting.ch // the Syncer logged the retry and waits out an hour of back-off
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, argocd.ErrUnavailable, "the last refusal is kept")
	assert.Contains(t, err.Error(), "etcd is down")
	assert.Len(t, s.Calls(), 1, "a cancelled context is never retried")
}

func TestClassify(t *testing.T) {
	assert.Nil(t, argocdv2.Classify(codes.FailedPrecondition, "application is deleting"))
	assert.Nil(t, argocdv2.Classify(codes.Internal, "boom"))
	assert.Nil(t, argocdv2.Classify(codes.ResourceExhausted, "rate limited"))
	assert.ErrorIs(t, argocdv2.Classify(codes.ResourceExhausted, "grpc: received message larger than max (900 vs. 64)"), argocd.ErrResponseTooLarge)
	assert.ErrorIs(t, argocdv2.Classify(codes.NotFound, "x"), gitops.ErrAppNotFound)
	assert.ErrorIs(t, argocdv2.Classify(codes.Unauthenticated, "x"), gitops.ErrAccessDenied)
	assert.ErrorIs(t, argocdv2.Classify(codes.PermissionDenied, "cannot sync: invalid sync window: bad cron"), argocd.ErrSyncWindow)
	assert.ErrorIs(t, argocdv2.Classify(codes.Unavailable, "x"), argocd.ErrUnavailable)
}

func TestToAppStatusDefaults(t *testing.T) {
	st := argocdv2.ToAppStatus(&v1alpha1.Application{ObjectMeta: metav1.ObjectMeta{Name: "empty"}})
	assert.Equal(t, gitops.SyncUnknown, st.SyncStatus)
	assert.Equal(t, health.Unknown, st.Health)
	assert.Nil(t, st.Operation)

	now := metav1.NewTime(fixture.T0)
	old := &v1alpha1.Application{
		ObjectMeta: metav1.ObjectMeta{Name: "shop"},
		Operation:  &v1alpha1.Operation{Sync: &v1alpha1.SyncOperation{Revision: "new"}},
		Status: v1alpha1.ApplicationStatus{OperationState: &v1alpha1.OperationState{
			Phase: synccommon.OperationSucceeded, FinishedAt: &now,
			Operation: v1alpha1.Operation{Sync: &v1alpha1.SyncOperation{Revision: "old"}},
		}},
	}
	st = argocdv2.ToAppStatus(old)
	require.NotNil(t, st.Operation)
	assert.Equal(t, gitops.OpRunning, st.Operation.Phase, "an old finished state never stands for a new request")
	assert.Equal(t, "new", st.Operation.Revision)
}

func TestSyncerNewGivesUpWithTheContext(t *testing.T) {
	// A server that accepts connections and never answers: apiclient's dial
	// has no deadline of its own, New must still return at ctx's deadline.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err = argocdv2.New(ctx, apiclient.ClientOptions{ServerAddr: ln.Addr().String(), AuthToken: fixture.Token, PlainText: true})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), ln.Addr().String())
	assert.NotContains(t, err.Error(), fixture.Token)
}

func TestSyncerBoundsWhatItReceives(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			_, e := fixture.Start(t)
			c := dial(t, e, fixture.Token, tr.grpcWeb, argocdv2.WithMaxResponseBytes(64))
			_, err := c.AppStatus(t.Context(), "shop")
			require.ErrorIs(t, err, argocd.ErrResponseTooLarge)
			var ae *argocd.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, int(codes.ResourceExhausted), ae.Code)
			assert.Contains(t, ae.Message, "larger than max")

			big := dial(t, e, fixture.Token, tr.grpcWeb)
			_, err = big.AppStatus(t.Context(), "shop")
			require.NoError(t, err, "the default limit holds an application")
		})
	}
}

func TestSyncerScrubsTheToken(t *testing.T) {
	s, e := fixture.Start(t)
	logs := &strings.Builder{}
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := dial(t, e, fixture.Token, false, argocdv2.WithLogger(log), argocdv2.WithRetry(1, time.Millisecond, time.Millisecond))
	s.FailNext("Get", status.Error(codes.Unavailable, "no route for token "+fixture.Token))
	s.FailNext("Get", status.Error(codes.Unauthenticated, "invalid session: "+fixture.Token))
	_, err := c.AppStatus(t.Context(), "shop")
	require.ErrorIs(t, err, argocd.ErrUnauthenticated)
	require.ErrorIs(t, err, gitops.ErrAccessDenied)
	assert.ErrorContains(t, err, "invalid session: xxxxx")
	assert.NotContains(t, err.Error(), fixture.Token)
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, logs.String(), "no route for token xxxxx")
	assert.NotContains(t, logs.String(), fixture.Token)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestSyncerRetryBackoffOnItsClock(t *testing.T) {
	s, e := fixture.Start(t)
	clk := clocktest.NewAuto(time.Time{})
	c := dial(t, e, fixture.Token, false, argocdv2.WithClock(clk), argocdv2.WithRetry(2, time.Minute, time.Minute))
	s.FailNext("Get", status.Error(codes.Unavailable, "etcd is down"))
	s.FailNext("Get", status.Error(codes.Unavailable, "etcd is down"))
	_, err := c.AppStatus(t.Context(), "shop")
	require.NoError(t, err, "two minutes of back-off passed on the fake clock at once")
	waits := clk.Waits()
	require.Len(t, waits, 2)
	for _, w := range waits {
		assert.GreaterOrEqual(t, w, time.Minute)
		assert.LessOrEqual(t, w, time.Minute+time.Minute/5)
	}
}

func TestSyncerRetryWaitErrorIsOneLine(t *testing.T) {
	s, e := fixture.Start(t)
	clk := clocktest.New(time.Time{})
	c := dial(t, e, fixture.Token, false, argocdv2.WithClock(clk), argocdv2.WithRetry(2, time.Minute, time.Minute))
	s.FailNext("Get", status.Error(codes.Unavailable, "etcd is down"))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := c.AppStatus(ctx, "shop"); done <- err }()
	require.NoError(t, clk.WaitForTimers(t.Context(), 1))
	cancel()
	err := <-done
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, err, argocd.ErrUnavailable)
	assert.EqualError(t, err, `argocdv2: get app "shop": context canceled while retrying; last attempt: etcd is down (HTTP 503, code 14)`)
}
