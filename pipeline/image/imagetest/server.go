package imagetest

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Server is go-containerregistry's in-process registry (pkg/registry)
// behind an httptest server, recording the requests it answers, for
// tests that need the real registry protocol. It is safe for concurrent
// use.
type Server struct {
	// Host is "127.0.0.1:<port>", the registry part of references.
	Host string

	mu   sync.Mutex
	reqs []string // "METHOD /path"
}

// NewServer starts a registry that is closed when the test ends. wrap,
// when not nil, wraps the registry's handler (to fail, delay or corrupt
// its answers; see [CorruptManifests]); requests are recorded before it.
func NewServer(tb testing.TB, wrap func(http.Handler) http.Handler) *Server {
	tb.Helper()
	s := &Server{}
	var h http.Handler = registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, q.Method+" "+q.URL.Path)
		s.mu.Unlock()
		h.ServeHTTP(w, q)
	}))
	tb.Cleanup(srv.Close)
	s.Host = strings.TrimPrefix(srv.URL, "http://")
	return s
}

// Count returns how many recorded requests used method on a path
// containing part ("/manifests/", "/blobs/uploads/").
func (s *Server) Count(method, part string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, q := range s.reqs {
		if strings.HasPrefix(q, method+" ") && strings.Contains(q, part) {
			n++
		}
	}
	return n
}

// Reset forgets the recorded requests.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = nil
}

// CorruptManifests wraps a registry's handler so that every manifest
// fetched with GET comes back with one byte more: a registry that serves
// other bytes under a digest than were pushed.
func CorruptManifests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		if q.Method != http.MethodGet || !strings.Contains(q.URL.Path, "/manifests/") {
			h.ServeHTTP(w, q)
			return
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, q)
		body := append(rec.Body.Bytes(), '\n')
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}
