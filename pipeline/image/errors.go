package image

import (
	"errors"
	"fmt"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrInvalidReference is returned (wrapped) when an image reference
	// does not parse.
	ErrInvalidReference = errors.New("invalid image reference")
	// ErrInvalidSpec is returned (wrapped) when a build spec is unusable:
	// a missing or unsupported file, a path escaping the image root, a
	// duplicate path or platform, or a malformed config entry.
	ErrInvalidSpec = errors.New("invalid image spec")
	// ErrDigestMismatch is returned (wrapped) when a push destination pins
	// a digest other than the image's.
	ErrDigestMismatch = errors.New("image digest mismatch")
	// ErrNotFound is returned (wrapped) when a copy source does not exist.
	ErrNotFound = errors.New("image not found")
)

// RegistryError reports a failed registry operation. Ref never carries
// credentials; Err is the last error seen (joined with the context's
// error when the context ended) and may be a
// *transport.Error from go-containerregistry.
type RegistryError struct {
	// Op is the operation: "push", "check", "resolve" or "fetch base".
	Op string
	// Ref is the image reference operated on.
	Ref string
	// Err is the underlying error.
	Err error
}

// Error returns "<op> <ref>: <err>", for example "push registry.example.com/shop:1.2: …".
func (e *RegistryError) Error() string {
	return fmt.Sprintf("%s %s: %v", e.Op, e.Ref, e.Err)
}

// Unwrap returns the underlying error.
func (e *RegistryError) Unwrap() error { return e.Err }
