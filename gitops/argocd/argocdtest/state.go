package argocdtest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/argocd"
	"github.com/flightdeck-dev/flightdeck/health"
	"github.com/flightdeck-dev/flightdeck/sim"
)

// minResolveGap is the least wall-clock time between two periodic reads
// of an app's target revision.
const minResolveGap = 100 * time.Millisecond

type appState struct {
	spec    App
	created time.Time

	target      string // resolved target revision
	resolveErr  string
	lastResolve time.Time
	resolvedAt  time.Time // wall-clock time of the last resolve
	refreshedAt time.Time

	synced  string    // revision last applied
	applied []sim.Ref // resources of the last applied revision
	prune   []sim.Ref // resources no longer in Git, not pruned

	op        *opState
	history   []argocd.RevisionHistory // at most spec.RevisionHistoryLimit, oldest first
	nextID    int64                    // ID of the next history entry
	autoTried string                   // revision auto-sync last attempted

	stale *argocd.ApplicationStatus // frozen status (StaleReconcile)

	rv       int64
	lastView [sha256.Size]byte // of the status and operation last shown
}

type opState struct {
	sync      argocd.SyncOperation
	revision  string
	started   time.Time
	finished  time.Time
	failed    string // phase Failed or Error when set
	message   string
	held      bool
	historyID int64
	momentary time.Duration
}

func (o *opState) phase(now time.Time) string {
	switch {
	case o.failed != "":
		return o.failed
	case o.held || now.Before(o.finished):
		return gitops.OpRunning
	}
	return gitops.OpSucceeded
}

func (a *appState) running(now time.Time) bool {
	return a.op != nil && a.op.phase(now) == gitops.OpRunning
}

func branchOf(target string) string {
	if target == "" || target == "HEAD" || isSHA(target) {
		return "main"
	}
	return target
}

