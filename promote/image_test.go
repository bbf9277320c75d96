package promote_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/image/imagetest"
	"github.com/flightdeck-dev/flightdeck/promote"
)

func newRegistry(t *testing.T, wrap func(h http.Handler) http.Handler) *imagetest.Server {
	return imagetest.NewServer(t, wrap)
}

// manifestPuts counts a registry's manifest uploads.
func manifestPuts(r *imagetest.Server) int { return r.Count("PUT", "/manifests/") }

// pushRandom pushes a random image to repo and returns its digest.
func pushRandom(t *testing.T, repo string) string {
	t.Helper()
	img, err := random.Image(512, 2)
	require.NoError(t, err)
	ref, err := name.ParseReference(repo + ":ci")
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img))
	d, err := img.Digest()
	require.NoError(t, err)
	return d.String()
}

func mustRef(t *testing.T, s string) name.Reference {
	r, err := name.ParseReference(s)
	require.NoError(t, err)
	return r
}

type secretKeychain struct{}

func (secretKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig{Username: "robot", Password: "s3cret-pass"}), nil
}

func imageOpts(extra ...image.Option) []image.Option {
	return append([]image.Option{image.WithKeychain(authn.NewMultiKeychain()), image.WithRetry(image.Backoff{Attempts: 1})}, extra...)
}

func TestCopyImageByDigestBetweenRegistries(t *testing.T) {
	ctx := context.Background()
	src, dst := newRegistry(t, nil), newRegistry(t, nil)
	d := pushRandom(t, src.Host+"/dev/shop")
	cp, err := promote.CopyImage(dst.Host+"/prod/shop", imageOpts()...)
	require.NoError(t, err)
	rel := flightdeck.Release{App: "shop", Image: src.Host + "/dev/shop", Digest: d, Tag: "1.2.0", Revision: "abc123"}
	assert.Equal(t, dst.Host+"/prod/shop", cp.Repository(rel))

	got, err := cp.Copy(ctx, rel)
	require.NoError(t, err)
	assert.Equal(t, dst.Host+"/prod/shop", got.Image, "the release is named in the destination")
	assert.Equal(t, d, got.Digest, "with the same digest")
	assert.Equal(t, "abc123", got.Revision)
	desc, err := remote.Head(mustRef(t, got.Ref()))
	require.NoError(t, err)
	assert.Equal(t, d, desc.Digest.String())
	assert.Equal(t, 1, manifestPuts(dst))

	again, err := cp.Copy(ctx, rel)
	require.NoError(t, err)
	assert.Equal(t, got, again)
	assert.Equal(t, 1, manifestPuts(dst), "copying what is there uploads nothing")
	same, err := cp.Copy(ctx, got)
	require.NoError(t, err, "a release already in the destination is only verified")
	assert.Equal(t, got, same)

	missing := rel
	missing.Digest = "sha256:" + strings.Repeat("1", 64)
	_, err = cp.Copy(ctx, missing)
	assert.ErrorIs(t, err, promote.ErrImageCopy)
	assert.ErrorIs(t, err, image.ErrNotFound)
	assert.ErrorContains(t, err, "dev/shop@sha256:1111")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = cp.Copy(cctx, rel)
	assert.ErrorIs(t, err, context.Canceled)

	bad := rel
	bad.Digest = "sha256:short"
	_, err = cp.Copy(ctx, bad)
	assert.ErrorIs(t, err, flightdeck.ErrInvalidDigest)
	_, err = promote.CopyImage("Bad//Repo:tag")
	assert.ErrorIs(t, err, image.ErrInvalidReference)
}

