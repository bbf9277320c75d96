package argocd_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
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

const token = "s3cret-token-0123456789"

// calls lists every call of the client that talks to the API, so that a
// property can be checked on each.
var calls = []struct {
	name string
	call func(ctx context.Context, c *argocd.Client) error
}{
	{"get", func(ctx context.Context, c *argocd.Client) error { _, err := c.Get(ctx, "shop", ""); return err }},
	{"status", func(ctx context.Context, c *argocd.Client) error { _, err := c.AppStatus(ctx, "shop"); return err }},
	{"refresh", func(ctx context.Context, c *argocd.Client) error { return c.Refresh(ctx, "shop") }},
	{"sync", func(ctx context.Context, c *argocd.Client) error { return c.Sync(ctx, gitops.SyncRequest{App: "shop"}) }},
	{"rollback", func(ctx context.Context, c *argocd.Client) error {
		return c.Rollback(ctx, "shop", 0, argocd.RollbackOptions{})
	}},
	{"resource tree", func(ctx context.Context, c *argocd.Client) error { _, err := c.ResourceTree(ctx, "shop"); return err }},
	{"terminate", func(ctx context.Context, c *argocd.Client) error { return c.TerminateOperation(ctx, "shop") }},
	{"watch", func(ctx context.Context, c *argocd.Client) error {
		return c.Watch(ctx, "shop", func(argocd.WatchEvent) error { return argocd.ErrStopWatch })
	}},
}

// recorder is an httptest server that counts requests and remembers
// whether any carried a token.
type recorder struct {
	*httptest.Server
	requests atomic.Int32
	tokens   atomic.Int32
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if req.Header.Get("Authorization") != "" {
			r.tokens.Add(1)
		}
		h(w, req)
	}))
	t.Cleanup(r.Close)
	return r
}

func newClient(t *testing.T, url string, opts ...argocd.Option) (*argocd.Client, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := argocd.New(url, token, append([]argocd.Option{argocd.WithLogger(logger), argocd.WithRetry(2, time.Millisecond, time.Millisecond), argocd.WithPollInterval(time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	return c, logs
}

// assertClean checks the rules every error of the client follows: one
// line, one "argocd: " prefix, and no token.
func assertClean(t *testing.T, err error, logs *syncBuffer) {
	t.Helper()
	require.Error(t, err)
	msg := err.Error()
	assert.NotContains(t, msg, "\n", "one line")
	assert.Equal(t, 1, strings.Count(msg, "argocd: "), "no stuttering prefix in %q", msg)
	assert.NotContains(t, msg, token)
	if logs != nil {
		assert.NotContains(t, logs.String(), token)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	// Whatever the redirect points at answers 200 with an application, on
	// the same host but another port: following it would report success
	// and hand it the token.
	target := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"metadata":{"name":"shop"}}`+"\n")
	})
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, tc := range calls {
			t.Run(fmt.Sprintf("%d/%s", status, tc.name), func(t *testing.T) {
				front := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, target.URL+"/login?state="+token+"#frag", status)
				})
				c, logs := newClient(t, front.URL)
				before := target.requests.Load()
				err := tc.call(context.Background(), c)
				require.ErrorIs(t, err, argocd.ErrBadResponse)
				var ae *argocd.APIError
				require.ErrorAs(t, err, &ae)
				assert.Equal(t, status, ae.StatusCode)
				assert.Contains(t, ae.Message, "redirected to "+target.URL+"/login;")
				assert.Contains(t, ae.Message, "check the server URL")
				assert.Equal(t, before, target.requests.Load(), "the redirect target is never asked")
				assert.Zero(t, target.tokens.Load(), "the token never leaves the server's origin")
				assert.Equal(t, int32(1), front.requests.Load(), "a redirect is not retried")
				assertClean(t, err, logs)
			})
		}
	}
}

func TestSuccessThatIsNotTheAPIsAnswer(t *testing.T) {
	bodies := []struct {
		name, contentType, body, want string
	}{
		{"login page", "text/html; charset=utf-8", "<!DOCTYPE html><html><head><title>\n  Sign in \u2013 SSO\n</title></head><body><form>...</form></body></html>", `HTML page "Sign in – SSO"`},
		{"untitled page", "text/html", "<html><body><h1>Welcome <b>back</b></h1></body></html>", `HTML page "Welcome back"`},
		{"plain text", "text/plain", "OK\nmore", "OK"},
		{"empty", "application/json", "", "empty body"},
		{"token echoed", "text/plain", "hello " + token, "hello xxxxx"},
	}
	for _, b := range bodies {
		for _, tc := range calls[:len(calls)-1] { // Watch's stream has its own test
			t.Run(b.name+"/"+tc.name, func(t *testing.T) {
				srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", b.contentType)
					_, _ = io.WriteString(w, b.body)
				})
				c, logs := newClient(t, srv.URL)
				err := tc.call(context.Background(), c)
				require.ErrorIs(t, err, argocd.ErrBadResponse)
				assert.ErrorContains(t, err, "answer is not JSON: "+b.want)
				assertClean(t, err, logs)
			})
		}
	}
	t.Run("another application", func(t *testing.T) {
		srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"metadata":{"name":"checkout"}}`)
		})
		c, _ := newClient(t, srv.URL)
		for _, tc := range calls[:5] { // the calls answered with the Application
			err := tc.call(context.Background(), c)
			require.ErrorIs(t, err, argocd.ErrBadResponse, tc.name)
			assert.ErrorContains(t, err, `answer is application "checkout"`, tc.name)
		}
	})
}

