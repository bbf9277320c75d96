package scan_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/image"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

// offlineEnv keeps the go command govulncheck runs offline: the test
// module vendors its only dependency.
func offlineEnv() []string {
	return append(os.Environ(), "GOFLAGS=-mod=vendor -buildvcs=false", "GOPROXY=off", "GOTOOLCHAIN=local", "GOWORK=off")
}

func fixtureDB(t *testing.T) string {
	t.Helper()
	abs, err := filepath.Abs(filepath.Join("testdata", "vulndb"))
	require.NoError(t, err)
	return "file://" + filepath.ToSlash(abs)
}

func scanner(t *testing.T) *scan.Govulncheck {
	return scan.NewGovulncheck(
		scan.WithDB(fixtureDB(t)),
		scan.WithEnv(offlineEnv()),
		scan.WithTempDir(t.TempDir()),
		scan.WithSeverities(map[string]scan.Severity{"cve-2026-90001": scan.SeverityHigh}),
	)
}

func byID(fs []scan.Finding) map[string]scan.Finding {
	m := map[string]scan.Finding{}
	for _, f := range fs {
		m[f.ID] = f
	}
	return m
}

// TestGovulncheckSourceAndPolicy scans the test module in source mode
// against the fixture database and applies policies to the result.
func TestGovulncheckSourceAndPolicy(t *testing.T) {
	dir := filepath.Join("testdata", "vulnapp")
	findings, err := scanner(t).Scan(context.Background(), scan.Target{Dir: dir})
	require.NoError(t, err)
	require.Len(t, findings, 2, "%v", findings)

	got := byID(findings)
	planted := got["GO-2026-9001"]
	assert.Equal(t, []string{"CVE-2026-90001", "GHSA-fd9f-9001-xxxx"}, planted.Aliases)
	assert.Equal(t, "example.com/vulnlib", planted.Package)
	assert.Equal(t, "v1.0.0", planted.Installed)
	assert.Equal(t, "v1.2.0", planted.Fixed)
	assert.Equal(t, scan.SeverityHigh, planted.Severity, "assigned through its CVE alias")
	assert.True(t, planted.Reachable, "main calls ParseHeader")
	assert.Equal(t, "Unbounded recursion in ParseHeader", planted.Summary)
	assert.Equal(t, dir, planted.Location)

	imported := got["GO-2026-9002"]
	assert.False(t, imported.Reachable, "Compare is imported but never called")
	assert.Equal(t, scan.SeverityUnknown, imported.Severity)
	assert.Equal(t, "GO-2026-9001", findings[0].ID, "most severe first")

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	// The strict default fails on both.
	v, err := scan.Policy{}.Check(now, findings)
	require.ErrorIs(t, err, scan.ErrPolicyViolation)
	assert.Len(t, v.Failed, 2)

	// Reachable-only at High fails on the planted, reachable one.
	policy := scan.Policy{FailAt: scan.SeverityHigh, OnlyReachable: true}
	v, err = policy.Check(now, findings)
	var ve *scan.ViolationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Failed, 1)
	assert.Equal(t, "GO-2026-9001", ve.Failed[0].ID)
	assert.Contains(t, err.Error(), "GO-2026-9001 example.com/vulnlib@v1.0.0 (high) fixed in v1.2.0")
	assert.Equal(t, []string{"GO-2026-9002"}, ids(v.Ignored))

	// An allowlist entry (by CVE alias) passes it until its expiry.
	expires := now.Add(14 * 24 * time.Hour)
	policy.Allow = []scan.Allow{{ID: "CVE-2026-90001", Reason: "input is size-limited by the gateway", Expires: expires}}
	v, err = policy.Check(now, findings)
	require.NoError(t, err)
	assert.True(t, v.Passed())
	require.Len(t, v.Allowed, 1)
	assert.Equal(t, "GO-2026-9001", v.Allowed[0].Finding.ID)
	assert.Equal(t, "input is size-limited by the gateway", v.Allowed[0].Entry.Reason)

	_, err = policy.Check(expires.Add(-time.Second), findings)
	assert.NoError(t, err, "still active just before expiry")

	v, err = policy.Check(expires, findings)
	require.ErrorIs(t, err, scan.ErrPolicyViolation, "expired entries stop applying")
	assert.Len(t, v.Expired, 1)
	assert.Contains(t, err.Error(), "allowlist entry for CVE-2026-90001 expired")
}

