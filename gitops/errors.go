package gitops

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Sentinel errors. Functions document which of them they return; test for
// them with [errors.Is].
var (
	// ErrConflict means the remote branch moved while a change was being
	// pushed. [Repo.Apply] handles it by fetching and re-applying the
	// edits; it is returned only when every retry lost the race.
	ErrConflict = errors.New("gitops: push rejected: remote branch moved")
	// ErrAuth means the remote refused the credentials, or asked for
	// credentials that were not given.
	ErrAuth = errors.New("gitops: authentication failed")
	// ErrRemote means the remote could not be reached or did not answer
	// as a Git server.
	ErrRemote = errors.New("gitops: remote unavailable")
	// ErrPathEscape means a path could reach outside the tree or into
	// Git's own metadata: it is absolute (or uses a backslash or a drive
	// letter), has a ".." component, has a component that Git, macOS or
	// Windows reads as ".git" (".GIT", ".git.", "git~1", ".g\u200cit"),
	// or goes through a symbolic link.
	ErrPathEscape = errors.New("gitops: path escapes the repository tree")
	// ErrInvalidPath means a path is malformed or names something Git
	// would refuse: it is empty, has a NUL byte or another control
	// character, an empty or "." component, or a trailing slash, or it
	// would create ".gitmodules" (or an alias of it) or a
	// ".gitattributes" directory.
	ErrInvalidPath = errors.New("gitops: invalid path")
	// ErrNotExist means a file, directory, document, list element or
	// revision does not exist.
	ErrNotExist = errors.New("gitops: does not exist")
	// ErrInvalidYAML means a file an edit must change is not valid YAML,
	// or does not have the shape the edit needs.
	ErrInvalidYAML = errors.New("gitops: invalid YAML")
	// ErrInvalidImage means an image name, tag or digest does not parse
	// as an OCI reference.
	ErrInvalidImage = errors.New("gitops: invalid image reference")
	// ErrRender means kustomize could not render an overlay.
	ErrRender = errors.New("gitops: render failed")
	// ErrRemoteResource means a kustomization refers to a remote
	// resource (a URL or a remote git base) and remote resources are not
	// enabled (see [WithRemoteResources]), or the remote could not be
	// fetched.
	ErrRemoteResource = errors.New("gitops: remote resource")
	// ErrInvalidChange means a [Change] is incomplete or malformed: no
	// edits, or a trailer value that is not a single line.
	ErrInvalidChange = errors.New("gitops: invalid change")
)

// PathError records an edit or read that failed on a path inside the
// repository tree.
type PathError struct {
	// Op is the operation, for example "write" or "set-image".
	Op string
	// Path is the slash-separated path inside the tree, as given.
	Path string
	// Err is the cause; it wraps one of the sentinels.
	Err error
}

// Error returns "gitops: <op> <path>: <cause>", with the path quoted if
// it holds spaces or unprintable characters and the package prefix said
// once ("gitops: write /x: path escapes the repository tree: absolute
// path").
func (e *PathError) Error() string {
	p := e.Path
	if strings.ContainsFunc(p, func(r rune) bool { return r == ' ' || !strconv.IsPrint(r) }) || p == "" {
		p = strconv.Quote(p)
	}
	cause := strings.ReplaceAll(strings.TrimPrefix(e.Err.Error(), "gitops: "), ": gitops: ", ": ")
	return "gitops: " + e.Op + " " + p + ": " + cause
}

// Unwrap returns the cause.
func (e *PathError) Unwrap() error { return e.Err }

// RenderError records the overlays that kustomize could not render. A
// change that breaks several overlays is refused with one RenderError
// naming all of them.
type RenderError struct {
	// Dir is the overlay directory inside the tree; when several overlays
	// failed, the first of Failures.
	Dir string
	// Revision is the commit or tree the overlay was rendered from; it may
	// name a commit that was never pushed.
	Revision string
	// Err is kustomize's reason for Dir, shortened to its cause: the
	// innermost failure, with paths relative to the repository. It wraps
	// kustomize's own error.
	Err error
	// Failures lists every overlay that failed, sorted by directory; it
	// holds at least Dir and Err.
	Failures []RenderFailure
}

