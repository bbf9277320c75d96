package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/flightdeck-dev/flightdeck"
)

// Kind says what happened. Its value is the name a subscriber filters on:
// Argo CD notifications' trigger name where Argo CD has one
// ("on-deployed", "on-health-degraded", "on-sync-failed",
// "on-sync-succeeded"), else Argo Rollouts' ("on-rollout-step-completed",
// "on-rollout-aborted"), else a flightdeck name in the same style.
//
// The kinds below are the ones flightdeck emits. Other well-formed kinds
// (lower-case letters, digits and '-') are accepted and delivered as they
// are, so a tool can add its own.
type Kind string

// The kinds flightdeck emits.
const (
	// Committed: a deploy commit was pushed to the GitOps repository; the
	// GitOps controller syncs it from there, and [Deployed] follows once
	// the environment is Synced and Healthy.
	Committed Kind = "on-committed"
	// Deployed: a release was deployed to an environment and is Synced
	// and Healthy there (Argo CD's on-deployed): a rollout completed, a
	// deploy verified, or a pipeline's post-deploy stage found the
	// environment ready.
	Deployed Kind = "on-deployed"
	// SyncSucceeded: a sync operation succeeded; the release may not be
	// healthy yet (Argo CD's on-sync-succeeded).
	SyncSucceeded Kind = "on-sync-succeeded"
	// SyncFailed: a sync operation ended in Failed or Error (Argo CD's
	// on-sync-failed).
	SyncFailed Kind = "on-sync-failed"
	// Degraded: a deployed release went Degraded (Argo CD's
	// on-health-degraded).
	Degraded Kind = "on-health-degraded"
	// StepCompleted: one step of a rollout plan finished (Argo Rollouts'
	// on-rollout-step-completed).
	StepCompleted Kind = "on-rollout-step-completed"
	// Aborted: a rollout was aborted and traffic went back to stable
	// (Argo Rollouts' on-rollout-aborted).
	Aborted Kind = "on-rollout-aborted"
	// RolledBack: an environment was restored to its last verified
	// deploy, and held.
	RolledBack Kind = "on-rolled-back"
	// ApprovalRequested: a promotion waits for approvals.
	ApprovalRequested Kind = "on-approval-requested"
	// ApprovalGranted: an approver signed a promotion plan.
	ApprovalGranted Kind = "on-approval-granted"
	// BlockedByPolicy: a promotion or deploy was refused by a policy (a
	// hold, a window, a soak, a scan); the summary says which and why.
	BlockedByPolicy Kind = "on-blocked-by-policy"
	// Promoted: a release was promoted to the next environment.
	Promoted Kind = "on-promoted"
)

// Kinds returns the kinds flightdeck emits, in the order of a delivery's
// life: commit, sync, deploy, rollout, rollback, promotion.
func Kinds() []Kind {
	return []Kind{Committed, SyncSucceeded, SyncFailed, Deployed, Degraded, StepCompleted, Aborted,
		RolledBack, ApprovalRequested, ApprovalGranted, BlockedByPolicy, Promoted}
}

// Known reports whether k is one of [Kinds].
func (k Kind) Known() bool {
	_, _, ok := k.info()
	return ok
}

// Title returns a short human label, for example "Deployed" or "Step
// completed". An unknown kind's title is the kind itself.
func (k Kind) Title() string {
	t, _, ok := k.info()
	if !ok {
		return string(k)
	}
	return t
}

// Severity returns how urgent an event of this kind is when the event
// does not say: Critical for SyncFailed and Degraded, Warning for Aborted,
// RolledBack and BlockedByPolicy, Info otherwise (and for unknown kinds).
func (k Kind) Severity() Severity {
	_, s, ok := k.info()
	if !ok {
		return Info
	}
	return s
}

func (k Kind) info() (title string, sev Severity, ok bool) {
	switch k {
	case Committed:
		return "Committed", Info, true
	case Deployed:
		return "Deployed", Info, true
	case SyncSucceeded:
		return "Sync succeeded", Info, true
	case SyncFailed:
		return "Sync failed", Critical, true
	case Degraded:
		return "Degraded", Critical, true
	case StepCompleted:
		return "Step completed", Info, true
	case Aborted:
		return "Rollout aborted", Warning, true
	case RolledBack:
		return "Rolled back", Warning, true
	case ApprovalRequested:
		return "Approval requested", Info, true
	case ApprovalGranted:
		return "Approval granted", Info, true
	case BlockedByPolicy:
		return "Blocked by policy", Warning, true
	case Promoted:
		return "Promoted", Info, true
	}
	return "", 0, false
}

var kindPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Severity says how urgent an event is. The zero value means "the kind's
// default" ([Kind.Severity]); filters compare severities in the order
// Info < Warning < Critical.
type Severity int

// Severities, from least to most urgent.
const (
	Info Severity = iota + 1
	Warning
	Critical
)

// String returns "info", "warning" or "critical"; the zero value is ""
// and anything else "severity(N)".
func (s Severity) String() string {
	switch s {
	case 0:
		return ""
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity parses "info", "warning" or "critical" (any case). The
// error wraps [ErrInvalidEvent].
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(s) {
	case "info":
		return Info, nil
	case "warning":
		return Warning, nil
	case "critical":
		return Critical, nil
	}
	return 0, fmt.Errorf("%w: severity %q: want info, warning or critical", ErrInvalidEvent, s)
}

// MarshalText encodes the severity by name.
func (s Severity) MarshalText() ([]byte, error) {
	if s < 0 || s > Critical {
		return nil, fmt.Errorf("%w: %s", ErrInvalidEvent, s)
	}
	return []byte(s.String()), nil
}

// UnmarshalText decodes a severity name; the empty string is the zero
// value.
func (s *Severity) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = 0
		return nil
	}
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Link is a titled URL shown with an event: the Argo CD application, the
// pull request, the pipeline run, the dashboard.
type Link struct {
	// Title is the link's text, for example "Argo CD".
	Title string `json:"title"`
	// URL is an absolute http or https URL.
	URL string `json:"url"`
}

// Event is one thing stakeholders may want to hear about. The packages
// that deploy, roll out, roll back and promote emit events of the kinds
// above; a [Notifier] delivers them.
type Event struct {
	// ID, when set, is the event's stable identity (for example the
	// deploy commit and step), and the idempotency key is derived from it
	// alone. Empty means the key is derived from the event's content.
	ID string
	// Kind says what happened. Required.
	Kind Kind
	// App is the application's name. Required.
	App string
	// Environment is the environment's name, if the event concerns one.
	Environment string
	// Release is the release concerned, if any.
	Release flightdeck.Release
	// Time is when it happened. Zero means "now": notifiers stamp the
	// event with their clock once, before the first delivery attempt.
	Time time.Time
	// Actor is who or what caused it: a user, an approver, "pipeline".
	Actor string
	// Summary is one line saying what changed, for example "checkout
	// v1.4.2 promoted from staging to prod".
	Summary string
	// Details are extra facts as key and value, for example "step": "3/8",
	// "weight": "25", "policy": "window".
	Details map[string]string
	// Links point to where a reader can learn more.
	Links []Link
	// ReleaseNotes is the release's notes or changelog excerpt, as text.
	ReleaseNotes string
	// Severity is how urgent the event is. Zero means [Kind.Severity].
	Severity Severity
}

// Level returns the event's severity: Severity, or its kind's default
// when Severity is zero.
func (e Event) Level() Severity {
	if e.Severity != 0 {
		return e.Severity
	}
	return e.Kind.Severity()
}

