package gitops

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"

	flightdeck "github.com/flightdeck-dev/flightdeck"
)

// Action says what a commit does to an environment. It is recorded in the
// Flightdeck-Action trailer. Packages built on gitops may record actions
// of their own; an action is a short lower-case word.
type Action string

// Actions flightdeck records.
const (
	ActionDeploy   Action = "deploy"
	ActionPromote  Action = "promote"
	ActionRollback Action = "rollback"
	ActionStep     Action = "step"
)

// Actions of the other commits a progressive rollout (package strategy)
// makes. They are defined here, beside [ActionStep], so that every reader
// of history — package rollback, package dora, your own tools — names
// them the same way without importing strategy.
const (
	// ActionAbort sends all traffic back to the stable release (and,
	// later, scales the aborted release down).
	ActionAbort Action = "abort"
	// ActionRolloutPrepare writes a strategy's manifests into an overlay.
	ActionRolloutPrepare Action = "rollout-prepare"
	// ActionRolloutControl is a command to a run: promote, promote-full,
	// abort or retry.
	ActionRolloutControl Action = "rollout-control"
)

// TrailerRolloutPhase is the key of the trailer in which a rollout commit
// records the run's phase after it: one of [RolloutProgressing],
// [RolloutPaused], [RolloutAborted], [RolloutCompleted].
const TrailerRolloutPhase = "Flightdeck-Rollout-Phase"

// Values of the [TrailerRolloutPhase] trailer, as Argo Rollouts names a
// rollout's phases.
const (
	RolloutProgressing = "Progressing"
	RolloutPaused      = "Paused"
	RolloutAborted     = "Aborted"
	RolloutCompleted   = "Completed"
)

// TrailerSchema is the value of the Flightdeck-Version trailer that every
// commit made with [Trailers] carries. A reader refuses any other version
// with [ErrInvalidTrailers]; the schema only changes version when a key
// changes meaning, never to add a key.
const TrailerSchema = "1"

// Trailer keys of commits made by [Repo.Apply], in the order they are
// written.
const (
	TrailerVersion     = "Flightdeck-Version"
	TrailerAction      = "Flightdeck-Action"
	TrailerApp         = "Flightdeck-App"
	TrailerEnvironment = "Flightdeck-Environment"
	// TrailerRelease holds the release's image pinned by digest,
	// "<repository>@sha256:<hex>" ([flightdeck.Release.Ref]): the identity
	// of the release, the same string in every environment it reaches.
	TrailerRelease        = "Flightdeck-Release"
	TrailerImageTag       = "Flightdeck-Image-Tag"
	TrailerSourceRepo     = "Flightdeck-Source-Repo"
	TrailerSourceRevision = "Flightdeck-Source-Revision"
	// TrailerSourceTime holds the commit time of the source revision,
	// RFC 3339 with nanoseconds.
	TrailerSourceTime = "Flightdeck-Source-Time"
)

// Well-known keys of [Trailers.Extra], written by the packages built on
// gitops and read by others (history, DORA figures, rollback, promotion).
// gitops gives them no meaning of its own.
const (
	// TrailerPlanHash is the hash of the rollout or promotion plan a
	// commit executes, "sha256:<hex>".
	TrailerPlanHash = "Flightdeck-Plan-Hash"
	// TrailerStep is the position of a strategy step, "n/m" counted from
	// 1.
	TrailerStep = "Flightdeck-Step"
	// TrailerWeight is the share of traffic a step gives the new release,
	// in percent.
	TrailerWeight = "Flightdeck-Weight"
	// TrailerReverts is the full hash of the commit whose deploy a
	// rollback undoes.
	TrailerReverts = "Flightdeck-Reverts"
	// TrailerReason says why, in a human's words or a trigger's.
	TrailerReason = "Flightdeck-Reason"
	// TrailerChange is [ChangePlanned] or [ChangeUnplanned].
	TrailerChange = "Flightdeck-Change"
	// TrailerVerified records the verdict of a post-deploy verification,
	// for example "verified" or "failed".
	TrailerVerified = "Flightdeck-Verified"
	// TrailerFrom is the environment a release was copied from
	// ([CopyRelease]).
	TrailerFrom = "Flightdeck-From"
	// TrailerTests records test suites a release passed or failed in an
	// environment, "suite=passed,other=failed", on a commit that names
	// the app, the environment and the release (package
	// pipeline/postdeploy writes it with [ActionTest]; promote's Tests
	// policy reads it; the newest result of a suite counts).
	TrailerTests = "Flightdeck-Tests"
)

