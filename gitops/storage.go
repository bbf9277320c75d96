package gitops

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// Thresholds of the objects kept in memory after a push: past either,
// they are written to the cache as one pack.
const (
	keptObjectsMax = 2048
	keptBytesMax   = 16 << 20
)

// overlayStorage is the cache's object store with an in-memory layer on
// top. Objects an attempt of [Repo.Apply] writes (blobs, trees, commits)
// stay in memory, where rendering and pushing read them:
//
//   - if the attempt is abandoned (a lost race, a refused change) they are
//     forgotten, at no disk cost ([overlayStorage.rollback]);
//   - once pushed they are kept in memory ([overlayStorage.keep]) and
//     reach the disk later, many pushes at a time, as one pack
//     ([overlayStorage.flush]), so a push costs no file writes in the
//     cache.
//
// Packs a fetch brings are indexed by [indexPack] (all cores, thin packs
// completed from the cache) instead of go-git's single-threaded parser;
// a small one joins the kept objects in memory ([overlayStorage.addFetched]).
type overlayStorage struct {
	*filesystem.Storage
	dir string // the cache directory, for errors

	mu        sync.Mutex
	mem       map[plumbing.Hash]plumbing.EncodedObject
	attempt   []plumbing.Hash // written since the last keep or rollback, in order
	kept      []plumbing.Hash // pushed, not yet on disk
	keptBytes int64
	// unpushed are objects of dry runs: in memory for reading, but not on
	// the remote, so an attempt that writes one again must push it.
	unpushed map[plumbing.Hash]bool
	// bases are, for objects in memory, the objects they replace (see
	// deltaBaser), for the packs of writePack.
	bases map[plumbing.Hash]plumbing.Hash
}

func newOverlayStorage(fs *filesystem.Storage, dir string) *overlayStorage {
	return &overlayStorage{Storage: fs, dir: dir, mem: map[plumbing.Hash]plumbing.EncodedObject{}, unpushed: map[plumbing.Hash]bool{},
		bases: map[plumbing.Hash]plumbing.Hash{}}
}

// setDeltaBase implements deltaBaser for objects in memory.
func (o *overlayStorage) setDeltaBase(obj, base plumbing.Hash) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.mem[obj]; ok {
		o.bases[obj] = base
	}
}

// deltaBase returns the object h replaces, if known.
func (o *overlayStorage) deltaBase(h plumbing.Hash) (plumbing.Hash, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b, ok := o.bases[h]
	return b, ok
}

// writePack writes a pack of objs (see writePack).
func (o *overlayStorage) writePack(w io.Writer, objs []plumbing.Hash, refDeltas bool) error {
	return writePack(w, o, objs, o.deltaBase, refDeltas)
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

// SetEncodedObject keeps obj in memory, as part of the current attempt.
func (o *overlayStorage) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	o.mu.Lock()
	if _, ok := o.mem[h]; !ok || o.unpushed[h] {
		delete(o.unpushed, h)
		o.mem[h] = obj
		o.attempt = append(o.attempt, h)
	}
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

// PackfileWriter returns a writer that stores a pack received from the
// remote in the cache, indexed by [indexPack].
func (o *overlayStorage) PackfileWriter() (io.WriteCloser, error) {
	return newPackWriter(o), nil
}

// mark returns a savepoint of the current attempt for [overlayStorage.rollback].
func (o *overlayStorage) mark() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.attempt)
}

// rollback forgets the objects of the current attempt written after the
// savepoint m (0: all of them).
func (o *overlayStorage) rollback(m int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, h := range o.attempt[m:] {
		delete(o.mem, h)
		delete(o.bases, h)
	}
	o.attempt = o.attempt[:m]
}

// pending returns the hashes of the current attempt's objects.
func (o *overlayStorage) pending() []plumbing.Hash {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]plumbing.Hash(nil), o.attempt...)
}

// keep makes the current attempt's objects part of the cache: they stay in
// memory until [overlayStorage.flush] writes them. It reports whether the
// objects kept in memory passed the thresholds that call for a flush.
func (o *overlayStorage) keep() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, h := range o.attempt {
		o.keptBytes += o.mem[h].Size()
	}
	o.kept = append(o.kept, o.attempt...)
	o.attempt = nil
	return o.fullLocked()
}

// full reports whether the objects kept in memory passed the thresholds
// that call for a flush.
func (o *overlayStorage) full() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fullLocked()
}

func (o *overlayStorage) fullLocked() bool {
	return len(o.kept) >= keptObjectsMax || o.keptBytes >= keptBytesMax
}

// keepUnpushed keeps the current attempt's objects in memory, for
// reading, without taking them for pushed: a later attempt that writes
// one of them again sends it. They are dropped at the next flush.
func (o *overlayStorage) keepUnpushed() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, h := range o.attempt {
		o.unpushed[h] = true
	}
	o.attempt = nil
}

// flush writes the kept objects to the cache as one pack and drops them
// from memory; the current attempt's objects stay. Callers hold the cache
// lock.
func (o *overlayStorage) flush() error {
	o.mu.Lock()
	kept := o.kept
	o.mu.Unlock()
	if len(kept) == 0 {
		return nil
	}
	w := newPackWriter(o)
	err := o.writePack(w, kept, false)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	inAttempt := make(map[plumbing.Hash]bool, len(o.attempt))
	for _, h := range o.attempt {
		inAttempt[h] = true
	}
	for _, h := range kept {
		if !inAttempt[h] {
			delete(o.mem, h)
			delete(o.bases, h)
		}
	}
	for h := range o.unpushed {
		if !inAttempt[h] {
			delete(o.mem, h)
			delete(o.bases, h)
		}
	}
	clear(o.unpushed)
	o.kept, o.keptBytes = o.kept[len(kept):], 0
	return nil
}

// forget drops every object held in memory: the attempt's and the kept
// ones, which the remote has and a fetch brings back.
func (o *overlayStorage) forget() {
	o.mu.Lock()
	defer o.mu.Unlock()
	clear(o.mem)
	clear(o.unpushed)
	clear(o.bases)
	o.attempt, o.kept, o.keptBytes = nil, nil, 0
}

// cacheWriteError marks an error of the cache's own files (as opposed to
// the remote) so that it is reported as a *CacheError.
type cacheWriteError struct{ err error }

func (e *cacheWriteError) Error() string { return e.err.Error() }
func (e *cacheWriteError) Unwrap() error { return e.err }

func localErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var cw *cacheWriteError
	if errors.As(err, &cw) {
		return err
	}
	return &cacheWriteError{err: fmt.Errorf("%s: %w", op, err)}
}

// addFetched keeps objects a fetch brought in memory, with the pushed
// ones: [overlayStorage.flush] writes them all.
func (o *overlayStorage) addFetched(objs []plumbing.EncodedObject) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, obj := range objs {
		h := obj.Hash()
		if _, ok := o.mem[h]; ok {
			continue
		}
		o.mem[h] = obj
		o.kept = append(o.kept, h)
		o.keptBytes += obj.Size()
	}
}

// keptCount returns how many pushed objects are still only in memory.
func (o *overlayStorage) keptCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.kept)
}
