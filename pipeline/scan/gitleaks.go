package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/flightdeck-dev/flightdeck/pipeline"
)

// SecretFindings is the key under which [NewSecretsStage] puts its
// findings.
var SecretFindings = pipeline.NewKey[[]Finding]("scan.secrets")

// gitleaksFinding is one entry of gitleaks' JSON report, the fields
// used.
type gitleaksFinding struct {
	RuleID      string
	Description string
	StartLine   int
	File        string
	Match       string
	Secret      string
}

// ParseGitleaksJSON converts a gitleaks JSON report (`--report-format
// json`) into secret findings (see [Finding] for the fields), with every
// secret masked; dir, when set, is the scanned directory, which file
// paths are made relative to. The rule ID is gitleaks' and the
// fingerprint is recomputed as "<file>:<rule>:<line>", so allowlists
// written for the built-in scanner apply. Secrets are critical, except
// those of gitleaks' generic-api-key rule, which are high, as with the
// built-in rules. Errors wrap [ErrInvalidReport] and never quote the
// report.
func ParseGitleaksJSON(r io.Reader, dir string) ([]Finding, error) {
	var raw []gitleaksFinding
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: not a JSON array of gitleaks findings", ErrInvalidReport)
	}
	out := make([]Finding, 0, len(raw))
	for i, g := range raw {
		if g.RuleID == "" || g.File == "" {
			return nil, fmt.Errorf("%w: gitleaks finding %d has no RuleID or File", ErrInvalidReport, i)
		}
		file := g.File
		if dir != "" {
			if rel, err := filepath.Rel(dir, file); err == nil && !strings.HasPrefix(rel, "..") {
				file = rel
			}
		}
		file = filepath.ToSlash(file)
		sev := SeverityCritical
		if g.RuleID == genericRule {
			sev = SeverityHigh
		}
		secret := g.Secret
		if secret == "REDACTED" { // --redact=100
			secret = ""
		}
		match := redactedMatch(g.Match, secret)
		if secret == "" {
			match = strings.Join(strings.Fields(g.Match), " ")
			if len(match) > maxMatch {
				match = match[:maxMatch] + "…"
			}
		}
		out = append(out, secretFinding(g.RuleID, g.Description, sev, file, g.StartLine, match))
	}
	Sort(out)
	return out, nil
}

// Gitleaks is a [Scanner] that runs gitleaks on Target.Dir. Make one
// with [NewGitleaks].
type Gitleaks struct {
	bin string
	log *slog.Logger
}

var _ Scanner = (*Gitleaks)(nil)

// NewGitleaks returns a scanner that runs `gitleaks detect --no-git
// --source DIR --report-format json --report-path /dev/stdout --redact
// --exit-code 0 --no-banner --log-level error` (the form every gitleaks
// v8 release accepts; newer releases call it `gitleaks dir`), so
// gitleaks masks each secret before flightdeck reads its report. Options
// [WithBinary] and [WithToolLogger] apply.
func NewGitleaks(opts ...ToolOption) *Gitleaks {
	t := newTool("gitleaks", nil, nil, opts)
	return &Gitleaks{bin: t.bin, log: t.log}
}

// Installed reports whether the gitleaks program is found.
func (g *Gitleaks) Installed() bool {
	_, err := exec.LookPath(g.bin)
	return err == nil
}

// Scan runs gitleaks on t.Dir. Errors: [ErrNoTarget] without a Dir;
// [ErrNotInstalled] when gitleaks is not found; a [*ScanError] when it
// fails, its report does not parse, or ctx ends.
func (g *Gitleaks) Scan(ctx context.Context, t Target) ([]Finding, error) {
	if t.Dir == "" {
		return nil, fmt.Errorf("gitleaks: %w (set Dir)", ErrNoTarget)
	}
	bin, err := exec.LookPath(g.bin)
	if err != nil {
		return nil, fmt.Errorf("gitleaks: %w: %v", ErrNotInstalled, err)
	}
	args := []string{"detect", "--no-git", "--source", t.Dir, "--report-format", "json", "--report-path", "/dev/stdout",
		"--redact", "--exit-code", "0", "--no-banner", "--log-level", "error"}
	out, err := runTool(ctx, "gitleaks", bin, t.Dir, args)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(out)) == 0 {
		out = []byte("[]")
	}
	fs, err := ParseGitleaksJSON(bytes.NewReader(out), t.Dir)
	if err != nil {
		return nil, &ScanError{Scanner: "gitleaks", Target: t.Dir, Err: err}
	}
	g.log.InfoContext(ctx, "scan finished", "scanner", "gitleaks", "target", t.Dir, "findings", len(fs))
	return fs, nil
}

// NewSecrets returns the secret scanner the pipeline uses by default:
// gitleaks when it is installed (found as [WithBinary] says, "gitleaks"
// on PATH by default), else the built-in [SecretScanner] with opts. The
// choice is made at each Scan, so installing gitleaks needs no change.
func NewSecrets(gitleaks *Gitleaks, opts ...SecretOption) Scanner {
	if gitleaks == nil {
		gitleaks = NewGitleaks()
	}
	builtin := NewSecretScanner(opts...)
	return ScannerFunc(func(ctx context.Context, t Target) ([]Finding, error) {
		if gitleaks.Installed() {
			return gitleaks.Scan(ctx, t)
		}
		return builtin.Scan(ctx, t)
	})
}

// NewSecretsStage returns a stage named "secrets" that scans the source
// tree at dir for committed credentials with NewSecrets(nil) (gitleaks
// when installed, else the built-in scanner), or the scanner given with
// [WithSecretScanner], and puts the findings under [SecretFindings].
// Give it [WithPolicy] (and [WithClock]) to fail the build on findings
// not allowlisted, under the same policy and expiring allowlist as
// vulnerabilities; the other [StageOption]s apply too.
func NewSecretsStage(dir string, opts ...StageOption) pipeline.Stage {
	var c stageConfig
	for _, o := range opts {
		o(&c)
	}
	s := c.secrets
	if s == nil {
		s = NewSecrets(nil)
	}
	opts = append([]StageOption{WithStageName("secrets"), WithResultKey(SecretFindings)}, opts...)
	return NewStage(s, FixedTarget(Target{Dir: dir}), opts...)
}
