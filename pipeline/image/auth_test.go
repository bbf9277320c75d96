package image_test

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline/image"
)

// keychainFunc resolves every registry to the same basic credentials.
type keychainFunc struct{ user, password string }

func (k keychainFunc) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.password}), nil
}

// TestPushAuthenticatesWithKeychain pushes to the in-process registry
// behind HTTP basic auth: the client's keychain supplies the credentials,
// a wrong password is refused with 401, and the password appears in no
// error.
func TestPushAuthenticatesWithKeychain(t *testing.T) {
	const user, password = "ci", "s3cret-pw"
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	var authed atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
		u, p, ok := q.BasicAuth()
		if !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		authed.Add(1)
		h.ServeHTTP(w, q)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	img, err := newClient().Build(ctx, image.Spec{Layers: []image.Layer{{Files: []image.File{{Path: "/a", Content: []byte("a")}}}}})
	require.NoError(t, err)

	res, err := newClient(image.WithKeychain(keychainFunc{user, password})).Push(ctx, host+"/private/app:v1", img)
	require.NoError(t, err)
	assert.False(t, res.Skipped)
	assert.Positive(t, authed.Load(), "requests carried the keychain's credentials")

	_, err = newClient(image.WithKeychain(keychainFunc{user, "wrong-" + password})).Push(ctx, host+"/private/app:v2", img)
	require.Error(t, err)
	var te *transport.Error
	require.ErrorAs(t, err, &te)
	assert.Equal(t, http.StatusUnauthorized, te.StatusCode)
	assert.NotContains(t, err.Error(), password, "credentials never appear in errors")

	_, err = newClient().Push(ctx, host+"/private/app:v3", img)
	require.Error(t, err, "no credentials, no push")
}
