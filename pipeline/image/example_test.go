package image_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/image/imagetest"
)

// Build an image on scratch twice from the same inputs: the digests are
// equal. Push it to the in-memory fake registry; the second push is
// skipped because the tag already points at the digest.
func Example() {
	ctx := context.Background()
	c := image.New(image.WithKeychain(authn.NewMultiKeychain()))
	spec := image.Spec{
		Layers: []image.Layer{{Files: []image.File{
			{Path: "/app/hello.txt", Content: []byte("hello\n")},
		}}},
		Config: image.Config{
			Entrypoint: []string{"/app/server"},
			Source:     "https://git.example.com/shop/checkout",
			Revision:   "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
		},
	}
	a, _ := c.Build(ctx, spec)
	b, _ := c.Build(ctx, spec)
	da, _ := a.Digest()
	db, _ := b.Digest()
	fmt.Println("same digest:", da == db)

	reg := imagetest.NewRegistry()
	first, _ := reg.Push(ctx, "registry.example.com/shop/checkout:v1", a)
	second, _ := reg.Push(ctx, "registry.example.com/shop/checkout:v1", b)
	fmt.Println("pinned:", first.Digest.String() == "registry.example.com/shop/checkout@"+da.String())
	fmt.Println("skipped:", first.Skipped, second.Skipped)
	rel := first.Release("checkout", "https://git.example.com/shop/checkout", "4b825dc642cb6eb9a060e54bf8d69288fbee4904")
	fmt.Println("release valid:", rel.Validate() == nil)
	// Output:
	// same digest: true
	// pinned: true
	// skipped: false true
	// release valid: true
}

// The build and push stages in a pipeline: the push step needs the built
// image and provides the digest reference for the deploy step.
func ExamplePushStep() {
	c := image.New(image.WithKeychain(authn.NewMultiKeychain()))
	reg := imagetest.NewRegistry()
	var b pipeline.Builder
	b.Add(
		image.BuildStep(c, image.Spec{Layers: []image.Layer{{Files: []image.File{{Path: "/hello", Content: []byte("hi")}}}}}),
		image.PushStep(reg, "registry.example.com/hello:v1"),
	)
	g, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	e, _ := pipeline.New()
	st := pipeline.NewState()
	if _, err := e.Run(context.Background(), g, st); err != nil {
		fmt.Println(err)
		return
	}
	ref, _ := image.Ref.Get(st)
	fmt.Println(strings.HasPrefix(ref, "registry.example.com/hello@sha256:"))
	fmt.Println(reg.Calls()[0].Op, reg.Calls()[0].Ref)
	// Output:
	// true
	// push registry.example.com/hello:v1
}
