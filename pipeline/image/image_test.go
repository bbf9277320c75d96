package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/image/imagetest"
)

func newRegistry(t testing.TB) *imagetest.Server { return imagetest.NewServer(t, nil) }

func newClient(opts ...image.Option) *image.Client {
	return image.New(append([]image.Option{
		image.WithKeychain(authn.NewMultiKeychain()),
		image.WithRetry(image.Backoff{Attempts: 1}),
	}, opts...)...)
}

// appDir writes a small app tree and returns its path.
func appDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "static", "css"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "server"), []byte("#!/bin/sh\necho hi\n"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "static", "index.html"), []byte("<h1>hi</h1>"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "static", "css", "a.css"), []byte("h1{}"), 0o666))
	require.NoError(t, os.Symlink("static/index.html", filepath.Join(dir, "index.html")))
	return dir
}

func appSpec(dir string) image.Spec {
	return image.Spec{
		Layers: []image.Layer{
			{Dir: dir, Target: "/app"},
			{Files: []image.File{{Path: "/etc/app/config.yaml", Content: []byte("port: 8080\n")}}},
		},
		Config: image.Config{
			Entrypoint: []string{"/app/server"},
			Cmd:        []string{"--port", "8080"},
			Env:        []string{"MODE=prod"},
			User:       "65532:65532",
			WorkingDir: "/app",
			Labels:     map[string]string{"team": "payments"},
			Source:     "https://git.example.com/shop/checkout",
			Revision:   "0123456789abcdef0123456789abcdef01234567",
		},
	}
}

type tarEntry struct {
	typ      byte
	mode     int64
	uid, gid int
	mtime    time.Time
	content  string
	link     string
}

func readLayer(t *testing.T, l v1.Layer) ([]string, map[string]tarEntry) {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	out := map[string]tarEntry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		names = append(names, h.Name)
		out[h.Name] = tarEntry{h.Typeflag, h.Mode, h.Uid, h.Gid, h.ModTime, string(b), h.Linkname}
	}
	return names, out
}

func TestBuildPushPullBack(t *testing.T) {
	r := newRegistry(t)
	c := newClient()
	ctx := context.Background()
	dir := appDir(t)

	img, err := c.Build(ctx, appSpec(dir))
	require.NoError(t, err)
	require.NoError(t, validate.Image(img))

	res, err := c.Push(ctx, r.Host+"/shop/checkout:v1", img)
	require.NoError(t, err)
	want, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, want.String(), res.Digest.DigestStr())
	assert.Equal(t, r.Host+"/shop/checkout", res.Digest.Context().Name())
	assert.Equal(t, "v1", res.Tag)
	assert.False(t, res.Skipped)

	rel := res.Release("checkout", "https://git.example.com/shop/checkout", "0123456789abcdef0123456789abcdef01234567")
	require.NoError(t, rel.Validate())
	assert.Equal(t, res.Digest.String(), rel.Ref())

	// Pull back by digest and by tag.
	pulled, err := remote.Image(res.Digest)
	require.NoError(t, err)
	require.NoError(t, validate.Image(pulled))
	tagRef, err := name.ParseReference(r.Host + "/shop/checkout:v1")
	require.NoError(t, err)
	byTag, err := remote.Image(tagRef)
	require.NoError(t, err)
	tagDigest, err := byTag.Digest()
	require.NoError(t, err)
	assert.Equal(t, want, tagDigest)

	cf, err := pulled.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "linux", cf.OS)
	assert.Equal(t, "amd64", cf.Architecture)
	assert.Equal(t, []string{"/app/server"}, cf.Config.Entrypoint)
	assert.Equal(t, []string{"--port", "8080"}, cf.Config.Cmd)
	assert.Equal(t, []string{"MODE=prod"}, cf.Config.Env)
	assert.Equal(t, "65532:65532", cf.Config.User)
	assert.Equal(t, "/app", cf.Config.WorkingDir)
	assert.Equal(t, map[string]string{
		"team":              "payments",
		image.LabelSource:   "https://git.example.com/shop/checkout",
		image.LabelRevision: "0123456789abcdef0123456789abcdef01234567",
	}, cf.Config.Labels)
	assert.True(t, cf.Created.Time.Equal(time.Unix(0, 0)), "created %v", cf.Created)
	require.Len(t, cf.History, 2)
	assert.Equal(t, "flightdeck layer 0", cf.History[0].CreatedBy)

	layers, err := pulled.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 2)
	names, entries := readLayer(t, layers[0])
	assert.Equal(t, []string{
		"app/", "app/index.html", "app/server", "app/static/", "app/static/css/",
		"app/static/css/a.css", "app/static/index.html",
	}, names, "entries sorted, parents included")
	assert.Equal(t, int64(0o755), entries["app/server"].mode, "executable keeps x bits")
	assert.Equal(t, int64(0o644), entries["app/static/index.html"].mode)
	assert.Equal(t, int64(0o644), entries["app/static/css/a.css"].mode, "group/other write dropped")
	assert.Equal(t, int64(0o755), entries["app/static/"].mode)
	assert.Equal(t, byte(tar.TypeSymlink), entries["app/index.html"].typ)
	assert.Equal(t, "static/index.html", entries["app/index.html"].link)
	assert.Equal(t, "#!/bin/sh\necho hi\n", entries["app/server"].content)
	for n, e := range entries {
		assert.Zero(t, e.uid, n)
		assert.Zero(t, e.gid, n)
		assert.True(t, e.mtime.Equal(time.Unix(0, 0)), "%s mtime %v", n, e.mtime)
	}
	names, entries = readLayer(t, layers[1])
	assert.Equal(t, []string{"etc/", "etc/app/", "etc/app/config.yaml"}, names)
	assert.Equal(t, "port: 8080\n", entries["etc/app/config.yaml"].content)
}