// TestGovulncheckImage builds the test module, puts the binary in an image
// beside a non-Go executable, and scans the image in binary mode.
func TestGovulncheckImage(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "vulnapp")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Dir = filepath.Join("testdata", "vulnapp")
	build.Env = append(offlineEnv(), "CGO_ENABLED=0")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	c := image.New(image.WithKeychain(authn.NewMultiKeychain()))
	img, err := c.Build(context.Background(), image.Spec{
		Layers: []image.Layer{
			{Files: []image.File{
				{Path: "/app/vulnapp", Source: bin},
				{Path: "/usr/bin/not-go", Content: []byte("\x7fELF\x02\x01\x01 not really an executable"), Mode: 0o755},
				{Path: "/etc/motd", Content: []byte("hello")},
			}},
		},
		Config: image.Config{Entrypoint: []string{"/app/vulnapp"}},
	})
	require.NoError(t, err)

	dir := t.TempDir()
	bins, err := scan.ExtractGoBinaries(context.Background(), img, dir)
	require.NoError(t, err)
	require.Len(t, bins, 1)
	assert.Equal(t, "/app/vulnapp", bins[0].Path)
	assert.Equal(t, "example.com/vulnapp", bins[0].Main)
	assert.True(t, strings.HasPrefix(bins[0].GoVersion, "go1."), bins[0].GoVersion)

	findings, err := scanner(t).Scan(context.Background(), scan.Target{Image: img})
	require.NoError(t, err)
	got := byID(findings)
	require.Contains(t, got, "GO-2026-9001")
	assert.True(t, got["GO-2026-9001"].Reachable, "ParseHeader is linked in")
	assert.Equal(t, "/app/vulnapp", got["GO-2026-9001"].Location)
	assert.Equal(t, "v1.0.0", got["GO-2026-9001"].Installed)
	if f, ok := got["GO-2026-9002"]; ok {
		assert.False(t, f.Reachable, "Compare is not in the binary")
	}

	_, err = scan.Policy{FailAt: scan.SeverityHigh, OnlyReachable: true}.Check(time.Now(), findings)
	assert.ErrorIs(t, err, scan.ErrPolicyViolation)
}

func TestGovulncheckErrors(t *testing.T) {
	g := scanner(t)
	_, err := g.Scan(context.Background(), scan.Target{})
	assert.ErrorIs(t, err, scan.ErrNoTarget)
	_, err = g.Scan(context.Background(), scan.Target{ImageRef: "only/a/ref:for-trivy"})
	assert.ErrorIs(t, err, scan.ErrNoTarget)

	missing := filepath.Join(t.TempDir(), "missing-binary")
	_, err = g.Scan(context.Background(), scan.Target{Binaries: []string{missing}})
	var se *scan.ScanError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "govulncheck", se.Scanner)
	assert.Contains(t, err.Error(), "missing-binary")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = g.Scan(ctx, scan.Target{Dir: filepath.Join("testdata", "vulnapp")})
	assert.ErrorIs(t, err, context.Canceled)
}

func ids(fs []scan.Finding) []string {
	out := make([]string, 0, len(fs))
	for _, f := range fs {
		out = append(out, f.ID)
	}
	return out
}

// TestGovulncheckStageFailsPipelineUntilExpiry runs the source scan as a
// pipeline step against the fixture database: the planted vulnerability
// fails the run, an allowlist entry lets it pass until the entry expires,
// and from then on the run fails again.
func TestGovulncheckStageFailsPipelineUntilExpiry(t *testing.T) {
	dir := filepath.Join("testdata", "vulnapp")
	expires := now.Add(7 * 24 * time.Hour)
	run := func(at time.Time, allow []scan.Allow) (*pipeline.Report, error) {
		policy := scan.Policy{FailAt: scan.SeverityHigh, OnlyReachable: true, Allow: allow}
		return runSteps(t, pipeline.NewState(), pipeline.Step{
			Stage: scan.NewStage(scanner(t), scan.FixedTarget(scan.Target{Dir: dir}),
				scan.WithStageName("govulncheck"), scan.WithPolicy(policy), scan.WithClock(clocktest.New(at))),
			Provides: []pipeline.AnyKey{scan.Findings},
		})
	}

	rep, err := run(now, nil)
	var ve *scan.ViolationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, []string{"GO-2026-9001"}, ids(ve.Failed))
	assert.Contains(t, err.Error(), `step "govulncheck"`)
	assert.Equal(t, pipeline.Failed, rep.Steps[0].Status)

	allow := []scan.Allow{{ID: "GO-2026-9001", Reason: "not exposed to untrusted input", Expires: expires}}
	rep, err = run(expires.Add(-time.Minute), allow)
	require.NoError(t, err)
	assert.Equal(t, pipeline.Succeeded, rep.Steps[0].Status)

	_, err = run(expires, allow)
	require.ErrorIs(t, err, scan.ErrPolicyViolation)
	assert.Contains(t, err.Error(), "allowlist entry for GO-2026-9001 expired")
}
