//go:build !unix && !windows

package gitops

import "os"

// On platforms without file locks the cache lock is a no-op: Repos
// sharing a cache directory there must be serialised by the caller.
func tryLockFile(*os.File) (bool, error) { return true, nil }

func unlockFile(*os.File) error { return nil }