// ActionTest marks a commit that records the result of a test suite run
// against a release in an environment ([TrailerTests]). It changes
// nothing the environment runs, so [Repo.History] leaves it out unless
// asked for (HistoryQuery.Actions or AllActions).
const ActionTest Action = "test"

// Values of [TrailerChange].
const (
	ChangePlanned   = "planned"
	ChangeUnplanned = "unplanned"
)

// Errors of [ParseTrailers].
var (
	// ErrNoTrailers means a commit message carries no flightdeck trailer
	// block (no Flightdeck-Version trailer in its trailer block): it was
	// not written through [Trailers].
	ErrNoTrailers = errors.New("gitops: no flightdeck trailers")
	// ErrInvalidTrailers means a flightdeck trailer block is malformed: an
	// unknown schema version, a key given twice, or a value that does not
	// parse.
	ErrInvalidTrailers = errors.New("gitops: invalid flightdeck trailers")
)

// Trailer is one "Key: value" line of a commit message's trailer block.
type Trailer struct {
	Key, Value string
}

// Extra is an ordered list of further Flightdeck-* trailers, written after
// the fixed ones: packages built on gitops record what they need here
// (see [TrailerPlanHash] and the other well-known keys) without a change
// to gitops. Keys are "Flightdeck-" followed by letters, digits and
// dashes, compared case-insensitively, and may not be one of the fixed
// keys; values are any string and round-trip exactly.
type Extra []Trailer

// Get returns the value of the first trailer whose key is key (compared
// case-insensitively) and whether there is one.
func (x Extra) Get(key string) (string, bool) {
	for _, t := range x {
		if strings.EqualFold(t.Key, key) {
			return t.Value, true
		}
	}
	return "", false
}

// Set sets key to value: it replaces the value of the first trailer with
// that key and removes any later ones, or appends the trailer.
func (x *Extra) Set(key, value string) {
	out := (*x)[:0:0]
	set := false
	for _, t := range *x {
		if strings.EqualFold(t.Key, key) {
			if set {
				continue
			}
			t.Value, set = value, true
		}
		out = append(out, t)
	}
	if !set {
		out = append(out, Trailer{Key: key, Value: value})
	}
	*x = out
}

// Trailers say what a commit is: the action, the app and environment, the
// release it puts there, and further Flightdeck-* trailers. Empty fields
// are not written. Every value round-trips exactly through the commit
// message (see [Trailers.String] for the encoding).
type Trailers struct {
	Action      Action
	App         string
	Environment string
	// Image is the release's image repository without tag or digest, and
	// Digest its manifest digest, "sha256:<64 hex>". They are written
	// together as the Flightdeck-Release trailer, "Image@Digest"; set
	// both or neither.
	Image  string
	Digest string
	// Tag is the release's informational tag (Flightdeck-Image-Tag).
	Tag string
	// SourceRepo, SourceRevision and SourceTime say what the release was
	// built from: the source repository's URL (without credentials), the
	// source commit, and that commit's time.
	SourceRepo     string
	SourceRevision string
	SourceTime     time.Time
	// Extra are further Flightdeck-* trailers, written in order.
	Extra Extra
}

// ReleaseTrailers returns the trailers of a commit that puts rel into
// environment env by action: app, environment, image and digest, tag and
// source.
func ReleaseTrailers(action Action, env string, rel flightdeck.Release) Trailers {
	return Trailers{
		Action: action, App: rel.App, Environment: env,
		Image: rel.Image, Digest: rel.Digest, Tag: rel.Tag,
		SourceRepo: rel.SourceRepo, SourceRevision: rel.Revision, SourceTime: rel.Time,
	}
}