func TestBuildIsReproducible(t *testing.T) {
	c := newClient()
	ctx := context.Background()
	dir := appDir(t)

	first, err := c.Build(ctx, appSpec(dir))
	require.NoError(t, err)
	d1, err := first.Digest()
	require.NoError(t, err)

	// Touch every file and rebuild from a copy in another directory: the
	// digest must not change.
	later := time.Now().Add(time.Hour)
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		require.NoError(t, err)
		if info.Mode()&os.ModeSymlink == 0 {
			require.NoError(t, os.Chtimes(p, later, later))
		}
		return nil
	}))
	second, err := c.Build(ctx, appSpec(dir))
	require.NoError(t, err)
	d2, err := second.Digest()
	require.NoError(t, err)
	assert.Equal(t, d1, d2, "same inputs, same digest")

	// A content change changes the digest.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "static", "index.html"), []byte("<h1>bye</h1>"), 0o600))
	third, err := c.Build(ctx, appSpec(dir))
	require.NoError(t, err)
	d3, err := third.Digest()
	require.NoError(t, err)
	assert.NotEqual(t, d1, d3)
}

func TestPushSkipsExistingDigest(t *testing.T) {
	r := newRegistry(t)
	var logs bytes.Buffer
	c := newClient(image.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := context.Background()
	img, err := c.Build(ctx, appSpec(appDir(t)))
	require.NoError(t, err)

	first, err := c.Push(ctx, r.Host+"/shop/checkout:v1", img)
	require.NoError(t, err)
	require.False(t, first.Skipped)
	assert.Positive(t, r.Count(http.MethodPut, "/manifests/"))
	assert.Positive(t, r.Count(http.MethodPatch, "/blobs/uploads/")+r.Count(http.MethodPut, "/blobs/uploads/"))

	r.Reset()
	second, err := c.Push(ctx, r.Host+"/shop/checkout:v1", img)
	require.NoError(t, err)
	assert.True(t, second.Skipped)
	assert.Equal(t, first.Digest, second.Digest)
	assert.Equal(t, 1, r.Count(http.MethodHead, "/manifests/v1"), "one HEAD on the tag")
	assert.Zero(t, r.Count(http.MethodPut, ""), "no upload")
	assert.Zero(t, r.Count(http.MethodPost, ""), "no upload session")
	assert.Zero(t, r.Count(http.MethodPatch, ""), "no upload")
	assert.Contains(t, logs.String(), "upload skipped")
	assert.Contains(t, logs.String(), second.Digest.DigestStr())

	// A new tag for the same digest uploads only the manifest.
	r.Reset()
	third, err := c.Push(ctx, r.Host+"/shop/checkout:v1.0.0", img)
	require.NoError(t, err)
	assert.False(t, third.Skipped)
	assert.Equal(t, 1, r.Count(http.MethodPut, "/manifests/v1.0.0"))
	assert.Zero(t, r.Count(http.MethodPatch, ""), "blobs already there")

	// Push by digest only into the same repository: skipped.
	r.Reset()
	byDigest, err := c.Push(ctx, r.Host+"/shop/checkout", img)
	require.NoError(t, err)
	assert.True(t, byDigest.Skipped)
	assert.Empty(t, byDigest.Tag)
}

func TestPushDigestRef(t *testing.T) {
	r := newRegistry(t)
	c := newClient()
	ctx := context.Background()
	img, err := c.Build(ctx, image.Spec{Layers: []image.Layer{{Files: []image.File{{Path: "a", Content: []byte("a")}}}}})
	require.NoError(t, err)
	h, err := img.Digest()
	require.NoError(t, err)

	res, err := c.Push(ctx, r.Host+"/a@"+h.String(), img)
	require.NoError(t, err)
	assert.Equal(t, h.String(), res.Digest.DigestStr())

	_, err = c.Push(ctx, r.Host+"/a@sha256:"+strings.Repeat("0", 64), img)
	assert.ErrorIs(t, err, image.ErrDigestMismatch)
}

func TestBuildOnRemoteBase(t *testing.T) {
	r := newRegistry(t)
	c := newClient()
	ctx := context.Background()
	base, err := c.Build(ctx, image.Spec{
		Layers: []image.Layer{{Files: []image.File{{Path: "/bin/tool", Content: []byte("tool"), Mode: 0o755}}}},
		Config: image.Config{Env: []string{"PATH=/bin", "MODE=dev"}, Labels: map[string]string{"base": "yes"}, User: "1000"},
	})
	require.NoError(t, err)
	baseRes, err := c.Push(ctx, r.Host+"/base:1", base)
	require.NoError(t, err)

	img, err := c.Build(ctx, image.Spec{
		Base:   baseRes.Digest.String(),
		Layers: []image.Layer{{Files: []image.File{{Path: "/app/run", Content: []byte("run")}}}},
		Config: image.Config{Env: []string{"MODE=prod"}, Revision: "abc"},
	})
	require.NoError(t, err)
	require.NoError(t, validate.Image(img))
	layers, err := img.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 2, "base layer plus one")
	_, entries := readLayer(t, layers[0])
	assert.Equal(t, int64(0o755), entries["bin/tool"].mode, "explicit mode kept")
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"PATH=/bin", "MODE=prod"}, cf.Config.Env, "env merged, key replaced in place")
	assert.Equal(t, map[string]string{"base": "yes", image.LabelRevision: "abc"}, cf.Config.Labels)
	assert.Equal(t, "1000", cf.Config.User, "base user kept")

	_, err = c.Build(ctx, image.Spec{Base: r.Host + "/base:missing"})
	var re *image.RegistryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "fetch base", re.Op)
	assert.Contains(t, err.Error(), "base:missing")
}

