package imagetest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/image/imagetest"
)

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	r := imagetest.NewRegistry()
	img, err := random.Image(64, 1)
	require.NoError(t, err)
	h, err := img.Digest()
	require.NoError(t, err)

	res, err := r.Push(ctx, "reg.example.com/dev/app:v1", img)
	require.NoError(t, err)
	assert.Equal(t, "reg.example.com/dev/app@"+h.String(), res.Digest.String())
	assert.False(t, res.Skipped)
	again, err := r.Push(ctx, "reg.example.com/dev/app:v1", img)
	require.NoError(t, err)
	assert.True(t, again.Skipped)

	d, ok := r.Resolve("reg.example.com/dev/app:v1")
	assert.True(t, ok)
	assert.Equal(t, h.String(), d)
	_, ok = r.Resolve("reg.example.com/dev/app:v2")
	assert.False(t, ok)

	cp, err := r.Copy(ctx, res.Digest.String(), "reg.example.com/prod/app")
	require.NoError(t, err)
	assert.Equal(t, "reg.example.com/prod/app@"+h.String(), cp.Digest.String())
	_, ok = r.Resolve(cp.Digest.String())
	assert.True(t, ok)

	_, err = r.Copy(ctx, "reg.example.com/dev/app:missing", "reg.example.com/prod/app")
	assert.ErrorIs(t, err, image.ErrNotFound)
	_, err = r.Push(ctx, "Bad Ref", img)
	assert.ErrorIs(t, err, image.ErrInvalidReference)
	_, err = r.Push(ctx, "reg.example.com/dev/app@sha256:"+strings.Repeat("0", 64), img)
	assert.ErrorIs(t, err, image.ErrDigestMismatch)

	boom := errors.New("boom")
	r.FailNext("copy", boom)
	_, err = r.Copy(ctx, res.Digest.String(), "reg.example.com/prod/app")
	assert.ErrorIs(t, err, boom)
	_, err = r.Copy(ctx, res.Digest.String(), "reg.example.com/prod/app")
	assert.NoError(t, err, "a fault applies once")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = r.Push(cctx, "reg.example.com/dev/app:v1", img)
	assert.ErrorIs(t, err, context.Canceled)

	calls := r.Calls()
	require.NotEmpty(t, calls)
	assert.Equal(t, imagetest.Call{Op: "push", Ref: "reg.example.com/dev/app:v1"}, calls[0])
	assert.Equal(t, imagetest.Call{Op: "copy", Src: res.Digest.String(), Ref: "reg.example.com/prod/app"}, calls[2])
}

func TestRegistryConcurrent(t *testing.T) {
	r := imagetest.NewRegistry()
	img, err := random.Image(16, 1)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Push(context.Background(), fmt.Sprintf("reg.example.com/app:t%d", i), img)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Len(t, r.Calls(), 20)
}
