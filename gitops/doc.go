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
// ([WithAuth]: go-git's HTTP basic or token auth, or SSH; or in the URL,
// "https://TOKEN@host/..." or "https://user:password@host/..."). The
// first operation makes a bare clone of the branch in the cache directory
// ([WithCacheDir]); later operations fetch incrementally. A fetched pack
// is indexed on all cores, as `git index-pack` does, so a cold clone
// costs about what `git clone --bare` does.
//
// Credentials never appear in errors or logs (URLs are shown through
// [RedactURL], and every password or token is replaced by "xxxxx" in
// [RemoteError] messages) and never reach the disk: the cache's config
// holds the URL without them, and the cache is private to the user
// (directories 0700, files 0600). A remote that refuses the credentials
// given is [ErrAuth]; one that asks for credentials when none were given
// (or finds no SSH agent) is [ErrAuthRequired] too; a remote that cannot
// be reached or never answers is [ErrRemote]; a cache that cannot be used
// (unwritable, corrupt, locked until the context ended) is [ErrCache],
// never the remote's fault.
//
// Several Repos, in one process or many, may share a cache directory: a
// lock file in it (flock) serialises their fetches and pushes, and each
// sees what the others wrote. A cache whose ref names a commit it lacks
// is repaired by fetching again. A Repo keeps the objects of the commits
// it pushed in memory and writes them to the cache in batches, as one
// pack; [Repo.Close] writes the rest.
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
//     another by sharing its objects; it copies everything, namespace and
//     configuration included, so it is not a way to promote: see
//     [CopyRelease]).
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
// does the same for a tree object in the cache. Renders are cached by the
// content of their inputs (the tree and blob hashes of everything
// loaded), so an overlay that did not change is never rendered twice, at
// whatever commit it is asked for; Render and RenderTree run kustomize
// without holding the Repo's lock.
//
// Rendering is offline: a kustomization with a remote entry (a URL, or a
// remote git base such as "github.com/org/repo//deploy?ref=v1") does not
// render, with an error wrapping [ErrRemoteResource] that names the
// kustomization and the entry, unless [WithRemoteResources] lets the Repo
// fetch remote resources, bounded by the context and without holding its
// lock. kustomize's deprecation warnings go to the Repo's logger, not to
// stderr.
//
// # Apply: commit, push, replay
//
// [Repo.Apply] takes a [Change] (edits, message, [Trailers]) and: asks
// the remote where the branch is, fetching only if the cache is behind
// (a Repo that made the last commit itself builds on its cached head
// without a fetch); applies the edits; makes no commit if nothing
// changed; renders, before and after, every kustomization the change can
// break (the nearest one above each changed file, and every kustomization
// that includes those files, transitively, through any field that names a
// path, found with a dependency index kept by tree hash) and refuses the
// change with one [RenderError] naming every overlay it breaks;
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
// Changes applied concurrently through one Repo (a bot serving many apps)
// are pushed together: while a push is on the wire the next changes
// queue, then go as a chain of commits, one per change with its own
// message and trailers, in one push, replayed as a whole after a lost
// race. A change that fails or changes nothing leaves the chain without
// affecting the others. [Repo.ApplyAll] queues many changes at once, so
// that they all go in exactly one push (up to 1024; more are split into
// as few pushes as that allows); code holding a [Writer] finds it as
// [BatchWriter].
//
// # Releases
//
// The release-level functions map a release (flightdeck.Release) to the
// repository, in one place for every writer (the pipeline's deploy stage,
// the strategy, rollback and promote packages). A [Target] names an app in
// an environment (overlay directory "apps/<app>/overlays/<env>" unless
// the app or environment says otherwise, and the `images:` entry that
// pins it). [DeployRelease] pins a release's digest in that entry and
// commits with the release's trailers; [CurrentRelease] reads the release
// an environment runs at any revision, from the overlay's `images:` entry
// and the deploy trailers that recorded it; [CopyRelease] copies exactly
// one environment's release to another, changing only the target's
// `images:` entry, so the target keeps its own namespace, replicas and
// configuration, and is atomic with the push. A [Guard] runs inside the
// same Apply attempt, on the tree being built, and can refuse the change
// (an environment under a hold) atomically with the push.
//
// [RestoreRelease] puts an environment's overlay back exactly as it was
// at an earlier commit, as one commit (a rollback restores, it does not
// replay): the overlay directory becomes the very tree it had then,
// configuration included, while inputs it shares with other overlays (a
// base edited since) are left alone and reported. With
// RestoreRequest.Expect the restore is refused with [ErrStale] when
// another writer changed the overlay since the caller decided, which
// makes the decision atomic with the push.
//
// # Holds and quarantine
//
// A [Hold] stops every flightdeck writer from moving a release into one
// app's environment; a [Quarantine] keeps digests that failed there from
// coming back. Both are YAML files in the repository,
// ".flightdeck/holds/<app>/<env>.yaml" ([HoldPath]) and
// ".flightdeck/quarantine/<app>/<env>.yaml" ([QuarantinePath]), written
// and removed by commits (package rollback writes them after a
// rollback). The check is not opt-in: every change whose trailers name an
// app and environment with one of the [HeldActions] (deploy, promote,
// step) is refused with a *[HoldError] naming the hold (who, when, why,
// the release rolled back from) while the hold stands or the digest is
// quarantined, in every attempt of [Repo.Apply] and of gitopstest.Fake
// ([Change.ApplyEdits]), so a hold pushed meanwhile refuses the replay.
// [DeployRelease], [CopyRelease], the pipeline's deploy stage, the
// strategy runner and the promoter are all held without asking. An
// explicit [Override] with a reason, recorded in the commit's
// Flightdeck-Override and Flightdeck-Reason trailers, is the only way
// past; a writer that records an action of its own adds [HoldGuard]. A
// hold file that does not parse still holds. A strategy rollout in
// progress says so in its step commits' [TrailerRolloutPhase]; other work
// can say so with a lock file, ".flightdeck/locks/<app>/<env>.yaml"
// ([LockPath]). Package rollback's automatic triggers respect both.
//
// # Trailers and history
//
// Every commit made with [Trailers] ends with a trailer block that Git
// itself reads (`git interpret-trailers`, `git log --format=%(trailers)`):
// Flightdeck-Version (the schema), Flightdeck-Action, -App, -Environment,
// Flightdeck-Release (the release's "image@digest"), -Image-Tag,
// -Source-Repo, -Source-Revision, -Source-Time, and any further
// Flightdeck-* keys in [Trailers.Extra]. Values round-trip exactly:
// characters that could break a line or be trimmed are %-encoded.
// [ParseTrailers] finds the block with Git's own rules
// ([ParseTrailerBlock]).
//
// [Repo.History] lists deploy, promote and rollback commits (or any
// action) by app, environment, image or digest, newest first, and
// [Entry.Release] gives each one's complete release back. It reads only
// commits flightdeck wrote: the trailer block must carry
// Flightdeck-Version, the committer must be the Repo's committer identity
// (or one the query trusts), and when the Repo signs commits the
// signature must verify with its key ([Trust]). A person's commit whose
// last paragraph looks like trailers, or a cherry-pick or squash of a
// flightdeck commit, is not a deployment. Without signing this guards
// against accidents and copies, not against someone who sets flightdeck's
// committer identity on purpose; sign commits where that matters.
// [Repo.ReadFile] reads a file as it was at any past commit.
//
// # Waiting for a sync
//
// [WaitFor] polls a [Syncer] until the wanted revision's sync has
// finished, been reconciled, and is Synced and Healthy for a stability
// window. It never reads a failure or missing data as success, and it
// does not hold a CI job until its timeout when the outcome is known: a
// failed operation ([ErrOperationFailed]), a Degraded application after
// the sync ([ErrDegraded], with the controller's health message, after
// an optional grace), an application that is gone ([ErrAppNotFound]) or
// credentials that stopped working ([ErrAccessDenied]) end it at once.
// Its Timeout, on a clock.Clock, bounds every status read too.
//
// # Testing
//
// Package syncertest is a scriptable fake [Syncer] for tests of code
// that waits.
//
// Package gitopstest builds bare repositories from a layout, generates
// kustomize layouts, serves a repository over real smart HTTP with
// `git http-backend` (optionally behind basic auth and with injected
// faults), wraps a real repository in a recording, fault-injecting
// [Writer], and offers an in-memory fake of a whole repository (Apply,
// History, ReadFile, Render) that needs neither disk nor git.
package gitops