// Release returns the release the trailers record, and whether they
// record one (Image and Digest are set). Its Time is SourceTime.
func (t Trailers) Release() (flightdeck.Release, bool) {
	rel := flightdeck.Release{
		App: t.App, Image: t.Image, Digest: t.Digest, Tag: t.Tag,
		SourceRepo: t.SourceRepo, Revision: t.SourceRevision, Time: t.SourceTime,
	}
	return rel, t.Image != "" && t.Digest != ""
}

// Ref returns "Image@Digest", the value of the Flightdeck-Release
// trailer, or "" when either is empty.
func (t Trailers) Ref() string {
	if t.Image == "" || t.Digest == "" {
		return ""
	}
	return t.Image + "@" + t.Digest
}

// IsZero reports whether no field is set; such trailers write nothing.
func (t Trailers) IsZero() bool {
	return t.Action == "" && t.App == "" && t.Environment == "" && t.Image == "" && t.Digest == "" &&
		t.Tag == "" && t.SourceRepo == "" && t.SourceRevision == "" && t.SourceTime.IsZero() && len(t.Extra) == 0
}

func (t Trailers) pairs() []Trailer {
	p := []Trailer{
		{TrailerVersion, TrailerSchema},
		{TrailerAction, string(t.Action)},
		{TrailerApp, t.App},
		{TrailerEnvironment, t.Environment},
		{TrailerRelease, t.Ref()},
		{TrailerImageTag, t.Tag},
		{TrailerSourceRepo, t.SourceRepo},
		{TrailerSourceRevision, t.SourceRevision},
	}
	if !t.SourceTime.IsZero() {
		p = append(p, Trailer{TrailerSourceTime, t.SourceTime.Format(time.RFC3339Nano)})
	}
	out := p[:0]
	for _, kv := range p {
		if kv.Value != "" {
			out = append(out, kv)
		}
	}
	return append(out, t.Extra...)
}

// String returns the trailer block: "Flightdeck-Version: 1", then one
// "Key: value" line per set field, then Extra, each ending in a newline;
// "" for zero trailers.
//
// Values are written so that Git reads them back unchanged and no value
// can start a line of its own: the bytes '%', ASCII and Unicode control
// characters (newlines included), U+2028, U+2029, bytes that are not
// UTF-8, and a space at either end of the value are written as "%XX"
// (upper-case hex of each byte); everything else, colons and non-ASCII
// text included, is written as is. [ParseTrailers] decodes them.
func (t Trailers) String() string {
	if t.IsZero() {
		return ""
	}
	var b strings.Builder
	for _, p := range t.pairs() {
		b.WriteString(p.Key)
		b.WriteString(": ")
		b.WriteString(encodeValue(p.Value))
		b.WriteByte('\n')
	}
	return b.String()
}

var extraKey = regexp.MustCompile(`^(?i)flightdeck(-[a-z0-9]+)+$`)

var fixedKeys = []string{TrailerVersion, TrailerAction, TrailerApp, TrailerEnvironment, TrailerRelease,
	TrailerImageTag, TrailerSourceRepo, TrailerSourceRevision, TrailerSourceTime}

// fixedKey returns the fixed key k names in its canonical spelling, or k
// and false.
func fixedKey(k string) (string, bool) {
	for _, f := range fixedKeys {
		if strings.EqualFold(f, k) {
			return f, true
		}
	}
	return k, false
}

// Validate checks that the trailers can be written: Image and Digest are
// set together and form a reference pinned by digest, and every Extra key
// is a Flightdeck-* key that is not one of the fixed ones. Errors wrap
// [ErrInvalidChange] and name the trailer.
func (t Trailers) Validate() error {
	switch {
	case t.Image == "" && t.Digest == "":
	case t.Image == "" || t.Digest == "":
		return fmt.Errorf("%w: trailer %s needs both an image and a digest (image %q, digest %q)",
			ErrInvalidChange, TrailerRelease, t.Image, t.Digest)
	default:
		if err := flightdeck.ValidateDigest(t.Digest); err != nil {
			return fmt.Errorf("%w: trailer %s: %w", ErrInvalidChange, TrailerRelease, err)
		}
		if _, err := name.NewRepository(t.Image, name.StrictValidation); err != nil {
			return fmt.Errorf("%w: trailer %s: image %q is not a repository without tag or digest: %v", ErrInvalidChange, TrailerRelease, t.Image, err)
		}
	}
	for _, x := range t.Extra {
		if !extraKey.MatchString(x.Key) {
			return fmt.Errorf("%w: extra trailer key %q: want Flightdeck- followed by letters, digits and dashes", ErrInvalidChange, x.Key)
		}
		if _, fixed := fixedKey(x.Key); fixed {
			return fmt.Errorf("%w: extra trailer key %q is a fixed key; set the field instead", ErrInvalidChange, x.Key)
		}
	}
	return nil
}

