package scan_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

func TestParseTrivyJSON(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "trivy.json"))
	require.NoError(t, err)
	defer f.Close()
	fs, err := scan.ParseTrivyJSON(f)
	require.NoError(t, err)
	require.Len(t, fs, 3)
	assert.Equal(t, []string{"CVE-2024-2961", "CVE-2023-45288", "CVE-2011-3374"}, ids(fs), "most severe first")
	glibc := fs[0]
	assert.Equal(t, scan.Finding{
		ID: "CVE-2024-2961", Package: "libc6", Installed: "2.36-9+deb12u4", Fixed: "2.36-9+deb12u7",
		Severity: scan.SeverityHigh, Reachable: true,
		Summary:  "glibc: Out of bounds write in iconv may lead to remote code execution",
		Location: "registry.example.com/shop/checkout (debian 12.5)",
	}, glibc)
	assert.Equal(t, []string{"GHSA-4v7x-pqxf-cx7m"}, fs[1].Aliases)
	assert.Equal(t, "app/server", fs[1].Location)
	assert.Empty(t, fs[2].Fixed, "no fix known")
	assert.Equal(t, scan.SeverityLow, fs[2].Severity)

	legacy := `[{"Target":"alpine 3.7","Vulnerabilities":[{"VulnerabilityID":"CVE-2018-16840","PkgName":"curl","InstalledVersion":"7.61.0-r0","FixedVersion":"7.61.1-r1","Severity":"CRITICAL"}]},{"Target":"x","Vulnerabilities":null}]`
	fs, err = scan.ParseTrivyJSON(strings.NewReader(legacy))
	require.NoError(t, err)
	require.Len(t, fs, 1)
	assert.Equal(t, scan.SeverityCritical, fs[0].Severity)
}

func TestParseGrypeJSON(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "grype.json"))
	require.NoError(t, err)
	defer f.Close()
	fs, err := scan.ParseGrypeJSON(f)
	require.NoError(t, err)
	require.Len(t, fs, 3)
	assert.Equal(t, []string{"CVE-2024-45337", "GHSA-4v7x-pqxf-cx7m", "CVE-2005-2541"}, ids(fs))
	assert.Equal(t, scan.Finding{
		ID: "GHSA-4v7x-pqxf-cx7m", Aliases: []string{"CVE-2023-45288"}, Package: "golang.org/x/net",
		Installed: "v0.17.0", Fixed: "0.23.0", Severity: scan.SeverityMedium, Reachable: true,
		Summary: "HTTP/2 CONTINUATION flood in net/http", Location: "/app/server",
	}, fs[1])
	assert.Equal(t, scan.SeverityLow, fs[2].Severity, "Negligible maps to low")
	assert.Empty(t, fs[2].Fixed)
	assert.True(t, fs[1].Matches("cve-2023-45288"), "alias matches case-insensitively")

	empty, err := scan.ParseGrypeJSON(strings.NewReader(`{"matches":[]}`))
	require.NoError(t, err)
	assert.Empty(t, empty)
}

func TestParseInvalidReports(t *testing.T) {
	bad := map[string]struct {
		parse func(r *strings.Reader) ([]scan.Finding, error)
		in    string
		want  string
	}{
		"trivy not json":      {trivy, "<html>", "not a JSON object"},
		"trivy truncated":     {trivy, `{"Results":[`, "unexpected end"},
		"trivy no id":         {trivy, `{"Results":[{"Target":"t","Vulnerabilities":[{"PkgName":"x"}]}]}`, "without VulnerabilityID in t"},
		"trivy bad severity":  {trivy, `{"Results":[{"Target":"t","Vulnerabilities":[{"VulnerabilityID":"CVE-1","Severity":"SEVERE"}]}]}`, `CVE-1: invalid severity: "SEVERE"`},
		"grype not json":      {grype, "nope", "grype"},
		"grype wrong shape":   {grype, `{"results":[]}`, `no "matches" field`},
		"grype no id":         {grype, `{"matches":[{"artifact":{"name":"tar"}}]}`, "without vulnerability id for tar"},
		"grype bad severity":  {grype, `{"matches":[{"vulnerability":{"id":"CVE-2","severity":"huge"}}]}`, `CVE-2: invalid severity`},
		"govulncheck garbage": {govulncheck, `{"finding": 3}`, "govulncheck JSON"},
	}
	for name, tc := range bad {
		_, err := tc.parse(strings.NewReader(tc.in))
		assert.ErrorIs(t, err, scan.ErrInvalidReport, name)
		assert.ErrorContains(t, err, tc.want, name)
	}
}

func trivy(r *strings.Reader) ([]scan.Finding, error) { return scan.ParseTrivyJSON(r) }
func grype(r *strings.Reader) ([]scan.Finding, error) { return scan.ParseGrypeJSON(r) }
func govulncheck(r *strings.Reader) ([]scan.Finding, error) {
	return scan.ParseGovulncheckJSON(r, "x")
}

