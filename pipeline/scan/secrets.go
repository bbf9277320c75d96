package scan

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// SecretRule is one pattern of the built-in secret scanner
// ([NewSecretScanner]). Its ID names the rule in findings and allowlists;
// the default rules use gitleaks' rule IDs, so an allowlist written for
// one scanner applies to the other.
type SecretRule struct {
	// ID is the rule's ID, for example "github-pat". Required.
	ID string
	// Description says what the rule finds.
	Description string
	// Pattern finds candidates. Its group named "secret", when there is
	// one, is the secret; otherwise the whole match is. Required.
	Pattern *regexp.Regexp
	// Keywords are lower-case ASCII strings at which a match starts:
	// the pattern is tried, anchored, only where one of them occurs
	// (compared in ASCII lower case), on the rest of that line. This is
	// what keeps the scan fast. Empty means the pattern is searched for
	// everywhere.
	Keywords []string
	// WordStart requires that a match tried at a keyword not follow a
	// letter, digit or "_" (a pattern's own leading  sees the keyword
	// as the start of the text).
	WordStart bool
	// MultiLine lets a match tried at a keyword run past the end of its
	// line, to the end of the file.
	MultiLine bool
	// MinEntropy is the lowest Shannon entropy, in bits per character,
	// of a secret worth reporting; zero means no minimum.
	MinEntropy float64
	// Severity is the findings' severity; zero means SeverityCritical.
	Severity Severity
	// Accept, when set, has the last word on a candidate.
	Accept func(c SecretCandidate) bool
}

// SecretCandidate is a match a [SecretRule]'s Accept judges.
type SecretCandidate struct {
	// File is the file's slash-separated path relative to the scanned
	// directory.
	File string
	// Secret is the secret, Match the whole match up to the secret's end,
	// Name the pattern's group named "name" (for example the variable a
	// value is assigned to) extended to the left over letters, digits,
	// "_", "." and "-", and Rest the rest of the line after the secret.
	Secret, Match, Name, Rest string
}

func (r SecretRule) severity() Severity {
	if r.Severity == SeverityUnknown {
		return SeverityCritical
	}
	return r.Severity
}