// endless answers 200 with a JSON prefix and then filler until the client
// hangs up or size bytes are written, and reports how many bytes it
// managed to write.
func endless(prefix string, size, contentLength int64, written chan<- int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentLength > 0 {
			w.Header().Set("Content-Length", fmt.Sprint(contentLength))
		}
		w.Header().Set("Content-Type", "application/json")
		n, _ := io.WriteString(w, prefix)
		total := int64(n)
		chunk := []byte(strings.Repeat("a", 64<<10))
		for total < size {
			n, err := w.Write(chunk)
			total += int64(n)
			if err != nil {
				break
			}
		}
		written <- total
	}
}

func TestBoundedReads(t *testing.T) {
	const limit = 1 << 20
	t.Run("body", func(t *testing.T) {
		written := make(chan int64, 1)
		srv := newRecorder(t, endless(`{"metadata":{"name":"shop"},"filler":"`, 1<<30, 0, written))
		c, _ := newClient(t, srv.URL, argocd.WithMaxResponseBytes(limit))
		_, err := c.Get(context.Background(), "shop", "")
		require.ErrorIs(t, err, argocd.ErrResponseTooLarge)
		assert.EqualError(t, err, `argocd: get app "shop": response too large: more than 1048576 bytes; raise the limit with WithMaxResponseBytes`)
		srv.CloseClientConnections()
		assert.Less(t, <-written, int64(64<<20), "the client stopped reading near the limit, not at the server's 1 GiB")
	})
	t.Run("declared length", func(t *testing.T) {
		written := make(chan int64, 1)
		srv := newRecorder(t, endless(`{"metadata":{"name":"shop"},"filler":"`, 1<<30, 1<<30, written))
		c, _ := newClient(t, srv.URL, argocd.WithMaxResponseBytes(limit))
		err := c.Sync(context.Background(), gitops.SyncRequest{App: "shop"})
		require.ErrorIs(t, err, argocd.ErrResponseTooLarge)
		srv.CloseClientConnections()
		<-written
	})
	t.Run("stream line", func(t *testing.T) {
		written := make(chan int64, 1)
		srv := newRecorder(t, endless(`{"result":{"type":"ADDED","application":{"metadata":{"name":"shop"},"x":"`, 1<<30, 0, written))
		c, _ := newClient(t, srv.URL, argocd.WithMaxResponseBytes(limit))
		err := c.Watch(context.Background(), "shop", func(argocd.WatchEvent) error { return nil })
		require.ErrorIs(t, err, argocd.ErrResponseTooLarge, "a line that will not fit ends the watch instead of reconnecting forever")
		assert.ErrorContains(t, err, `watch app "shop": response too large: stream event of more than 1048576 bytes`)
		assert.Equal(t, int32(1), srv.requests.Load())
		srv.CloseClientConnections()
		assert.Less(t, <-written, int64(64<<20))
	})
	t.Run("within the limit", func(t *testing.T) {
		e := setup(t, nil, nil, argocd.WithMaxResponseBytes(64<<10))
		_, err := e.client.Get(context.Background(), "shop", "")
		require.NoError(t, err)
	})
}

