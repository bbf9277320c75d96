package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/osfs"

	"github.com/flightdeck-dev/flightdeck/clock"
)

// The cache is private to the user who runs flightdeck: its directories
// are 0700 and its files 0600, whatever the umask.
const (
	privateDirPerm  os.FileMode = 0o700
	privateFilePerm os.FileMode = 0o600
)

// privateFS is the cache directory as go-git sees it: an osfs that creates
// every directory 0700 and every file 0600 (osfs itself makes directories
// 0755 and leaves files to the umask).
type privateFS struct {
	billy.Filesystem
	root string
}

func newPrivateFS(root string) billy.Filesystem {
	return privateFS{Filesystem: osfs.New(root), root: root}
}

func (p privateFS) parent(name string) error {
	d := filepath.Dir(name)
	if d == "." || d == "" {
		return nil
	}
	return os.MkdirAll(filepath.Join(p.root, d), privateDirPerm)
}

func (p privateFS) Create(name string) (billy.File, error) {
	return p.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, privateFilePerm)
}

func (p privateFS) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	if flag&os.O_CREATE != 0 {
		if err := p.parent(name); err != nil {
			return nil, err
		}
		perm = privateFilePerm
	}
	return p.Filesystem.OpenFile(name, flag, perm)
}

func (p privateFS) TempFile(dir, prefix string) (billy.File, error) {
	if err := os.MkdirAll(filepath.Join(p.root, dir), privateDirPerm); err != nil {
		return nil, err
	}
	return p.Filesystem.TempFile(dir, prefix) // os.CreateTemp: 0600
}

func (p privateFS) MkdirAll(name string, _ os.FileMode) error {
	return os.MkdirAll(filepath.Join(p.root, name), privateDirPerm)
}

func (p privateFS) Rename(from, to string) error {
	if err := p.parent(to); err != nil {
		return err
	}
	return p.Filesystem.Rename(from, to)
}

func (p privateFS) Symlink(target, link string) error {
	if err := p.parent(link); err != nil {
		return err
	}
	return p.Filesystem.Symlink(target, link)
}

func (p privateFS) Chroot(path string) (billy.Filesystem, error) {
	fs, err := p.Filesystem.Chroot(path)
	if err != nil {
		return nil, err
	}
	return privateFS{Filesystem: fs, root: filepath.Join(p.root, path)}, nil
}

// lockFileName is the file in the cache directory that the Repos and
// processes sharing the directory lock while they fetch or apply.
const lockFileName = "flightdeck.lock"

// cacheLock is an exclusive lock on a cache directory, held by one
// operation at a time across Repos and processes (flock(2) where the
// platform has it).
type cacheLock struct {
	f *os.File
}

// openCacheLock creates the cache directory (0700) if needed and opens its
// lock file.
func openCacheLock(dir string) (*cacheLock, error) {
	if err := os.MkdirAll(dir, privateDirPerm); err != nil {
		return nil, err
	}
	// Earlier versions made the directory 0755; a cache holds the only
	// copy of nothing, but it must not be readable by others.
	if err := os.Chmod(dir, privateDirPerm); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, privateFilePerm)
	if err != nil {
		return nil, err
	}
	return &cacheLock{f: f}, nil
}

// lock acquires the lock, polling with a growing interval on c until ctx
// ends.
func (l *cacheLock) lock(ctx context.Context, c clock.Clock) error {
	wait := time.Millisecond
	for {
		ok, err := tryLockFile(l.f)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if err := clock.Sleep(ctx, c, wait); err != nil {
			return fmt.Errorf("another Repo or process holds the cache lock: %w", err)
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

func (l *cacheLock) unlock() error { return unlockFile(l.f) }

func (l *cacheLock) close() error { return l.f.Close() }

var errNotCloned = errors.New("the cache holds no clone yet")
