package gitops

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	ghash "github.com/go-git/go-git/v5/plumbing/hash"
)

// A pack is indexed the way `git index-pack` does it, which is what makes
// a cold clone as fast as `git clone --bare`:
//
//  1. one pass over the stream as it arrives: every object is inflated
//     once, whole objects are hashed at once, and the (small) delta
//     instructions are kept in memory;
//  2. the deltas are resolved base by base, depth first so that each base
//     is built once, on all cores;
//  3. a thin pack (deltas against objects the cache already has) is
//     completed with those bases, as `index-pack --fix-thin` does, so that
//     every pack in the cache stands alone.
//
// go-git's own parser inflates most objects two or three times, on one
// core, and cannot store a thin pack.

// keepDeltaBytes bounds the delta instructions kept in memory between the
// two passes; beyond it they are read again from the pack file.
const keepDeltaBytes = 256 << 20

var errPackFormat = errors.New("malformed pack")

type packObject struct {
	off, dataOff int64
	size         int64 // inflated size (of the delta instructions for a delta)
	crc          uint32
	kind         plumbing.ObjectType // as stored: commit, tree, blob, tag, OFS or REF delta
	typ          plumbing.ObjectType // resolved type
	hash         plumbing.Hash
	base         int32 // OFS delta base, -1 otherwise
	baseRef      plumbing.Hash
	delta        []byte
	data         []byte // whole content, for a pack kept in memory
	claimed      atomic.Bool
	done         bool
}

// packWriter receives a pack stream and stores it in the cache with its
// index. It implements go-git's storer.PackfileWriter contract.
type packWriter struct {
	pw   *io.PipeWriter
	done chan error
}

func newPackWriter(o *overlayStorage) *packWriter {
	pr, pw := io.Pipe()
	w := &packWriter{pw: pw, done: make(chan error, 1)}
	go func() {
		err := indexPack(o, pr, false)
		pr.CloseWithError(err)
		w.done <- err
	}()
	return w
}