// TestOversizedReplyMemory reads a 256 MiB reply with the default limit:
// the client allocates what the limit allows, well under the reply's
// size (reading it whole raised the heap by about 570 MiB).
func TestOversizedReplyMemory(t *testing.T) {
	const size = 256 << 20
	written := make(chan int64, 1)
	srv := httptest.NewServer(endless(`{"metadata":{"name":"shop"},"filler":"`, size, 0, written))
	defer srv.Close()
	c, err := argocd.New(srv.URL, token)
	require.NoError(t, err)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = c.Get(context.Background(), "shop", "")
	runtime.ReadMemStats(&after)
	require.ErrorIs(t, err, argocd.ErrResponseTooLarge)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d MiB reading a %d MiB reply past a %d MiB limit", allocated>>20, size>>20, argocd.DefaultMaxResponseBytes>>20)
	assert.Less(t, allocated, uint64(size), "allocation bounded by the limit, not the reply")
	srv.CloseClientConnections()
	assert.Less(t, <-written, int64(size), "the client hung up before the end")
}

func TestErrorMessages(t *testing.T) {
	ctx := context.Background()
	t.Run("token echoed in a refusal", func(t *testing.T) {
		srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"x","code":16,"message":"invalid session: cannot parse %q"}`, r.Header.Get("Authorization"))
		})
		c, logs := newClient(t, srv.URL)
		_, err := c.Get(ctx, "shop", "")
		require.ErrorIs(t, err, argocd.ErrUnauthenticated)
		assert.ErrorContains(t, err, `invalid session: cannot parse "Bearer xxxxx"`)
		assertClean(t, err, logs)
	})
	t.Run("token echoed in a stream error", func(t *testing.T) {
		srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"error":{"grpc_code":16,"http_code":401,"message":"bad token %s"}}`+"\n", token)
		})
		c, logs := newClient(t, srv.URL)
		err := c.Watch(ctx, "shop", func(argocd.WatchEvent) error { return nil })
		require.ErrorIs(t, err, argocd.ErrUnauthenticated)
		assert.ErrorContains(t, err, "bad token xxxxx")
		assertClean(t, err, logs)
	})
	t.Run("token echoed in retried 503s", func(t *testing.T) {
		srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "<html><head><title>503 for %s</title></head><body><pre>\n%s\n</pre></body></html>", token, strings.Repeat("stack trace\n", 200))
		})
		c, logs := newClient(t, srv.URL)
		_, err := c.Get(ctx, "shop", "")
		require.ErrorIs(t, err, argocd.ErrUnavailable)
		assert.EqualError(t, err, `argocd: get app "shop": HTML page "503 for xxxxx" (HTTP 503, code 0)`, "the page summarised by its title")
		assert.Contains(t, logs.String(), "retrying")
		assertClean(t, err, logs)
	})
	t.Run("proxy page", func(t *testing.T) {
		e := setup(t, nil, nil)
		e.srv.FailNext(502, 502, 502, 502)
		_, err := e.client.Get(ctx, "shop", "")
		require.ErrorIs(t, err, argocd.ErrUnavailable)
		assert.EqualError(t, err, `argocd: get app "shop": HTML page "502 Bad Gateway" (HTTP 502, code 0)`)
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		c, logs := newClient(t, "http://"+addr)
		for _, tc := range calls[:len(calls)-1] { // Watch outlives a server restart: it retries until ctx ends

			err := tc.call(ctx, c)
			require.ErrorIs(t, err, argocd.ErrUnavailable, tc.name)
			var oe *net.OpError
			assert.ErrorAs(t, err, &oe, tc.name)
			assert.ErrorContains(t, err, "server unavailable: dial tcp "+addr, tc.name)
			assert.ErrorContains(t, err, "connection refused", tc.name)
			assertClean(t, err, logs)
		}
	})
	t.Run("cancelled while retrying", func(t *testing.T) {
		srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		clk := clocktest.New(time.Time{})
		c, logs := newClient(t, srv.URL, argocd.WithRetry(3, time.Minute, time.Minute), argocd.WithClock(clk))
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { _, err := c.Get(cctx, "shop", ""); done <- err }()
		require.NoError(t, clk.WaitForTimers(ctx, 1), "the back-off waits on the client's clock")
		cancel()
		err := <-done
		require.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, err, argocd.ErrUnavailable, "the last refusal is kept")
		assert.EqualError(t, err, `argocd: get app "shop": context canceled while retrying; last attempt: Bad Gateway (HTTP 502, code 0)`)
		assertClean(t, err, logs)
	})
}