// ParseTrailers reads the flightdeck trailers of a commit message. The
// trailer block is found exactly as `git interpret-trailers --parse` finds
// it (see [ParseTrailerBlock]); keys are compared case-insensitively;
// values are decoded as [Trailers.String] encodes them. Trailers that are
// not Flightdeck-* keys (Signed-off-by, say) are ignored, and unknown
// Flightdeck-* keys are kept in Extra, in order.
//
// It returns an error wrapping [ErrNoTrailers] when the block has no
// Flightdeck-Version trailer, and [ErrInvalidTrailers] for another
// version, a fixed key given twice, or a value that does not parse.
// Parsing does not say who wrote the message: [Repo.History] also checks
// the commit's committer and signature (see [Trust]).
func ParseTrailers(message string) (Trailers, error) {
	var t Trailers
	seen := map[string]bool{}
	version := false
	for _, kv := range ParseTrailerBlock(message) {
		if !strings.HasPrefix(strings.ToLower(kv.Key), "flightdeck-") {
			continue
		}
		v := decodeValue(kv.Value)
		key, fixed := fixedKey(kv.Key)
		if fixed {
			if seen[key] {
				return Trailers{}, fmt.Errorf("%w: %s given twice", ErrInvalidTrailers, key)
			}
			seen[key] = true
		}
		switch key {
		case TrailerVersion:
			if v != TrailerSchema {
				return Trailers{}, fmt.Errorf("%w: %s %q is not supported (want %s)", ErrInvalidTrailers, key, v, TrailerSchema)
			}
			version = true
		case TrailerAction:
			t.Action = Action(v)
		case TrailerApp:
			t.App = v
		case TrailerEnvironment:
			t.Environment = v
		case TrailerRelease:
			i := strings.LastIndexByte(v, '@')
			if i <= 0 || i == len(v)-1 {
				return Trailers{}, fmt.Errorf("%w: %s %q is not an image pinned by digest", ErrInvalidTrailers, key, v)
			}
			t.Image, t.Digest = v[:i], v[i+1:]
		case TrailerImageTag:
			t.Tag = v
		case TrailerSourceRepo:
			t.SourceRepo = v
		case TrailerSourceRevision:
			t.SourceRevision = v
		case TrailerSourceTime:
			tm, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return Trailers{}, fmt.Errorf("%w: %s %q: %v", ErrInvalidTrailers, key, v, err)
			}
			t.SourceTime = tm
		default:
			t.Extra = append(t.Extra, Trailer{Key: kv.Key, Value: v})
		}
	}
	if !version {
		return Trailers{}, ErrNoTrailers
	}
	return t, nil
}

// mustEncode reports whether r (of size bytes at offset i of a value of
// length n) is written as %XX.
func mustEncode(r rune, size, i, n int) bool {
	switch {
	case r == utf8.RuneError && size == 1, r == '%', unicode.IsControl(r), r == '\u2028', r == '\u2029':
		return true
	case r == ' ':
		return i == 0 || i == n-1
	}
	return false
}

func encodeValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		if mustEncode(r, size, i, len(v)) {
			for j := range size {
				fmt.Fprintf(&b, "%%%02X", v[i+j])
			}
		} else {
			b.WriteString(v[i : i+size])
		}
		i += size
	}
	return b.String()
}

