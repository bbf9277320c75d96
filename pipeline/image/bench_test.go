package image_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline/image"
)

// BenchmarkBuild measures building a one-layer image from an 8 MB random
// file (tar, gzip and both hashes); bench/image.sh measures build+push
// of 50 MB against crane.
func BenchmarkBuild(b *testing.B) {
	data := make([]byte, 8<<20)
	_, err := rand.Read(data)
	require.NoError(b, err)
	c := newClient()
	spec := image.Spec{Layers: []image.Layer{{Files: []image.File{{Path: "/data/blob", Content: data}}}}}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		img, err := c.Build(context.Background(), spec)
		require.NoError(b, err)
		_, err = img.Digest()
		require.NoError(b, err)
	}
}

// BenchmarkPushSkip measures a push whose digest the registry already
// has: one HEAD round trip.
func BenchmarkPushSkip(b *testing.B) {
	r := newRegistry(b)
	c := newClient()
	img, err := c.Build(context.Background(), image.Spec{Layers: []image.Layer{{Files: []image.File{{Path: "/a", Content: []byte("a")}}}}})
	require.NoError(b, err)
	_, err = c.Push(context.Background(), r.Host+"/app:v1", img)
	require.NoError(b, err)
	for b.Loop() {
		res, err := c.Push(context.Background(), r.Host+"/app:v1", img)
		require.NoError(b, err)
		require.True(b, res.Skipped)
	}
}
