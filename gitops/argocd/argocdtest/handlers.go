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

// Code is a gRPC status code, as Argo CD's API server returns it in the
// "code" field of an error body.
type Code int

// The gRPC codes, with the values of google.golang.org/grpc/codes.
const (
	CodeOK Code = iota
	CodeCanceled
	CodeUnknown
	CodeInvalidArgument
	CodeDeadlineExceeded
	CodeNotFound
	CodeAlreadyExists
	CodePermissionDenied
	CodeResourceExhausted
	CodeFailedPrecondition
	CodeAborted
	CodeOutOfRange
	CodeUnimplemented
	CodeInternal
	CodeUnavailable
	CodeDataLoss
	CodeUnauthenticated
)

// HTTPStatus returns the HTTP status Argo CD's REST gateway answers for
// code: grpc-gateway v1's mapping, which Argo CD v2 uses unchanged
// (FailedPrecondition is 400, not 412). An unknown code is 500.
func HTTPStatus(code Code) int {
	switch code {
	case CodeOK:
		return http.StatusOK
	case CodeCanceled:
		return http.StatusRequestTimeout
	case CodeInvalidArgument, CodeFailedPrecondition, CodeOutOfRange:
		return http.StatusBadRequest
	case CodeDeadlineExceeded:
		return http.StatusGatewayTimeout
	case CodeNotFound:
		return http.StatusNotFound
	case CodeAlreadyExists, CodeAborted:
		return http.StatusConflict
	case CodePermissionDenied:
		return http.StatusForbidden
	case CodeUnauthenticated:
		return http.StatusUnauthorized
	case CodeResourceExhausted:
		return http.StatusTooManyRequests
	case CodeUnimplemented:
		return http.StatusNotImplemented
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// codeOf is the gRPC code an injected HTTP status stands for: the first
// code HTTPStatus maps to it, or Unknown.
func codeOf(status int) Code {
	for c := CodeCanceled; c <= CodeUnauthenticated; c++ {
		if HTTPStatus(c) == status {
			return c
		}
	}
	return CodeUnknown
}

type grpcError struct {
	code Code
	msg  string
}

func (e *grpcError) Error() string { return e.msg }

func errorf(code Code, format string, args ...any) *grpcError {
	return &grpcError{code: code, msg: fmt.Sprintf(format, args...)}
}

// writeError writes the gRPC-gateway v1 error body Argo CD v2 sends, with
// the HTTP status of e's code.
func writeError(w http.ResponseWriter, e *grpcError) { writeErrorStatus(w, HTTPStatus(e.code), e) }

// writeErrorStatus writes e's gRPC-gateway v1 error body with the HTTP
// status given.
func writeErrorStatus(w http.ResponseWriter, status int, e *grpcError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e.msg, "code": int(e.code), "message": e.msg})
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
	mux.HandleFunc("GET /api/v1/applications/{name}/logs", s.logs)
	mux.HandleFunc("GET /api/v1/applications/{name}/pods/{podName}/logs", s.logs)
	mux.HandleFunc("GET /api/v1/stream/applications", s.stream)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		app := appFromPath(r.URL.Path, r.URL.Query().Get("name"))
		s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, App: app})
		latency := s.faults.latency
		var fail int
		if len(s.faults.failStatus) > 0 {
			fail, s.faults.failStatus = s.faults.failStatus[0], s.faults.failStatus[1:]
		}
		var refusal *grpcError
		if len(s.faults.refusals) > 0 {
			refusal, s.faults.refusals = s.faults.refusals[0], s.faults.refusals[1:]
		}
		malformed := s.faults.malformed > 0
		if malformed {
			s.faults.malformed--
		}
		revoked, denied := s.faults.tokenRevoked, s.faults.denyAccess
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
		switch auth := r.Header.Get("Authorization"); {
		case auth == "":
			writeError(w, errorf(CodeUnauthenticated, "no session information"))
			return
		case auth != "Bearer "+s.Token:
			writeError(w, errorf(CodeUnauthenticated, "invalid session: token signature is invalid"))
			return
		case revoked:
			writeError(w, errorf(CodeUnauthenticated, "invalid session: token is revoked, please re-login"))
			return
		}
		switch {
		case fail == http.StatusBadGateway || fail == http.StatusServiceUnavailable || fail == http.StatusGatewayTimeout:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(fail)
			fmt.Fprintf(w, "<html><head><title>%d %s</title></head><body><center><h1>%[1]d %[2]s</h1></center><hr><center>nginx</center></body></html>\n", fail, http.StatusText(fail))
			return
		case fail != 0:
			writeErrorStatus(w, fail, &grpcError{code: codeOf(fail), msg: "injected failure"})
			return
		case refusal != nil:
			writeError(w, refusal)
			return
		case denied && app != "":
			writeError(w, errorf(CodePermissionDenied, "permission denied: applications, %s, %s, sub: admin", action(r), s.projectOf(app)))
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

// action is the RBAC action Argo CD checks for r.
func action(r *http.Request) string {
	if r.Method == http.MethodGet {
		return "get"
	}
	return "sync"
}

// projectOf names app as RBAC does, "<project>/<app>".
func (s *Server) projectOf(app string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	project := "default"
	if a, ok := s.apps[app]; ok {
		project = a.spec.Project
	}
	return project + "/" + app
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
		return nil, errorf(CodeNotFound, "applications.argoproj.io %q not found", name)
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
	s.serveApp(w, r, func(a *appState) (any, *grpcError) {
		switch refresh := r.URL.Query().Get("refresh"); refresh {
		case "":
		case "normal", "hard":
			_ = s.resolve(r.Context(), a)
			a.refreshedAt = s.clock.Now()
			a.stale = nil
		default:
			return nil, errorf(CodeInvalidArgument, "unknown refresh type %q", refresh)
		}
		return s.view(r.Context(), a), nil
	})
}

// serveApp answers a request about the application named in the path:
// under s.mu it looks the application up and writes what fn returns as
// JSON, or the NotFound of the lookup or fn's error as Argo CD does.
func (s *Server) serveApp(w http.ResponseWriter, r *http.Request, fn func(a *appState) (any, *grpcError)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, gerr := s.lookup(r.PathValue("name"))
	if gerr == nil {
		var v any
		if v, gerr = fn(a); gerr == nil {
			writeJSON(w, v)
			return
		}
	}
	writeError(w, gerr)
}

func decode(r *http.Request, v any) *grpcError {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return errorf(CodeInvalidArgument, "%v", err)
	}
	return nil
}