func (w *packWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

// Close ends the stream and waits until the pack is stored.
func (w *packWriter) Close() error {
	w.pw.Close()
	return <-w.done
}

// packStream reads the pack from src, copies every byte to the temporary
// pack file, and keeps the running CRC-32 of the current object and the
// SHA-1 of the whole stream. It is an io.ByteReader, so that zlib reads
// exactly the compressed bytes of each object.
type packStream struct {
	src          io.Reader
	out          io.Writer
	sum          hash.Hash
	buf          []byte
	r, w         int
	base         int64
	crc          uint32
	crcAt, sumAt int
}

func (s *packStream) fill() error {
	s.crc = crc32.Update(s.crc, crc32.IEEETable, s.buf[s.crcAt:s.w])
	s.sum.Write(s.buf[s.sumAt:s.w])
	s.base += int64(s.w)
	s.r, s.w, s.crcAt, s.sumAt = 0, 0, 0, 0
	for {
		n, err := s.src.Read(s.buf)
		if n > 0 {
			if _, werr := s.out.Write(s.buf[:n]); werr != nil {
				return localErr("write pack", werr)
			}
			s.w = n
			return nil
		}
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		if err != nil {
			return err
		}
	}
}

func (s *packStream) ReadByte() (byte, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	b := s.buf[s.r]
	s.r++
	return b, nil
}

func (s *packStream) Read(p []byte) (int, error) {
	if s.r == s.w {
		if err := s.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf[s.r:s.w])
	s.r += n
	return n, nil
}

func (s *packStream) offset() int64 { return s.base + int64(s.r) }

func (s *packStream) startObject() { s.crc, s.crcAt = 0, s.r }

func (s *packStream) endObject() uint32 {
	c := crc32.Update(s.crc, crc32.IEEETable, s.buf[s.crcAt:s.r])
	s.crcAt = s.r
	return c
}

// checksum returns the SHA-1 of everything read so far.
func (s *packStream) checksum() plumbing.Hash {
	s.sum.Write(s.buf[s.sumAt:s.r])
	s.sumAt = s.r
	var h plumbing.Hash
	copy(h[:], s.sum.Sum(nil))
	return h
}

func (s *packStream) readFull(p []byte) error {
	_, err := io.ReadFull(s, p)
	return err
}

// Packs of at most memPackObjects objects and memPackBytes inflated
// bytes (what a fetch brings when another writer pushed a few commits)
// are kept in memory with the objects of pushed commits and reach the
// disk with them, as one pack; larger ones are stored at once.
const (
	memPackObjects = 1024
	memPackBytes   = 16 << 20
)

// indexPack stores the pack read from src in o's cache: a small pack in
// memory if small is true (see [memPackObjects]), any other in the cache
// directory as objects/pack/pack-<sum>.pack with its .idx, which o then
// sees.
func indexPack(o *overlayStorage, src io.Reader, small bool) (err error) {
	fs := o.Filesystem()
	packDir := fs.Join("objects", "pack")
	var tmp billy.File
	var tmpName string
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		if err != nil && tmpName != "" {
			_ = fs.Remove(tmpName)
		}
	}()
	var mem bytes.Buffer
	var bw *bufio.Writer
	s := &packStream{src: src, out: &mem, sum: ghash.New(ghash.CryptoType), buf: make([]byte, 64<<10)}
	// toDisk moves the pack read so far to a temporary file, where the
	// rest follows.
	toDisk := func() error {
		f, err := fs.TempFile(packDir, "tmp_pack_")
		if err != nil {
			return localErr("create pack", err)
		}
		tmp, tmpName = f, f.Name()
		bw = bufio.NewWriterSize(tmp, 256<<10)
		if _, err := bw.Write(mem.Bytes()); err != nil {
			return localErr("write pack", err)
		}
		mem = bytes.Buffer{}
		s.out = bw
		return nil
	}

	var hdr [12]byte
	if err := s.readFull(hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) && s.offset() == 0 {
			return nil // nothing sent: nothing to store
		}
		return fmt.Errorf("%w: header: %w", errPackFormat, err)
	}
	if string(hdr[:4]) != "PACK" || (binary.BigEndian.Uint32(hdr[4:8]) != 2 && binary.BigEndian.Uint32(hdr[4:8]) != 3) {
		return fmt.Errorf("%w: bad header", errPackFormat)
	}
	count := binary.BigEndian.Uint32(hdr[8:12])
	inMemory := small && count <= memPackObjects
	if !inMemory {
		if err := toDisk(); err != nil {
			return err
		}
	}
	var inflated int64
	objs := make([]packObject, count)
	byOffset := make(map[int64]int32, count)
	refWait := map[plumbing.Hash][]int32{}
	ofsChildren := make([][]int32, count)
	var kept int64
	zr := &zlibReader{}
	var buf bytes.Buffer
	copyBuf := make([]byte, 32<<10)
	for i := range objs {
		p := &objs[i]
		p.base = -1
		p.off = s.offset()
		byOffset[p.off] = int32(i)
		s.startObject()
		kind, size, err := readObjectHeader(s)
		if err != nil {
			return err
		}
		p.kind, p.size = kind, size
		switch kind {
		case plumbing.OFSDeltaObject:
			rel, err := readOffset(s)
			if err != nil {
				return err
			}
			b, ok := byOffset[p.off-rel]
			if !ok || p.off-rel < 0 {
				return fmt.Errorf("%w: object at %d refers to no object at %d", errPackFormat, p.off, p.off-rel)
			}
			p.base = b
			ofsChildren[b] = append(ofsChildren[b], int32(i))
		case plumbing.REFDeltaObject:
			if err := s.readFull(p.baseRef[:]); err != nil {
				return err
			}
			refWait[p.baseRef] = append(refWait[p.baseRef], int32(i))
		case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		default:
			return fmt.Errorf("%w: object at %d has type %d", errPackFormat, p.off, kind)
		}
		p.dataOff = s.offset()
		if err := zr.reset(s); err != nil {
			return fmt.Errorf("%w: object at %d: %w", errPackFormat, p.off, err)
		}
		if kind.IsDelta() {
			buf.Reset()
			buf.Grow(int(min(size, 1<<30)))
			if _, err := io.CopyBuffer(&buf, zr.r, copyBuf); err != nil {
				return fmt.Errorf("%w: object at %d: %w", errPackFormat, p.off, err)
			}
			if int64(buf.Len()) != size {
				return fmt.Errorf("%w: object at %d: size mismatch", errPackFormat, p.off)
			}
			if kept+size <= keepDeltaBytes {
				p.delta = bytes.Clone(buf.Bytes())
				kept += size
			}
		} else {
			h := plumbing.NewHasher(kind, size)
			var w io.Writer = h
			if inMemory {
				buf.Reset()
				w = io.MultiWriter(h, &buf)
			}
			n, err := io.CopyBuffer(w, zr.r, copyBuf)
			if err != nil {
				return fmt.Errorf("%w: object at %d: %w", errPackFormat, p.off, err)
			}
			if n != size {
				return fmt.Errorf("%w: object at %d: size mismatch", errPackFormat, p.off)
			}
			p.hash, p.typ, p.done = h.Sum(), kind, true
			if inMemory {
				p.data = bytes.Clone(buf.Bytes())
			}
		}
		p.crc = s.endObject()
		if inflated += size; inMemory && inflated > memPackBytes {
			inMemory = false
			for j := range objs[:i+1] {
				objs[j].data = nil
			}
			if err := toDisk(); err != nil {
				return err
			}
		}
	}
	sum := s.checksum()
	var trailer plumbing.Hash
	if err := s.readFull(trailer[:]); err != nil {
		return fmt.Errorf("%w: trailer: %w", errPackFormat, err)
	}
	if trailer != sum {
		return fmt.Errorf("%w: checksum mismatch", errPackFormat)
	}
	var file io.ReaderAt
	if inMemory {
		file = bytes.NewReader(mem.Bytes())
	} else {
		if err := bw.Flush(); err != nil {
			return localErr("write pack", err)
		}
		file = tmp
	}
	ix := &resolver{objs: objs, ofsChildren: ofsChildren, refWait: refWait, file: file, keep: inMemory}
	var roots []int32
	for i := range objs {
		if objs[i].done && (len(ofsChildren[i]) > 0 || len(refWait[objs[i].hash]) > 0) {
			roots = append(roots, int32(i))
		}
	}
	if err := ix.run(roots); err != nil {
		return err
	}

	// A thin pack: deltas whose base is in the cache, not in the pack.
	var external []plumbing.EncodedObject
	if unresolved(objs) {
		inPack := make(map[plumbing.Hash]bool, len(objs))
		for i := range objs {
			if objs[i].done {
				inPack[objs[i].hash] = true
			}
		}
		for h, waiting := range refWait {
			if inPack[h] || objs[waiting[0]].done {
				continue
			}
			base, err := o.Storage.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				return fmt.Errorf("%w: delta base %s is neither in the pack nor in the cache", errPackFormat, h)
			}
			data, err := readObject(base)
			if err != nil {
				return localErr("read "+h.String(), err)
			}
			external = append(external, base)
			if err := ix.resolveChildren(ix.inflater(), -1, h, data, base.Type()); err != nil {
				return err
			}
		}
		if unresolved(objs) {
			return fmt.Errorf("%w: unresolved deltas", errPackFormat)
		}
	}

	if inMemory {
		fetched := make([]plumbing.EncodedObject, len(objs))
		for i := range objs {
			p := &objs[i]
			obj := &plumbing.MemoryObject{}
			obj.SetType(p.typ)
			if _, err := obj.Write(p.data); err != nil {
				return err
			}
			fetched[i] = obj
			p.data = nil
		}
		o.addFetched(fetched)
		return nil
	}

	end := s.offset() - int64(len(trailer))
	idx := new(idxfile.Writer)
	if err := idx.OnHeader(count + uint32(len(external))); err != nil {
		return err
	}
	for i := range objs {
		idx.Add(objs[i].hash, uint64(objs[i].off), objs[i].crc)
	}
	if len(external) > 0 {
		if sum, err = completeThinPack(tmp, end, count, external, idx); err != nil {
			return err
		}
	}
	if err := idx.OnFooter(sum); err != nil {
		return err
	}
	mi, err := idx.Index()
	if err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		tmp = nil
		return localErr("write pack", err)
	}
	tmp = nil

	base := fs.Join(packDir, "pack-"+sum.String())
	if _, err := fs.Stat(base + ".pack"); err == nil {
		return fs.Remove(tmpName) // the same pack is already stored
	}
	idxTmp, err := fs.TempFile(packDir, "tmp_idx_")
	if err != nil {
		return localErr("create index", err)
	}
	iw := bufio.NewWriter(idxTmp)
	_, err = idxfile.NewEncoder(iw).Encode(mi)
	if err == nil {
		err = iw.Flush()
	}
	if cerr := idxTmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(idxTmp.Name(), base+".idx")
	}
	if err != nil {
		_ = fs.Remove(idxTmp.Name())
		return localErr("write index", err)
	}
	// The index is in place before the pack: a pack is only ever seen
	// with its index.
	if err := fs.Rename(tmpName, base+".pack"); err != nil {
		return localErr("store pack", err)
	}
	o.Reindex()
	return nil
}

