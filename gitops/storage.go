package gitops

import (
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// overlayStorage is the cache's object store with an in-memory layer on
// top: objects an attempt of [Repo.Apply] writes (blobs, trees, the
// commit) stay in memory, where rendering and pushing read them, and
// reach the disk only once the attempt is kept (pushed, or a dry run).
// An attempt that loses a race costs no disk writes.
type overlayStorage struct {
	*filesystem.Storage

	mu  sync.Mutex
	mem map[plumbing.Hash]plumbing.EncodedObject
}

func newOverlayStorage(fs *filesystem.Storage) *overlayStorage {
	return &overlayStorage{Storage: fs, mem: map[plumbing.Hash]plumbing.EncodedObject{}}
}

func (o *overlayStorage) memObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	obj, ok := o.mem[h]
	if !ok || (t != plumbing.AnyObject && obj.Type() != t) {
		return nil, false
	}
	return obj, true
}

// SetEncodedObject keeps obj in memory.
func (o *overlayStorage) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	o.mu.Lock()
	o.mem[h] = obj
	o.mu.Unlock()
	return h, nil
}

// EncodedObject reads from memory, then from disk.
func (o *overlayStorage) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, ok := o.memObject(t, h); ok {
		return obj, nil
	}
	return o.Storage.EncodedObject(t, h)
}

// DeltaObject reads from memory (never a delta), then from disk.
func (o *overlayStorage) DeltaObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, ok := o.memObject(t, h); ok {
		return obj, nil
	}
	return o.Storage.DeltaObject(t, h)
}

// HasEncodedObject looks in memory, then on disk.
func (o *overlayStorage) HasEncodedObject(h plumbing.Hash) error {
	if _, ok := o.memObject(plumbing.AnyObject, h); ok {
		return nil
	}
	return o.Storage.HasEncodedObject(h)
}

// EncodedObjectSize looks in memory, then on disk.
func (o *overlayStorage) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if obj, ok := o.memObject(plumbing.AnyObject, h); ok {
		return obj.Size(), nil
	}
	return o.Storage.EncodedObjectSize(h)
}

// persist writes the objects in memory to disk and forgets them.
func (o *overlayStorage) persist() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for h, obj := range o.mem {
		if o.Storage.HasEncodedObject(h) != nil {
			if _, err := o.Storage.SetEncodedObject(obj); err != nil {
				return err
			}
		}
		delete(o.mem, h)
	}
	return nil
}

// discard forgets the objects in memory.
func (o *overlayStorage) discard() {
	o.mu.Lock()
	clear(o.mem)
	o.mu.Unlock()
}

// pending returns the hashes of the objects in memory.
func (o *overlayStorage) pending() []plumbing.Hash {
	o.mu.Lock()
	defer o.mu.Unlock()
	hs := make([]plumbing.Hash, 0, len(o.mem))
	for h := range o.mem {
		hs = append(hs, h)
	}
	return hs
}