func TestBuildIndex(t *testing.T) {
	r := newRegistry(t)
	c := newClient()
	ctx := context.Background()
	specs := []image.Spec{
		{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}, Layers: []image.Layer{{Files: []image.File{{Path: "/app", Content: []byte("amd64 binary")}}}}},
		{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}, Layers: []image.Layer{{Files: []image.File{{Path: "/app", Content: []byte("arm64 binary")}}}}},
	}
	idx, err := c.BuildIndex(ctx, specs)
	require.NoError(t, err)
	require.NoError(t, validate.Index(idx))
	res, err := c.PushIndex(ctx, r.Host+"/multi:v1", idx)
	require.NoError(t, err)

	pulled, err := remote.Index(res.Digest)
	require.NoError(t, err)
	im, err := pulled.IndexManifest()
	require.NoError(t, err)
	require.Len(t, im.Manifests, 2)
	assert.Equal(t, "amd64", im.Manifests[0].Platform.Architecture)
	assert.Equal(t, "arm64", im.Manifests[1].Platform.Architecture)
	arm, err := remote.Image(res.Digest, remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"}))
	require.NoError(t, err)
	cf, err := arm.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "arm64", cf.Architecture)

	// The index serves as a multi-platform base: each platform's build
	// starts from its own image.
	onArm, err := c.Build(ctx, image.Spec{
		Base:     res.Digest.String(),
		Platform: &v1.Platform{OS: "linux", Architecture: "arm64"},
		Layers:   []image.Layer{{Files: []image.File{{Path: "/extra", Content: []byte("x")}}}},
	})
	require.NoError(t, err)
	layers, err := onArm.Layers()
	require.NoError(t, err)
	require.Len(t, layers, 2)
	_, entries := readLayer(t, layers[0])
	assert.Equal(t, "arm64 binary", entries["app"].content)
	cf, err = onArm.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "arm64", cf.Architecture)

	_, err = c.BuildIndex(ctx, nil)
	assert.ErrorIs(t, err, image.ErrInvalidSpec)
	_, err = c.BuildIndex(ctx, []image.Spec{specs[0], specs[0]})
	assert.ErrorIs(t, err, image.ErrInvalidSpec)
	assert.ErrorContains(t, err, "linux/amd64")
}