// Validate reports what makes e undeliverable: a missing or malformed
// kind, a missing or invalid app name, an invalid environment name, an
// unknown severity, or a link that is not an absolute http(s) URL. The
// error wraps [ErrInvalidEvent].
func (e Event) Validate() error {
	var errs []error
	if e.Kind == "" {
		errs = append(errs, errors.New("kind is empty; use one of notify.Kinds()"))
	} else if !kindPattern.MatchString(string(e.Kind)) {
		errs = append(errs, fmt.Errorf("kind %q: use lower-case letters, digits and '-'", e.Kind))
	}
	if e.App == "" {
		errs = append(errs, errors.New("app is empty"))
	} else if !flightdeck.ValidName(e.App) {
		errs = append(errs, fmt.Errorf("app name %q is not a valid name", e.App))
	}
	if e.Environment != "" && !flightdeck.ValidName(e.Environment) {
		errs = append(errs, fmt.Errorf("environment name %q is not a valid name", e.Environment))
	}
	if e.Severity < 0 || e.Severity > Critical {
		errs = append(errs, fmt.Errorf("severity %d: use Info, Warning or Critical", int(e.Severity)))
	}
	for i, l := range e.Links {
		u, err := url.Parse(l.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("link %d (%q): want an absolute http or https URL", i, l.Title))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	what := e.App
	if what == "" {
		what = "(no app)"
	}
	return fmt.Errorf("%w %s of %s: %w", ErrInvalidEvent, e.Kind, what, errors.Join(errs...))
}

// Key returns the event's idempotency key: 32 hex digits that are the
// same every time the same event is delivered (every retry, every
// process that builds it again from the same facts) and differ between
// events. With ID set it is derived from Kind and ID; otherwise from the
// event's whole content (Time included), so set Time from the source of
// truth (the commit, the status change) rather than from a local clock if
// several processes may report the same event.
func (e Event) Key() string { return e.keyOf(e.content()) }

// keyOf returns the key of e whose content (without key) is w.
func (e Event) keyOf(w wireEvent) string {
	h := sha256.New()
	if e.ID != "" {
		h.Write([]byte("flightdeck-notify-id\x00"))
		h.Write([]byte(e.Kind))
		h.Write([]byte{0})
		h.Write([]byte(e.ID))
	} else {
		b, _ := json.Marshal(w) // a wire event of a valid severity always marshals
		h.Write([]byte("flightdeck-notify-content\x00"))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// wireEvent is the JSON form of an Event, the body of a webhook delivery.
type wireEvent struct {
	Key          string            `json:"key,omitempty"`
	ID           string            `json:"id,omitempty"`
	Kind         Kind              `json:"kind"`
	Severity     Severity          `json:"severity"`
	App          string            `json:"app"`
	Environment  string            `json:"environment,omitempty"`
	Release      *wireRelease      `json:"release,omitempty"`
	Time         time.Time         `json:"time"`
	Actor        string            `json:"actor,omitempty"`
	Summary      string            `json:"summary,omitempty"`
	Details      map[string]string `json:"details,omitempty"`
	Links        []Link            `json:"links,omitempty"`
	ReleaseNotes string            `json:"releaseNotes,omitempty"`
}

type wireRelease struct {
	App        string    `json:"app,omitempty"`
	Image      string    `json:"image,omitempty"`
	Digest     string    `json:"digest,omitempty"`
	Tag        string    `json:"tag,omitempty"`
	SourceRepo string    `json:"sourceRepo,omitempty"`
	Revision   string    `json:"revision,omitempty"`
	Time       time.Time `json:"time,omitzero"`
}

// wire returns the JSON form of e, key included.
func (e Event) wire() wireEvent {
	w := e.content()
	w.Key = e.keyOf(w)
	return w
}

// content returns the JSON form of e without its key.
func (e Event) content() wireEvent {
	w := wireEvent{
		ID: e.ID, Kind: e.Kind, Severity: e.Level(), App: e.App, Environment: e.Environment,
		Time: e.Time.UTC(), Actor: e.Actor, Summary: e.Summary, Details: e.Details,
		Links: e.Links, ReleaseNotes: e.ReleaseNotes,
	}
	if r := e.Release; r != (flightdeck.Release{}) {
		w.Release = &wireRelease{App: r.App, Image: r.Image, Digest: r.Digest, Tag: r.Tag,
			SourceRepo: r.SourceRepo, Revision: r.Revision}
		if !r.Time.IsZero() {
			w.Release.Time = r.Time.UTC()
		}
	}
	if len(w.Details) == 0 {
		w.Details = nil
	}
	if len(w.Links) == 0 {
		w.Links = nil
	}
	return w
}

// MarshalJSON encodes the event as a webhook body: lower-camel-case
// fields, times in UTC, the effective severity by name, and "key", the
// idempotency key. Empty optional fields are left out.
func (e Event) MarshalJSON() ([]byte, error) {
	if e.Severity < 0 || e.Severity > Critical {
		return nil, fmt.Errorf("%w: %s", ErrInvalidEvent, e.Severity)
	}
	return json.Marshal(e.wire())
}

// UnmarshalJSON decodes what MarshalJSON encodes; "key" is ignored (it
// is derived, see [Event.Key]).
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*e = Event{ID: w.ID, Kind: w.Kind, Severity: w.Severity, App: w.App, Environment: w.Environment,
		Time: w.Time, Actor: w.Actor, Summary: w.Summary, Details: w.Details, Links: w.Links,
		ReleaseNotes: w.ReleaseNotes}
	if r := w.Release; r != nil {
		e.Release = flightdeck.Release{App: r.App, Image: r.Image, Digest: r.Digest, Tag: r.Tag,
			SourceRepo: r.SourceRepo, Revision: r.Revision, Time: r.Time}
	}
	return nil
}