func TestToolNotInstalled(t *testing.T) {
	for _, s := range []*scan.Tool{
		scan.NewTrivy(scan.WithBinary(filepath.Join(t.TempDir(), "trivy"))),
		scan.NewGrype(scan.WithBinary("flightdeck-no-such-grype")),
	} {
		_, err := s.Scan(context.Background(), scan.Target{ImageRef: "registry.example.com/app:v1"})
		assert.ErrorIs(t, err, scan.ErrNotInstalled)
		_, err = s.Scan(context.Background(), scan.Target{Binaries: []string{"/bin/x"}})
		assert.ErrorIs(t, err, scan.ErrNoTarget)
	}
}

// fakeTool writes a shell script standing in for trivy or grype: it
// records its arguments and prints the given report, or fails.
func fakeTool(t *testing.T, report string, exit int) (bin, argsFile string) {
	t.Helper()
	dir := t.TempDir()
	argsFile = filepath.Join(dir, "args")
	reportFile := filepath.Join(dir, "report.json")
	require.NoError(t, os.WriteFile(reportFile, []byte(report), 0o600))
	bin = filepath.Join(dir, "tool")
	script := "#!/bin/sh\necho \"$@\" >> " + argsFile + "\n"
	if exit != 0 {
		script += "echo 'FATAL db download failed' >&2\nexit 3\n"
	} else {
		script += "cat " + reportFile + "\n"
	}
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o700))
	return bin, argsFile
}

func TestToolRunsInstalledBinary(t *testing.T) {
	report, err := os.ReadFile(filepath.Join("testdata", "trivy.json"))
	require.NoError(t, err)
	bin, argsFile := fakeTool(t, string(report), 0)
	fs, err := scan.NewTrivy(scan.WithBinary(bin)).Scan(context.Background(), scan.Target{ImageRef: "registry.example.com/app:v1", Dir: "/src"})
	require.NoError(t, err)
	assert.Len(t, fs, 6, "two runs, three findings each")
	args, err := os.ReadFile(argsFile)
	require.NoError(t, err)
	assert.Equal(t, "image --format json --quiet registry.example.com/app:v1\nfs --format json --quiet /src\n", string(args))

	report, err = os.ReadFile(filepath.Join("testdata", "grype.json"))
	require.NoError(t, err)
	bin, argsFile = fakeTool(t, string(report), 0)
	fs, err = scan.NewGrype(scan.WithBinary(bin)).Scan(context.Background(), scan.Target{Dir: "/src"})
	require.NoError(t, err)
	assert.Len(t, fs, 3)
	args, err = os.ReadFile(argsFile)
	require.NoError(t, err)
	assert.Equal(t, "dir:/src -o json -q\n", string(args))

	bin, _ = fakeTool(t, "", 3)
	_, err = scan.NewGrype(scan.WithBinary(bin)).Scan(context.Background(), scan.Target{ImageRef: "registry.example.com/app:v1"})
	var se *scan.ScanError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "grype", se.Scanner)
	assert.Equal(t, "registry.example.com/app:v1", se.Target)
	assert.Contains(t, err.Error(), "FATAL db download failed")
	assert.Contains(t, err.Error(), "exit status 3")

	bin, _ = fakeTool(t, "not json", 0)
	_, err = scan.NewTrivy(scan.WithBinary(bin)).Scan(context.Background(), scan.Target{Dir: "/src"})
	assert.ErrorIs(t, err, scan.ErrInvalidReport)
}

func TestToolInvalidReportNamesScannerOnce(t *testing.T) {
	cases := []struct {
		name   string
		tool   func(...scan.ToolOption) *scan.Tool
		report string
		want   string
	}{
		{"trivy", scan.NewTrivy, "not json", "trivy /src: invalid scan report: not a JSON object or array of trivy results"},
		{"trivy", scan.NewTrivy, `{"Results":[{"Target":"go.sum","Vulnerabilities":[{"VulnerabilityID":"CVE-1","Severity":"SEVERE"}]}]}`,
			`trivy /src: invalid scan report: CVE-1: invalid severity: "SEVERE"`},
		{"trivy", scan.NewTrivy, `{"Results":[{"Target":"go.sum","Vulnerabilities":[{"PkgName":"x"}]}]}`,
			"trivy /src: invalid scan report: trivy vulnerability without VulnerabilityID in go.sum"},
		{"grype", scan.NewGrype, `{"results":[]}`, `grype dir:/src: invalid scan report: grype report has no "matches" field`},
		{"grype", scan.NewGrype, `{"matches":[{"vulnerability":{"id":"CVE-2","severity":"huge"}}]}`,
			`grype dir:/src: invalid scan report: CVE-2: invalid severity: "huge"`},
	}
	for _, tc := range cases {
		bin, _ := fakeTool(t, tc.report, 0)
		_, err := tc.tool(scan.WithBinary(bin)).Scan(context.Background(), scan.Target{Dir: "/src"})
		require.ErrorIs(t, err, scan.ErrInvalidReport, tc.name)
		assert.EqualError(t, err, tc.want, "the scanner is named once")
	}
}

func TestToolHonoursContext(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "trivy")
	// The tool blocks until it is killed.
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\nexec tail -f /dev/null\n"), 0o700))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := scan.NewTrivy(scan.WithBinary(bin)).Scan(ctx, scan.Target{ImageRef: "registry.example.com/app:v1"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var se *scan.ScanError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "registry.example.com/app:v1", se.Target)
}
