//go:build integration

package gitops_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/types"

	"github.com/flightdeck-dev/flightdeck/gitops"
)

// kustomizeCLI is the release of the kustomize CLI whose `edit set
// image` SetImage follows.
const kustomizeCLI = "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"

// installKustomize builds the kustomize CLI with `go install` into a
// fresh GOBIN (the Go build and module caches make a second run quick)
// and returns the binary's path.
func installKustomize(t *testing.T) string {
	t.Helper()
	gobin := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(runtime.GOROOT(), "bin", "go"), "install", kustomizeCLI)
	cmd.Dir = gobin
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=", "GOWORK=off", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go install %s: %s", kustomizeCLI, out)
	bin := filepath.Join(gobin, "kustomize")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	return bin
}

// parseKustomization reads a kustomization as kustomize does.
func parseKustomization(t *testing.T, data string) types.Kustomization {
	t.Helper()
	var k types.Kustomization
	require.NoError(t, k.Unmarshal([]byte(data)), "%s", data)
	k.FixKustomization()
	return k
}

// imagesByName returns the images entries keyed by name. Order is not
// compared: the CLI sorts the list, SetImage keeps the file's order, and
// kustomize applies entries with distinct names independently.
func imagesByName(t *testing.T, k types.Kustomization) map[string]types.Image {
	t.Helper()
	m := map[string]types.Image{}
	for _, im := range k.Images {
		_, dup := m[im.Name]
		require.False(t, dup, "two entries named %s", im.Name)
		m[im.Name] = im
	}
	return m
}

// TestIntegrationSetImageMatchesKustomizeCLI runs the kustomize CLI
// itself and SetImage (through ParseSetImage) on the same starting files
// and arguments, and compares the kustomizations they leave: the images
// entries must be equal except for the one documented deviation (an
// entry with a digest has no newTag), and nothing else may differ.
func TestIntegrationSetImageMatchesKustomizeCLI(t *testing.T) {
	bin := installKustomize(t)

	const dA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const dB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	starts := map[string]string{
		"no images": "resources:\n- deploy.yaml\n",
		"empty list": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deploy.yaml
images: []
`,
		"populated": `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deploy.yaml
namespace: prod
images:
- name: nginx # web
  newName: mirror.example.com/nginx # our mirror
  newTag: "1.25" # pinned
  tagSuffix: -alpine
- name: redis
  digest: ` + dB + ` # redis pin
- name: app
  newName: ghcr.io/acme/app
  newTag: v1
  digest: ` + dB + `
- name: localhost:5000/team/api
  newTag: "2.0"
`,
	}
	args := []string{
		// name:tag, name@digest, name:tag@digest
		"nginx:1.26", "nginx@" + dA, "nginx:1.26@" + dA,
		"redis:7", "redis@" + dA, "app:v2", "app@" + dA, "new:1.0", "new@" + dA, "new:1.0@" + dA,
		// name=newName[:tag][@digest]
		"nginx=ghcr.io/acme/nginx", "nginx=ghcr.io/acme/nginx:1.27", "nginx=ghcr.io/acme/nginx@" + dA,
		"nginx=ghcr.io/acme/nginx:1.27@" + dA, "redis=ghcr.io/acme/redis", "app=ghcr.io/other/app:v3",
		"new=ghcr.io/acme/new", "new=ghcr.io/acme/new:v1@" + dA,
		// "*" keeps the current value (none for a new entry)
		"nginx=*:1.28", "nginx=*", "nginx:*", "nginx@*", "nginx=*:*@" + dA, "nginx=*@*",
		"redis=*:*@*", "redis:8@*", "app=*:*", "app=*:*@*", "app:*@" + dA, "new=*:v1", "new:*", "new@*",
		// registries with ports
		"localhost:5000/team/api:2.1", "localhost:5000/team/api@" + dA,
		"localhost:5000/team/api=registry.example.com:5000/team/api:3",
		"reg.example.com:443/x=reg2.example.com:5000/y@" + dA,
	}
	// Arguments the CLI accepts and SetImage refuses, and why.
	refused := map[string]string{
		"nginx=":        "sets nothing",
		"nginx:bad!tag": "nginx:bad!tag",
		"nginx@sha512:" + strings.Repeat("a", 128): "sha256 only",
		"nginx@sha256:abc":                         "sha256 wants 64",
		"UPPER/case:v1":                            "UPPER/case",
	}
	for a := range refused {
		args = append(args, a)
	}

	deviations := 0
	for sname, start := range starts {
		for _, arg := range args {
			t.Run(sname+"/"+arg, func(t *testing.T) {
				dir := t.TempDir()
				file := filepath.Join(dir, "kustomization.yaml")
				require.NoError(t, os.WriteFile(file, []byte(start), 0o600))
				cmd := exec.Command(bin, "edit", "set", "image", arg)
				cmd.Dir = dir
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "kustomize edit set image %s: %s", arg, out)
				data, err := os.ReadFile(file)
				require.NoError(t, err)
				cli := parseKustomization(t, string(data))

				s, root := memTree(t, map[string]string{"o/kustomization.yaml": start})
				tr := gitops.NewTree(s, root)
				e, err := gitops.ParseSetImage("o", arg)
				if err == nil {
					err = e.Apply(tr)
				}
				if why, ok := refused[arg]; ok {
					require.Error(t, err, "documented refusal")
					assert.ErrorIs(t, err, gitops.ErrInvalidImage)
					assert.ErrorContains(t, err, why)
					return
				}
				require.NoError(t, err)
				got, err := tr.ReadFile("o/kustomization.yaml")
				require.NoError(t, err)
				ours := parseKustomization(t, string(got))

				want := imagesByName(t, cli)
				if im := want[e.Name]; im.Digest != "" && im.NewTag != "" {
					// The deviation: the entry the edit writes is pinned by
					// its digest alone.
					im.NewTag = ""
					want[e.Name] = im
					deviations++
				}
				assert.Equal(t, want, imagesByName(t, ours), "images after `kustomize edit set image %s`:\n%s\nflightdeck:\n%s", arg, data, got)
				cli.Images, ours.Images = nil, nil
				assert.Equal(t, cli, ours, "the rest of the kustomization is unchanged")
			})
		}
	}
	assert.Positive(t, deviations, "some arguments exercise the digest-drops-newTag deviation")

	// Two entries for one name: the CLI keeps one of them (which one
	// depends on the argument), SetImage refuses to guess.
	t.Run("duplicate entries", func(t *testing.T) {
		start := "images:\n- name: nginx\n  newTag: a\n- name: nginx\n  newName: b\n"
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(start), 0o600))
		cmd := exec.Command(bin, "edit", "set", "image", "nginx=*:c")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
		require.NoError(t, err)
		assert.Len(t, parseKustomization(t, string(data)).Images, 1, "the CLI collapses the entries")

		s, root := memTree(t, map[string]string{"o/kustomization.yaml": start})
		err = gitops.SetImage{Dir: "o", Name: "nginx", NewName: gitops.KeepCurrent, NewTag: "c"}.Apply(gitops.NewTree(s, root))
		assert.ErrorIs(t, err, gitops.ErrInvalidYAML)
		assert.ErrorContains(t, err, "more than one entry named nginx")
	})
}
