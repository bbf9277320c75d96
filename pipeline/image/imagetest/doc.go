// Package imagetest provides an in-memory registry fake implementing
// image.Pusher and image.Copier, for tests of code that pushes or
// promotes images without running a registry.
package imagetest
