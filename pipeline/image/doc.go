// Package image builds container images without a Docker daemon, pushes
// them, and copies them between registries, using go-containerregistry.
//
// A [Spec] describes an image: a base (a remote reference fetched with
// the client's keychain, or scratch), layers made from directories and
// single files, and the runtime config (entrypoint, command, environment,
// user, working directory, labels including the OCI source and revision
// labels). [Client.Build] turns a spec into a v1.Image and
// [Client.BuildIndex] combines several platform-specific specs into a
// multi-platform OCI index.
//
// Builds are reproducible: layer entries are sorted, owned by uid/gid 0,
// stamped with the spec's fixed time (the Unix epoch by default), and
// given normalised modes (directories 0755; files 0644, or 0755 when the
// source is executable; links 0777). The same inputs always give the
// same digest. Each layer is tarred, gzipped and hashed in a single pass
// and held compressed in memory until it is pushed.
//
// [Client.Push] uploads an image and returns a [Result] whose Digest is a
// name.Digest ("repo@sha256:…"), ready for [Result.Release]. Before
// uploading, Push asks the registry (HEAD) whether the destination already
// resolves to the image's digest and skips the upload if so; blobs already
// present are never uploaded twice. [Client.Copy] copies an image or index
// by digest, which is what a promotion does.
//
// Temporary registry failures (HTTP 408, 429, 5xx, network errors) are
// retried with exponential backoff, waiting in a select on the context; a
// cancelled or expired context is never retried. Failures are reported as
// [*RegistryError] naming the operation and the reference.
//
// In a pipeline, [BuildStep] and [PushStep] (or [BuildStage], [PushStage]
// and [CopyStage] with steps of your own) hand results on through typed
// keys: [Built] holds the built v1.Image, [Pushed] the [Result], and [Ref]
// the digest reference string for the deploy stage. Input errors (a bad
// spec or reference, a digest mismatch, a missing copy source) are marked
// pipeline.Permanent so a step's retry policy does not repeat them.
//
// A remote base is resolved (manifest and config) during Build; its
// layers are read when the image is pushed, under the push's context.
//
// The sibling package imagetest provides an in-memory [Pusher] and
// [Copier] for tests.
package image
