package argocdtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
)

// gRPC codes and their HTTP statuses as grpc-gateway maps them.
const (
	codeInvalidArgument    = 3
	codeNotFound           = 5
	codePermissionDenied   = 7
	codeFailedPrecondition = 9
	codeUnauthenticated    = 16
)

var httpOf = map[int]int{
	codeInvalidArgument: http.StatusBadRequest, codeNotFound: http.StatusNotFound,
	codePermissionDenied: http.StatusForbidden, codeFailedPrecondition: http.StatusBadRequest,
	codeUnauthenticated: http.StatusUnauthorized,
}

type grpcError struct {
	code int
	msg  string
}

func (e *grpcError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *grpcError {
	return &grpcError{code: code, msg: fmt.Sprintf(format, args...)}
}

// writeError writes the gRPC-gateway v1 error body Argo CD v2 sends.
func writeError(w http.ResponseWriter, e *grpcError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpOf[e.code])
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e.msg, "code": e.code, "message": e.msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/applications", s.list)
	mux.HandleFunc("GET /api/v1/applications/{name}", s.get)
	mux.HandleFunc("POST /api/v1/applications/{name}/sync", s.sync)
	mux.HandleFunc("POST /api/v1/applications/{name}/rollback", s.rollback)
	mux.HandleFunc("GET /api/v1/applications/{name}/resource-tree", s.resourceTree)
	mux.HandleFunc("DELETE /api/v1/applications/{name}/operation", s.terminate)
	mux.HandleFunc("GET /api/v1/stream/applications", s.stream)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, App: appFromPath(r.URL.Path, r.URL.Query().Get("name"))})
		latency := s.faults.latency
		var fail int
		if len(s.faults.failStatus) > 0 {
			fail, s.faults.failStatus = s.faults.failStatus[0], s.faults.failStatus[1:]
		}
		malformed := s.faults.malformed > 0
		if malformed {
			s.faults.malformed--
		}
		s.mu.Unlock()
		if latency > 0 {
			t := time.NewTimer(latency)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-s.done:
				t.Stop()
				return
			case <-t.C:
			}
		}
		if r.Header.Get("Authorization") != "Bearer "+s.Token {
			msg := "no session information"
			if r.Header.Get("Authorization") != "" {
				msg = "invalid session: token signature is invalid"
			}
			writeError(w, errorf(codeUnauthenticated, "%s", msg))
			return
		}
		switch {
		case fail == http.StatusBadGateway || fail == http.StatusServiceUnavailable || fail == http.StatusGatewayTimeout:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(fail)
			fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", fail, http.StatusText(fail))
			return
		case fail != 0:
			code := codeInvalidArgument
			for c, h := range httpOf {
				if h == fail {
					code = c
					break
				}
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(fail)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": "injected failure", "code": code, "message": "injected failure"})
			return
		case malformed:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"metadata": {"name": "`)
			return
		}
		if r.Method == http.MethodPost {
			// Argo CD enforces the content type of requests with a body.
			if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
				http.Error(w, "Invalid content type", http.StatusUnsupportedMediaType)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

func appFromPath(path, query string) string {
	rest, ok := strings.CutPrefix(path, "/api/v1/applications/")
	if !ok {
		return query
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// lookup returns the app or a NotFound error as Argo CD words it; s.mu is
// held.
func (s *Server) lookup(name string) (*appState, *grpcError) {
	a, ok := s.apps[name]
	if !ok {
		return nil, errorf(codeNotFound, "applications.argoproj.io %q not found", name)
	}
	return a, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	items := []argocd.Application{}
	for _, n := range s.order {
		items = append(items, s.view(r.Context(), s.apps[n]))
	}
	writeJSON(w, map[string]any{"metadata": map[string]any{}, "items": items})
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, gerr := s.lookup(r.PathValue("name"))
	if gerr != nil {
		writeError(w, gerr)
		return
	}
	switch refresh := r.URL.Query().Get("refresh"); refresh {
	case "":
	case "normal", "hard":
		_ = s.resolve(r.Context(), a)
		a.refreshedAt = s.clock.Now()
		a.stale = nil
	default:
		writeError(w, errorf(codeInvalidArgument, "unknown refresh type %q", refresh))
		return
	}
	writeJSON(w, s.view(r.Context(), a))
}

func decode(r *http.Request, v any) *grpcError {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return errorf(codeInvalidArgument, "%v", err)
	}
	return nil
}

// checkSync applies Argo CD's refusals common to sync and rollback;
// s.mu is held.
func (s *Server) checkSync(ctx context.Context, a *appState) *grpcError {
	s.reconcile(ctx, a)
	if s.faults.denySync {
		return errorf(codePermissionDenied, "Cannot sync: Blocked by sync window")
	}
	if a.running(s.clock.Now()) {
		return errorf(codeFailedPrecondition, "another operation is already in progress")
	}
	return nil
}

func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	var req argocd.SyncRequest
	if gerr := decode(r, &req); gerr != nil {
		writeError(w, gerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, gerr := s.lookup(r.PathValue("name"))
	if gerr != nil {
		writeError(w, gerr)
		return
	}
	if s.faults.denySync {
		writeError(w, errorf(codePermissionDenied, "Cannot sync: Blocked by sync window"))
		return
	}
	target := a.spec.TargetRevision
	if target == "" {
		target = "HEAD"
	}
	if a.spec.AutoSync && req.Revision != "" && req.Revision != target {
		writeError(w, errorf(codeFailedPrecondition, "Cannot sync to %s: auto-sync currently set to %s", req.Revision, a.spec.TargetRevision))
		return
	}
	if gerr := s.checkSync(r.Context(), a); gerr != nil {
		writeError(w, gerr)
		return
	}
	s.startSync(r.Context(), a, argocd.SyncOperation{Revision: req.Revision, Prune: req.Prune, DryRun: req.DryRun, Resources: req.Resources})
	writeJSON(w, s.view(r.Context(), a))
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	var req argocd.RollbackRequest
	if gerr := decode(r, &req); gerr != nil {
		writeError(w, gerr)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, gerr := s.lookup(r.PathValue("name"))
	if gerr != nil {
		writeError(w, gerr)
		return
	}
	if a.spec.AutoSync {
		writeError(w, errorf(codeFailedPrecondition, "rollback cannot be initiated when auto-sync is enabled"))
		return
	}
	if gerr := s.checkSync(r.Context(), a); gerr != nil {
		writeError(w, gerr)
		return
	}
	var rev string
	for _, h := range a.history {
		if h.ID == req.ID {
			rev = h.Revision
		}
	}
	if rev == "" {
		writeError(w, errorf(codeInvalidArgument, "application %s does not have deployment with id %v", a.spec.Name, req.ID))
		return
	}
	s.startSync(r.Context(), a, argocd.SyncOperation{Revision: rev, Prune: req.Prune, DryRun: req.DryRun})
	writeJSON(w, s.view(r.Context(), a))
}

func (s *Server) resourceTree(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, gerr := s.lookup(r.PathValue("name"))
	if gerr != nil {
		writeError(w, gerr)
		return
	}
	writeJSON(w, s.tree(a))
}

func (s *Server) terminate(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, gerr := s.lookup(r.PathValue("name"))
	if gerr != nil {
		writeError(w, gerr)
		return
	}
	now := s.clock.Now()
	if !a.running(now) {
		writeError(w, errorf(codeFailedPrecondition, "Unable to terminate operation. No operation is in progress"))
		return
	}
	a.op.failed, a.op.message, a.op.held, a.op.finished = gitops.OpFailed, "Operation terminated", false, now
	writeJSON(w, map[string]any{})
}

// stream serves /api/v1/stream/applications as grpc-gateway does: one
// {"result": {"type", "application"}} JSON object per line, an ADDED event
// per matching app first, then MODIFIED whenever an app changes.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	flusher, _ := w.(http.Flusher)
	s.mu.Lock()
	if name != "" {
		if _, gerr := s.lookup(name); gerr != nil {
			s.mu.Unlock()
			writeError(w, gerr)
			return
		}
	}
	dropAfter := s.faults.dropStreamAfter
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	sent := map[string]string{}
	events := 0
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		var lines [][]byte
		for _, n := range s.order {
			if name != "" && n != name {
				continue
			}
			app := s.view(r.Context(), s.apps[n])
			if sent[n] == app.Metadata.ResourceVersion {
				continue
			}
			typ := "MODIFIED"
			if _, ok := sent[n]; !ok {
				typ = "ADDED"
			}
			sent[n] = app.Metadata.ResourceVersion
			b, _ := json.Marshal(map[string]any{"result": argocd.WatchEvent{Type: typ, Application: app}})
			lines = append(lines, append(b, '\n'))
		}
		s.mu.Unlock()
		for _, line := range lines {
			if _, err := w.Write(line); err != nil {
				return
			}
			events++
		}
		if dropAfter > 0 && events >= dropAfter {
			// Drop the connection in the middle of the next line.
			_, _ = io.WriteString(w, `{"result": {"type": "MODI`)
			return
		}
		if flusher != nil && len(lines) > 0 {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.done:
			return
		case <-tick.C:
		}
	}
}