func unresolved(objs []packObject) bool {
	for i := range objs {
		if !objs[i].done {
			return true
		}
	}
	return false
}

// completeThinPack appends the external bases to the pack file (whose
// objects end at end), fixes the object count and the trailer, records the
// appended objects in idx, and returns the new checksum.
func completeThinPack(f billy.File, end int64, count uint32, bases []plumbing.EncodedObject, idx *idxfile.Writer) (plumbing.Hash, error) {
	off := end
	for _, b := range bases {
		data, err := readObject(b)
		if err != nil {
			return plumbing.ZeroHash, localErr("read "+b.Hash().String(), err)
		}
		var enc bytes.Buffer
		writeObjectHeader(&enc, b.Type(), int64(len(data)))
		zw := zlib.NewWriter(&enc)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			return plumbing.ZeroHash, err
		}
		if err := writeAt(f, enc.Bytes(), off); err != nil {
			return plumbing.ZeroHash, localErr("write pack", err)
		}
		idx.Add(b.Hash(), uint64(off), crc32.ChecksumIEEE(enc.Bytes()))
		off += int64(enc.Len())
	}
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], count+uint32(len(bases)))
	if err := writeAt(f, n[:], 8); err != nil {
		return plumbing.ZeroHash, localErr("write pack", err)
	}
	h := ghash.New(ghash.CryptoType)
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, off)); err != nil {
		return plumbing.ZeroHash, localErr("read pack", err)
	}
	var sum plumbing.Hash
	copy(sum[:], h.Sum(nil))
	if err := writeAt(f, sum[:], off); err != nil {
		return plumbing.ZeroHash, localErr("write pack", err)
	}
	return sum, nil
}