func TestCopyByDigest(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	c := newClient()
	ctx := context.Background()
	img, err := c.Build(ctx, appSpec(appDir(t)))
	require.NoError(t, err)
	pushed, err := c.Push(ctx, src.Host+"/dev/checkout:v1", img)
	require.NoError(t, err)

	res, err := c.Copy(ctx, pushed.Digest.String(), dst.Host+"/prod/checkout")
	require.NoError(t, err)
	assert.Equal(t, pushed.Digest.DigestStr(), res.Digest.DigestStr(), "digest kept")
	assert.Equal(t, dst.Host+"/prod/checkout", res.Digest.Context().Name())
	assert.False(t, res.Skipped)
	copied, err := remote.Image(res.Digest)
	require.NoError(t, err)
	require.NoError(t, validate.Image(copied))

	again, err := c.Copy(ctx, pushed.Digest.String(), dst.Host+"/prod/checkout")
	require.NoError(t, err)
	assert.True(t, again.Skipped)

	tagged, err := c.Copy(ctx, pushed.Digest.String(), dst.Host+"/prod/checkout:release")
	require.NoError(t, err)
	assert.Equal(t, "release", tagged.Tag)

	_, err = c.Copy(ctx, src.Host+"/dev/checkout@sha256:"+strings.Repeat("1", 64), dst.Host+"/prod/checkout")
	assert.ErrorIs(t, err, image.ErrNotFound)
	assert.ErrorContains(t, err, "dev/checkout")
}

func TestInvalidInputs(t *testing.T) {
	c := newClient()
	ctx := context.Background()
	img, err := c.Build(ctx, image.Spec{})
	require.NoError(t, err)

	for _, ref := range []string{"", "UPPER/case:x", "repo:bad tag", "host/repo@sha256:short"} {
		_, err := c.Push(ctx, ref, img)
		assert.ErrorIs(t, err, image.ErrInvalidReference, ref)
	}
	_, err = c.Copy(ctx, "not a ref", "host/repo")
	assert.ErrorIs(t, err, image.ErrInvalidReference)
	_, err = c.Build(ctx, image.Spec{Base: "Bad//Ref"})
	assert.ErrorIs(t, err, image.ErrInvalidReference)

	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))
	bad := map[string]image.Spec{
		"missing dir":         {Layers: []image.Layer{{Dir: filepath.Join(dir, "nope")}}},
		"dir is a file":       {Layers: []image.Layer{{Dir: file}}},
		"missing file":        {Layers: []image.Layer{{Files: []image.File{{Path: "/a", Source: filepath.Join(dir, "nope")}}}}},
		"escaping path":       {Layers: []image.Layer{{Files: []image.File{{Path: "../etc/passwd", Content: []byte("x")}}}}},
		"file at root":        {Layers: []image.Layer{{Files: []image.File{{Path: "/", Content: []byte("x")}}}}},
		"duplicate path":      {Layers: []image.Layer{{Files: []image.File{{Path: "/a", Content: []byte("1")}, {Path: "a", Content: []byte("2")}}}}},
		"file as parent":      {Layers: []image.Layer{{Files: []image.File{{Path: "/a", Content: []byte("1")}, {Path: "/a/b", Content: []byte("2")}}}}},
		"bad env":             {Config: image.Config{Env: []string{"NOEQUALS"}}},
		"relative workdir":    {Config: image.Config{WorkingDir: "app"}},
		"source with secrets": {Config: image.Config{Source: "https://user:s3cret@git.example.com/x"}},
	}
	for name, spec := range bad {
		_, err := c.Build(ctx, spec)
		assert.ErrorIs(t, err, image.ErrInvalidSpec, name)
		if err != nil {
			assert.NotContains(t, err.Error(), "s3cret", name)
		}
	}
}

