package image

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	gzip "github.com/klauspost/compress/gzip"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// File is one file placed in a layer.
type File struct {
	// Path is where the file lands inside the image, for example
	// "/app/server". Leading slashes are optional; the path is cleaned and
	// must not escape the image root.
	Path string
	// Source is a regular file on disk whose content is copied. When
	// empty, Content is used.
	Source string
	// Content is the file's content when Source is empty.
	Content []byte
	// Mode is the permission bits to record. Zero applies the fixed
	// policy: 0755 when Source has any execute bit, else 0644.
	Mode fs.FileMode
}

// Layer describes one image layer: a directory tree and/or single files.
// Entries are written reproducibly: sorted by path, owned by uid/gid 0
// with no user or group names, every timestamp set to the build's fixed
// time, and modes normalised (directories 0755, files 0644 or 0755 when
// executable, symbolic links 0777). Parent directories are added
// automatically. The same inputs therefore always give the same digest.
type Layer struct {
	// Dir is a directory on disk whose tree (not the directory itself) is
	// copied into the layer under Target. Symbolic links are stored as
	// links; devices, sockets and pipes are rejected. Empty means none.
	Dir string
	// Target is where Dir's content lands in the image. Empty means "/".
	Target string
	// Files are single files added to the layer.
	Files []File
	// Comment is recorded as the layer's history entry "created_by". Empty
	// means "flightdeck layer <n>".
	Comment string
}

type entry struct {
	name     string // cleaned, relative, no leading or trailing slash
	typ      byte
	mode     int64
	source   string
	content  []byte
	size     int64
	linkname string
}

// cleanTarget turns an image path into a relative tar name and rejects
// paths that escape the root.
func cleanTarget(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("%w: path %q contains a NUL byte", ErrInvalidSpec, p)
	}
	c := path.Clean("/" + filepath.ToSlash(p))
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", fmt.Errorf("%w: path %q escapes the image root", ErrInvalidSpec, p)
		}
	}
	return strings.TrimPrefix(c, "/"), nil
}

// collect gathers the layer's entries, keyed by name.
func (l Layer) collect() (map[string]*entry, error) {
	entries := map[string]*entry{}
	add := func(e *entry, from string) error {
		if e.name == "" {
			if e.typ == tar.TypeDir {
				return nil // the root itself is implicit
			}
			return fmt.Errorf("%w: %s: a file cannot be placed at the image root", ErrInvalidSpec, from)
		}
		if old, ok := entries[e.name]; ok {
			if old.typ == tar.TypeDir && e.typ == tar.TypeDir {
				return nil
			}
			return fmt.Errorf("%w: %s: path /%s is given twice in one layer", ErrInvalidSpec, from, e.name)
		}
		entries[e.name] = e
		return nil
	}
	if l.Dir != "" {
		target, err := cleanTarget(l.Target)
		if err != nil {
			return nil, err
		}
		root := l.Dir
		info, err := os.Stat(root)
		if err != nil {
			return nil, fmt.Errorf("%w: layer directory %s: %v", ErrInvalidSpec, root, err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("%w: layer directory %s is not a directory", ErrInvalidSpec, root)
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			name := path.Join(target, filepath.ToSlash(rel))
			if rel == "." {
				name = target
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			e := &entry{name: name}
			switch {
			case info.Mode().IsDir():
				e.typ, e.mode = tar.TypeDir, 0o755
			case info.Mode().IsRegular():
				e.typ, e.mode, e.source, e.size = tar.TypeReg, fileMode(info.Mode(), 0), p, info.Size()
			case info.Mode()&fs.ModeSymlink != 0:
				link, err := os.Readlink(p)
				if err != nil {
					return err
				}
				e.typ, e.mode, e.linkname = tar.TypeSymlink, 0o777, filepath.ToSlash(link)
			default:
				return fmt.Errorf("%w: %s: unsupported file type %s", ErrInvalidSpec, p, info.Mode().Type())
			}
			return add(e, p)
		})
		if err != nil {
			return nil, fmt.Errorf("layer directory %s: %w", root, err)
		}
	}
	for _, f := range l.Files {
		name, err := cleanTarget(f.Path)
		if err != nil {
			return nil, err
		}
		e := &entry{name: name, typ: tar.TypeReg}
		if f.Source != "" {
			info, err := os.Stat(f.Source)
			if err != nil {
				return nil, fmt.Errorf("%w: file %s for /%s: %v", ErrInvalidSpec, f.Source, name, err)
			}
			if !info.Mode().IsRegular() {
				return nil, fmt.Errorf("%w: file %s for /%s is not a regular file", ErrInvalidSpec, f.Source, name)
			}
			e.source, e.size, e.mode = f.Source, info.Size(), fileMode(info.Mode(), f.Mode)
		} else {
			e.content, e.size, e.mode = f.Content, int64(len(f.Content)), fileMode(0, f.Mode)
		}
		if err := add(e, "file /"+name); err != nil {
			return nil, err
		}
	}
	// Parent directories.
	for name := range entries {
		for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
			if old, ok := entries[dir]; ok {
				if old.typ != tar.TypeDir {
					return nil, fmt.Errorf("%w: /%s is a file but also the parent of /%s", ErrInvalidSpec, dir, name)
				}
				continue
			}
			entries[dir] = &entry{name: dir, typ: tar.TypeDir, mode: 0o755}
		}
	}
	return entries, nil
}