func writeAt(f billy.File, p []byte, off int64) error {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	_, err := f.Write(p)
	return err
}

func readObject(o plumbing.EncodedObject) ([]byte, error) {
	rd, err := o.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func readObjectHeader(s io.ByteReader) (plumbing.ObjectType, int64, error) {
	c, err := s.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	kind := plumbing.ObjectType((c >> 4) & 7)
	size := int64(c & 15)
	for shift := 4; c&0x80 != 0; shift += 7 {
		if shift > 62 {
			return 0, 0, fmt.Errorf("%w: object size overflows", errPackFormat)
		}
		if c, err = s.ReadByte(); err != nil {
			return 0, 0, err
		}
		size |= int64(c&0x7f) << shift
	}
	return kind, size, nil
}

func writeObjectHeader(w *bytes.Buffer, t plumbing.ObjectType, size int64) {
	c := byte(t)<<4 | byte(size&15)
	size >>= 4
	for size > 0 {
		w.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	w.WriteByte(c)
}

// readOffset reads the base distance of an OFS delta.
func readOffset(s io.ByteReader) (int64, error) {
	c, err := s.ReadByte()
	if err != nil {
		return 0, err
	}
	off := int64(c & 0x7f)
	for c&0x80 != 0 {
		if off > 1<<55 {
			return 0, fmt.Errorf("%w: delta offset overflows", errPackFormat)
		}
		if c, err = s.ReadByte(); err != nil {
			return 0, err
		}
		off = (off+1)<<7 | int64(c&0x7f)
	}
	return off, nil
}

type zlibReader struct{ r io.ReadCloser }

func (z *zlibReader) reset(src io.Reader) error {
	if z.r == nil {
		r, err := zlib.NewReader(src)
		z.r = r
		return err
	}
	return z.r.(zlib.Resetter).Reset(src, nil)
}

// resolver resolves the deltas of a pack in parallel.
type resolver struct {
	objs        []packObject
	ofsChildren [][]int32
	refWait     map[plumbing.Hash][]int32
	file        io.ReaderAt
	keep        bool // keep every object's content (a pack kept in memory)
}

func (x *resolver) run(roots []int32) error {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(roots)))
	next := make(chan int32)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := x.inflater()
			for i := range next {
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					continue
				}
				p := &x.objs[i]
				data, err := p.data, error(nil)
				if data == nil {
					data, err = in.inflate(p.dataOff, p.size)
				}
				if err == nil {
					err = x.resolveChildren(in, i, p.hash, data, p.typ)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, r := range roots {
		next <- r
	}
	close(next)
	wg.Wait()
	return first
}

// resolveChildren builds every delta whose base is object i (or, for an
// external base, -1) with content data, depth first.
func (x *resolver) resolveChildren(in *inflater, i int32, h plumbing.Hash, data []byte, t plumbing.ObjectType) error {
	var children []int32
	if i >= 0 {
		children = x.ofsChildren[i]
	}
	children = append(children[:len(children):len(children)], x.refWait[h]...)
	for _, c := range children {
		p := &x.objs[c]
		if !p.claimed.CompareAndSwap(false, true) {
			continue // a duplicate base already built it
		}
		delta := p.delta
		if delta == nil {
			var err error
			if delta, err = in.inflate(p.dataOff, p.size); err != nil {
				return err
			}
		}
		out, err := packfile.PatchDelta(data, delta)
		if err != nil {
			return fmt.Errorf("%w: object at %d: %w", errPackFormat, p.off, err)
		}
		p.delta = nil
		p.typ, p.hash, p.done = t, plumbing.ComputeHash(t, out), true
		if x.keep {
			p.data = out
		}
		if err := x.resolveChildren(in, c, p.hash, out, t); err != nil {
			return err
		}
	}
	return nil
}

// inflater reads objects back from the pack file; each goroutine has
// its own.
type inflater struct {
	file io.ReaderAt
	br   *bufio.Reader
	zr   zlibReader
}

func (x *resolver) inflater() *inflater {
	return &inflater{file: x.file, br: bufio.NewReaderSize(nil, 16<<10)}
}

func (in *inflater) inflate(off, size int64) ([]byte, error) {
	in.br.Reset(io.NewSectionReader(in.file, off, 1<<62))
	if err := in.zr.reset(in.br); err != nil {
		return nil, localErr("read pack", err)
	}
	out := make([]byte, size)
	if _, err := io.ReadFull(in.zr.r, out); err != nil {
		return nil, localErr("read pack", err)
	}
	return out, nil
}