// DefaultSecretRules returns the built-in scanner's rules, for the
// common token formats: AWS access key IDs (not AWS's documented
// "…EXAMPLE" key), GitHub tokens (classic "ghp_", OAuth, app and refresh
// tokens, fine-grained "github_pat_"), Slack tokens ("xoxb-", "xoxp-",
// "xapp-", legacy), PEM private key blocks, Google API keys, Stripe
// secret and restricted keys, all critical; and, as generic-api-key
// (high), values assigned to names with "key", "secret", "token",
// "password" or "credential" in them. To keep false positives low a
// generic value counts only when it is quoted (or, outside source code,
// ends its line); is 16 to 128 characters of letters and digits both,
// with 3.5 bits of entropy per character; has no dot (but a JWT's), no
// word of four or more letters between separators, no placeholder
// ("example", "changeme", "${…}", …); and its name does not end in
// "Name", "ID", "Type", "Size", "Path", "File" or the like (secretName
// names a secret, it does not hold one). A generic match on a value
// another rule found is dropped.
func DefaultSecretRules() []SecretRule {
	return []SecretRule{
		{ID: "aws-access-token", Description: "AWS access key ID",
			Pattern:  regexp.MustCompile(`\b(?P<secret>(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`),
			Keywords: []string{"a3t", "akia", "asia", "abia", "acca"}, WordStart: true, MinEntropy: 3,
			Accept: func(c SecretCandidate) bool { return !strings.HasSuffix(c.Secret, "EXAMPLE") }},
		{ID: "github-pat", Description: "GitHub personal access token",
			Pattern: regexp.MustCompile(`ghp_[0-9a-zA-Z]{36}`), Keywords: []string{"ghp_"}, MinEntropy: 3},
		{ID: "github-fine-grained-pat", Description: "GitHub fine-grained personal access token",
			Pattern: regexp.MustCompile(`github_pat_\w{82}`), Keywords: []string{"github_pat_"}, MinEntropy: 3},
		{ID: "github-oauth", Description: "GitHub OAuth access token",
			Pattern: regexp.MustCompile(`gho_[0-9a-zA-Z]{36}`), Keywords: []string{"gho_"}, MinEntropy: 3},
		{ID: "github-app-token", Description: "GitHub app token",
			Pattern: regexp.MustCompile(`(?:ghu|ghs)_[0-9a-zA-Z]{36}`), Keywords: []string{"ghu_", "ghs_"}, MinEntropy: 3},
		{ID: "github-refresh-token", Description: "GitHub refresh token",
			Pattern: regexp.MustCompile(`ghr_[0-9a-zA-Z]{36}`), Keywords: []string{"ghr_"}, MinEntropy: 3},
		{ID: "slack-bot-token", Description: "Slack bot token",
			Pattern: regexp.MustCompile(`xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*`), Keywords: []string{"xoxb"}, MinEntropy: 3},
		{ID: "slack-user-token", Description: "Slack user token",
			Pattern: regexp.MustCompile(`xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}`), Keywords: []string{"xoxp-", "xoxe-"}, MinEntropy: 2},
		{ID: "slack-app-token", Description: "Slack app-level token",
			Pattern: regexp.MustCompile(`(?i)xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+`), Keywords: []string{"xapp"}, MinEntropy: 2},
		{ID: "slack-legacy-token", Description: "Slack legacy token",
			Pattern: regexp.MustCompile(`xox[os]-\d+-\d+-\d+-[a-fA-F\d]+`), Keywords: []string{"xoxo", "xoxs"}, MinEntropy: 2},
		{ID: "private-key", Description: "private key",
			Pattern:  regexp.MustCompile(`(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?P<secret>[\s\S]{64,}?)-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----`),
			Keywords: []string{"-----begin"}, MultiLine: true},
		{ID: "gcp-api-key", Description: "Google API key",
			Pattern:  regexp.MustCompile(`\b(?P<secret>AIza[\w-]{35})(?:[` + "`" + `'"\s;]|\\[nr]|$)`),
			Keywords: []string{"aiza"}, WordStart: true, MinEntropy: 3.5},
		{ID: "stripe-access-token", Description: "Stripe secret or restricted key",
			Pattern:  regexp.MustCompile(`\b(?P<secret>(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99})(?:[` + "`" + `'"\s;]|\\[nr]|$)`),
			Keywords: []string{"sk_test", "sk_live", "sk_prod", "rk_test", "rk_live", "rk_prod"}, WordStart: true, MinEntropy: 2},
		{ID: "generic-api-key", Description: "high-entropy value assigned to a credential-like name", Severity: SeverityHigh,
			Pattern:    regexp.MustCompile(`(?i)(?P<name>(?:key|secret|token|passw(?:or)?d|credential)[\w.-]*)['"]?[ \t]*(?::=|=>|=|:)[ \t]*(?P<open>['"` + "`" + `]?)(?P<secret>[\w+/=.~-]+)`),
			Keywords:   []string{"key", "secret", "token", "passw", "credential"},
			MinEntropy: 3.5, Accept: genericAccept},
	}
}

var placeholderWords = []string{"example", "xxxx", "changeme", "placeholder", "redacted", "dummy", "your_", "your-", "sample", "<", "${"}

// notSecretNames are the endings of names that hold something about a
// credential, not the credential.
var notSecretNames = regexp.MustCompile(`(?i)(name|id|type|size|len|length|path|file|ref|kind|field|header|prefix|env|var|url|dir)$`)

// wordy matches dotted, dashed or snake_case identifiers with a word of
// four or more letters: "controller.repo.k8s", "default-token-x7k2q".
var wordy = regexp.MustCompile(`(?i)(^|[._/-])[a-z]{4,}([._/-]|[0-9]*$)`)

