package gitops

import (
	"fmt"
	"strings"
)

// Action says what a commit does to an environment. It is recorded in the
// Flightdeck-Action trailer.
type Action string

// Actions flightdeck records.
const (
	ActionDeploy   Action = "deploy"
	ActionPromote  Action = "promote"
	ActionRollback Action = "rollback"
	ActionStep     Action = "step"
)

// Trailer keys of commits made by [Repo.Apply].
const (
	TrailerApp         = "Flightdeck-App"
	TrailerEnvironment = "Flightdeck-Environment"
	TrailerRelease     = "Flightdeck-Release"
	TrailerImageDigest = "Flightdeck-Image-Digest"
	TrailerAction      = "Flightdeck-Action"
)

// Trailers say what a commit is. Empty fields are not written.
type Trailers struct {
	App         string
	Environment string
	// Release identifies the release, for example its source revision or
	// version.
	Release     string
	ImageDigest string
	Action      Action
}

func (t Trailers) pairs() [][2]string {
	return [][2]string{
		{TrailerApp, t.App},
		{TrailerEnvironment, t.Environment},
		{TrailerRelease, t.Release},
		{TrailerImageDigest, t.ImageDigest},
		{TrailerAction, string(t.Action)},
	}
}

// String returns the trailer block, one "Key: value" line per set field.
func (t Trailers) String() string {
	var b strings.Builder
	for _, p := range t.pairs() {
		if p[1] != "" {
			b.WriteString(p[0] + ": " + p[1] + "\n")
		}
	}
	return b.String()
}

// ParseTrailers reads the Flightdeck trailers of a commit message: the
// "Key: value" lines of its last paragraph. Other trailers are ignored.
func ParseTrailers(message string) Trailers {
	msg := strings.TrimRight(message, "\n")
	if i := strings.LastIndex(msg, "\n\n"); i >= 0 {
		msg = msg[i+2:]
	}
	var t Trailers
	for _, l := range strings.Split(msg, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case TrailerApp:
			t.App = v
		case TrailerEnvironment:
			t.Environment = v
		case TrailerRelease:
			t.Release = v
		case TrailerImageDigest:
			t.ImageDigest = v
		case TrailerAction:
			t.Action = Action(v)
		}
	}
	return t
}

func (c Change) message() string {
	msg := strings.TrimSpace(c.Message)
	t := c.Trailers
	if msg == "" {
		switch {
		case t.Action != "" && t.App != "" && t.Environment != "":
			msg = fmt.Sprintf("%s %s to %s", t.Action, t.App, t.Environment)
		case t.App != "":
			msg = "flightdeck: update " + t.App
		default:
			msg = "flightdeck: update"
		}
	}
	if tr := t.String(); tr != "" {
		msg += "\n\n" + tr
	} else {
		msg += "\n"
	}
	return msg
}
