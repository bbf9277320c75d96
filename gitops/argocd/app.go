package argocd

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/health"
)

// Refresh modes of [Client.Get].
const (
	// RefreshNone reads the application as the controller last saw it.
	RefreshNone = ""
	// RefreshNormal asks the controller to compare live and desired state
	// again (re-reading Git) before answering.
	RefreshNormal = "normal"
	// RefreshHard also invalidates the manifest cache.
	RefreshHard = "hard"
)

func appPath(name, suffix string) string {
	return "/api/v1/applications/" + url.PathEscape(name) + suffix
}

func checkName(op, name string) error {
	if name == "" {
		return fmt.Errorf("argocd: %s: application name is required", op)
	}
	return nil
}

// Get returns the application name (GET /api/v1/applications/{name}),
// asking for a refresh first when refresh is [RefreshNormal] or
// [RefreshHard]. It returns an [*APIError] wrapping [ErrNotFound],
// [ErrUnauthenticated] or [ErrPermissionDenied] when refused, an error
// wrapping [ErrUnavailable] when the server could not be reached or
// answered 502/503/504 on every attempt, [ErrBadResponse] for a redirect
// or an answer that is not this Application, and [ErrResponseTooLarge]
// for one past the size limit.
func (c *Client) Get(ctx context.Context, name, refresh string) (*Application, error) {
	op := fmt.Sprintf("get app %q", name)
	if err := checkName(op, name); err != nil {
		return nil, err
	}
	if refresh != RefreshNone && refresh != RefreshNormal && refresh != RefreshHard {
		return nil, fmt.Errorf("argocd: %s: unknown refresh mode %q", op, refresh)
	}
	var q url.Values
	if refresh != "" {
		q = url.Values{"refresh": {refresh}}
	}
	return c.application(ctx, name, request{op: op, method: "GET", path: appPath(name, ""), query: q})
}

// application runs r, whose answer must be the Application name.
func (c *Client) application(ctx context.Context, name string, r request) (*Application, error) {
	var app Application
	if err := c.do(ctx, r, &app); err != nil {
		return nil, err
	}
	switch app.Metadata.Name {
	case name:
		return &app, nil
	case "":
		return nil, opError(r.op, ErrBadResponse, "no metadata.name in answer")
	}
	return nil, opError(r.op, ErrBadResponse, fmt.Sprintf("answer is application %q", c.scrub(app.Metadata.Name)))
}

// AppStatus implements [gitops.Syncer]: it gets the application without
// refresh and converts it with [ToAppStatus]. Errors are those of
// [Client.Get].
func (c *Client) AppStatus(ctx context.Context, app string) (gitops.AppStatus, error) {
	a, err := c.Get(ctx, app, RefreshNone)
	if err != nil {
		return gitops.AppStatus{}, err
	}
	return ToAppStatus(a), nil
}

// Refresh implements [gitops.Refresher] with a normal refresh. Errors are
// those of [Client.Get].
func (c *Client) Refresh(ctx context.Context, app string) error {
	_, err := c.Get(ctx, app, RefreshNormal)
	return err
}

// Sync implements [gitops.Syncer] (POST
// /api/v1/applications/{name}/sync). It returns once the server has
// accepted the operation, which it answers with the Application; any
// other answer, such as a redirect to a login page, is an error. Besides
// the errors of [Client.Get] it returns an [*APIError] wrapping
// [ErrSyncWindow], [ErrOperationInProgress] or [ErrAutoSyncRevision],
// with the server's message.
func (c *Client) Sync(ctx context.Context, req gitops.SyncRequest) error {
	op := fmt.Sprintf("sync app %q", req.App)
	if err := checkName(op, req.App); err != nil {
		return err
	}
	body := SyncRequest{Name: req.App, Revision: req.Revision, DryRun: req.DryRun, Prune: req.Prune, AppNamespace: c.o.appNamespace}
	for _, r := range req.Resources {
		body.Resources = append(body.Resources, SyncOperationResource{Group: r.Group, Kind: r.Kind, Name: r.Name, Namespace: r.Namespace})
	}
	if r := req.Retry; r != nil {
		rs := &RetryStrategy{Limit: int64(r.Limit)}
		if r.Backoff > 0 || r.Factor > 0 || r.MaxBackoff > 0 {
			rs.Backoff = &Backoff{}
			if r.Backoff > 0 {
				rs.Backoff.Duration = r.Backoff.String()
			}
			if r.Factor > 0 {
				f := int64(r.Factor)
				rs.Backoff.Factor = &f
			}
			if r.MaxBackoff > 0 {
				rs.Backoff.MaxDuration = r.MaxBackoff.String()
			}
		}
		body.RetryStrategy = rs
	}
	_, err := c.application(ctx, req.App, request{op: op, method: "POST", path: appPath(req.App, "/sync"), body: body})
	return err
}

