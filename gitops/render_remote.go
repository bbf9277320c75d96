package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"path"
	"regexp"
	"strings"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Remote resources. kustomize itself fetches a URL entry with a plain
// http.Client and a remote git base by running the git command into a
// temporary directory, neither bounded by a context; flightdeck never lets
// it: a render refuses remote entries unless [WithRemoteResources] is on,
// and then fetches them itself (HTTP with the context, git with go-git
// into memory), mounts them in the in-memory file system beside the
// repository, and hands kustomize the kustomization with the entry
// pointing there.

// remoteRef is one entry of a kustomization that kustomize would fetch.
type remoteRef struct {
	field string // the kustomization field, as written
	value string // the entry, as written
	// git is true for a remote git base; otherwise the entry is a file
	// fetched over HTTP.
	git bool
	// loadOnly is true for an entry kustomize loads as a file (a patch,
	// a generator source, ...) rather than as a resource; flightdeck
	// fetches only resources, so these are always refused.
	loadOnly bool
}

// maxRemoteSize bounds a remote file fetched over HTTP.
const maxRemoteSize = 16 << 20

var scpUser = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@[^/:]+:`)

// remoteBase reports whether kustomize would treat a resources-like entry
// as remote, and whether as a git base (false: a file URL). The test is a
// superset of kustomize's own: a scheme (ssh, https, http, file), an
// scp-like "user@host:path", a "github.com/" or "github.com:" prefix, or
// a "git::" prefix.
func remoteBase(v string) (git bool, ok bool) {
	l := strings.ToLower(v)
	forced := strings.HasPrefix(l, "git::")
	l = strings.TrimPrefix(l, "git::")
	switch {
	case strings.HasPrefix(l, "ssh://"), strings.HasPrefix(l, "file://"):
		return true, true
	case strings.HasPrefix(l, "https://"), strings.HasPrefix(l, "http://"):
		return forced || gitMarked(l), true
	case scpUser.MatchString(l), strings.HasPrefix(l, "github.com/"), strings.HasPrefix(l, "github.com:"):
		return true, true
	}
	return false, false
}

// gitMarked reports whether an http(s) URL names a git repository the way
// kustomize's remote syntax does: "//" between repository and path, a
// ".git" or "_git" segment, or a ref or version query.
func gitMarked(l string) bool {
	rest := l[strings.Index(l, "://")+3:]
	rest, query, _ := strings.Cut(rest, "?")
	if q, err := neturl.ParseQuery(query); err == nil && (q.Get("ref") != "" || q.Get("version") != "") {
		return true
	}
	return strings.Contains(rest, "//") || strings.Contains(rest, ".git") || strings.Contains(rest, "/_git/")
}

// remoteFile reports whether kustomize would load v over HTTP.
func remoteFile(v string) bool {
	l := strings.ToLower(v)
	return strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "http://")
}

// gitSpec is a remote git base split as kustomize splits it.
type gitSpec struct {
	repo string // URL to clone
	dir  string // kustomization root inside the repository, clean; "" is its root
	ref  string // branch, tag or commit; "" is the default branch
}

// parseGitSpec splits a remote git base: the query's ref (or version),
// then the repository, ended by "//", a segment ending in ".git", the
// segment after "_git", or (for other URLs) the first two path segments,
// as kustomize does; the rest is the directory.
func parseGitSpec(v string) (gitSpec, error) {
	s := v
	if strings.HasPrefix(strings.ToLower(s), "git::") {
		s = s[len("git::"):]
	}
	s, query, _ := strings.Cut(s, "?")
	var spec gitSpec
	if q, err := neturl.ParseQuery(query); err == nil {
		spec.ref = q.Get("version")
		if r := q.Get("ref"); r != "" {
			spec.ref = r
		}
	}
	var host, rest string
	l := strings.ToLower(s)
	switch {
	case strings.HasPrefix(l, "file://"):
		host, rest = s[:len("file://")], s[len("file://"):]
	case strings.Contains(l, "://"):
		i := strings.Index(s, "://") + 3
		j := strings.Index(s[i:], "/")
		if j < 0 {
			return spec, fmt.Errorf("%q has no repository path", v)
		}
		host, rest = s[:i+j+1], s[i+j+1:]
	case strings.HasPrefix(l, "github.com/"):
		host, rest = "https://github.com/", s[len("github.com/"):]
	case strings.HasPrefix(l, "github.com:"):
		host, rest = "git@github.com:", s[len("github.com:"):]
	case scpUser.MatchString(s):
		i := strings.Index(s, ":")
		host, rest = s[:i+1], s[i+1:]
	default:
		return spec, fmt.Errorf("%q is not a remote git base", v)
	}
	var repo, dir string
	switch {
	case strings.Contains(rest, "/_git/"):
		i := strings.Index(rest, "/_git/") + len("/_git/")
		name, sub, _ := strings.Cut(rest[i:], "/")
		repo, dir = rest[:i]+name, sub
	case strings.Contains(rest, "//"):
		repo, dir, _ = strings.Cut(rest, "//")
	case strings.Contains(rest, ".git"):
		i := strings.Index(rest, ".git") + len(".git")
		repo, dir = rest[:i], strings.TrimPrefix(rest[i:], "/")
	case strings.HasPrefix(host, "file://"):
		repo = rest
	default:
		parts := strings.SplitN(rest, "/", 3)
		if len(parts) < 2 {
			return spec, fmt.Errorf("%q has no repository path", v)
		}
		repo = parts[0] + "/" + parts[1]
		if len(parts) == 3 {
			dir = parts[2]
		}
	}
	if repo == "" {
		return spec, fmt.Errorf("%q has no repository path", v)
	}
	spec.repo = host + repo
	spec.dir = path.Clean("/" + dir)[1:]
	if climbs(path.Clean(dir)) {
		return spec, fmt.Errorf("%q climbs out of its repository", v)
	}
	return spec, nil
}

// remoteTree is a fetched remote: a git base's tree, or a remote file
// wrapped in a one-file kustomization.
type remoteTree struct {
	t    *Tree  // the content
	dir  string // kustomization root inside t
	id   string // stable name: a hash of the entry and the content
	desc string // how errors name it
}

// fetchRemote fetches the remote entry v. Its errors wrap
// [ErrRemoteResource] and the context's error.
func fetchRemote(ctx context.Context, hc *http.Client, ref remoteRef) (*remoteTree, error) {
	var rt *remoteTree
	var err error
	if ref.git {
		rt, err = fetchGit(ctx, ref.value)
	} else {
		rt, err = fetchFile(ctx, hc, ref.value)
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w: %w", cerr, err)
		}
		return nil, reasonf(ErrRemoteResource, "fetch remote resource %s: %w", RedactURL(ref.value), err)
	}
	return rt, nil
}

func fetchGit(ctx context.Context, v string) (*remoteTree, error) {
	spec, err := parseGitSpec(v)
	if err != nil {
		return nil, err
	}
	st := memory.NewStorage()
	opts := &git.CloneOptions{URL: spec.repo, Depth: 1, SingleBranch: true, Tags: git.NoTags}
	var repo *git.Repository
	switch {
	case spec.ref == "":
		repo, err = git.CloneContext(ctx, st, nil, opts)
	case plumbing.IsHash(spec.ref):
		// A commit is fetched with the whole history of the default
		// branch: servers do not all allow fetching a commit by hash.
		opts.Depth, opts.SingleBranch = 0, false
		repo, err = git.CloneContext(ctx, st, nil, opts)
	default:
		opts.ReferenceName = plumbing.NewBranchReferenceName(spec.ref)
		repo, err = git.CloneContext(ctx, st, nil, opts)
		if err != nil && ctx.Err() == nil {
			st = memory.NewStorage()
			opts.ReferenceName = plumbing.NewTagReferenceName(spec.ref)
			repo, err = git.CloneContext(ctx, st, nil, opts)
		}
	}
	if err != nil {
		return nil, err
	}
	var commit *plumbing.Hash
	if plumbing.IsHash(spec.ref) {
		h := plumbing.NewHash(spec.ref)
		commit = &h
	} else {
		head, err := repo.Head()
		if err != nil {
			return nil, err
		}
		h := head.Hash()
		commit = &h
	}
	c, err := repo.CommitObject(*commit)
	if err != nil {
		return nil, fmt.Errorf("ref %q: %w", spec.ref, err)
	}
	t := NewTree(st, c.TreeHash)
	if !t.IsDir(spec.dir) {
		return nil, fmt.Errorf("no directory %q in %s", spec.dir, RedactURL(spec.repo))
	}
	return &remoteTree{t: t, dir: spec.dir, id: remoteID(v, c.TreeHash.String()), desc: RedactURL(v)}, nil
}

func fetchFile(ctx context.Context, hc *http.Client, v string) (*remoteTree, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s", resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxRemoteSize {
		return nil, fmt.Errorf("larger than %d bytes", maxRemoteSize)
	}
	// The file becomes the only resource of a kustomization of its own,
	// which kustomize accumulates exactly as it would the file.
	t := NewTree(memory.NewStorage(), plumbing.ZeroHash)
	if err := t.WriteFile("resource.yaml", data); err != nil {
		return nil, err
	}
	if err := t.WriteFile("kustomization.yaml", []byte("resources:\n- resource.yaml\n")); err != nil {
		return nil, err
	}
	root, err := t.Write()
	if err != nil {
		return nil, err
	}
	return &remoteTree{t: NewTree(t.s, root), id: remoteID(v, root.String()), desc: RedactURL(v)}, nil
}

func remoteID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:8])
}