// codeFile matches files in programming languages, where an unquoted
// value is an expression, not a literal.
var codeFile = regexp.MustCompile(`\.(go|js|jsx|ts|tsx|mjs|cjs|py|rb|java|kt|kts|scala|rs|c|cc|cpp|h|hpp|cs|swift|php|lua|dart|groovy)$`)

// genericAccept keeps generic assignments whose value is quoted (the
// quote closes right after it) or, outside code files, ends the line;
// that mix letters and digits; whose name is not about the credential
// (secretName, keySize); and that are neither placeholders nor words.
func genericAccept(c SecretCandidate) bool {
	secret, match := c.Secret, c.Match
	if len(secret) < 16 || len(secret) > 128 {
		return false
	}
	open := ""
	if i := len(match) - len(secret) - 1; i >= 0 && strings.ContainsRune("'\"`", rune(match[i])) {
		open = match[i : i+1]
	}
	switch {
	case open != "" && !strings.HasPrefix(c.Rest, open):
		return false
	case open == "" && (strings.TrimSpace(c.Rest) != "" || codeFile.MatchString(c.File)):
		return false
	case notSecretNames.MatchString(c.Name):
		return false
	case strings.Contains(secret, ".") && !strings.HasPrefix(secret, "eyJ"): // a JWT has dots; hosts and identifiers too
		return false
	case wordy.MatchString(secret):
		return false
	}
	var letter, digit bool
	for _, r := range secret {
		letter = letter || unicode.IsLetter(r)
		digit = digit || unicode.IsDigit(r)
	}
	if !letter || !digit {
		return false
	}
	low := strings.ToLower(secret)
	for _, w := range placeholderWords {
		if strings.Contains(low, w) {
			return false
		}
	}
	return true
}

// entropy returns the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h, n := 0.0, float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// Mask returns secret masked for display: its first four characters and
// "****" when it is at least 16 characters long and has no white space,
// else "****" alone. The length is not shown.
func Mask(secret string) string {
	if len(secret) >= 16 && !strings.ContainsFunc(secret, unicode.IsSpace) {
		return secret[:4] + "****"
	}
	return "****"
}

// maxMatch caps the length of a finding's redacted match.
const maxMatch = 120

// redactedMatch returns match with every occurrence of secret masked,
// on one line, at most maxMatch bytes.
func redactedMatch(match, secret string) string {
	m := match
	if secret != "" {
		m = strings.ReplaceAll(m, secret, Mask(secret))
	}
	m = strings.Join(strings.Fields(m), " ")
	if len(m) > maxMatch {
		m = m[:maxMatch] + "…"
	}
	return m
}

// Fingerprint returns a secret finding's fingerprint,
// "<file>:<rule>:<line>", the form gitleaks writes for a scan without
// Git history and reads from .gitleaksignore.
func Fingerprint(file, rule string, line int) string {
	return fmt.Sprintf("%s:%s:%d", file, rule, line)
}

// secretFinding builds the finding of one match.
func secretFinding(rule, desc string, sev Severity, file string, line int, match string) Finding {
	fp := Fingerprint(file, rule, line)
	return Finding{Kind: KindSecret, ID: rule, Aliases: []string{fp}, Package: file, Line: line, Match: match,
		Severity: sev, Reachable: true, Summary: desc, Location: fmt.Sprintf("%s:%d", file, line)}
}

