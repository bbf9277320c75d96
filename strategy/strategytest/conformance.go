package strategytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/strategy"
)

// conformanceReplicas is the app's replica count in the suite's layout.
const conformanceReplicas = 3

// Cases returns the sequence of states [TestTarget] writes, in order: a
// canary's progress, a blue-green switch and switch back, an abort, a
// finish, and a later release; each target writes those it supports.
// a and b are the stable and the new release.
func Cases(a, b strategy.Workload) []strategy.Desired {
	n := a.Replicas
	at := func(w strategy.Workload, replicas int32) strategy.Workload {
		w.Replicas = replicas
		return w
	}
	none := strategy.Workload{}
	return []strategy.Desired{
		{Stable: at(a, n), Canary: none},
		{Stable: at(a, n), Canary: at(b, 1), Weight: 25},
		{Stable: at(a, n-1), Canary: at(b, 1), Weight: 33},
		{Stable: at(a, n), Canary: at(b, n), Weight: 0},
		{Stable: at(a, n), Canary: at(b, n), Weight: 100},
		{Stable: at(a, n), Canary: at(b, n), Weight: 0},
		{Stable: at(a, n), Canary: none},
		{Stable: at(a, n), Canary: at(b, n), Weight: 100},
		{Stable: at(b, n), Canary: at(b, n), Weight: 100},
		{Stable: at(b, n), Canary: none},
		{Stable: at(a, n), Canary: none},
	}
}

// TestTarget runs the conformance suite of strategy.Target against
// targets built by newTarget for the overlay it is given (app "shop" in
// prod, 3 replicas, the layout of [Layout]). On a real repository, for
// each state of [Cases] that the target writes (a Write error wrapping
// strategy.ErrUnsupported skips the state), it checks that:
//
//   - Prepare succeeds, the overlay still renders, and preparing again
//     changes nothing;
//   - Write changes only files inside the overlay directory, the overlay
//     still renders with kustomize, and writing the same state again
//     changes nothing;
//   - Read gives back the state written (releases by image and digest,
//     replicas, weight), also after a later Prepare;
//   - in the rendered overlay, the Deployments that run each release have
//     exactly the replicas the state gives it, no Deployment with pods
//     runs a stand-in image of strategy.PlaceholderRegistry, and every
//     HTTPRoute backendRef has an explicit weight, not all of them zero;
//   - Write refuses, with an error and no commit, a state without a
//     stable release, a weight outside 0–100 and negative replicas.
//
// At least the first state (the stable release alone) must be supported.
func TestTarget(t *testing.T, newTarget func(t *testing.T, o strategy.Overlay) strategy.Target) {
	t.Helper()
	ctx := context.Background()
	o := Overlay("shop", conformanceReplicas)
	dir := gitopstest.NewBareRepo(t, Layout(conformanceReplicas, "shop"))
	repo, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(t.TempDir(), "cache")))
	require.NoError(t, err)
	target := newTarget(t, o)
	require.NotNil(t, target, "newTarget returned nil")

	apply := func(msg string, edit func(*gitops.Tree) error) (gitops.Result, error) {
		return repo.Apply(ctx, gitops.Change{Message: msg, Edits: []gitops.Edit{gitops.EditFunc(edit)}})
	}
	render := func() []byte {
		t.Helper()
		out, err := repo.Render(ctx, "", o.Dir)
		require.NoError(t, err, "the overlay does not render")
		return out
	}
	read := func() strategy.Desired {
		t.Helper()
		var d strategy.Desired
		_, err := apply("read", func(tr *gitops.Tree) error {
			var err error
			d, err = target.Read(tr)
			return err
		})
		require.NoError(t, err, "Read")
		return d
	}
	prepare := func() gitops.Result {
		t.Helper()
		rendered := render()
		res, err := apply("prepare", func(tr *gitops.Tree) error { return target.Prepare(tr, rendered) })
		require.NoError(t, err, "Prepare")
		checkFiles(t, o, res)
		render()
		return res
	}

	prepare()
	again := prepare()
	assert.False(t, again.Changed, "a second Prepare changed %v", again.Files)

	a := strategy.Workload{Release: Release("shop", 1), Replicas: conformanceReplicas}
	b := strategy.Workload{Release: Release("shop", 2), Replicas: conformanceReplicas}
	supported := 0
	for i, want := range Cases(a, b) {
		res, err := apply("write", func(tr *gitops.Tree) error { return target.Write(tr, want) })
		if errors.Is(err, strategy.ErrUnsupported) {
			t.Logf("state %d (%s) is not supported: %v", i, want, err)
			require.NotZero(t, i, "the stable release alone must be supported")
			continue
		}
		require.NoError(t, err, "Write state %d (%s)", i, want)
		supported++
		checkFiles(t, o, res)
		rendered := render()
		checkRendered(t, rendered, want)
		assertSame(t, want, read(), "Read after Write of state %d", i)
		res, err = apply("write again", func(tr *gitops.Tree) error { return target.Write(tr, want) })
		require.NoError(t, err, "Write state %d again", i)
		assert.False(t, res.Changed, "writing state %d again changed %v", i, res.Files)
		prepare()
		assertSame(t, want, read(), "Read after Prepare of state %d", i)
	}
	require.NotZero(t, supported, "the target wrote no state")

	for _, bad := range []strategy.Desired{
		{},
		{Stable: a, Weight: 101},
		{Stable: a, Weight: -1},
		{Stable: strategy.Workload{Release: a.Release, Replicas: -1}},
		{Stable: a, Canary: strategy.Workload{Replicas: 1}},
	} {
		res, err := apply("bad write", func(tr *gitops.Tree) error { return target.Write(tr, bad) })
		assert.Error(t, err, "Write accepted %s", bad)
		assert.True(t, res.Commit.IsZero(), "a refused Write made a commit")
	}
}

