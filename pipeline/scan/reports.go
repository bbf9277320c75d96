package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"time"
)

// trivyReport is Trivy's JSON report (`trivy … --format json`), the
// fields used. Trivy before v0.20 wrote a bare array of results.
type trivyReport struct {
	ArtifactName string        `json:"ArtifactName"`
	Results      []trivyResult `json:"Results"`
}

type trivyResult struct {
	Target          string      `json:"Target"`
	Vulnerabilities []trivyVuln `json:"Vulnerabilities"`
}

type trivyVuln struct {
	VulnerabilityID  string   `json:"VulnerabilityID"`
	VendorIDs        []string `json:"VendorIDs"`
	PkgName          string   `json:"PkgName"`
	PkgPath          string   `json:"PkgPath"`
	InstalledVersion string   `json:"InstalledVersion"`
	FixedVersion     string   `json:"FixedVersion"`
	Severity         string   `json:"Severity"`
	Title            string   `json:"Title"`
}

// ParseTrivyJSON converts a Trivy JSON report (current object form or the
// pre-v0.20 array form) into findings. Location is the result's Target
// (plus PkgPath for language packages). Trivy cannot tell reachability,
// so every finding is Reachable. Errors wrap [ErrInvalidReport].
func ParseTrivyJSON(r io.Reader) ([]Finding, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%w: reading trivy report: %v", ErrInvalidReport, err)
	}
	b = bytes.TrimSpace(b)
	var results []trivyResult
	switch {
	case len(b) > 0 && b[0] == '[':
		err = json.Unmarshal(b, &results)
	case len(b) > 0 && b[0] == '{':
		var rep trivyReport
		err = json.Unmarshal(b, &rep)
		results = rep.Results
	default:
		return nil, fmt.Errorf("%w: not a JSON object or array of trivy results", ErrInvalidReport)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: not a trivy JSON report: %v", ErrInvalidReport, err)
	}
	var out []Finding
	for _, res := range results {
		for _, v := range res.Vulnerabilities {
			if v.VulnerabilityID == "" {
				return nil, fmt.Errorf("%w: trivy vulnerability without VulnerabilityID in %s", ErrInvalidReport, res.Target)
			}
			sev, err := ParseSeverity(v.Severity)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrInvalidReport, v.VulnerabilityID, err)
			}
			loc := res.Target
			if v.PkgPath != "" {
				loc += ":" + v.PkgPath
			}
			out = append(out, Finding{
				ID:        v.VulnerabilityID,
				Aliases:   v.VendorIDs,
				Package:   v.PkgName,
				Installed: v.InstalledVersion,
				Fixed:     v.FixedVersion,
				Severity:  sev,
				Reachable: true,
				Summary:   v.Title,
				Location:  loc,
			})
		}
	}
	Sort(out)
	return out, nil
}

// grypeReport is Grype's JSON report (`grype … -o json`), the fields used.
type grypeReport struct {
	Matches *[]grypeMatch `json:"matches"`
}

type grypeMatch struct {
	Vulnerability struct {
		ID          string `json:"id"`
		Severity    string `json:"severity"`
		Description string `json:"description"`
		Fix         struct {
			Versions []string `json:"versions"`
			State    string   `json:"state"`
		} `json:"fix"`
	} `json:"vulnerability"`
	RelatedVulnerabilities []struct {
		ID string `json:"id"`
	} `json:"relatedVulnerabilities"`
	Artifact struct {
		Name      string `json:"name"`
		Version   string `json:"version"`
		Type      string `json:"type"`
		Locations []struct {
			Path string `json:"path"`
		} `json:"locations"`
	} `json:"artifact"`
}

// ParseGrypeJSON converts a Grype JSON report into findings. Related
// vulnerabilities become aliases, the first fix version becomes Fixed,
// and the artifact's first location becomes Location. Grype cannot tell
// reachability, so every finding is Reachable. Errors wrap
// [ErrInvalidReport].
func ParseGrypeJSON(r io.Reader) ([]Finding, error) {
	var rep grypeReport
	if err := json.NewDecoder(r).Decode(&rep); err != nil {
		return nil, fmt.Errorf("%w: not a grype JSON report: %v", ErrInvalidReport, err)
	}
	if rep.Matches == nil {
		return nil, fmt.Errorf("%w: grype report has no \"matches\" field", ErrInvalidReport)
	}
	var out []Finding
	for _, m := range *rep.Matches {
		v := m.Vulnerability
		if v.ID == "" {
			return nil, fmt.Errorf("%w: grype match without vulnerability id for %s", ErrInvalidReport, m.Artifact.Name)
		}
		sev, err := ParseSeverity(v.Severity)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidReport, v.ID, err)
		}
		f := Finding{
			ID:        v.ID,
			Package:   m.Artifact.Name,
			Installed: m.Artifact.Version,
			Severity:  sev,
			Reachable: true,
		}
		f.Summary, _, _ = strings.Cut(v.Description, "\n")
		if len(v.Fix.Versions) > 0 {
			f.Fixed = v.Fix.Versions[0]
		}
		for _, rv := range m.RelatedVulnerabilities {
			if rv.ID != "" && rv.ID != v.ID {
				f.Aliases = append(f.Aliases, rv.ID)
			}
		}
		if len(m.Artifact.Locations) > 0 {
			f.Location = m.Artifact.Locations[0].Path
		}
		out = append(out, f)
	}
	Sort(out)
	return out, nil
}