func TestRetryBackoffOnTheClientsClock(t *testing.T) {
	e := setup(t, nil, nil)
	clk := clocktest.NewAuto(time.Time{})
	c, err := e.srv.Client(argocd.WithClock(clk), argocd.WithRetry(3, time.Second, 3*time.Second))
	require.NoError(t, err)
	e.srv.FailNext(503, 503, 503)
	_, err = c.Get(context.Background(), "shop", "")
	require.NoError(t, err)
	waits := clk.Waits()
	require.Len(t, waits, 3)
	for i, base := range []time.Duration{time.Second, 2 * time.Second, 3 * time.Second} {
		assert.GreaterOrEqual(t, waits[i], base)
		assert.LessOrEqual(t, waits[i], base+base/5, "up to 20%% jitter")
	}
}

// TestWaitForAnswersByCode walks every gRPC code a status read may be
// refused with, as Argo CD's gateway sends it, through the client into
// gitops.WaitFor: NotFound and the access refusals end the wait at once,
// Unavailable is retried by the client, and every other code is a
// transient read error that WaitFor retries.
func TestWaitForAnswersByCode(t *testing.T) {
	for code := argocdtest.CodeCanceled; code <= argocdtest.CodeUnauthenticated; code++ {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			e := setup(t, nil, nil)
			ctx := context.Background()
			require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
			e.srv.RefuseNext(code, "refused for the test")
			_, err := e.wait(t, gitops.WaitOptions{StableFor: -1})
			switch code {
			case argocdtest.CodeNotFound:
				require.ErrorIs(t, err, gitops.ErrAppNotFound)
				assert.ErrorIs(t, err, argocd.ErrNotFound)
			case argocdtest.CodePermissionDenied:
				require.ErrorIs(t, err, gitops.ErrAccessDenied)
				assert.ErrorIs(t, err, argocd.ErrPermissionDenied)
			case argocdtest.CodeUnauthenticated:
				require.ErrorIs(t, err, gitops.ErrAccessDenied)
				assert.ErrorIs(t, err, argocd.ErrUnauthenticated)
			default:
				require.NoError(t, err, "one refusal of code %d is retried", code)
				return
			}
			var ae *argocd.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, argocdtest.HTTPStatus(code), ae.StatusCode)
			assert.Equal(t, int(code), ae.Code)
			assert.ErrorContains(t, err, "refused for the test")
		})
	}
}