func isSHA(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// resolveRevision turns a revision into a commit SHA where it can: the
// tracked branch (or "", HEAD) is asked of the remote, a full SHA is itself, and any
// other revision is kept as given.
func (s *Server) resolveRevision(ctx context.Context, a *appState, rev string) (string, error) {
	if isSHA(rev) {
		return rev, nil
	}
	branch := branchOf(a.spec.TargetRevision)
	if rev != "" && rev != "HEAD" && rev != branch {
		return rev, nil
	}
	h, err := lsRemote(ctx, a.spec.RepoURL, branch)
	if err != nil {
		return "", err
	}
	if h.IsZero() {
		return "", fmt.Errorf("branch %s has no commits", branch)
	}
	return h.String(), nil
}

// lsRemote asks the repository at url where branch is, as Argo CD's repo
// server resolves a branch (git ls-remote): the objects are fetched when
// the revision is rendered. The zero hash means no such branch.
func lsRemote(ctx context.Context, url, branch string) (plumbing.Hash, error) {
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	sess, err := cl.NewUploadPackSession(ep, nil)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	refs, err := ar.AllReferences()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	ref, err := refs.Reference(plumbing.NewBranchReferenceName(branch))
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return ref.Hash(), nil
}

// resolve re-reads the app's target revision; s.mu is held.
func (s *Server) resolve(ctx context.Context, a *appState) error {
	a.lastResolve, a.resolvedAt = s.clock.Now(), time.Now()
	target := a.spec.TargetRevision
	if isSHA(target) {
		a.target = target
		return nil
	}
	sha, err := s.resolveRevision(ctx, a, "")
	if err != nil {
		a.resolveErr = err.Error()
		return err
	}
	a.target, a.resolveErr = sha, ""
	return nil
}

// reconcile plays the controller's periodic work up to now; s.mu is held.
func (s *Server) reconcile(ctx context.Context, a *appState) {
	now := s.clock.Now()
	// The wall-clock floor keeps an accelerated clock from fetching Git on
	// every request.
	if now.Sub(a.lastResolve) >= s.cfg.reconcileInterval && time.Since(a.resolvedAt) >= minResolveGap {
		_ = s.resolve(ctx, a)
	}
	if a.spec.AutoSync && !a.running(now) && a.target != "" && a.target != a.synced && a.autoTried != a.target {
		a.autoTried = a.target
		s.log.Info("auto-sync", "app", a.spec.Name, "revision", a.target)
		s.startSync(ctx, a, argocd.SyncOperation{Revision: a.target, Prune: a.spec.AutoPrune})
	}
}

// startSync runs a sync operation: it renders the revision, applies it to
// the cluster, and leaves the operation Running for the sync duration;
// s.mu is held.
func (s *Server) startSync(ctx context.Context, a *appState, req argocd.SyncOperation) {
	now := s.clock.Now()
	if s.faults.staleReconcile {
		st := s.status(ctx, a, now)
		a.stale = &st
	}
	op := &opState{sync: req, started: now, finished: now.Add(s.cfg.syncDuration), held: s.faults.holdOperations, momentary: s.faults.momentary}
	a.op = op
	rev, err := s.resolveRevision(ctx, a, req.Revision)
	op.revision = rev
	if err != nil {
		op.failed, op.message = gitops.OpError, fmt.Sprintf("ComparisonError: failed to resolve revision %q: %v", req.Revision, err)
		return
	}
	r, err := s.repo(a.spec.RepoURL, branchOf(a.spec.TargetRevision))
	if err != nil {
		op.failed, op.message = gitops.OpError, "ComparisonError: "+err.Error()
		return
	}
	manifests, err := r.Render(ctx, rev, a.spec.Path)
	if err != nil {
		op.failed, op.message = gitops.OpError, "ComparisonError: rendering manifests: "+err.Error()
		return
	}
	if req.DryRun {
		op.message = "successfully synced (dry run)"
		return
	}
	refs, err := s.cluster.Apply(ctx, manifests)
	if err != nil {
		op.failed, op.message = gitops.OpFailed, "one or more objects failed to apply, reason: "+err.Error()
		return
	}
	keep := map[sim.Ref]bool{}
	for _, ref := range refs {
		keep[ref] = true
	}
	var leftover []sim.Ref
	for _, ref := range append(a.applied, a.prune...) {
		if keep[ref] {
			continue
		}
		if req.Prune {
			if err := s.cluster.Delete(ctx, ref); err != nil && !errors.Is(err, sim.ErrNotFound) {
				op.failed, op.message = gitops.OpFailed, "prune: "+err.Error()
				return
			}
			continue
		}
		leftover = append(leftover, ref)
	}
	a.applied, a.prune, a.synced = refs, leftover, rev
	op.message = "successfully synced (all tasks run)"
	id := a.nextID
	a.nextID++
	op.historyID = id
	start := now
	a.history = append(a.history, argocd.RevisionHistory{
		ID: id, Revision: rev, DeployedAt: op.finished, DeployStartedAt: &start,
		Source: argocd.ApplicationSource{RepoURL: a.spec.RepoURL, Path: a.spec.Path, TargetRevision: a.spec.TargetRevision},
	})
	if n := len(a.history) - a.spec.RevisionHistoryLimit; n > 0 {
		a.history = append(a.history[:0:0], a.history[n:]...)
	}
	s.log.Info("sync", "app", a.spec.Name, "revision", rev, "resources", len(refs))
}

func resourceOf(ref sim.Ref) (group, version string) {
	if i := strings.LastIndex(ref.APIVersion, "/"); i >= 0 {
		return ref.APIVersion[:i], ref.APIVersion[i+1:]
	}
	return "", ref.APIVersion
}

// status computes what the controller would report now; s.mu is held.
func (s *Server) status(ctx context.Context, a *appState, now time.Time) argocd.ApplicationStatus {
	st := argocd.ApplicationStatus{}
	src := argocd.ApplicationSource{RepoURL: a.spec.RepoURL, Path: a.spec.Path, TargetRevision: a.spec.TargetRevision}
	st.Sync.ComparedTo = argocd.ComparedTo{Source: src, Destination: argocd.ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: a.spec.Namespace}}
	st.Sync.Revision = a.target

	healthy := health.Healthy
	var worst []health.Status
	inSync := a.synced != "" && a.synced == a.target && len(a.prune) == 0
	for _, ref := range a.applied {
		group, version := resourceOf(ref)
		rs := argocd.ResourceStatus{Group: group, Version: version, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, Status: gitops.SyncSynced}
		hs, msg, err := s.cluster.Health(ref)
		switch {
		case errors.Is(err, sim.ErrNotFound):
			rs.Status, inSync = gitops.SyncOutOfSync, false
			rs.Health = &argocd.HealthStatus{Status: string(health.Missing)}
			worst = append(worst, health.Missing)
		case err != nil:
			rs.Health = &argocd.HealthStatus{Status: string(health.Unknown), Message: msg}
			worst = append(worst, health.Unknown)
		case health.HasHealthRule(ref.APIVersion, ref.Kind):
			rs.Health = &argocd.HealthStatus{Status: string(hs), Message: msg}
			worst = append(worst, hs)
		}
		st.Resources = append(st.Resources, rs)
	}
	for _, ref := range a.prune {
		group, version := resourceOf(ref)
		st.Resources = append(st.Resources, argocd.ResourceStatus{Group: group, Version: version, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, Status: gitops.SyncOutOfSync})
	}
	healthy = health.Worst(worst...)
	switch {
	case a.resolveErr != "" || a.target == "":
		st.Sync.Status = gitops.SyncUnknown
	case inSync:
		st.Sync.Status = gitops.SyncSynced
	default:
		st.Sync.Status = gitops.SyncOutOfSync
	}
	if a.synced == "" {
		healthy = health.Missing
	}
	st.Health = argocd.HealthStatus{Status: string(healthy)}
	if healthy != health.Healthy {
		for _, r := range st.Resources {
			if r.Health != nil && health.Status(r.Health.Status) == healthy && r.Health.Message != "" {
				st.Health.Message = r.Health.Message
				break
			}
		}
	}
	if op := a.op; op != nil {
		if op.momentary > 0 || s.faults.momentary > 0 {
			if a.running(now) || now.Before(op.finished.Add(op.momentary)) {
				st.Health = argocd.HealthStatus{Status: string(health.Healthy)}
			}
		}
		phase := op.phase(now)
		os := &argocd.OperationState{
			Operation: argocd.Operation{Sync: &argocd.SyncOperation{Revision: op.revision, Prune: op.sync.Prune, DryRun: op.sync.DryRun, Resources: op.sync.Resources}},
			Phase:     phase, Message: op.message, StartedAt: op.started,
		}
		if phase == gitops.OpRunning {
			os.Message = "waiting for completion of hook and sync tasks"
		} else {
			fin := op.finished
			if op.failed != "" {
				fin = op.started
			}
			os.FinishedAt = &fin
			os.SyncResult = &argocd.SyncOperationResult{Revision: op.revision, Source: src}
		}
		st.OperationState = os
	}
	for _, h := range a.history {
		if !h.DeployedAt.After(now) && !(a.op != nil && a.op.held && h.ID == a.op.historyID) {
			st.History = append(st.History, h)
		}
	}
	rec := s.reconciledAt(a, now)
	st.ReconciledAt = &rec
	return st
}

