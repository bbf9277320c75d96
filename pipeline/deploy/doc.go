// Package deploy is the pipeline's deploy phase: a stage that takes the
// digest reference the push stage produced, turns it into a
// [flightdeck.Release] (with the source repository, revision and
// revision time the spec names), and deploys it with
// [gitops.DeployRelease] through a [gitops.Writer]: the image is pinned by
// digest in the environment's kustomize overlay and committed with the
// release's trailers (app, environment, action "deploy", the release
// "image@digest", tag, source), so that [gitops.Repo.History] and
// [gitops.CurrentRelease] give the whole release back. The GitOps
// controller (Argo CD) takes it from there.
//
// A deploy to an environment under a hold (placed by package rollback
// after a rollback, see [gitops.Hold]), or of a digest quarantined
// there, is refused by default, atomically with the push, with an error
// that names the hold: who placed it, when, why and the release rolled
// back from. Only Spec.Override, with a reason the commit records, gets
// past it; lifting the hold lets the next deploy through. Guards in the
// spec (see [gitops.Guard]) can refuse the deploy for reasons of their
// own the same way.
//
// [Stage.NotifyObserver] tells stakeholders through package notify what
// the stage did: the deploy commit (on-deployed) or a refusal
// (on-blocked-by-policy).
//
// The stage reads the reference from [image.Ref] unless the spec names
// another key, and puts a [Deployment] under [Deployed]. Invalid input
// (a spec without app or environment, a reference without digest, an
// image the overlay rejects) fails with an error marked
// [pipeline.Permanent], as do an authentication failure and a hold's or
// a guard's refusal ([gitops.ErrRefused]); a push race is
// already replayed inside [gitops.Repo.Apply], and other errors (an
// unreachable remote) are left to the step's retry policy.
package deploy