// fileMode applies the fixed mode policy.
func fileMode(src, explicit fs.FileMode) int64 {
	if explicit != 0 {
		return int64(explicit.Perm())
	}
	if src&0o111 != 0 {
		return 0o755
	}
	return 0o644
}

// writeTar writes the entries sorted by name with normalised headers.
func writeTar(w io.Writer, entries map[string]*entry, mtime time.Time) error {
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	tw := tar.NewWriter(w)
	for _, n := range names {
		e := entries[n]
		hdr := &tar.Header{
			Typeflag: e.typ,
			Name:     e.name,
			Mode:     e.mode,
			ModTime:  mtime,
			Linkname: e.linkname,
			Format:   tar.FormatPAX,
		}
		if e.typ == tar.TypeDir {
			hdr.Name += "/"
		}
		if e.typ == tar.TypeReg {
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write /%s: %w", e.name, err)
		}
		if e.typ != tar.TypeReg {
			continue
		}
		if e.source == "" {
			if _, err := tw.Write(e.content); err != nil {
				return fmt.Errorf("write /%s: %w", e.name, err)
			}
			continue
		}
		if err := copyFile(tw, e); err != nil {
			return err
		}
	}
	return tw.Close()
}

func copyFile(w io.Writer, e *entry) error {
	f, err := os.Open(e.source)
	if err != nil {
		return fmt.Errorf("%w: file %s: %v", ErrInvalidSpec, e.source, err)
	}
	defer f.Close()
	n, err := io.Copy(w, io.LimitReader(f, e.size))
	if err != nil {
		return fmt.Errorf("read %s: %w", e.source, err)
	}
	if n != e.size {
		return fmt.Errorf("%w: file %s changed size while building the layer", ErrInvalidSpec, e.source)
	}
	return nil
}

// buildLayer writes the layer tar and its gzip form in a single pass,
// hashing both on the way. Hashing the tar, compressing, and hashing the
// compressed stream run concurrently, each on its own goroutine.
func buildLayer(l Layer, mtime time.Time, mt types.MediaType) (*gzipLayer, error) {
	entries, err := l.collect()
	if err != nil {
		return nil, err
	}
	// Reserve room for the compressed layer up front (bounded), so the
	// buffer is not regrown and copied while large files stream through.
	var est int64 = 1024
	for _, e := range entries {
		est += 1024 + e.size
	}
	est += est / 64
	var buf bytes.Buffer
	buf.Grow(int(min(est, 256<<20)))
	digest := sha256.New()
	digestW := newAsyncWriter(digest)
	zw, err := gzip.NewWriterLevel(io.MultiWriter(&buf, digestW), gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	zipW := newAsyncWriter(zw)
	diffID := sha256.New()
	diffW := newAsyncWriter(diffID)
	werr := writeTar(io.MultiWriter(zipW, diffW), entries, mtime)
	// Drain the stages in order: the tar hash, the compressor (then flush
	// it), then the compressed-stream hash.
	err = errors.Join(werr, diffW.Close(), zipW.Close())
	if err == nil {
		err = zw.Close()
	}
	err = errors.Join(err, digestW.Close())
	if err != nil {
		return nil, err
	}
	return &gzipLayer{
		gz:     buf.Bytes(),
		digest: sum(digest),
		diffID: sum(diffID),
		mt:     mt,
	}, nil
}

// asyncWriter hands copies of written chunks to a goroutine that writes
// them to w, so that the producer and w run in parallel. Close waits for
// the goroutine and returns the first error of w.
type asyncWriter struct {
	ch   chan []byte
	done chan struct{}
	err  error // set by the goroutine before done is closed
	pool sync.Pool
}

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{ch: make(chan []byte, 16), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for b := range a.ch {
			if a.err == nil {
				_, a.err = w.Write(b)
			}
			a.pool.Put(b[:0]) //nolint:staticcheck // slices are reused by Write
		}
	}()
	return a
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	select {
	case <-a.done:
		return 0, a.err
	default:
	}
	b, _ := a.pool.Get().([]byte)
	a.ch <- append(b, p...)
	return len(p), nil
}

// Close flushes pending chunks and returns the first write error.
func (a *asyncWriter) Close() error {
	close(a.ch)
	<-a.done
	return a.err
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h.Sum(nil))}
}

// gzipLayer is a layer held compressed in memory with precomputed hashes.
type gzipLayer struct {
	gz     []byte
	digest v1.Hash
	diffID v1.Hash
	mt     types.MediaType
}

var _ v1.Layer = (*gzipLayer)(nil)

func (l *gzipLayer) Digest() (v1.Hash, error) { return l.digest, nil }
func (l *gzipLayer) DiffID() (v1.Hash, error) { return l.diffID, nil }
func (l *gzipLayer) Size() (int64, error)     { return int64(len(l.gz)), nil }
func (l *gzipLayer) MediaType() (types.MediaType, error) {
	return l.mt, nil
}
func (l *gzipLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.gz)), nil
}
func (l *gzipLayer) Uncompressed() (io.ReadCloser, error) {
	return gzip.NewReader(bytes.NewReader(l.gz))
}
