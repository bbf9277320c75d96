// Package gitops is flightdeck's GitOps repository engine: it reads a
// remote Git repository through a persistent local cache, changes
// manifests without checking out a worktree, renders kustomize overlays in
// memory, and commits and pushes changes so that concurrent writers never
// lose an update. It also defines [Syncer], the interface to a GitOps
// controller such as Argo CD, and [WaitFor].
//
// # Repository access
//
// [New] returns a [Repo] for a remote URL with optional credentials
// ([WithAuth]: go-git's HTTP basic or token auth, or SSH). The first
// operation makes a bare clone of the branch in the cache directory
// ([WithCacheDir]); later operations fetch incrementally. Credentials never
// appear in errors or logs: URLs are shown through [RedactURL] and every
// configured password or token is replaced by "xxxxx" in [RemoteError]
// messages.
//
// # Edits
//
// An [Edit] changes a [Tree], a lazily loaded, mutable view of a commit's
// tree. Only directories an edit reaches are read, and only directories on
// the path of a change are written back as new tree objects, so a bump in
// a monorepo costs about the files it touches. Built-in edits:
//
//   - [SetImage]: the `images:` entry of a kustomization, as
//     `kustomize edit set image` v5.7.1 writes it: the entry is replaced by
//     exactly what the edit says (a tag alone drops newName and digest,
//     [KeepCurrent] keeps a value), and [ParseSetImage] takes the CLI's
//     argument shapes. One documented deviation: a digest drops newTag.
//     The reference is validated with go-containerregistry and the digest
//     with [flightdeck.ValidateDigest], the rule the whole module shares.
//   - [SetField]: a scalar by dotted YAML path in any file (a Helm
//     values.yaml `image.tag`), keeping the value's type; a list selector
//     that matches nothing is [ErrNotExist] unless Create is set.
//   - [WriteFile], [RemoveFile], [CopyDir] (copy one directory over
//     another by sharing its objects).
//
// YAML edits keep every comment, key order and sequence indentation; the
// comments of a key an edit removes move to the key that takes its place.
// In a file with several documents only the edited document is rewritten
// and the others, with their "---" separators and comments, stay byte for
// byte; SetImage edits the one Kustomization document and SetField the
// document chosen by Kind and Name or, failing those, the one document
// that has the field. An edit that cannot tell which document is meant is
// refused, never guessed.
//
// Paths are slash-separated and relative to the repository root, and are
// judged as Git judges them (verify_path, fsck, core.protectNTFS and
// core.protectHFS): absolute paths, ".." components, components that Git,
// Windows or macOS read as ".git" (".GIT", ".git.", ".git ", "git~1",
// names with ignorable Unicode such as U+200C) and paths through a
// symbolic link are refused with [ErrPathEscape]; empty or malformed
// paths (NUL or control bytes, "a//b", "./a", a trailing slash) and any
// write of ".gitmodules" in any spelling with [ErrInvalidPath]. A
// symbolic link is never followed, but the link itself can be removed or
// replaced. [EditFunc] adapts a function.
//
// # Render and dry run
//
// [Repo.Render] renders a kustomization directory at a revision with
// krusty over an in-memory file system that holds only the directory's
// subtree and what its kustomization files refer to. [Repo.RenderTree]
// does the same for a tree object in the cache.
//
// # Apply: commit, push, replay
//
// [Repo.Apply] takes a [Change] (edits, message, [Trailers]) and:
// fetches the branch head; applies the edits; makes no commit if nothing
// changed; renders every touched overlay before and after and refuses the
// change with a [RenderError] naming the overlay if it no longer renders;
// writes a commit with Flightdeck-* trailers (optionally OpenPGP-signed,
// [WithSignKey]); and pushes it, requiring the remote branch to still be
// at the head it built on. If another writer pushed first, the push is
// rejected ([ErrConflict]), and Apply fetches the new head and re-applies
// the same edits there, after a jittered exponential backoff that gives up
// when the context ends ([WithRetry]). The result is linear history in
// which every change lands exactly once and, for two changes to the same
// file, the later one wins. With Change.DryRun, Apply returns the commit
// and rendered [Result.Diff] without pushing. A failed Apply never changes
// the remote.
//
// # History
//
// [Repo.History] lists deploy, promote and rollback commits by app and
// environment from their trailers, newest first; [Repo.ReadFile] reads a
// file as it was at any past commit.
//
// # Testing
//
// Package gitopstest builds bare repositories from a layout, generates
// kustomize layouts, serves a repository over real smart HTTP with
// `git http-backend` (optionally behind basic auth and with injected
// faults), and wraps any [Writer] with a recording, fault-injecting fake.
package gitops