// defaultSkip lists what the built-in secret scanner skips by default:
// version-control directories and dependency lock files, whose hashes
// look like secrets.
var defaultSkip = []string{".git", ".hg", ".svn", "go.sum", "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "Cargo.lock", "poetry.lock", "composer.lock", "Gemfile.lock"}

// DefaultMaxSecretFileSize is the largest file the built-in secret
// scanner reads, unless [WithMaxFileSize] says otherwise.
const DefaultMaxSecretFileSize = 5 << 20

// SecretScanner is the built-in secret scanner: a [Scanner] of
// Target.Dir that needs no external tool. Make one with
// [NewSecretScanner].
type SecretScanner struct {
	rules    []SecretRule
	anchored []*regexp.Regexp // rules[i].Pattern anchored at its start
	skip     []string
	maxSize  int64
	log      *slog.Logger
}

var _ Scanner = (*SecretScanner)(nil)

// SecretOption configures a [SecretScanner].
type SecretOption func(*SecretScanner)

// WithRules replaces the scanner's rules. Default [DefaultSecretRules].
func WithRules(rules ...SecretRule) SecretOption {
	return func(s *SecretScanner) { s.rules = rules }
}

// WithSkip adds patterns of paths not to scan ([path.Match] syntax,
// matched against each slash-separated path relative to the scanned
// directory and against each of its elements, so "testdata" skips every
// testdata directory and "docs/*.md" the Markdown files in docs).
// Default: version-control directories and lock files.
func WithSkip(patterns ...string) SecretOption {
	return func(s *SecretScanner) { s.skip = append(s.skip, patterns...) }
}

// WithMaxFileSize sets the largest file read, in bytes; larger files are
// skipped and logged. Default [DefaultMaxSecretFileSize].
func WithMaxFileSize(n int64) SecretOption { return func(s *SecretScanner) { s.maxSize = n } }

// WithSecretLogger sets the logger. Default discards. Secrets are never
// logged.
func WithSecretLogger(l *slog.Logger) SecretOption { return func(s *SecretScanner) { s.log = l } }

// NewSecretScanner returns the built-in secret scanner.
func NewSecretScanner(opts ...SecretOption) *SecretScanner {
	s := &SecretScanner{rules: DefaultSecretRules(), skip: append([]string(nil), defaultSkip...), maxSize: DefaultMaxSecretFileSize}
	for _, o := range opts {
		o(s)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for _, r := range s.rules {
		var a *regexp.Regexp
		if r.Pattern != nil {
			a = regexp.MustCompile(`^(?:` + r.Pattern.String() + `)`)
		}
		s.anchored = append(s.anchored, a)
	}
	return s
}

func (s *SecretScanner) skipped(rel string) bool {
	for _, p := range s.skip {
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
		for _, el := range strings.Split(rel, "/") {
			if ok, _ := path.Match(p, el); ok {
				return true
			}
		}
	}
	return false
}

// Scan walks t.Dir (symbolic links are not followed) and returns a
// finding, with its secret masked, for every rule match in every text
// file not skipped. Errors: [ErrNoTarget] without a Dir; a [*ScanError]
// for a directory that cannot be walked, an invalid rule, or ctx ending.
func (s *SecretScanner) Scan(ctx context.Context, t Target) ([]Finding, error) {
	if t.Dir == "" {
		return nil, fmt.Errorf("secrets: %w (set Dir)", ErrNoTarget)
	}
	for i, r := range s.rules {
		if r.ID == "" || r.Pattern == nil {
			return nil, &ScanError{Scanner: "secrets", Target: t.Dir, Err: fmt.Errorf("rule %d has no ID or no pattern", i)}
		}
	}
	var out []Finding
	files := 0
	err := filepath.WalkDir(t.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, rerr := filepath.Rel(t.Dir, p)
		if rerr != nil || rel == "." {
			return rerr
		}
		rel = filepath.ToSlash(rel)
		if s.skipped(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Size() > s.maxSize {
			s.log.InfoContext(ctx, "file too large to scan for secrets", "file", rel, "bytes", info.Size())
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0 {
			return nil // binary
		}
		files++
		out = append(out, s.scanFile(rel, string(data))...)
		return nil
	})
	if err != nil {
		return nil, &ScanError{Scanner: "secrets", Target: t.Dir, Err: err}
	}
	s.log.InfoContext(ctx, "secret scan finished", "dir", t.Dir, "files", files, "findings", len(out))
	Sort(out)
	return out, nil
}

// genericRule is the rule whose findings give way to a specific rule's
// on the same secret.
const genericRule = "generic-api-key"

// candidate is one match before overlaps are settled.
type candidate struct {
	f          Finding
	start, end int // the secret's span in the file
	matchEnd   int // the end of the whole match
}

// scanFile applies every rule to one file's content. A generic-api-key
// match whose secret overlaps another rule's is dropped, as gitleaks
// does, so a GitHub token in `GITHUB_TOKEN=…` is one finding.
func (s *SecretScanner) scanFile(rel, text string) []Finding {
	var cands []candidate
	lower := ""
	for i, r := range s.rules {
		if len(r.Keywords) == 0 {
			cands = s.match(cands, r, r.Pattern, rel, text, 0, len(text), true)
			continue
		}
		if lower == "" {
			lower = asciiLower(text)
		}
		end := -1 // of the rule's last match, so hits inside it are not tried
		for _, h := range keywordHits(lower, r.Keywords) {
			if h < end || r.WordStart && h > 0 && wordByte(text[h-1]) {
				continue
			}
			stop := len(text)
			if !r.MultiLine {
				if e := strings.IndexByte(text[h:], '\n'); e >= 0 {
					stop = h + e
				}
			}
			n := len(cands)
			cands = s.match(cands, r, s.anchored[i], rel, text, h, stop, false)
			if len(cands) > n {
				end = cands[len(cands)-1].matchEnd
			}
		}
	}
	var out []Finding
	for _, c := range cands {
		if c.f.ID == genericRule && slices.ContainsFunc(cands, func(o candidate) bool {
			return o.f.ID != genericRule && o.start < c.end && c.start < o.end
		}) {
			continue
		}
		out = append(out, c.f)
	}
	return out
}

// keywordHits returns the offsets in lower where one of the keywords
// starts, in order, without repeats.
func keywordHits(lower string, keywords []string) []int {
	var hits []int
	for _, k := range keywords {
		for off := 0; ; {
			i := strings.Index(lower[off:], k)
			if i < 0 {
				break
			}
			hits = append(hits, off+i)
			off += i + 1
		}
	}
	slices.Sort(hits)
	return slices.Compact(hits)
}

func wordByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// match appends the candidates of rule r that re finds in text[from:to]:
// every match when all is set, else the first (re is then anchored).
func (s *SecretScanner) match(cands []candidate, r SecretRule, re *regexp.Regexp, rel, text string, from, to int, all bool) []candidate {
	si, ni := re.SubexpIndex("secret"), re.SubexpIndex("name")
	n := 1
	if all {
		n = -1
	}
	for _, loc := range re.FindAllStringSubmatchIndex(text[from:to], n) {
		for i := range loc {
			if loc[i] >= 0 {
				loc[i] += from
			}
		}
		start, end := loc[0], loc[1]
		if si > 0 && loc[2*si] >= 0 {
			start, end = loc[2*si], loc[2*si+1]
		}
		secret := text[start:end]
		// A name starts at the start of its identifier, and for patterns
		// that end in a delimiter the match ends at the secret.
		mstart, name := loc[0], ""
		if ni > 0 && loc[2*ni] >= 0 {
			from := loc[2*ni]
			for from > 0 && identByte(text[from-1]) {
				from--
			}
			name = text[from:loc[2*ni+1]]
			mstart = min(mstart, from)
		}
		match := text[mstart:end]
		rest := text[end:]
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			rest = rest[:nl]
		}
		if r.MinEntropy > 0 && entropy(secret) < r.MinEntropy {
			continue
		}
		if r.Accept != nil {
			if !r.Accept(SecretCandidate{File: rel, Secret: secret, Match: match, Name: name, Rest: rest}) {
				continue
			}
		}
		line := 1 + strings.Count(text[:loc[0]], "\n")
		cands = append(cands, candidate{f: secretFinding(r.ID, r.Description, r.severity(), rel, line, redactedMatch(match, secret)),
			start: start, end: end, matchEnd: loc[1]})
	}
	return cands
}

func identByte(c byte) bool {
	return c == '_' || c == '.' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// asciiLower lower-cases ASCII letters only, so byte offsets stay those
// of s.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
