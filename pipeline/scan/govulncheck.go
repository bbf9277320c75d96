package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	vulnscan "golang.org/x/vuln/scan"
)

// DefaultDB is the Go vulnerability database govulncheck uses by default.
const DefaultDB = "https://vuln.go.dev"

// Govulncheck scans Go code with govulncheck, run in process through
// golang.org/x/vuln/scan. Source directories are scanned in source mode
// (call-graph reachability), binaries and the Go binaries found in an
// image's layers in binary mode. It is safe for concurrent use.
type Govulncheck struct {
	db         string
	severities map[string]Severity
	env        []string
	log        *slog.Logger
	tmp        string
}

var _ Scanner = (*Govulncheck)(nil)

// GovulncheckOption configures a [Govulncheck].
type GovulncheckOption func(*Govulncheck)

// WithDB sets the vulnerability database URL: "https://…" or
// "file:///abs/path" for an offline copy in the v1 layout. Default
// [DefaultDB].
func WithDB(url string) GovulncheckOption { return func(g *Govulncheck) { g.db = url } }

// WithSeverities assigns severities to advisory IDs or aliases; the Go
// vulnerability database has none of its own. Default none (every
// finding is SeverityUnknown; see [Policy.UnknownAs]).
func WithSeverities(m map[string]Severity) GovulncheckOption {
	return func(g *Govulncheck) {
		g.severities = make(map[string]Severity, len(m))
		for k, v := range m {
			g.severities[strings.ToUpper(k)] = v
		}
	}
}

// WithEnv sets the environment for the go command govulncheck runs in
// source mode (GOFLAGS, GOOS, build tags…). Default the process
// environment.
func WithEnv(env []string) GovulncheckOption { return func(g *Govulncheck) { g.env = env } }

// WithGovulncheckLogger sets the logger. Default discards.
func WithGovulncheckLogger(l *slog.Logger) GovulncheckOption {
	return func(g *Govulncheck) { g.log = l }
}

// WithTempDir sets where binaries extracted from images are written.
// Default os.TempDir(). Extracted files are removed after the scan.
func WithTempDir(dir string) GovulncheckOption { return func(g *Govulncheck) { g.tmp = dir } }