func TestRegistryAnswering500(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		if r.URL.Path == "/v2/" {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, "storage backend down", http.StatusInternalServerError)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	clk := clocktest.NewAuto(time.Time{})
	c := newClient(image.WithRetry(image.Backoff{Attempts: 3, Initial: time.Second}), image.WithClock(clk))
	img, err := c.Build(context.Background(), image.Spec{})
	require.NoError(t, err)

	_, err = c.Push(context.Background(), host+"/app:v1", img)
	require.Error(t, err)
	var re *image.RegistryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "check", re.Op)
	assert.Equal(t, host+"/app:v1", re.Ref)
	var te *transport.Error
	require.ErrorAs(t, err, &te)
	assert.Equal(t, http.StatusInternalServerError, te.StatusCode)
	assert.Contains(t, err.Error(), "500")
	mu.Lock()
	defer mu.Unlock()
	// Each attempt pings /v2/ once and sends one HEAD.
	assert.Equal(t, 6, calls, "three attempts")
	assert.Equal(t, []time.Duration{time.Second, 2 * time.Second}, clk.Waits(), "the backoff waits on the client's clock")
}

func TestHangingRegistryHonoursDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	host := strings.TrimPrefix(srv.URL, "http://")
	c := newClient(image.WithRetry(image.Backoff{Attempts: 5, Initial: time.Hour}))
	img, err := c.Build(context.Background(), image.Spec{})
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Push(ctx, host+"/app:v1", img)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	var re *image.RegistryError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, host+"/app:v1", re.Ref)

	// Fetching a base from a hanging registry ends at the deadline too.
	bctx, bcancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer bcancel()
	_, err = c.Build(bctx, image.Spec{Base: host + "/base:1"})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "fetch base", re.Op)

	// A cancelled context is not retried at all.
	cctx, ccancel := context.WithCancel(context.Background())
	ccancel()
	_, err = c.Copy(cctx, host+"/app:v1", host+"/other")
	assert.ErrorIs(t, err, context.Canceled)
}

// The base's layers are read when the image is pushed, after the build's
// context has ended (as in a pipeline, where build and push are separate
// steps).
func TestBaseFetchedAfterBuildContextEnds(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	c := newClient()
	base, err := c.Build(context.Background(), image.Spec{Layers: []image.Layer{{Files: []image.File{{Path: "/base", Content: []byte("base")}}}}})
	require.NoError(t, err)
	br, err := c.Push(context.Background(), src.Host+"/base:1", base)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	img, err := c.Build(ctx, image.Spec{Base: br.Digest.String()})
	require.NoError(t, err)
	cancel()
	_, err = c.Push(context.Background(), dst.Host+"/app:v1", img)
	require.NoError(t, err)
}

func TestResolveHashesTheServedManifest(t *testing.T) {
	r := newRegistry(t)
	c := newClient()
	ctx := context.Background()
	img, err := c.Build(ctx, appSpec(appDir(t)))
	require.NoError(t, err)
	pushed, err := c.Push(ctx, r.Host+"/prod/checkout:v1", img)
	require.NoError(t, err)

	got, err := c.Resolve(ctx, r.Host+"/prod/checkout:v1")
	require.NoError(t, err)
	assert.Equal(t, pushed.Digest, got, "a tag resolves to the pushed digest")
	got, err = c.Resolve(ctx, pushed.Digest.String())
	require.NoError(t, err)
	assert.Equal(t, pushed.Digest, got)

	_, err = c.Resolve(ctx, r.Host+"/prod/checkout@sha256:"+strings.Repeat("2", 64))
	assert.ErrorIs(t, err, image.ErrNotFound)
	_, err = c.Resolve(ctx, "Bad//Ref")
	assert.ErrorIs(t, err, image.ErrInvalidReference)

	// A registry that serves other bytes under the digest is caught.
	host := imagetest.NewServer(t, imagetest.CorruptManifests).Host
	res, err := c.Push(ctx, host+"/prod/checkout", img)
	require.NoError(t, err)
	_, err = c.Resolve(ctx, res.Digest.String())
	assert.ErrorIs(t, err, image.ErrDigestMismatch)
}
