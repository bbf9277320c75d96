// Package deploy is the pipeline's deploy phase: a stage that takes the
// digest reference the push stage produced, turns it into a
// [flightdeck.Release], and hands it to a [gitops.Writer] that pins the
// image by digest in the environment's kustomize overlay and commits
// (with flightdeck's trailers: app, environment, release, image digest,
// action "deploy"). The GitOps controller (Argo CD) takes it from there.
//
// The stage reads the reference from [image.Ref] unless the spec names
// another key, and puts a [Deployment] under [Deployed]. Invalid input
// (a spec without app or environment, a reference without digest, an
// image the overlay rejects) fails with an error marked
// [pipeline.Permanent], as does an authentication failure; a push race is
// already replayed inside [gitops.Repo.Apply], and other errors (an
// unreachable remote) are left to the step's retry policy.
package deploy
