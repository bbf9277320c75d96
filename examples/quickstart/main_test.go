package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickstart runs the whole quickstart, as `go run ./examples/quickstart`
// does, and checks the story it tells.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds, tests and scans a Go program")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, &out, false, "")
	require.NoError(t, err, out.String())
	s := out.String()

	assert.Regexp(t, `ok +unit-test`, s)
	assert.Regexp(t, `ok +dependency-scan`, s)
	assert.Regexp(t, `ok +image-push`, s)
	assert.Regexp(t, `ok +deploy-dev`, s)
	assert.Contains(t, s, "tests: 2 passed, 0 failed")
	// The dev overlay now pins the pushed image by digest.
	assert.Regexp(t, `\+ +- image: 127\.0\.0\.1:\d+/hello@sha256:[0-9a-f]{64}`, s)
	// Git gives the whole release back: image, digest, source and its time.
	assert.Regexp(t, `read back from Git: dev runs 127\.0\.0\.1:\d+/hello@sha256:[0-9a-f]{64}, built from [0-9a-f]{12} of file://\S+ at \d{4}-`, s)
	assert.Regexp(t, `before +OutOfSync/`, s)
	assert.Regexp(t, `hello-dev is Synced/Healthy at [0-9a-f]{12}`, s)
	assert.Regexp(t, `hello-dev is Synced/Degraded at [0-9a-f]{12}`, s)
	assert.Contains(t, s, `Deployment "hello" exceeded its progress deadline`)
	// Two different releases were deployed.
	digests := regexp.MustCompile(`deploys \S+@(sha256:[0-9a-f]{64})`).FindAllStringSubmatch(s, -1)
	require.Len(t, digests, 2)
	assert.NotEqual(t, digests[0][1], digests[1][1])
}
