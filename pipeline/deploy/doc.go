// Package deploy is the pipeline's deploy phase: a stage that takes the
// digest reference the push stage produced, turns it into a
// [flightdeck.Release] (with the source repository, revision and
// revision time the spec names), and deploys it with
// [gitops.DeployRelease] through a [gitops.Writer]: the image is pinned by
// digest in the environment's kustomize overlay and committed with the
// release's trailers (app, environment, action "deploy", the release
// "image@digest", tag, source), so that [gitops.Repo.History] and
// [gitops.CurrentRelease] give the whole release back. The GitOps
// controller (Argo CD) takes it from there. Guards in the spec (see
// [gitops.Guard]) can refuse the deploy atomically with the push, for
// example while the environment is under a hold.
//
// The stage reads the reference from [image.Ref] unless the spec names
// another key, and puts a [Deployment] under [Deployed]. Invalid input
// (a spec without app or environment, a reference without digest, an
// image the overlay rejects) fails with an error marked
// [pipeline.Permanent], as do an authentication failure and a guard's
// refusal ([gitops.ErrRefused]); a push race is
// already replayed inside [gitops.Repo.Apply], and other errors (an
// unreachable remote) are left to the step's retry policy.
package deploy
