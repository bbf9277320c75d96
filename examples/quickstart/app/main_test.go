package main

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthz(t *testing.T) {
	rec := httptest.NewRecorder()
	handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"UP"`) {
		t.Fatalf("GET /healthz = %d %q, want 200 with status UP", rec.Code, rec.Body.String())
	}
}

func TestGreeting(t *testing.T) {
	rec := httptest.NewRecorder()
	handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.HasPrefix(string(body), "hello from ") {
		t.Fatalf("GET / = %q, want a greeting", body)
	}
}
