package gitopstest

import (
	"bytes"
	"crypto/subtle"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// HTTPBackend is where Debian and most distributions install
// git-http-backend.
const HTTPBackend = "/usr/lib/git-core/git-http-backend"

// Request is one HTTP request the [Server] received.
type Request struct {
	Method  string
	Path    string
	Service string // "git-upload-pack" (fetch) or "git-receive-pack" (push)
	Status  int
}

// ServerOption configures [Serve].
type ServerOption func(*Server)

// WithBasicAuth requires HTTP basic auth with user and password on every
// request. Default: no auth.
func WithBasicAuth(user, password string) ServerOption {
	return func(s *Server) { s.user, s.password = user, password }
}

// Server serves one bare repository over real smart HTTP: requests go to
// `git http-backend` through net/http/cgi in an httptest.Server. It keeps
// a log of requests and lets a test inject faults. It is safe for
// concurrent use.
type Server struct {
	dir            string
	user, password string
	srv            *httptest.Server

	mu         sync.Mutex
	requests   []Request
	delay      time.Duration
	failNext   int
	failStatus int
	beforePush []func()
	pushes     int
	stderr     bytes.Buffer
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// Serve starts a smart-HTTP server for the bare repository at dir and
// stops it when the test ends. It skips the test if git-http-backend is
// not installed.
func Serve(t testing.TB, dir string, opts ...ServerOption) *Server {
	t.Helper()
	if _, err := os.Stat(HTTPBackend); err != nil {
		t.Skipf("gitopstest: %s not installed", HTTPBackend)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("gitopstest: %v", err)
	}
	s := &Server{dir: abs}
	for _, o := range opts {
		o(s)
	}
	backend := &cgi.Handler{
		Path: HTTPBackend,
		Root: "/git",
		Env: []string{
			"GIT_PROJECT_ROOT=" + filepath.Dir(abs),
			"GIT_HTTP_EXPORT_ALL=1",
			"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=http.receivepack", "GIT_CONFIG_VALUE_0=true",
		},
		Stderr: lockedWriter{&s.mu, &s.stderr},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serve(backend, w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) serve(backend http.Handler, w http.ResponseWriter, r *http.Request) {
	req := Request{Method: r.Method, Path: r.URL.Path, Service: r.URL.Query().Get("service")}
	if req.Service == "" {
		req.Service = filepath.Base(r.URL.Path)
	}
	push := r.Method == http.MethodPost && req.Service == "git-receive-pack"

	s.mu.Lock()
	delay := s.delay
	fail := 0
	if s.failNext > 0 {
		s.failNext--
		fail = s.failStatus
	}
	if push {
		s.pushes++
	}
	s.mu.Unlock()

	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		req.Status = sw.status
		s.mu.Lock()
		s.requests = append(s.requests, req)
		s.mu.Unlock()
	}()

	if s.user != "" || s.password != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.user)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(s.password)) != 1 {
			sw.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(sw, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if fail != 0 {
		http.Error(sw, "injected failure", fail)
		return
	}
	if push {
		// Hooks belong to the next push that reaches git-http-backend, not
		// to one refused above.
		s.mu.Lock()
		hooks := s.beforePush
		s.beforePush = nil
		s.mu.Unlock()
		for _, h := range hooks {
			h()
		}
	}
	backend.ServeHTTP(sw, r)
}

// URL returns the repository's URL, without credentials.
func (s *Server) URL() string { return s.srv.URL + "/git/" + filepath.Base(s.dir) }

// URLWithPassword returns the repository's URL with user and password in
// its user info.
func (s *Server) URLWithPassword(user, password string) string {
	return strings.Replace(s.URL(), "://", "://"+user+":"+password+"@", 1)
}

// Dir returns the path of the served bare repository.
func (s *Server) Dir() string { return s.dir }

// SetDelay makes every later response wait d before it starts (a slow
// server). Zero removes the delay. A request whose context ends while
// waiting gets no response.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// FailNext makes the next n requests (of any kind) fail with HTTP status.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	s.failNext, s.failStatus = n, status
	s.mu.Unlock()
}

// BeforeNextPush runs fn once, when the next push request that passes
// authentication and injected faults arrives, before git-http-backend
// sees it.
func (s *Server) BeforeNextPush(fn func()) {
	s.mu.Lock()
	s.beforePush = append(s.beforePush, fn)
	s.mu.Unlock()
}

// RejectNextPush makes the next push lose a race: just before it reaches
// git-http-backend, a competing commit (changing only the file
// ".gitopstest/race") lands on main, so the server refuses the pushed
// update. A client that replays its change succeeds on the next attempt.
func (s *Server) RejectNextPush() {
	s.BeforeNextPush(func() {
		_, _ = CommitFiles(s.dir, Files{".gitopstest/race": time.Now().String() + "\n"}, nil, "competing commit")
	})
}

// Requests returns the requests received so far, in order of completion.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Stderr returns what git-http-backend and the Git commands it ran wrote
// to standard error, such as the reason a push was refused.
func (s *Server) Stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// Pushes returns how many push requests (POST git-receive-pack) arrived.
func (s *Server) Pushes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pushes
}
