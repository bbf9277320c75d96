// Package imagetest provides an in-memory registry fake implementing
// image.Pusher and image.Copier, for tests of code that pushes or
// promotes images without running a registry, and [Server]:
// go-containerregistry's in-process registry behind httptest, recording
// requests, with [CorruptManifests] for a registry that serves other
// bytes under a digest, for tests that need the real protocol.
package imagetest
