package strategytest

import (
	"crypto/sha256"
	"fmt"
	"strings"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
	"github.com/flightdeck-dev/flightdeck/strategy"
)

// Env is the environment [Layout] pins and [Overlay] names.
const Env = "prod"

// Release returns release n of app: its image is gitopstest.Image(app)
// and its digest the SHA-256 of "<app>/<n>", so distinct n give distinct
// digests, the same in every run.
func Release(app string, n int) flightdeck.Release {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", app, n))
	return flightdeck.Release{
		App: app, Image: gitopstest.Image(app), Digest: fmt.Sprintf("sha256:%x", sum), Tag: fmt.Sprintf("%d.0.0", n),
	}
}

// Layout returns gitopstest.KustomizeLayout(apps...) with each app's
// prod overlay pinned by digest to Release(app, 1) and running replicas
// replicas: the state of an environment a strategy can start from.
func Layout(replicas int32, apps ...string) gitopstest.Files {
	files := gitopstest.KustomizeLayout(apps...)
	for _, app := range apps {
		k := "apps/" + app + "/overlays/" + Env + "/kustomization.yaml"
		files[k] = strings.Replace(files[k], "  newTag: 1.0.0 # initial release", "  digest: "+Release(app, 1).Digest+" # initial release", 1)
		files["apps/"+app+"/overlays/"+Env+"/replicas.yaml"] = fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: %d\n", app, replicas)
	}
	return files
}

// Overlay returns the strategy.Overlay of app's prod overlay in
// [Layout].
func Overlay(app string, replicas int32) strategy.Overlay {
	return strategy.Overlay{
		Dir:        "apps/" + app + "/overlays/" + Env,
		Deployment: app,
		Image:      gitopstest.Image(app),
		Replicas:   replicas,
	}
}

// Namespace is the namespace [Layout] gives app's prod overlay.
func Namespace(app string) string { return app + "-" + Env }
