package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Slack posts events to a Slack incoming webhook (or anything that takes
// the same JSON: Mattermost, Rocket.Chat, Discord's /slack endpoint) as a
// message built by [SlackPayload]. Create it with [NewSlack]; it is safe
// for concurrent use.
type Slack struct{ s *sender }

var _ Notifier = (*Slack)(nil)

// NewSlack returns a notifier that posts to webhookURL, for example
// "https://hooks.slack.com/services/T…/B…/…". The URL's path is the
// credential: errors and logs name the endpoint as
// "https://hooks.slack.com/REDACTED". It honours [WithHTTPClient],
// [WithClock], [WithLogger], [WithRetry], [WithTimeout] and [WithHeader].
func NewSlack(webhookURL string, opts ...Option) (*Slack, error) {
	s, err := newSender("slack webhook", webhookURL, true, buildOptions(opts))
	if err != nil {
		return nil, err
	}
	return &Slack{s: s}, nil
}

// Endpoint returns the webhook's URL as errors and logs name it, with the
// path redacted.
func (s *Slack) Endpoint() string { return s.s.display }

// Notify posts e's message, stamping e with the notifier's clock when its
// Time is zero and retrying as [Webhook.Notify] does (Slack answers 429
// with Retry-After when rate limited, and 4xx for a revoked or archived
// webhook). The request also carries [IdempotencyKeyHeader]. Errors are
// a [*DeliveryError] or wrap [ErrInvalidEvent].
func (s *Slack) Notify(ctx context.Context, e Event) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("notify: slack: %w", err)
	}
	e = stamp(e, s.s.clock)
	body, err := SlackPayload(e)
	if err != nil {
		return fmt.Errorf("notify: slack: %w", err)
	}
	return s.s.send(ctx, e, body, func(h http.Header, _ time.Time) {
		h.Set(EventHeader, string(e.Kind))
	})
}

// Slack's limits on block text, in characters.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFieldMax   = 2000
	slackFieldsMax  = 10
)

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

// SlackPayload returns the JSON message [Slack] posts for e: a "text"
// fallback (what notifications and old clients show) and Block Kit
// blocks: a header (kind, app, environment), the summary, fields (app,
// environment, release tag and digest, source revision, who, severity,
// then the event's details in key order), the release notes, the links,
// and a context line with the kind's trigger name and the time. User text
// is escaped for Slack's mrkdwn and cut to Slack's length limits. The same
// blocks suit chat.postMessage.
func SlackPayload(e Event) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	title := slackEmoji(e.Kind) + " " + e.Kind.Title() + ": " + e.App
	if e.Environment != "" {
		title += " in " + e.Environment
	}
	m := slackMessage{Text: title}
	if e.Summary != "" {
		m.Text += " — " + mrkdwnEscape(e.Summary)
	}
	m.Blocks = append(m.Blocks, slackBlock{Type: "header",
		Text: &slackText{Type: "plain_text", Text: cut(title, slackHeaderMax), Emoji: true}})
	if e.Summary != "" {
		m.Blocks = append(m.Blocks, section(mrkdwnEscape(e.Summary)))
	}

	var fields []slackText
	field := func(name, value string) {
		if value != "" {
			fields = append(fields, slackText{Type: "mrkdwn", Text: cut("*"+name+"*\n"+value, slackFieldMax)})
		}
	}
	field("App", mrkdwnEscape(e.App))
	field("Environment", mrkdwnEscape(e.Environment))
	field("Release", releaseText(e))
	if rev := e.Release.Revision; rev != "" {
		field("Revision", "`"+mrkdwnEscape(short(rev, 12))+"`")
	}
	field("By", mrkdwnEscape(e.Actor))
	field("Severity", e.Level().String())
	for _, k := range slices.Sorted(maps.Keys(e.Details)) {
		field(mrkdwnEscape(k), mrkdwnEscape(e.Details[k]))
	}
	for chunk := range slices.Chunk(fields, slackFieldsMax) {
		m.Blocks = append(m.Blocks, slackBlock{Type: "section", Fields: chunk})
	}

	if notes := strings.TrimSpace(e.ReleaseNotes); notes != "" {
		m.Blocks = append(m.Blocks, section("*Release notes*\n"+mrkdwnEscape(notes)))
	}
	if len(e.Links) > 0 {
		links := make([]string, len(e.Links))
		for i, l := range e.Links {
			t := l.Title
			if t == "" {
				t = l.URL
			}
			links[i] = "<" + strings.NewReplacer("|", "%7C", ">", "%3E").Replace(l.URL) + "|" +
				strings.ReplaceAll(mrkdwnEscape(t), "|", "¦") + ">"
		}
		m.Blocks = append(m.Blocks, section(strings.Join(links, " · ")))
	}
	ctx := string(e.Kind)
	if !e.Time.IsZero() {
		ctx += " · " + e.Time.UTC().Format(time.RFC3339)
	}
	m.Blocks = append(m.Blocks, slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: ctx}}})
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // Slack's own escapes are in place; keep "<url|title>" readable
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func section(text string) slackBlock {
	return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: cut(text, slackSectionMax)}}
}

// releaseText names the release by image, tag and short digest.
func releaseText(e Event) string {
	r := e.Release
	if r.Image == "" && r.Digest == "" {
		return ""
	}
	name := r.Image[strings.LastIndex(r.Image, "/")+1:]
	if r.Tag != "" {
		name += ":" + r.Tag
	}
	s := "`" + mrkdwnEscape(name) + "`"
	if r.Digest != "" {
		s += "\n`" + mrkdwnEscape(short(r.Digest, len("sha256:")+12)) + "`"
	}
	return s
}

func slackEmoji(k Kind) string {
	switch k {
	case Deployed:
		return ":white_check_mark:"
	case SyncSucceeded:
		return ":arrows_counterclockwise:"
	case SyncFailed:
		return ":x:"
	case Degraded:
		return ":exclamation:"
	case StepCompleted:
		return ":arrow_forward:"
	case Aborted:
		return ":octagonal_sign:"
	case RolledBack:
		return ":rewind:"
	case ApprovalRequested:
		return ":raising_hand:"
	case ApprovalGranted:
		return ":ballot_box_with_check:"
	case BlockedByPolicy:
		return ":no_entry:"
	case Promoted:
		return ":rocket:"
	}
	return ":bell:"
}

// mrkdwnEscape escapes the three characters Slack's mrkdwn reserves.
func mrkdwnEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cut shortens s to at most n characters, ending with "…" when cut.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// short returns the first n bytes of an ASCII identifier.
func short(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