func TestWaitForEndsOnPermanentRefusals(t *testing.T) {
	tests := []struct {
		name     string
		fault    func(*argocdtest.Server)
		sentinel error
		client   error
		message  string
	}{
		{"app deleted", func(s *argocdtest.Server) { require.NoError(t, s.DeleteApp("shop")) },
			gitops.ErrAppNotFound, argocd.ErrNotFound, `applications.argoproj.io "shop" not found (HTTP 404, code 5)`},
		{"token revoked", (*argocdtest.Server).RevokeToken,
			gitops.ErrAccessDenied, argocd.ErrUnauthenticated, "invalid session: token is revoked, please re-login (HTTP 401, code 16)"},
		{"access withdrawn", func(s *argocdtest.Server) { s.DenyAccess(true) },
			gitops.ErrAccessDenied, argocd.ErrPermissionDenied, "permission denied: applications, get, default/shop, sub: admin (HTTP 403, code 7)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := setup(t, []argocdtest.Option{argocdtest.WithClock(clocktest.New(time.Time{}))}, nil)
			clk := e.srv.Clock()
			ctx := context.Background()
			require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
			done := make(chan error, 1)
			go func() {
				_, err := gitops.WaitFor(ctx, e.client, gitops.WaitOptions{App: "shop", Clock: clk, Timeout: time.Hour, PollInterval: time.Second})
				done <- err
			}()
			require.NoError(t, clk.WaitForTimers(ctx, 2), "the waiter read a Running operation and waits to poll again")
			tt.fault(e.srv)
			before := len(e.srv.Calls())
			clk.AdvanceToNext()
			err := <-done
			require.ErrorIs(t, err, tt.sentinel)
			assert.ErrorIs(t, err, tt.client)
			assert.NotErrorIs(t, err, gitops.ErrWaitTimeout)
			assert.ErrorContains(t, err, tt.message)
			assert.Len(t, e.srv.Calls(), before+1, "one read, no retry")
			assertNoToken(t, e, err)
		})
	}
	t.Run("watch of a deleted app", func(t *testing.T) {
		e := setup(t, nil, nil)
		var types []string
		err := e.client.Watch(context.Background(), "shop", func(ev argocd.WatchEvent) error {
			types = append(types, ev.Type)
			if ev.Type == "ADDED" {
				return e.srv.DeleteApp("shop")
			}
			return argocd.ErrStopWatch
		})
		require.NoError(t, err)
		assert.Equal(t, []string{"ADDED", "DELETED"}, types, "the stream tells of the deletion")

		err = e.client.Watch(context.Background(), "shop", func(argocd.WatchEvent) error { return nil })
		require.ErrorIs(t, err, argocd.ErrNotFound, "watching an app that is gone ends at once")
		assert.ErrorIs(t, err, gitops.ErrAppNotFound)
	})
}

// hangingServer accepts requests and never answers them; each request
// announces itself on arrived.
func hangingServer(t *testing.T) (*httptest.Server, chan struct{}) {
	t.Helper()
	arrived := make(chan struct{}, 16)
	var once sync.Once
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { once.Do(func() { close(stop) }); srv.Close() })
	return srv, arrived
}

func TestWaitForTimeoutBoundsAServerThatNeverAnswers(t *testing.T) {
	t.Run("fake clock", func(t *testing.T) {
		srv, arrived := hangingServer(t)
		c, _ := newClient(t, srv.URL)
		clk := clocktest.New(time.Time{})
		done := make(chan error, 1)
		go func() {
			_, err := gitops.WaitFor(context.Background(), c, gitops.WaitOptions{App: "shop", Clock: clk, Timeout: 10 * time.Minute})
			done <- err
		}()
		<-arrived
		clk.Advance(10 * time.Minute)
		err := <-done
		require.ErrorIs(t, err, gitops.ErrWaitTimeout)
		assert.ErrorContains(t, err, "the status read did not finish before the wait ended")
	})
	t.Run("system clock", func(t *testing.T) {
		srv, _ := hangingServer(t)
		c, _ := newClient(t, srv.URL)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // hang guard only
		defer cancel()
		_, err := gitops.WaitFor(ctx, c, gitops.WaitOptions{App: "shop", Timeout: 50 * time.Millisecond})
		require.ErrorIs(t, err, gitops.ErrWaitTimeout)
		assert.NoError(t, ctx.Err(), "Timeout ended the wait, not the caller's context")
	})
}

func TestWaitForFailsFastOnDegraded(t *testing.T) {
	e := setup(t, nil, nil)
	e.srv.Cluster().SetBehavior(gitopstest.Image("shop")+":1.0.0", sim.Behavior{NeverReady: true})
	ctx := context.Background()
	require.NoError(t, e.client.Sync(ctx, gitops.SyncRequest{App: "shop"}))
	clk := e.srv.Clock()
	start := clk.Now()
	st, err := e.wait(t, gitops.WaitOptions{PollInterval: 5 * time.Second, Timeout: time.Hour})
	require.ErrorIs(t, err, gitops.ErrDegraded)
	assert.ErrorContains(t, err, `Deployment "shop" exceeded its progress deadline`)
	assert.Equal(t, health.Degraded, st.Health)
	elapsed := clk.Now().Sub(start)
	assert.GreaterOrEqual(t, elapsed, 10*time.Minute, "the Deployment's progress deadline")
	assert.Less(t, elapsed, 11*time.Minute, "ended at the first Degraded poll, not at the hour's timeout")
}