// reconciledAt is the last time the controller compared the app: on
// creation, on a refresh, one second after an operation finished, and
// every reconcile interval.
func (s *Server) reconciledAt(a *appState, now time.Time) time.Time {
	r := a.created
	if a.refreshedAt.After(r) {
		r = a.refreshedAt
	}
	if op := a.op; op != nil && op.phase(now) != gitops.OpRunning {
		end := op.finished
		if op.failed != "" {
			end = op.started
		}
		if t := end.Add(time.Second); !t.After(now) && t.After(r) {
			r = t
		}
	}
	if n := now.Sub(a.created) / s.cfg.reconcileInterval; n > 0 {
		if t := a.created.Add(n * s.cfg.reconcileInterval); t.After(r) {
			r = t
		}
	}
	return r.UTC().Truncate(time.Second)
}

// view renders the app as the API returns it, bumping resourceVersion
// when anything changed; s.mu is held.
func (s *Server) view(ctx context.Context, a *appState) argocd.Application {
	s.reconcile(ctx, a)
	now := s.clock.Now()
	app := argocd.Application{
		Metadata: argocd.ObjectMeta{Name: a.spec.Name, Namespace: "argocd"},
		Spec: argocd.ApplicationSpec{
			Source:      &argocd.ApplicationSource{RepoURL: a.spec.RepoURL, Path: a.spec.Path, TargetRevision: a.spec.TargetRevision},
			Destination: argocd.ApplicationDestination{Server: "https://kubernetes.default.svc", Namespace: a.spec.Namespace},
			Project:     a.spec.Project,
		},
	}
	if a.spec.AutoSync {
		app.Spec.SyncPolicy = &argocd.SyncPolicy{Automated: &argocd.SyncPolicyAutomated{Prune: a.spec.AutoPrune}}
	}
	app.Status = s.status(ctx, a, now)
	if st := a.stale; st != nil {
		// The operation state is live; the comparison is not.
		app.Status.Sync, app.Status.Health, app.Status.Resources, app.Status.ReconciledAt = st.Sync, st.Health, st.Resources, st.ReconciledAt
	}
	if a.op != nil && a.running(now) {
		op := a.op.sync
		op.Revision = a.op.revision
		app.Operation = &argocd.Operation{Sync: &op}
	}
	// The JSON the API answers with, not fmt's %v, which prints the
	// addresses of nested pointers (a new one on every read).
	key, _ := json.Marshal(struct {
		Status    argocd.ApplicationStatus `json:"status"`
		Operation *argocd.Operation        `json:"operation"`
	}{app.Status, app.Operation})
	if sum := sha256.Sum256(key); sum != a.lastView {
		a.lastView = sum
		a.rv++
	}
	app.Metadata.ResourceVersion = fmt.Sprint(a.rv)
	return app
}

