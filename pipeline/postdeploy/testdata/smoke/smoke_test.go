//go:build smoke

package smoke

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

func endpoint(t *testing.T) string {
	u := os.Getenv("FLIGHTDECK_ENDPOINT_API")
	if u == "" {
		t.Fatal("FLIGHTDECK_ENDPOINT_API is not set")
	}
	return u
}

func get(t *testing.T, path string) (int, string) {
	resp, err := http.Get(endpoint(t) + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHealth(t *testing.T) {
	if code, _ := get(t, "/healthz"); code != http.StatusOK {
		t.Fatalf("GET /healthz: %d", code)
	}
}

func TestCheckout(t *testing.T) {
	code, body := get(t, "/checkout")
	if code != http.StatusOK || body != "ok" {
		t.Fatalf("GET /checkout: %d %q", code, body)
	}
}

func TestEnvironment(t *testing.T) {
	env := os.Getenv("FLIGHTDECK_ENV")
	if env == "" {
		t.Fatal("FLIGHTDECK_ENV is not set")
	}
	if env != "staging" {
		t.Skipf("FLIGHTDECK_ENV=%q: staging-only test", env)
	}
	digest, release := os.Getenv("FLIGHTDECK_DIGEST"), os.Getenv("FLIGHTDECK_RELEASE")
	if !strings.HasPrefix(digest, "sha256:") || !strings.HasSuffix(release, "@"+digest) {
		t.Fatalf("FLIGHTDECK_RELEASE=%q does not pin FLIGHTDECK_DIGEST=%q", release, digest)
	}
	if os.Getenv("FLIGHTDECK_APP") == "" {
		t.Fatal("FLIGHTDECK_APP is not set")
	}
}
