package imagetest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/empty"

	"github.com/flightdeck-dev/flightdeck/pipeline/image/imagetest"
)

// Promote an image by digest with the fake registry, after one injected
// failure.
func ExampleRegistry() {
	ctx := context.Background()
	reg := imagetest.NewRegistry()
	pushed, _ := reg.Push(ctx, "registry.example.com/dev/app:v1", empty.Image)

	reg.FailNext("copy", errors.New("registry unavailable"))
	_, err := reg.Copy(ctx, pushed.Digest.String(), "registry.example.com/prod/app")
	fmt.Println("first copy:", err)
	promoted, _ := reg.Copy(ctx, pushed.Digest.String(), "registry.example.com/prod/app")
	fmt.Println("same digest:", promoted.Digest.DigestStr() == pushed.Digest.DigestStr())
	for _, c := range reg.Calls() {
		fmt.Println(c.Op, c.Ref)
	}
	// Output:
	// first copy: registry unavailable
	// same digest: true
	// push registry.example.com/dev/app:v1
	// copy registry.example.com/prod/app
	// copy registry.example.com/prod/app
}
