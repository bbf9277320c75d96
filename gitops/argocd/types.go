package argocd

import "time"

// The types below mirror the JSON of Argo CD's API (v1alpha1 Application
// and the application service messages) with the same field names. Only
// the fields this package reads or writes are declared; decoding ignores
// the rest.

// Application is an Argo CD Application as the API returns it.
type Application struct {
	Metadata  ObjectMeta        `json:"metadata"`
	Spec      ApplicationSpec   `json:"spec"`
	Status    ApplicationStatus `json:"status"`
	Operation *Operation        `json:"operation,omitempty"`
}

// ObjectMeta is the Kubernetes metadata of an Application.
type ObjectMeta struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace,omitempty"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	Annotations     map[string]string `json:"annotations,omitempty"`
}

// ApplicationSpec is where an Application's manifests come from and go to.
type ApplicationSpec struct {
	Source      *ApplicationSource     `json:"source,omitempty"`
	Destination ApplicationDestination `json:"destination"`
	Project     string                 `json:"project"`
	SyncPolicy  *SyncPolicy            `json:"syncPolicy,omitempty"`
}

// ApplicationSource is a Git repository, a path in it and a revision.
type ApplicationSource struct {
	RepoURL        string `json:"repoURL"`
	Path           string `json:"path,omitempty"`
	TargetRevision string `json:"targetRevision,omitempty"`
}

// ApplicationDestination is the cluster and namespace an Application
// deploys to.
type ApplicationDestination struct {
	Server    string `json:"server,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// SyncPolicy controls automated sync.
type SyncPolicy struct {
	Automated *SyncPolicyAutomated `json:"automated,omitempty"`
}

// SyncPolicyAutomated turns on automated sync.
type SyncPolicyAutomated struct {
	Prune    bool `json:"prune,omitempty"`
	SelfHeal bool `json:"selfHeal,omitempty"`
}

// ApplicationStatus is what the controller observed.
type ApplicationStatus struct {
	Resources      []ResourceStatus  `json:"resources,omitempty"`
	Sync           SyncStatus        `json:"sync"`
	Health         HealthStatus      `json:"health"`
	History        []RevisionHistory `json:"history,omitempty"`
	ReconciledAt   *time.Time        `json:"reconciledAt,omitempty"`
	OperationState *OperationState   `json:"operationState,omitempty"`
}

// SyncStatus is the comparison of live and desired state.
type SyncStatus struct {
	Status     string     `json:"status"`
	ComparedTo ComparedTo `json:"comparedTo"`
	Revision   string     `json:"revision,omitempty"`
}

// ComparedTo is what the live state was compared with.
type ComparedTo struct {
	Source      ApplicationSource      `json:"source"`
	Destination ApplicationDestination `json:"destination"`
}

// HealthStatus is a health status and its message.
type HealthStatus struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// RevisionHistory is one past sync; ID is what [Client.Rollback] takes.
type RevisionHistory struct {
	Revision        string            `json:"revision,omitempty"`
	DeployedAt      time.Time         `json:"deployedAt"`
	ID              int64             `json:"id"`
	Source          ApplicationSource `json:"source"`
	DeployStartedAt *time.Time        `json:"deployStartedAt,omitempty"`
}

// ResourceStatus is one managed resource with its sync and health status.
type ResourceStatus struct {
	Group     string        `json:"group,omitempty"`
	Version   string        `json:"version,omitempty"`
	Kind      string        `json:"kind,omitempty"`
	Namespace string        `json:"namespace,omitempty"`
	Name      string        `json:"name,omitempty"`
	Status    string        `json:"status,omitempty"`
	Health    *HealthStatus `json:"health,omitempty"`
}

// Operation is a requested operation; the controller runs it.
type Operation struct {
	Sync  *SyncOperation `json:"sync,omitempty"`
	Retry *RetryStrategy `json:"retry,omitempty"`
}

// SyncOperation is a requested sync.
type SyncOperation struct {
	Revision  string                  `json:"revision,omitempty"`
	Prune     bool                    `json:"prune,omitempty"`
	DryRun    bool                    `json:"dryRun,omitempty"`
	Resources []SyncOperationResource `json:"resources,omitempty"`
}

// SyncOperationResource selects one resource to sync.
type SyncOperationResource struct {
	Group     string `json:"group,omitempty"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

// RetryStrategy is the controller-side retry of a failed sync.
type RetryStrategy struct {
	Limit   int64    `json:"limit,omitempty"`
	Backoff *Backoff `json:"backoff,omitempty"`
}

// Backoff is the back-off of a [RetryStrategy]; durations are Go duration
// strings such as "5s".
type Backoff struct {
	Duration    string `json:"duration,omitempty"`
	Factor      *int64 `json:"factor,omitempty"`
	MaxDuration string `json:"maxDuration,omitempty"`
}

// OperationState is the progress of the current or last operation.
type OperationState struct {
	Operation  Operation            `json:"operation"`
	Phase      string               `json:"phase"`
	Message    string               `json:"message,omitempty"`
	SyncResult *SyncOperationResult `json:"syncResult,omitempty"`
	StartedAt  time.Time            `json:"startedAt"`
	FinishedAt *time.Time           `json:"finishedAt,omitempty"`
	RetryCount int64                `json:"retryCount,omitempty"`
}

// SyncOperationResult is the outcome of a sync.
type SyncOperationResult struct {
	Revision string            `json:"revision"`
	Source   ApplicationSource `json:"source"`
}

// ApplicationTree is the resource tree of an Application: its managed
// resources and the ones they own, such as ReplicaSets and Pods.
type ApplicationTree struct {
	Nodes []ResourceNode `json:"nodes,omitempty"`
}

// ResourceRef names a node of an [ApplicationTree].
type ResourceRef struct {
	Group     string `json:"group,omitempty"`
	Version   string `json:"version,omitempty"`
	Kind      string `json:"kind,omitempty"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	UID       string `json:"uid,omitempty"`
}

// ResourceNode is one node of an [ApplicationTree].
type ResourceNode struct {
	ResourceRef     `json:",inline"`
	ParentRefs      []ResourceRef `json:"parentRefs,omitempty"`
	ResourceVersion string        `json:"resourceVersion,omitempty"`
	Images          []string      `json:"images,omitempty"`
	Health          *HealthStatus `json:"health,omitempty"`
	CreatedAt       *time.Time    `json:"createdAt,omitempty"`
}

// WatchEvent is one event of the application stream. Type is ADDED,
// MODIFIED or DELETED.
type WatchEvent struct {
	Type        string      `json:"type"`
	Application Application `json:"application"`
}

// SyncRequest is the body of POST /api/v1/applications/{name}/sync.
type SyncRequest struct {
	Name          string                  `json:"name"`
	Revision      string                  `json:"revision,omitempty"`
	DryRun        bool                    `json:"dryRun,omitempty"`
	Prune         bool                    `json:"prune,omitempty"`
	Resources     []SyncOperationResource `json:"resources,omitempty"`
	RetryStrategy *RetryStrategy          `json:"retryStrategy,omitempty"`
	AppNamespace  string                  `json:"appNamespace,omitempty"`
}

// RollbackRequest is the body of POST /api/v1/applications/{name}/rollback.
type RollbackRequest struct {
	Name         string `json:"name"`
	ID           int64  `json:"id"`
	DryRun       bool   `json:"dryRun,omitempty"`
	Prune        bool   `json:"prune,omitempty"`
	AppNamespace string `json:"appNamespace,omitempty"`
}