// decodeValue undoes encodeValue. A '%' that is not followed by two hex
// digits is kept as it is.
func decodeValue(v string) string {
	if !strings.Contains(v, "%") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '%' && i+2 < len(v) && isHexDigit(v[i+1]) && isHexDigit(v[i+2]) {
			b.WriteByte(unhex(v[i+1])<<4 | unhex(v[i+2]))
			i += 2
			continue
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// ParseTrailerBlock returns the trailers of a commit message in order, as
// `git interpret-trailers --parse --no-divider` (and `git log
// --format=%(trailers:only,unfold)`) reads them with Git's default
// configuration:
//
//   - the message ends before a scissors line and before trailing blank
//     lines, lines starting with '#' and an old "Conflicts:" block;
//   - the trailer block is the last paragraph after the first one (the
//     title is never trailers), and counts only if all its lines are
//     trailers or continuation lines, or if it holds a Git-generated
//     trailer (Signed-off-by, "(cherry picked from commit") and at least
//     a quarter of its lines are trailers;
//   - a trailer is a token of letters, digits and dashes, optional spaces
//     or tabs, and ':'; a line starting with whitespace continues the
//     trailer before it, and is unfolded into its value with one space;
//   - keys and values are trimmed of whitespace; lines of the block that
//     are not trailers are left out.
func ParseTrailerBlock(message string) []Trailer {
	end := len(message) - ignoredTail(message)
	msg := message[:end]
	start := trailerBlockStart(msg)
	if start >= len(msg) {
		return nil
	}
	// Join continuation lines onto the trailer before them.
	var lines []string
	last := -1
	for _, l := range splitKeepNL(msg[start:]) {
		if last >= 0 && gitSpace(l[0]) {
			lines[last] += l
			continue
		}
		lines = append(lines, l)
		last = -1
		if separatorAt(l) >= 1 {
			last = len(lines) - 1
		}
	}
	var out []Trailer
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			continue
		}
		sep := separatorAt(l)
		if sep < 1 {
			continue
		}
		out = append(out, Trailer{Key: gitTrim(l[:sep]), Value: unfold(gitTrim(l[sep+1:]))})
	}
	return out
}

// gitSpace is Git's isspace: space, tab, newline and carriage return.
func gitSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func gitAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func gitTrim(s string) string {
	i, j := 0, len(s)
	for i < j && gitSpace(s[i]) {
		i++
	}
	for j > i && gitSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// unfold collapses each newline and the whitespace after it into one
// space, as Git's unfold_value does.
func unfold(v string) string {
	if !strings.Contains(v, "\n") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); {
		c := v[i]
		i++
		if c != '\n' {
			b.WriteByte(c)
			continue
		}
		for i < len(v) && gitSpace(v[i]) {
			i++
		}
		b.WriteByte(' ')
	}
	return gitTrim(b.String())
}

// separatorAt returns the position of the ':' that ends the trailer token
// at the start of line, 0 if the line starts with ':', or -1 (Git's
// find_separator).
func separatorAt(line string) int {
	space := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ':':
			return i
		case !space && (gitAlnum(c) || c == '-'):
		case i > 0 && (c == ' ' || c == '\t'):
			space = true
		default:
			return -1
		}
	}
	return -1
}