// checkFiles checks that a change stayed inside the overlay.
func checkFiles(t *testing.T, o strategy.Overlay, res gitops.Result) {
	t.Helper()
	for _, f := range res.Files {
		assert.True(t, strings.HasPrefix(f, o.Dir+"/"), "a target wrote %s, outside the overlay %s", f, o.Dir)
	}
}

// assertSame compares two states by what a target writes: releases by
// image and digest, replicas and weight.
func assertSame(t *testing.T, want, got strategy.Desired, msg string, args ...any) {
	t.Helper()
	key := func(d strategy.Desired) string {
		w := func(w strategy.Workload) string {
			if w.Release.Digest == "" {
				return fmt.Sprintf("none x%d", w.Replicas)
			}
			return fmt.Sprintf("%s x%d", w.Release.Ref(), w.Replicas)
		}
		return fmt.Sprintf("stable %s, canary %s, weight %d%%", w(d.Stable), w(d.Canary), d.Weight)
	}
	assert.Equal(t, key(want), key(got), append([]any{msg}, args...)...)
}

// checkRendered checks the rendered overlay against a state.
func checkRendered(t *testing.T, rendered []byte, d strategy.Desired) {
	t.Helper()
	want := map[string]int32{}
	for _, w := range []strategy.Workload{d.Stable, d.Canary} {
		if w.Release.Digest != "" && w.Replicas > 0 {
			want[w.Release.Image+"@"+w.Release.Digest] += w.Replicas
		}
	}
	got := map[string]int32{}
	dec := yaml.NewDecoder(bytes.NewReader(rendered))
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		switch obj["kind"] {
		case "Deployment":
			replicas := int32(1)
			if spec, ok := obj["spec"].(map[string]any); ok {
				if n, ok := spec["replicas"].(int); ok {
					replicas = int32(n)
				}
			}
			if replicas == 0 {
				continue
			}
			seen := map[string]bool{}
			for _, img := range images(obj) {
				assert.False(t, strings.HasPrefix(img, strategy.PlaceholderRegistry+"/"), "a Deployment with %d pods runs the stand-in image %s", replicas, img)
				if strings.Contains(img, "@sha256:") && !seen[img] {
					seen[img] = true
					got[img] += replicas
				}
			}
		case "HTTPRoute":
			checkRoute(t, obj)
		}
	}
	assert.Equal(t, want, got, "replicas per release in the rendered overlay for %s", d)
}

func images(obj map[string]any) []string {
	spec, _ := obj["spec"].(map[string]any)
	tmpl, _ := spec["template"].(map[string]any)
	pod, _ := tmpl["spec"].(map[string]any)
	var out []string
	for _, key := range []string{"containers", "initContainers"} {
		cs, _ := pod[key].([]any)
		for _, c := range cs {
			m, _ := c.(map[string]any)
			if img, ok := m["image"].(string); ok {
				out = append(out, img)
			}
		}
	}
	return out
}

func checkRoute(t *testing.T, route map[string]any) {
	t.Helper()
	spec, _ := route["spec"].(map[string]any)
	rules, _ := spec["rules"].([]any)
	for i, r := range rules {
		m, _ := r.(map[string]any)
		refs, _ := m["backendRefs"].([]any)
		sum := 0
		for j, ref := range refs {
			b, _ := ref.(map[string]any)
			w, ok := b["weight"].(int)
			assert.True(t, ok, "HTTPRoute rule %d backendRef %d has no explicit weight", i, j)
			sum += w
		}
		if len(refs) > 0 {
			assert.NotZero(t, sum, "HTTPRoute rule %d has every backend at weight 0", i)
		}
	}
}