// NewGovulncheck returns a govulncheck scanner. See the options for
// defaults.
func NewGovulncheck(opts ...GovulncheckOption) *Govulncheck {
	g := &Govulncheck{db: DefaultDB}
	for _, o := range opts {
		o(g)
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	return g
}

// Scan scans t.Dir (source mode, all packages of the module), each of
// t.Binaries, and every Go binary in t.Image (binary mode). Findings name
// the directory or binary in Location; a binary from an image is named by
// its absolute path inside the image.
//
// Errors: [ErrNoTarget] when t has none of those fields set; a
// [*ScanError] when govulncheck fails (for example packages that do not
// load, or an unreachable database), wrapping the context's error when
// ctx ended.
func (g *Govulncheck) Scan(ctx context.Context, t Target) ([]Finding, error) {
	if t.Dir == "" && len(t.Binaries) == 0 && t.Image == nil {
		return nil, fmt.Errorf("govulncheck: %w (set Dir, Binaries or Image)", ErrNoTarget)
	}
	var out []Finding
	if t.Dir != "" {
		fs, err := g.run(ctx, t.Dir, t.Dir, "-C", t.Dir, "./...")
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	for _, b := range t.Binaries {
		fs, err := g.run(ctx, b, b, "-mode", "binary", b)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	if t.Image != nil {
		fs, err := g.scanImage(ctx, t)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	Sort(out)
	return out, nil
}

func (g *Govulncheck) scanImage(ctx context.Context, t Target) ([]Finding, error) {
	name := t.ImageRef
	if name == "" {
		if d, err := t.Image.Digest(); err == nil {
			name = d.String()
		}
	}
	dir, err := os.MkdirTemp(g.tmp, "flightdeck-scan-")
	if err != nil {
		return nil, &ScanError{Scanner: "govulncheck", Target: name, Err: err}
	}
	defer os.RemoveAll(dir)
	bins, err := ExtractGoBinaries(ctx, t.Image, dir)
	if err != nil {
		return nil, &ScanError{Scanner: "govulncheck", Target: name, Err: err}
	}
	g.log.DebugContext(ctx, "extracted Go binaries", "image", name, "count", len(bins))
	var out []Finding
	for _, b := range bins {
		fs, err := g.run(ctx, name+" "+b.Path, b.Path, "-mode", "binary", b.File)
		if err != nil {
			return nil, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// run runs govulncheck with -json against the database and converts its
// findings; location names them.
func (g *Govulncheck) run(ctx context.Context, target, location string, args ...string) ([]Finding, error) {
	var stdout, stderr bytes.Buffer
	cmd := vulnscan.Command(ctx, append([]string{"-json", "-db", g.db}, args...)...)
	cmd.Stdin = strings.NewReader("")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if g.env != nil {
		cmd.Env = g.env
	}
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
	}
	if cerr := ctx.Err(); cerr != nil {
		return nil, &ScanError{Scanner: "govulncheck", Target: target, Err: errors.Join(cerr, err)}
	}
	if err != nil {
		return nil, &ScanError{Scanner: "govulncheck", Target: target, Stderr: trimOutput(stderr.Bytes()), Err: err}
	}
	fs, err := parseGovulncheck(&stdout, location, g.severities)
	if err != nil {
		return nil, &ScanError{Scanner: "govulncheck", Target: target, Err: err}
	}
	g.log.InfoContext(ctx, "govulncheck finished", "target", target, "findings", len(fs))
	return fs, nil
}

// govulncheck -json message stream (protocol v1.0.0), the fields used.
type gvMessage struct {
	OSV     *gvOSV     `json:"osv"`
	Finding *gvFinding `json:"finding"`
}

type gvOSV struct {
	ID      string   `json:"id"`
	Aliases []string `json:"aliases"`
	Summary string   `json:"summary"`
	Details string   `json:"details"`
}

type gvFinding struct {
	OSV          string    `json:"osv"`
	FixedVersion string    `json:"fixed_version"`
	Trace        []gvFrame `json:"trace"`
}

type gvFrame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
}

// ParseGovulncheckJSON converts the output of `govulncheck -json` into
// findings, one per advisory and module, marked Reachable when a finding
// at symbol level (a trace naming a function) exists. Location is copied
// into every finding. Errors wrap [ErrInvalidReport].
func ParseGovulncheckJSON(r io.Reader, location string) ([]Finding, error) {
	return parseGovulncheck(r, location, nil)
}

func parseGovulncheck(r io.Reader, location string, sev map[string]Severity) ([]Finding, error) {
	dec := json.NewDecoder(r)
	osvs := map[string]*gvOSV{}
	type key struct{ id, mod string }
	byKey := map[key]*Finding{}
	var order []key
	for {
		var m gvMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: govulncheck JSON: %v", ErrInvalidReport, err)
		}
		if m.OSV != nil {
			osvs[m.OSV.ID] = m.OSV
		}
		if m.Finding == nil || len(m.Finding.Trace) == 0 {
			continue
		}
		top := m.Finding.Trace[0]
		k := key{m.Finding.OSV, top.Module}
		f, ok := byKey[k]
		if !ok {
			f = &Finding{
				ID:        m.Finding.OSV,
				Package:   top.Module,
				Installed: top.Version,
				Fixed:     m.Finding.FixedVersion,
				Location:  location,
			}
			byKey[k] = f
			order = append(order, k)
		}
		if top.Function != "" {
			f.Reachable = true
		}
	}
	out := make([]Finding, 0, len(order))
	for _, k := range order {
		f := *byKey[k]
		if o := osvs[f.ID]; o != nil {
			f.Aliases = append([]string(nil), o.Aliases...)
			f.Summary = o.Summary
			if f.Summary == "" {
				f.Summary, _, _ = strings.Cut(o.Details, "\n")
			}
		}
		f.Severity = lookupSeverity(sev, f)
		out = append(out, f)
	}
	return out, nil
}

func lookupSeverity(m map[string]Severity, f Finding) Severity {
	if s, ok := m[strings.ToUpper(f.ID)]; ok {
		return s
	}
	for _, a := range f.Aliases {
		if s, ok := m[strings.ToUpper(a)]; ok {
			return s
		}
	}
	return SeverityUnknown
}

// Binary is a Go executable extracted from an image.
type Binary struct {
	// Path is the file's absolute path inside the image.
	Path string
	// File is where it was written on disk.
	File string
	// GoVersion is the Go release that built it, from its embedded build
	// information.
	GoVersion string
	// Main is the main module path.
	Main string
}

var executableMagic = [][]byte{
	[]byte("\x7fELF"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, // Mach-O
	{0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe},
	[]byte("MZ"), // PE
}

// ExtractGoBinaries writes every Go executable of img's flattened file
// system (later layers and whiteouts applied, via mutate.Extract) into
// dir and returns them sorted by path. Files are recognised by their
// executable header and embedded Go build information; others are
// skipped without being written in full.
func ExtractGoBinaries(ctx context.Context, img v1.Image, dir string) ([]Binary, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var out []Binary
	head := make([]byte, 4)
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read image file system: %w", err)
		}
		if h.Typeflag != tar.TypeReg || h.Size < int64(len(head)) {
			continue
		}
		if _, err := io.ReadFull(tr, head); err != nil {
			return nil, fmt.Errorf("read /%s: %w", h.Name, err)
		}
		if !isExecutable(head) {
			continue
		}
		file := filepath.Join(dir, fmt.Sprintf("bin-%d", n))
		if err := writeFile(file, head, tr); err != nil {
			return nil, fmt.Errorf("extract /%s: %w", h.Name, err)
		}
		info, err := buildinfo.ReadFile(file)
		if err != nil {
			_ = os.Remove(file) // an executable, but not a Go one
			continue
		}
		out = append(out, Binary{
			Path:      path.Clean("/" + h.Name),
			File:      file,
			GoVersion: info.GoVersion,
			Main:      info.Main.Path,
		})
	}
	slices.SortFunc(out, func(a, b Binary) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func isExecutable(head []byte) bool {
	for _, m := range executableMagic {
		if bytes.HasPrefix(head, m) {
			return true
		}
	}
	return false
}

func writeFile(name string, head []byte, rest io.Reader) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(head); err != nil {
		f.Close()
		return err
	}
	if _, err := io.Copy(f, rest); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
