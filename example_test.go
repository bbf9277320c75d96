package flightdeck_test

import (
	"fmt"

	"github.com/flightdeck-dev/flightdeck"
)

func ExampleParseRelease() {
	r, err := flightdeck.ParseRelease("checkout",
		"registry.example.com/shop/checkout:1.4.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.App, r.Image, r.Tag)
	fmt.Println(flightdeck.Environment{Name: flightdeck.Staging}.OverlayPath())
	// Output:
	// checkout registry.example.com/shop/checkout 1.4.0
	// overlays/staging
}
