// Command image is the helper of bench/image.sh: it serves an in-process
// registry when Debian's docker-registry is not installed, and builds and
// pushes an image with flightdeck's pipeline/image the way a CI step
// would, so that its time can be compared with `crane append`.
//
//	image serve                      print "host:port", serve until stdin closes
//	image push -file F -ref R        build an image with F as /data/F, push to R
//	image freeport                   print a free loopback TCP port
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/flightdeck-dev/flightdeck/pipeline/image"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: image serve | image push -file F -ref R")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve()
	case "push":
		err = push(os.Args[2:])
	case "freeport":
		err = freePort()
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func serve() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go func() { _ = srv.Serve(l) }()
	fmt.Println(l.Addr().String())
	// Serve until the parent closes stdin.
	_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	return srv.Close()
}

func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	file := fs.String("file", "", "file to put in the layer")
	ref := fs.String("ref", "", "destination reference")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *ref == "" {
		return fmt.Errorf("push needs -file and -ref")
	}
	ctx := context.Background()
	c := image.New(image.WithKeychain(authn.DefaultKeychain))
	img, err := c.Build(ctx, image.Spec{Layers: []image.Layer{{Files: []image.File{
		{Path: "/data/" + filepath.Base(*file), Source: *file},
	}}}})
	if err != nil {
		return err
	}
	res, err := c.Push(ctx, *ref, img)
	if err != nil {
		return err
	}
	fmt.Println(res.Digest.String())
	return nil
}

func freePort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}
