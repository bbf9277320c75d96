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
	// ErrAuth means authentication with the remote failed: it refused the
	// credentials given, or it asked for credentials and none were given
	// or found (then the error also matches [ErrAuthRequired]).
	ErrAuth = errors.New("gitops: authentication failed")
	// ErrAuthRequired means the remote asked for credentials and none were
	// given, or none could be found (an SSH remote without an SSH agent).
	// An error that matches it also matches [ErrAuth]; one that matches
	// ErrAuth but not ErrAuthRequired means the credentials given were
	// refused.
	ErrAuthRequired = errors.New("gitops: credentials required")
	// ErrRemote means the remote could not be reached, did not answer as a
	// Git server, or did not answer before the context's deadline (the
	// error then also matches [context.DeadlineExceeded]).
	ErrRemote = errors.New("gitops: remote unavailable")
	// ErrCache means the local cache directory cannot be used: it cannot
	// be created or written, it is corrupt, or another Repo or process
	// held its lock until the context ended. It is never the remote's
	// fault; see [CacheError].
	ErrCache = errors.New("gitops: local cache unusable")
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
	// URL is the remote URL with any password or token removed.
	URL string
	// Attempts is how many pushes were tried, for a push that kept losing
	// the race; 0 otherwise.
	Attempts int
	// Err is the cause; it wraps [ErrConflict], [ErrAuth] (and perhaps
	// [ErrAuthRequired]), [ErrRemote], or the context's error.
	Err error

	secrets []string
}

// Error returns "gitops: <op> <url>: <cause>; <what to do>" with secrets
// redacted, for example "gitops: fetch https://git.example.com/r.git:
// authentication failed: authentication required; check the password or
// token given for user "deploy"".
func (e *RemoteError) Error() string {
	msg := "gitops: " + e.Op + " " + e.URL + ": " + strings.TrimPrefix(e.Err.Error(), "gitops: ")
	if e.Attempts > 1 {
		msg += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	var h hinted
	if errors.As(e.Err, &h) && h.hint() != "" {
		msg += "; " + h.hint()
	}
	return scrub(msg, e.secrets)
}

// Unwrap returns the cause.
func (e *RemoteError) Unwrap() error { return e.Err }

// CacheError records a problem with the local cache directory, never with
// the remote. It wraps [ErrCache].
type CacheError struct {
	// Op is what was being done: "open", "lock", "fetch", "write".
	Op string
	// Dir is the cache directory.
	Dir string
	// Err is the cause, such as a *fs.PathError or the context's error
	// while waiting for the lock.
	Err error

	secrets []string
}

// Error returns "gitops: cache <dir>: <op>: <cause>; <what to do>".
func (e *CacheError) Error() string {
	hint := "check that the directory is writable by this user, or choose another with WithCacheDir"
	switch {
	case e.Op == "lock" && (errors.Is(e.Err, context.DeadlineExceeded) || errors.Is(e.Err, context.Canceled)):
		hint = "another Repo or process kept the directory busy; give the operation more time, or give each writer its own directory with WithCacheDir"
	case e.Op == "open":
		hint = "the cache is only a copy of the remote: remove the directory and it is cloned again"
	}
	return scrub("gitops: cache "+e.Dir+": "+e.Op+": "+strings.TrimPrefix(e.Err.Error(), "gitops: ")+"; "+hint, e.secrets)
}

// Unwrap returns [ErrCache] and the cause.
func (e *CacheError) Unwrap() []error { return []error{ErrCache, e.Err} }

// hinted is a cause that knows what the user can do about it.
type hinted interface {
	error
	hint() string
}

// remoteCause is what [classify] makes of a transport error: the
// sentinels it matches, a message, and advice.
type remoteCause struct {
	kinds  []error
	msg    string
	advice string
	err    error
}

func (c *remoteCause) Error() string {
	if c.err == nil {
		return c.msg
	}
	return c.msg + ": " + c.err.Error()
}

func (c *remoteCause) hint() string { return c.advice }

func (c *remoteCause) Unwrap() []error {
	if c.err == nil {
		return c.kinds
	}
	return append(c.kinds[:len(c.kinds):len(c.kinds)], c.err)
}

// RedactURL returns rawURL with its credentials replaced by "xxxxx": the
// password of its user info, and for http(s) URLs a user without a
// password too, since that is how a token is given
// ("https://TOKEN@host/..." becomes "https://xxxxx@host/..."). The user
// of an ssh:// URL is a login name and is kept. Strings that do not parse
// as URLs (such as scp-like SSH addresses "git@host:path", which carry no
// password) are returned as they are, except that anything between "://"
// and the last "@" is replaced by "xxxxx".
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err == nil && u.Scheme != "" {
		if u.User != nil {
			if _, hasPw := u.User.Password(); !hasPw && isHTTP(u.Scheme) && u.User.Username() != "" {
				u.User = url.User("xxxxx")
				return u.String()
			}
		}
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

func isHTTP(scheme string) bool {
	return strings.EqualFold(scheme, "http") || strings.EqualFold(scheme, "https")
}

func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}

// classify maps a go-git error to the package's sentinels, with advice
// for the user. It is the only place that knows go-git's error texts: a
// push losing the race is reported as "remote ref ... required to be ..."
// or "non-fast-forward update" (the client saw the new head) or as
// "failed to update ref" (the server refused the compare and swap), and
// none is a sentinel. creds says whether credentials were given, which
// tells a refused password from a missing one.
func classify(ctx context.Context, err error, creds bool) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded),
		ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		// The remote did not answer in time: a remote problem.
		if !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return &remoteCause{kinds: []error{ErrRemote}, msg: "remote unavailable: no answer in time",
			advice: "check that the server is up and reachable, or allow more time", err: err}
	case ctx.Err() != nil:
		if !errors.Is(err, ctx.Err()) {
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		return err
	case errors.Is(err, context.Canceled):
		return err
	case strings.Contains(msg, "non-fast-forward"),
		strings.Contains(msg, "failed to update ref"),
		strings.Contains(msg, "fetch first"),
		strings.Contains(msg, "cannot lock ref"),
		strings.Contains(msg, "failed to lock"),
		strings.Contains(msg, "stale info"),
		strings.Contains(msg, "required to be"):
		return &remoteCause{kinds: []error{ErrConflict}, msg: "push rejected: remote branch moved",
			advice: "other writers kept landing first; retry later or allow more attempts with WithRetry", err: err}
	case strings.Contains(msg, "SSH agent"), strings.Contains(msg, "SSH_AUTH_SOCK"):
		return &remoteCause{kinds: []error{ErrAuth, ErrAuthRequired}, msg: "credentials required: no SSH agent",
			advice: "start ssh-agent and add a key (SSH_AUTH_SOCK), or give an SSH key with WithAuth", err: err}
	case strings.Contains(msg, "authentication required"),
		strings.Contains(msg, "authorization failed"),
		strings.Contains(msg, "authentication failed"),
		strings.Contains(msg, "unable to authenticate"),
		strings.Contains(msg, "handshake failed"):
		if !creds {
			return &remoteCause{kinds: []error{ErrAuth, ErrAuthRequired}, msg: "credentials required",
				advice: "the remote asks for credentials: give them with WithAuth (or a token in the URL)", err: err}
		}
		return &remoteCause{kinds: []error{ErrAuth}, msg: "authentication failed",
			advice: "the remote refused the credentials given: check the user, password, token or key, and its access to this repository", err: err}
	default:
		return &remoteCause{kinds: []error{ErrRemote}, msg: "remote unavailable",
			advice: "check the URL and that the server is reachable", err: err}
	}
}
