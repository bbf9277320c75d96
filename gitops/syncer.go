package gitops

import (
	"context"
	"time"

	"github.com/flightdeck-dev/flightdeck/health"
)

// Syncer triggers a sync of a GitOps application and reads its status. It
// is what a GitOps controller such as Argo CD offers; gitops/argocd
// implements it over Argo CD's REST API and contrib/argocdv2 over the
// official argo-cd Go client.
type Syncer interface {
	// Sync asks the controller to sync app to req.Revision. It returns
	// once the operation is accepted, not when it finishes; use
	// [WaitFor] to wait for the outcome.
	Sync(ctx context.Context, req SyncRequest) error
	// AppStatus returns the application's current status.
	AppStatus(ctx context.Context, app string) (AppStatus, error)
}

// SyncRequest is the input of [Syncer.Sync]. The zero value of every field
// but App is the default.
type SyncRequest struct {
	// App is the application name. Required.
	App string
	// Revision is the Git revision (commit SHA, branch or tag) to sync to.
	// Empty means the application's target revision.
	Revision string
	// Prune deletes resources that are no longer in Git.
	Prune bool
	// DryRun previews the sync without applying it.
	DryRun bool
	// Resources limits the sync to these resources; empty means all.
	Resources []ResourceRef
	// Retry, when non-nil, asks the controller to retry a failed sync.
	Retry *SyncRetry
}

// SyncRetry is the controller-side retry policy of a sync.
type SyncRetry struct {
	// Limit is the number of retries; zero means none.
	Limit int
	// Backoff is the first wait; Factor multiplies it each retry up to
	// MaxBackoff. Zero values mean the controller's defaults.
	Backoff    time.Duration
	Factor     int
	MaxBackoff time.Duration
}

// ResourceRef names one Kubernetes resource of an application.
type ResourceRef struct {
	Group     string
	Kind      string
	Namespace string
	Name      string
}

// Sync statuses as Argo CD names them.
const (
	SyncSynced    = "Synced"
	SyncOutOfSync = "OutOfSync"
	SyncUnknown   = "Unknown"
)

// Operation phases as Argo CD names them.
const (
	OpRunning     = "Running"
	OpTerminating = "Terminating"
	OpFailed      = "Failed"
	OpError       = "Error"
	OpSucceeded   = "Succeeded"
)

// AppStatus is a snapshot of a GitOps application.
type AppStatus struct {
	// App is the application name.
	App string
	// SyncStatus is Synced, OutOfSync or Unknown; Revision is the revision
	// the live state was compared with.
	SyncStatus string
	Revision   string
	// Health is the aggregated health of the application's resources, and
	// HealthMessage the controller's explanation, if any.
	Health        health.Status
	HealthMessage string
	// Operation is the current or last operation; nil if there was none.
	Operation *Operation
	// ReconciledAt is when the controller last compared live and desired
	// state.
	ReconciledAt time.Time
	// History lists past syncs, oldest first.
	History []HistoryEntry
	// Resources lists the application's resources with their status.
	Resources []ResourceStatus
}

// Operation is a sync operation of an application.
type Operation struct {
	// Phase is Running, Terminating, Failed, Error or Succeeded.
	Phase string
	// Revision is the revision the operation syncs to.
	Revision   string
	Message    string
	StartedAt  time.Time
	FinishedAt time.Time // zero while running
}

// Completed reports whether the operation has finished, in any phase.
func (o *Operation) Completed() bool {
	return o != nil && o.Phase != OpRunning && o.Phase != OpTerminating && o.Phase != ""
}

// HistoryEntry is one past sync of an application.
type HistoryEntry struct {
	ID         int64
	Revision   string
	DeployedAt time.Time
}

// ResourceStatus is one resource of an application.
type ResourceStatus struct {
	ResourceRef
	Version       string
	SyncStatus    string
	Health        health.Status
	HealthMessage string
}