// RenderFailure is one overlay that did not render, and why.
type RenderFailure struct {
	// Dir is the overlay directory inside the tree.
	Dir string
	// Err is kustomize's reason, shortened to its cause.
	Err error
}

func newRenderError(revision string, failures []RenderFailure) *RenderError {
	sort.Slice(failures, func(i, j int) bool { return failures[i].Dir < failures[j].Dir })
	return &RenderError{Dir: failures[0].Dir, Revision: revision, Err: failures[0].Err, Failures: failures}
}

// Error returns "gitops: render <dir>: <cause>" for one overlay, and
// "gitops: <n> overlays do not render: <dir>: <cause>; <dir>: <cause>"
// for several.
func (e *RenderError) Error() string {
	if len(e.Failures) <= 1 {
		return "gitops: render " + e.Dir + ": " + e.Err.Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "gitops: %d overlays do not render: ", len(e.Failures))
	for i, f := range e.Failures {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.Dir + ": " + f.Err.Error())
	}
	return b.String()
}

// Unwrap returns [ErrRender] and the cause of every failed overlay.
func (e *RenderError) Unwrap() []error {
	errs := []error{ErrRender}
	if len(e.Failures) == 0 {
		return append(errs, e.Err)
	}
	for _, f := range e.Failures {
		errs = append(errs, f.Err)
	}
	return errs
}

// RemoteError records a failed exchange with the remote repository. Its
// URL never carries credentials, and its message has every configured
// secret replaced by "xxxxx".
type RemoteError struct {
	// Op is "fetch" or "push".
	Op string
	// URL is the remote URL with any password removed.
	URL string
	// Err is the cause; it wraps [ErrConflict], [ErrAuth], [ErrRemote],
	// or the context's error.
	Err error

	secrets []string
}

// Error returns "gitops: <op> <url>: <cause>" with secrets redacted.
func (e *RemoteError) Error() string {
	return scrub("gitops: "+e.Op+" "+e.URL+": "+e.Err.Error(), e.secrets)
}

// Unwrap returns the cause.
func (e *RemoteError) Unwrap() error { return e.Err }

// RedactURL returns rawURL with the password of its user info replaced by
// "xxxxx". Strings that do not parse as URLs (such as scp-like SSH
// addresses "git@host:path", which carry no password) are returned as
// they are, except that anything between "://" and the last "@" is
// replaced by "xxxxx".
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err == nil && u.Scheme != "" {
		return u.Redacted()
	}
	if i := strings.Index(rawURL, "://"); i >= 0 {
		rest := rawURL[i+3:]
		if j := strings.LastIndex(rest, "@"); j >= 0 {
			return rawURL[:i+3] + "xxxxx@" + rest[j+1:]
		}
	}
	return rawURL
}

func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}

// classify maps a go-git error to the package's sentinels. It is the only
// place that knows go-git's error texts: a push losing the race is
// reported as "remote ref ... required to be ..." or "non-fast-forward
// update" (the client saw the new head) or as "failed to update ref" (the
// server refused the compare and swap), and none is a sentinel.
func classify(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	msg := err.Error()
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case strings.Contains(msg, "non-fast-forward"),
		strings.Contains(msg, "failed to update ref"),
		strings.Contains(msg, "fetch first"),
		strings.Contains(msg, "cannot lock ref"),
		strings.Contains(msg, "failed to lock"),
		strings.Contains(msg, "stale info"),
		strings.Contains(msg, "required to be"):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	case strings.Contains(msg, "authentication required"),
		strings.Contains(msg, "authorization failed"),
		strings.Contains(msg, "authentication failed"),
		strings.Contains(msg, "unable to authenticate"),
		strings.Contains(msg, "handshake failed"):
		return fmt.Errorf("%w: %w", ErrAuth, err)
	default:
		return fmt.Errorf("%w: %w", ErrRemote, err)
	}
}
