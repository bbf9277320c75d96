package health

// Status is the health of an object or application, named as Argo CD names
// it. The zero value is not a valid status; use [Unknown] when nothing is
// known.
type Status string

// Health statuses, from best to worst as [Worst] orders them:
// Healthy < Suspended < Progressing < Missing < Degraded < Unknown
// (gitops-engine's healthOrder: an object whose health cannot be assessed
// outranks one known to be failing).
const (
	Healthy     Status = "Healthy"
	Progressing Status = "Progressing"
	Degraded    Status = "Degraded"
	Suspended   Status = "Suspended"
	Missing     Status = "Missing"
	Unknown     Status = "Unknown"
)

// severity orders statuses the way Argo CD aggregates an application's
// resources: the worst one wins.
func (s Status) severity() int {
	switch s {
	case Healthy:
		return 0
	case Suspended:
		return 1
	case Progressing:
		return 2
	case Missing:
		return 3
	case Degraded:
		return 4
	case Unknown:
		return 5
	}
	return 5 // anything unrecognised counts as Unknown
}

// Worst returns the worst of the given statuses, or [Healthy] when none are
// given. It is Argo CD's aggregation of resource health into an
// application's health.
func Worst(statuses ...Status) Status {
	w := Healthy
	for _, s := range statuses {
		if s.severity() > w.severity() {
			w = s
		}
	}
	return w
}

// Phase is the outcome of one measurement or of a whole analysis run,
// named as Argo Rollouts names them.
type Phase string

// Measurement and analysis phases.
const (
	Running      Phase = "Running"
	Successful   Phase = "Successful"
	Failed       Phase = "Failed"
	Inconclusive Phase = "Inconclusive"
	Error        Phase = "Error"
)

// Completed reports whether p is a terminal phase.
func (p Phase) Completed() bool { return p != Running && p != "" }