// splitKeepNL splits s into lines that keep their '\n'.
func splitKeepNL(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// nextLine returns the offset of the line after the one at i.
func nextLine(s string, i int) int {
	if j := strings.IndexByte(s[i:], '\n'); j >= 0 {
		return i + j + 1
	}
	return len(s)
}

// lastLine returns the offset of the start of the last line of s[:n], or
// -1 when n is 0 (Git's last_line: a final newline belongs to the last
// line).
func lastLine(s string, n int) int {
	if n == 0 {
		return -1
	}
	for i := n - 2; i >= 0; i-- {
		if s[i] == '\n' {
			return i + 1
		}
	}
	return 0
}

func blankLine(s string) bool {
	for i := 0; i < len(s) && s[i] != '\n'; i++ {
		if !gitSpace(s[i]) {
			return false
		}
	}
	return true
}

var gitGeneratedPrefixes = []string{"Signed-off-by: ", "(cherry picked from commit "}

// trailerBlockStart returns the offset of the first line of the trailer
// block of msg, or len(msg) when it has none (Git's
// find_trailer_block_start).
func trailerBlockStart(msg string) int {
	// The first paragraph is the title and cannot be trailers.
	s := 0
	for s < len(msg) {
		if !strings.HasPrefix(msg[s:], "#") && blankLine(msg[s:]) {
			break
		}
		s = nextLine(msg, s)
	}
	endOfTitle := s
	onlySpaces, recognized := true, false
	trailers, nonTrailers, continuations := 0, 0, 0
	for l := lastLine(msg, len(msg)); l >= endOfTitle; l = lastLine(msg, l) {
		line := msg[l:]
		if strings.HasPrefix(line, "#") {
			nonTrailers += continuations
			continuations = 0
			continue
		}
		if blankLine(line) {
			if onlySpaces {
				continue
			}
			nonTrailers += continuations
			if recognized && trailers*3 >= nonTrailers || trailers > 0 && nonTrailers == 0 {
				return nextLine(msg, l)
			}
			return len(msg)
		}
		onlySpaces = false
		generated := false
		for _, p := range gitGeneratedPrefixes {
			if strings.HasPrefix(line, p) {
				generated = true
			}
		}
		switch {
		case generated:
			trailers++
			continuations = 0
			recognized = true
		case separatorAt(line) >= 1 && !gitSpace(line[0]):
			trailers++
			continuations = 0
		case gitSpace(line[0]):
			continuations++
		default:
			nonTrailers += 1 + continuations
			continuations = 0
		}
	}
	return len(msg)
}

const scissors = "# ------------------------ >8 ------------------------"

// ignoredTail returns how many bytes at the end of msg Git ignores before
// looking for trailers: everything from a scissors line on, and the
// trailing run of blank lines, '#' comment lines and an old "Conflicts:"
// block (Git's ignored_log_message_bytes).
func ignoredTail(msg string) int {
	cutoff := len(msg)
	if strings.HasPrefix(msg, scissors) {
		cutoff = 0
	} else if i := strings.Index(msg, "\n"+scissors); i >= 0 && i+1 < cutoff {
		cutoff = i + 1
	}
	boc, conflicts := 0, false
	for bol := 0; bol < cutoff; {
		next := cutoff
		if j := strings.IndexByte(msg[bol:cutoff], '\n'); j >= 0 {
			next = bol + j + 1
		}
		switch line := msg[bol:cutoff]; {
		case strings.HasPrefix(line, "#") || line[0] == '\n':
			if boc == 0 {
				boc = bol
			}
		case strings.HasPrefix(msg[bol:], "Conflicts:\n"):
			conflicts = true
			if boc == 0 {
				boc = bol
			}
		case conflicts && line[0] == '\t':
		case boc != 0:
			boc, conflicts = 0, false
		}
		bol = next
	}
	if boc != 0 {
		return len(msg) - boc
	}
	return len(msg) - cutoff
}

// CommitMessage returns the commit message [Repo.Apply] writes for c:
// Message (or a default subject, "<action> <app> to <environment>"), a
// blank line and the trailer block of c.Trailers.
func (c Change) CommitMessage() string {
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

func (c Change) message() string { return c.CommitMessage() }

// validateMessage checks the trailers, refuses a message with a scissors
// line (Git ignores everything after it, the trailers included), and
// refuses a message whose own trailer block carries Flightdeck-*
// trailers when the change has none: flightdeck would commit them as its
// own.
func (c Change) validateMessage() error {
	if err := c.Trailers.Validate(); err != nil {
		return err
	}
	if m := strings.TrimSpace(c.Message); strings.HasPrefix(m, scissors) || strings.Contains(m, "\n"+scissors) {
		return fmt.Errorf("%w: the message has a scissors line, after which Git reads no trailers", ErrInvalidChange)
	}
	if c.Trailers.IsZero() {
		for _, kv := range ParseTrailerBlock(strings.TrimSpace(c.Message)) {
			if strings.HasPrefix(strings.ToLower(kv.Key), "flightdeck-") {
				return fmt.Errorf("%w: the message carries a %s trailer; set Change.Trailers instead", ErrInvalidChange, kv.Key)
			}
		}
	}
	return nil
}