// checkSync applies Argo CD's refusals common to sync and rollback;
// s.mu is held.
func (s *Server) checkSync(ctx context.Context, a *appState) *grpcError {
	s.reconcile(ctx, a)
	if s.faults.denySync {
		return errorf(CodePermissionDenied, "Cannot sync: Blocked by sync window")
	}
	if a.running(s.clock.Now()) {
		return errorf(CodeFailedPrecondition, "another operation is already in progress")
	}
	return nil
}

func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	var req argocd.SyncRequest
	if gerr := decode(r, &req); gerr != nil {
		writeError(w, gerr)
		return
	}
	s.serveApp(w, r, func(a *appState) (any, *grpcError) {
		if s.faults.denySync {
			return nil, errorf(CodePermissionDenied, "Cannot sync: Blocked by sync window")
		}
		target := a.spec.TargetRevision
		if target == "" {
			target = "HEAD"
		}
		if a.spec.AutoSync && req.Revision != "" && req.Revision != target {
			return nil, errorf(CodeFailedPrecondition, "Cannot sync to %s: auto-sync currently set to %s", req.Revision, a.spec.TargetRevision)
		}
		if gerr := s.checkSync(r.Context(), a); gerr != nil {
			return nil, gerr
		}
		s.startSync(r.Context(), a, argocd.SyncOperation{Revision: req.Revision, Prune: req.Prune, DryRun: req.DryRun, Resources: req.Resources})
		return s.view(r.Context(), a), nil
	})
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request) {
	var req argocd.RollbackRequest
	if gerr := decode(r, &req); gerr != nil {
		writeError(w, gerr)
		return
	}
	s.serveApp(w, r, func(a *appState) (any, *grpcError) {
		if a.spec.AutoSync {
			return nil, errorf(CodeFailedPrecondition, "rollback cannot be initiated when auto-sync is enabled")
		}
		if gerr := s.checkSync(r.Context(), a); gerr != nil {
			return nil, gerr
		}
		var rev string
		for _, h := range a.history {
			if h.ID == req.ID {
				rev = h.Revision
			}
		}
		if rev == "" {
			return nil, errorf(CodeInvalidArgument, "application %s does not have deployment with id %v", a.spec.Name, req.ID)
		}
		s.startSync(r.Context(), a, argocd.SyncOperation{Revision: rev, Prune: req.Prune, DryRun: req.DryRun})
		return s.view(r.Context(), a), nil
	})
}

func (s *Server) resourceTree(w http.ResponseWriter, r *http.Request) {
	s.serveApp(w, r, func(a *appState) (any, *grpcError) { return s.tree(a), nil })
}

func (s *Server) terminate(w http.ResponseWriter, r *http.Request) {
	s.serveApp(w, r, func(a *appState) (any, *grpcError) {
		now := s.clock.Now()
		if !a.running(now) {
			return nil, errorf(CodeFailedPrecondition, "Unable to terminate operation. No operation is in progress")
		}
		a.op.failed, a.op.message, a.op.held, a.op.finished = gitops.OpFailed, "Operation terminated", false, now
		return map[string]any{}, nil
	})
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
		for n := range sent {
			if _, ok := s.apps[n]; !ok { // deleted since it was sent
				delete(sent, n)
				gone := argocd.Application{Metadata: argocd.ObjectMeta{Name: n, Namespace: "argocd"}}
				b, _ := json.Marshal(map[string]any{"result": argocd.WatchEvent{Type: "DELETED", Application: gone}})
				lines = append(lines, append(b, '\n'))
			}
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
		if !s.tick(r, tick.C) {
			return
		}
	}
}

// tick waits for the next tick of a streaming response: it reports
// false when the request or the server ends first.
func (s *Server) tick(r *http.Request, c <-chan time.Time) bool {
	select {
	case <-r.Context().Done():
		return false
	case <-s.done:
		return false
	case <-c:
		return true
	}
}