// A source that asks for credentials and then fails: the error says
// 500, and neither the password nor its encoding.
func TestCopyImageFromFailingSourceKeepsCredentialsOut(t *testing.T) {
	src := newRegistry(t, func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, q *http.Request) {
			if q.Header.Get("Authorization") == "" {
				w.Header().Set("WWW-Authenticate", `Basic realm="registry"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			if q.URL.Path == "/v2/" {
				return
			}
			http.Error(w, "storage backend down", http.StatusInternalServerError)
		})
	})
	dst := newRegistry(t, nil)
	cp, err := promote.CopyImage(dst.Host+"/prod/shop", image.WithKeychain(secretKeychain{}), image.WithRetry(image.Backoff{Attempts: 1}))
	require.NoError(t, err)
	_, err = cp.Copy(context.Background(), flightdeck.Release{App: "shop", Image: src.Host + "/dev/shop", Digest: digest(7)})
	require.Error(t, err)
	assert.ErrorIs(t, err, promote.ErrImageCopy)
	var re *image.RegistryError
	assert.ErrorAs(t, err, &re)
	assert.Contains(t, err.Error(), "500")
	assert.NotContains(t, err.Error(), "s3cret-pass")
	assert.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString([]byte("robot:s3cret-pass")))
	assert.Equal(t, 0, manifestPuts(dst))
}

// A destination that serves other bytes under the digest fails the
// copy's check.
func TestCopyImageVerifiesTheDestinationDigest(t *testing.T) {
	src := newRegistry(t, nil)
	dst := newRegistry(t, imagetest.CorruptManifests)
	d := pushRandom(t, src.Host+"/dev/shop")
	cp, err := promote.CopyImage(dst.Host+"/prod/shop", imageOpts()...)
	require.NoError(t, err)
	_, err = cp.Copy(context.Background(), flightdeck.Release{App: "shop", Image: src.Host + "/dev/shop", Digest: d})
	assert.ErrorIs(t, err, promote.ErrImageCopy)
	assert.ErrorIs(t, err, image.ErrDigestMismatch)
}

// Promotion into prod copies the image into prod's registry first, only
// when the policies allow it, and pins prod's overlay to the copy.
func TestPromoteCopiesTheImageIntoTheNextRegistry(t *testing.T) {
	ctx := context.Background()
	src, dst := newRegistry(t, nil), newRegistry(t, nil)
	e := newEnv(t)
	d := pushRandom(t, src.Host+"/staging/shop")
	rel := e.src.release("shop", 2)
	rel.Image, rel.Digest = src.Host+"/staging/shop", d
	stagingT := target("shop", "staging")
	stagingT.ImageName = gitopstest.Image("shop") // the overlay's images: entry keeps its name
	_, err := gitops.DeployRelease(ctx, e.repo, gitops.DeployRequest{Target: stagingT, Release: rel})
	require.NoError(t, err)
	cp, err := promote.CopyImage(dst.Host+"/prod/shop", imageOpts()...)
	require.NoError(t, err)
	l := ladder(promote.Windows{Deny: []promote.Window{{Name: "freeze", Schedule: "0 8 2 3 *", Duration: 4 * time.Hour}}})
	l[2].Copy = cp
	p := e.promoter(l)

	pl, err := p.Plan(ctx, "shop", "prod")
	require.NoError(t, err)
	assert.Equal(t, dst.Host+"/prod/shop", pl.Release.Image)
	assert.Equal(t, d, pl.Release.Digest)
	_, err = p.Promote(ctx, promote.Request{}, pl)
	require.ErrorIs(t, err, promote.ErrBlocked)
	assert.Equal(t, 0, manifestPuts(dst), "a blocked promotion copies nothing")

	e.clk.Set(time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC))
	out, err := p.Promote(ctx, promote.Request{}, pl)
	require.NoError(t, err)
	assert.True(t, out[0].Result.Changed)
	assert.Equal(t, 1, manifestPuts(dst))
	cur, err := gitops.CurrentRelease(ctx, e.repo, target("shop", "prod"), "")
	require.NoError(t, err)
	assert.Equal(t, dst.Host+"/prod/shop@"+d, cur.Release.Ref())
	_, err = remote.Head(mustRef(t, cur.Release.Ref()))
	require.NoError(t, err, "prod's registry has what prod runs")

	// Again: the copy is verified, nothing is uploaded or committed.
	out, err = p.Promote(ctx, promote.Request{}, pl)
	require.NoError(t, err)
	assert.False(t, out[0].Result.Changed)
	assert.Equal(t, 1, manifestPuts(dst))
}
