package gitops

import (
	"bufio"
	"compress/zlib"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// Writing packs. The packs flightdeck writes (the objects of a push, the
// objects kept in memory when they go to the cache) hold what a chain of
// commits made: for every commit, new versions of the same few
// directories. Each version of a large directory (an apps/ tree of a
// thousand entries) differs from the one before it by an entry or two, so
// writePack stores it as a delta against the version it replaced when
// that one is earlier in the same pack, found from the hints Tree.Write
// leaves (see deltaBaser), rather than deflating the whole tree again
// per commit. The deltas are a copy of the common prefix, the changed
// bytes and a copy of the common suffix: for a tree, whose entries are
// sorted, that is the whole change. Other bodies are deflated at the
// fastest level, or stored when they are small.

// packDeltaDepth bounds the delta chains of the packs written, as Git's
// pack.depth does, so that reading an object applies a bounded number of
// deltas.
const packDeltaDepth = 50

// storedBelow is the size under which writePack stores an object's body
// in the pack without compressing it.
const storedBelow = 512

// deltaBaser is an object store that remembers which stored object a new
// one replaces (the previous version of the same directory), for
// writePack.
type deltaBaser interface {
	setDeltaBase(obj, base plumbing.Hash)
}

// packEntry is what writePack remembers of an object it wrote, while a
// later object may be stored as a delta against it.
type packEntry struct {
	offset int64
	typ    plumbing.ObjectType
	depth  int
	data   []byte
	uses   int // later objects that name it as their base
}

// countingWriter counts what goes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writePack writes a version 2 pack of objs, read from s, to w, each
// object whose base (as base says) is earlier in the pack as a delta
// against it: an offset delta, or with refDeltas a reference delta, for
// receivers without the ofs-delta capability.
func writePack(w io.Writer, s storer.EncodedObjectStorer, objs []plumbing.Hash, base func(plumbing.Hash) (plumbing.Hash, bool), refDeltas bool) error {
	sum := sha1.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, sum), 64<<10)
	cw := &countingWriter{w: bw}
	entries := make(map[plumbing.Hash]*packEntry, len(objs))
	for _, h := range objs {
		if b, ok := base(h); ok && entries[b] != nil {
			entries[b].uses++ // a base earlier in the pack
		}
		if entries[h] == nil {
			entries[h] = &packEntry{offset: -1}
		}
	}
	var hdr [12]byte
	copy(hdr[:], "PACK")
	binary.BigEndian.PutUint32(hdr[4:], 2)
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(objs)))
	if _, err := cw.Write(hdr[:]); err != nil {
		return err
	}
	zw, err := zlib.NewWriterLevel(cw, zlib.BestSpeed)
	if err != nil {
		return err
	}
	// Small bodies (commits, deltas, small files) are stored: deflating
	// them saves a few bytes at the cost of building Huffman tables.
	zs, err := zlib.NewWriterLevel(cw, zlib.NoCompression)
	if err != nil {
		return err
	}
	for _, h := range objs {
		obj, err := s.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return fmt.Errorf("object %s: %w", h, err)
		}
		data, err := objectData(obj)
		if err != nil {
			return fmt.Errorf("object %s: %w", h, err)
		}
		e := entries[h]
		e.offset, e.typ = cw.n, obj.Type()
		body := data
		var delta *packEntry
		bh, ok := base(h)
		if be := entries[bh]; ok && be != nil && be.data != nil {
			if be.typ == e.typ && be.depth < packDeltaDepth && len(be.data) > 0 {
				if d := prefixSuffixDelta(be.data, data); len(d) < len(data)/2 {
					body, delta = d, be
					e.depth = be.depth + 1
				}
			}
			if be.uses--; be.uses == 0 {
				be.data = nil
			}
		}
		var head []byte
		switch {
		case delta == nil:
			head = packObjectHeader(e.typ, len(body))
		case refDeltas:
			head = append(packObjectHeader(plumbing.REFDeltaObject, len(body)), bh[:]...)
		default:
			head = append(packObjectHeader(plumbing.OFSDeltaObject, len(body)), packOffset(e.offset-delta.offset)...)
		}
		if _, err := cw.Write(head); err != nil {
			return err
		}
		z := zw
		if len(body) < storedBelow {
			z = zs
		}
		z.Reset(cw)
		if _, err := z.Write(body); err != nil {
			return err
		}
		if err := z.Close(); err != nil {
			return err
		}
		if e.uses > 0 {
			e.data = data
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	_, err = w.Write(sum.Sum(nil))
	return err
}

func objectData(obj plumbing.EncodedObject) ([]byte, error) {
	r, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data := make([]byte, 0, obj.Size())
	for {
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
		n, err := r.Read(data[len(data):cap(data)])
		data = data[:len(data)+n]
		if err == io.EOF {
			return data, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// packObjectHeader is the header of a pack entry: its type and the size
// of its (uncompressed) content.
func packObjectHeader(t plumbing.ObjectType, size int) []byte {
	b := []byte{byte(t)<<4 | byte(size&0x0f)}
	size >>= 4
	for size > 0 {
		b[len(b)-1] |= 0x80
		b = append(b, byte(size&0x7f))
		size >>= 7
	}
	return b
}

// packOffset encodes the distance back to the base of an offset delta.
func packOffset(d int64) []byte {
	b := []byte{byte(d & 0x7f)}
	for d >>= 7; d > 0; d >>= 7 {
		d--
		b = append([]byte{0x80 | byte(d&0x7f)}, b...)
	}
	return b
}

// prefixSuffixDelta returns a Git delta that makes dst from src (not
// empty): a copy of their common prefix, the bytes between, and a copy of
// their common suffix.
func prefixSuffixDelta(src, dst []byte) []byte {
	p := 0
	for p < len(src) && p < len(dst) && src[p] == dst[p] {
		p++
	}
	s := 0
	for s < len(src)-p && s < len(dst)-p && src[len(src)-1-s] == dst[len(dst)-1-s] {
		s++
	}
	d := appendVarint(nil, len(src))
	d = appendVarint(d, len(dst))
	d = appendCopy(d, 0, p)
	for mid := dst[p : len(dst)-s]; len(mid) > 0; {
		n := min(len(mid), 0x7f)
		d = append(d, byte(n))
		d = append(d, mid[:n]...)
		mid = mid[n:]
	}
	return appendCopy(d, len(src)-s, s)
}

func appendVarint(b []byte, n int) []byte {
	for n >= 0x80 {
		b = append(b, byte(n)|0x80)
		n >>= 7
	}
	return append(b, byte(n))
}

// appendCopy appends copy instructions of n bytes at offset off of the
// source.
func appendCopy(b []byte, off, n int) []byte {
	for n > 0 {
		size := min(n, 0xffffff)
		op, at := byte(0x80), len(b)
		b = append(b, 0)
		for i := range 4 {
			if v := byte(off >> (8 * i)); v != 0 {
				op |= 1 << i
				b = append(b, v)
			}
		}
		for i := range 3 {
			if v := byte(size >> (8 * i)); v != 0 {
				op |= 1 << (4 + i)
				b = append(b, v)
			}
		}
		b[at] = op
		off += size
		n -= size
	}
	return b
}