// Tool runs an installed scanner program (Trivy or Grype) and parses its
// JSON report. It is safe for concurrent use.
type Tool struct {
	name  string
	bin   string
	args  func(t Target) [][]string
	parse func(io.Reader) ([]Finding, error)
	log   *slog.Logger
}

var _ Scanner = (*Tool)(nil)

// ToolOption configures a [Tool].
type ToolOption func(*Tool)

// WithBinary sets the program to run: a path, or a name looked up on
// PATH. Default "trivy" for [NewTrivy] and "grype" for [NewGrype].
func WithBinary(path string) ToolOption { return func(t *Tool) { t.bin = path } }

// WithToolLogger sets the logger. Default discards.
func WithToolLogger(l *slog.Logger) ToolOption { return func(t *Tool) { t.log = l } }

func newTool(name string, args func(Target) [][]string, parse func(io.Reader) ([]Finding, error), opts []ToolOption) *Tool {
	t := &Tool{name: name, bin: name, args: args, parse: parse}
	for _, o := range opts {
		o(t)
	}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	return t
}

// NewTrivy returns a scanner that runs `trivy image --format json --quiet
// REF` for Target.ImageRef and `trivy fs --format json --quiet DIR` for
// Target.Dir.
func NewTrivy(opts ...ToolOption) *Tool {
	return newTool("trivy", func(t Target) [][]string {
		var runs [][]string
		if t.ImageRef != "" {
			runs = append(runs, []string{"image", "--format", "json", "--quiet", t.ImageRef})
		}
		if t.Dir != "" {
			runs = append(runs, []string{"fs", "--format", "json", "--quiet", t.Dir})
		}
		return runs
	}, ParseTrivyJSON, opts)
}

// NewGrype returns a scanner that runs `grype REF -o json -q` for
// Target.ImageRef and `grype dir:DIR -o json -q` for Target.Dir.
func NewGrype(opts ...ToolOption) *Tool {
	return newTool("grype", func(t Target) [][]string {
		var runs [][]string
		if t.ImageRef != "" {
			runs = append(runs, []string{t.ImageRef, "-o", "json", "-q"})
		}
		if t.Dir != "" {
			runs = append(runs, []string{"dir:" + t.Dir, "-o", "json", "-q"})
		}
		return runs
	}, ParseGrypeJSON, opts)
}

// Scan runs the tool for t.ImageRef and/or t.Dir and returns the parsed
// findings.
//
// Errors: [ErrNoTarget] when neither is set; [ErrNotInstalled] when the
// program is not found; a [*ScanError] when it fails (with its stderr),
// its report does not parse ([ErrInvalidReport]), or ctx ends.
func (t *Tool) Scan(ctx context.Context, target Target) ([]Finding, error) {
	runs := t.args(target)
	if len(runs) == 0 {
		return nil, fmt.Errorf("%s: %w (set ImageRef or Dir)", t.name, ErrNoTarget)
	}
	bin, err := exec.LookPath(t.bin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", t.name, ErrNotInstalled, err)
	}
	var out []Finding
	for _, args := range runs {
		subject := args[len(args)-1]
		if t.name == "grype" {
			subject = args[0]
		}
		stdout, err := runTool(ctx, t.name, bin, subject, args)
		if err != nil {
			return nil, err
		}
		fs, err := t.parse(bytes.NewReader(stdout))
		if err != nil {
			return nil, &ScanError{Scanner: t.name, Target: subject, Err: err}
		}
		t.log.InfoContext(ctx, "scan finished", "scanner", t.name, "target", subject, "findings", len(fs))
		out = append(out, fs...)
	}
	Sort(out)
	return out, nil
}

// runTool runs a scanner's program and returns its stdout. A failure is
// a [*ScanError] naming the scanner and subject, with the program's
// stderr unless ctx ended.
func runTool(ctx context.Context, name, bin, subject string, args []string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// After ctx ends and the tool is killed, stop waiting for any
	// children that still hold its output open.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if cerr := ctx.Err(); cerr != nil {
		return nil, &ScanError{Scanner: name, Target: subject, Err: errors.Join(cerr, err)}
	}
	if err != nil {
		return nil, &ScanError{Scanner: name, Target: subject, Stderr: trimOutput(stderr.Bytes()), Err: err}
	}
	return stdout.Bytes(), nil
}
