//go:build integration

package image_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/flightdeck-dev/flightdeck/pipeline/image"
)

// startDockerRegistry runs Debian's docker-registry (distribution 2.x) on
// a loopback port with filesystem storage in a temp dir, optionally
// behind htpasswd basic auth, and returns its host:port.
func startDockerRegistry(t *testing.T, user, password string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("docker-registry is not installed (apt-get install docker-registry)")
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	auth := ""
	if user != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
		require.NoError(t, err)
		htpasswd := filepath.Join(dir, "htpasswd")
		require.NoError(t, os.WriteFile(htpasswd, []byte(user+":"+string(hash)+"\n"), 0o600))
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: flightdeck-test\n    path: %s\n", htpasswd)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
%s`, filepath.Join(dir, "storage"), addr, auth)
	cfgFile := filepath.Join(dir, "config.yml")
	require.NoError(t, os.WriteFile(cfgFile, []byte(cfg), 0o600))

	var logs bytes.Buffer
	cmd := exec.Command(bin, "serve", cfgFile)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	// Ready when /v2/ answers (200, or 401 behind auth).
	ready := func() bool {
		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized
	}
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ready() {
		select {
		case err := <-exited:
			t.Fatalf("docker-registry exited: %v\n%s", err, logs.String())
		case <-deadline.C:
			t.Fatalf("docker-registry did not become ready on %s\n%s", addr, logs.String())
		case <-tick.C:
		}
	}
	return addr
}

type staticKeychain struct{ user, password string }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: k.user, Password: k.password}), nil
}

func TestIntegrationDockerRegistryPushPull(t *testing.T) {
	host := startDockerRegistry(t, "", "")
	ctx := context.Background()
	c := newClient()
	dir := appDir(t)

	img, err := c.Build(ctx, appSpec(dir))
	require.NoError(t, err)
	again, err := c.Build(ctx, appSpec(dir))
	require.NoError(t, err)
	d1, err := img.Digest()
	require.NoError(t, err)
	d2, err := again.Digest()
	require.NoError(t, err)
	require.Equal(t, d1, d2, "same inputs, same digest")

	res, err := c.Push(ctx, host+"/shop/checkout:v1", img)
	require.NoError(t, err)
	assert.False(t, res.Skipped)
	assert.Equal(t, d1.String(), res.Digest.DigestStr())

	second, err := c.Push(ctx, host+"/shop/checkout:v1", again)
	require.NoError(t, err)
	assert.True(t, second.Skipped, "digest already there")

	pulled, err := remote.Image(res.Digest)
	require.NoError(t, err)
	pd, err := pulled.Digest()
	require.NoError(t, err)
	assert.Equal(t, d1, pd)
	cf, err := pulled.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"/app/server"}, cf.Config.Entrypoint)
	assert.Equal(t, "https://git.example.com/shop/checkout", cf.Config.Labels[image.LabelSource])
	assert.Equal(t, "0123456789abcdef0123456789abcdef01234567", cf.Config.Labels[image.LabelRevision])
	layers, err := pulled.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 2)
	names, entries := readLayer(t, layers[0])
	assert.Contains(t, names, "app/server")
	assert.Equal(t, "#!/bin/sh\necho hi\n", entries["app/server"].content)
	_, entries = readLayer(t, layers[1])
	assert.Equal(t, "port: 8080\n", entries["etc/app/config.yaml"].content)

	// A multi-platform index.
	idx, err := c.BuildIndex(ctx, []image.Spec{
		{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}, Layers: []image.Layer{{Dir: dir, Target: "/app"}}},
		{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}, Layers: []image.Layer{{Dir: dir, Target: "/app"}}},
	})
	require.NoError(t, err)
	ires, err := c.PushIndex(ctx, host+"/shop/multi:v1", idx)
	require.NoError(t, err)
	pulledIdx, err := remote.Index(ires.Digest)
	require.NoError(t, err)
	im, err := pulledIdx.IndexManifest()
	require.NoError(t, err)
	assert.Len(t, im.Manifests, 2)

	// Promotion within the registry, by digest.
	cp, err := c.Copy(ctx, res.Digest.String(), host+"/prod/checkout")
	require.NoError(t, err)
	assert.Equal(t, d1.String(), cp.Digest.DigestStr())
	_, err = remote.Head(cp.Digest)
	require.NoError(t, err)
}

func TestIntegrationDockerRegistryAuth(t *testing.T) {
	const user, password = "ci", "correct-horse-battery"
	host := startDockerRegistry(t, user, password)
	ctx := context.Background()
	img, err := newClient().Build(ctx, image.Spec{Layers: []image.Layer{{Files: []image.File{{Path: "/a", Content: []byte("a")}}}}})
	require.NoError(t, err)

	res, err := newClient(image.WithKeychain(staticKeychain{user, password})).Push(ctx, host+"/private/app:v1", img)
	require.NoError(t, err)
	assert.False(t, res.Skipped)

	_, err = newClient(image.WithKeychain(staticKeychain{user, "wrong-" + password})).Push(ctx, host+"/private/app:v2", img)
	require.Error(t, err)
	var te *transport.Error
	require.ErrorAs(t, err, &te)
	assert.Equal(t, http.StatusUnauthorized, te.StatusCode)
	assert.NotContains(t, err.Error(), password, "credentials never appear in errors")
}