// tree lists the app's resources and what they own; s.mu is held.
func (s *Server) tree(a *appState) argocd.ApplicationTree {
	var t argocd.ApplicationTree
	var walk func(ref sim.Ref, parent *argocd.ResourceRef)
	walk = func(ref sim.Ref, parent *argocd.ResourceRef) {
		obj, err := s.cluster.Get(ref)
		if err != nil {
			return
		}
		group, version := resourceOf(ref)
		md, _ := obj["metadata"].(map[string]any)
		uid, _ := md["uid"].(string)
		rv, _ := md["resourceVersion"].(string)
		node := argocd.ResourceNode{ResourceRef: argocd.ResourceRef{Group: group, Version: version, Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, UID: uid}, ResourceVersion: rv}
		if created, err := time.Parse(time.RFC3339, fmt.Sprint(md["creationTimestamp"])); err == nil {
			node.CreatedAt = &created
		}
		if parent != nil {
			node.ParentRefs = []argocd.ResourceRef{*parent}
		}
		if health.HasHealthRule(ref.APIVersion, ref.Kind) {
			hs, msg, _ := health.ObjectHealth(obj)
			node.Health = &argocd.HealthStatus{Status: string(hs), Message: msg}
		}
		node.Images = images(obj)
		t.Nodes = append(t.Nodes, node)
		self := node.ResourceRef
		for _, child := range s.cluster.Owned(ref) {
			walk(child, &self)
		}
	}
	for _, ref := range a.applied {
		walk(ref, nil)
	}
	sort.SliceStable(t.Nodes, func(i, j int) bool { return t.Nodes[i].Kind < t.Nodes[j].Kind })
	return t
}

func images(obj map[string]any) []string {
	spec, _ := obj["spec"].(map[string]any)
	if tmpl, ok := spec["template"].(map[string]any); ok {
		spec, _ = tmpl["spec"].(map[string]any)
	}
	cs, _ := spec["containers"].([]any)
	var out []string
	for _, c := range cs {
		m, _ := c.(map[string]any)
		if img, ok := m["image"].(string); ok {
			out = append(out, img)
		}
	}
	return out
}
