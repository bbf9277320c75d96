package strategy

import (
	"fmt"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// Target is what a strategy changes in an app's overlay: it turns where
// a rollout stands (a [Desired]) into files of the GitOps repository,
// which the GitOps controller then applies. Each step of a run is one
// commit whose edits include Write; nothing is changed in the cluster
// directly. Implementations: [RouteTarget] (Gateway API HTTPRoute
// weights), [ReplicaTarget] (replica ratio, no router), [BlueGreenTarget]
// (one Deployment per colour, a Service selector switch) and
// [RollingTarget] (the Deployment's own rolling update).
// strategytest.TestTarget checks an implementation.
type Target interface {
	// Prepare writes into t the manifests the target needs beside the
	// app's own (a canary Deployment, Services, an HTTPRoute), modelled on
	// the overlay as it renders now (rendered, multi-document YAML). It
	// keeps what Write last wrote, so it can run again at any time; run at
	// the start of each rollout, it brings the copies up to date with the
	// app's Deployment.
	Prepare(t *gitops.Tree, rendered []byte) error
	// Write makes the overlay in t say what d says. Writing the same d
	// again changes nothing.
	Write(t *gitops.Tree, d Desired) error
	// Read returns what the overlay in t says, as Write wrote it.
	Read(t *gitops.Tree) (Desired, error)
}

// Desired is where a rollout stands, as a [Target] writes it: the
// releases the two workloads run, their replicas, and the new release's
// share of the traffic.
type Desired struct {
	// Stable is the release that served before the rollout and its
	// replicas; after the switch it is the new release.
	Stable Workload `json:"stable"`
	// Canary is the new release (the canary, or the preview colour) and
	// its replicas; a zero Release means no pods of it.
	Canary Workload `json:"canary"`
	// Weight is the new release's share of the traffic in percent: the
	// HTTPRoute weights with traffic routing, the active Service's colour
	// in blue-green (0 the stable colour, 100 the new one). Without a
	// router the replica ratio is the traffic and Weight is only recorded.
	Weight int32 `json:"weight"`
}

// Workload is one release and its replica count.
type Workload struct {
	// Release is the release, by image and digest.
	Release flightdeck.Release
	// Replicas is its replica count.
	Replicas int32
}

// String returns "shop@sha256:… ×3", or "none".
func (w Workload) String() string {
	if w.Release.Digest == "" {
		if w.Replicas > 0 {
			return fmt.Sprintf("none ×%d", w.Replicas)
		}
		return "none"
	}
	return fmt.Sprintf("%s ×%d", short(w.Release), w.Replicas)
}

// String describes d in one line: "stable … ×9, canary … ×1, weight 10%".
func (d Desired) String() string {
	return fmt.Sprintf("stable %s, canary %s, weight %d%%", d.Stable, d.Canary, d.Weight)
}

// short names a release by its image and the first 12 hex digits of its
// digest.
func short(r flightdeck.Release) string {
	d := r.Digest
	if len(d) > len("sha256:")+12 {
		d = d[:len("sha256:")+12]
	}
	return r.Image + "@" + d
}

// sameRelease reports whether two releases are the same image and digest.
func sameRelease(a, b flightdeck.Release) bool { return a.Image == b.Image && a.Digest == b.Digest }