// RollbackOptions is the input of [Client.Rollback]; the zero value is a
// real rollback that does not prune.
type RollbackOptions struct {
	DryRun bool
	Prune  bool
}

// Rollback syncs name back to the revision of history entry id (POST
// /api/v1/applications/{name}/rollback). Argo CD refuses a rollback while
// auto-sync is on. Errors are those of [Client.Sync].
func (c *Client) Rollback(ctx context.Context, name string, id int64, opts RollbackOptions) error {
	op := fmt.Sprintf("rollback app %q to history %d", name, id)
	if err := checkName(op, name); err != nil {
		return err
	}
	body := RollbackRequest{Name: name, ID: id, DryRun: opts.DryRun, Prune: opts.Prune, AppNamespace: c.o.appNamespace}
	_, err := c.application(ctx, name, request{op: op, method: "POST", path: appPath(name, "/rollback"), body: body})
	return err
}

// ResourceTree returns the application's resource tree (GET
// /api/v1/applications/{name}/resource-tree). Errors are those of
// [Client.Get].
func (c *Client) ResourceTree(ctx context.Context, name string) (*ApplicationTree, error) {
	op := fmt.Sprintf("resource tree of app %q", name)
	if err := checkName(op, name); err != nil {
		return nil, err
	}
	var tree ApplicationTree
	if err := c.do(ctx, request{op: op, method: "GET", path: appPath(name, "/resource-tree")}, &tree); err != nil {
		return nil, err
	}
	return &tree, nil
}

// TerminateOperation stops the running operation of name (DELETE
// /api/v1/applications/{name}/operation). Argo CD answers
// FailedPrecondition when none is running; that is returned as an
// [*APIError]. Other errors are those of [Client.Get].
func (c *Client) TerminateOperation(ctx context.Context, name string) error {
	op := fmt.Sprintf("terminate operation of app %q", name)
	if err := checkName(op, name); err != nil {
		return err
	}
	var resp struct{}
	return c.do(ctx, request{op: op, method: "DELETE", path: appPath(name, "/operation")}, &resp)
}

// ToAppStatus converts an Argo CD application into a [gitops.AppStatus].
// A requested operation the controller has not finished (app.Operation
// set) is reported as Running even if operationState still describes the
// previous one, so a waiter never takes an old result for the new sync.
func ToAppStatus(app *Application) gitops.AppStatus {
	st := gitops.AppStatus{
		App:           app.Metadata.Name,
		SyncStatus:    app.Status.Sync.Status,
		Revision:      app.Status.Sync.Revision,
		Health:        health.Status(app.Status.Health.Status),
		HealthMessage: app.Status.Health.Message,
	}
	if st.SyncStatus == "" {
		st.SyncStatus = gitops.SyncUnknown
	}
	if st.Health == "" {
		st.Health = health.Unknown
	}
	if app.Status.ReconciledAt != nil {
		st.ReconciledAt = *app.Status.ReconciledAt
	}
	if os := app.Status.OperationState; os != nil {
		o := &gitops.Operation{Phase: os.Phase, Message: os.Message, StartedAt: os.StartedAt}
		if os.SyncResult != nil && os.SyncResult.Revision != "" {
			o.Revision = os.SyncResult.Revision
		} else if os.Operation.Sync != nil {
			o.Revision = os.Operation.Sync.Revision
		}
		if os.FinishedAt != nil {
			o.FinishedAt = *os.FinishedAt
		}
		st.Operation = o
	}
	if app.Operation != nil && (st.Operation == nil || st.Operation.Completed()) {
		o := &gitops.Operation{Phase: gitops.OpRunning, Message: "operation requested"}
		if app.Operation.Sync != nil {
			o.Revision = app.Operation.Sync.Revision
		}
		st.Operation = o
	}
	for _, h := range app.Status.History {
		st.History = append(st.History, gitops.HistoryEntry{ID: h.ID, Revision: h.Revision, DeployedAt: h.DeployedAt})
	}
	for _, r := range app.Status.Resources {
		rs := gitops.ResourceStatus{
			ResourceRef: gitops.ResourceRef{Group: r.Group, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name},
			Version:     r.Version, SyncStatus: r.Status,
		}
		if r.Health != nil {
			rs.Health, rs.HealthMessage = health.Status(r.Health.Status), r.Health.Message
		}
		st.Resources = append(st.Resources, rs)
	}
	return st
}

// ErrStopWatch, returned by a [Client.Watch] callback, ends the watch
// without error.
var ErrStopWatch = errors.New("argocd: stop watch")
