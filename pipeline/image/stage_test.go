package image_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/image/imagetest"
)

func TestStagesAgainstRegistry(t *testing.T) {
	r := newRegistry(t)
	c := newClient()
	promoted := pipeline.NewKey[string]("test.promoted")
	var b pipeline.Builder
	b.Add(
		image.BuildStep(c, appSpec(appDir(t))),
		image.PushStep(c, r.Host+"/dev/checkout:v1"),
		pipeline.Step{
			Stage:    image.CopyStage(c, image.Ref, r.Host+"/prod/checkout", promoted),
			Needs:    []pipeline.AnyKey{image.Ref},
			Provides: []pipeline.AnyKey{promoted},
		},
	)
	g, err := b.Build()
	require.NoError(t, err)
	e, err := pipeline.New()
	require.NoError(t, err)
	st := pipeline.NewState()
	_, err = e.Run(context.Background(), g, st)
	require.NoError(t, err)

	res, err := image.Pushed.Get(st)
	require.NoError(t, err)
	ref, err := image.Ref.Get(st)
	require.NoError(t, err)
	assert.Equal(t, res.Digest.String(), ref)
	assert.Equal(t, "v1", res.Tag)
	prod, err := promoted.Get(st)
	require.NoError(t, err)
	assert.Equal(t, r.Host+"/prod/checkout@"+res.Digest.DigestStr(), prod)
}

func TestStageErrors(t *testing.T) {
	reg := imagetest.NewRegistry()
	run := func(steps ...pipeline.Step) error {
		var b pipeline.Builder
		b.Add(steps...)
		g, err := b.Build()
		require.NoError(t, err)
		e, err := pipeline.New()
		require.NoError(t, err)
		_, err = e.Run(context.Background(), g, nil)
		return err
	}
	c := newClient()
	bad := image.BuildStep(c, image.Spec{Config: image.Config{Env: []string{"BROKEN"}}})
	bad.Retry = pipeline.Retry{Attempts: 3, Backoff: time.Millisecond}
	err := run(bad)
	require.ErrorIs(t, err, image.ErrInvalidSpec)
	var se *pipeline.StepError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 1, se.Attempts, "spec errors are not retried")

	// A transient push failure is retried by the step.
	boom := errors.New("registry unavailable")
	reg.FailNext("push", boom)
	push := image.PushStep(reg, "registry.example.com/app:v1")
	push.Retry = pipeline.Retry{Attempts: 2, Backoff: time.Millisecond}
	require.NoError(t, run(image.BuildStep(c, image.Spec{}), push))
	assert.Len(t, reg.Calls(), 2)
	_, ok := reg.Resolve("registry.example.com/app:v1")
	assert.True(t, ok)
}

func TestFuncAdapters(t *testing.T) {
	var gotRef string
	p := image.PusherFunc(func(ctx context.Context, ref string, img v1.Image) (image.Result, error) {
		gotRef = ref
		return image.Result{}, image.ErrInvalidReference
	})
	st := pipeline.NewState()
	image.Built.Put(st, empty.Image)
	err := image.PushStage(p, "bad ref").Run(context.Background(), st)
	require.ErrorIs(t, err, image.ErrInvalidReference)
	assert.True(t, pipeline.IsPermanent(err), "input errors are permanent")
	assert.Equal(t, "bad ref", gotRef)

	c := image.CopierFunc(func(ctx context.Context, src, dst string) (image.Result, error) {
		return image.Result{}, errors.New("registry unavailable")
	})
	from := pipeline.NewKey[string]("test.from")
	to := pipeline.NewKey[string]("test.to")
	from.Put(st, "registry.example.com/app@sha256:"+strings.Repeat("a", 64))
	err = image.CopyStage(c, from, "registry.example.com/prod/app", to).Run(context.Background(), st)
	require.ErrorContains(t, err, "registry unavailable")
	assert.False(t, pipeline.IsPermanent(err), "registry errors may be retried")
	assert.False(t, st.Has(to))

	err = image.PushStage(p, "x").Run(context.Background(), pipeline.NewState())
	assert.ErrorIs(t, err, pipeline.ErrNoValue, "nothing built")
}
