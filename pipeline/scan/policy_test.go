package scan_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

var (
	now  = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	crit = scan.Finding{ID: "CVE-2026-1", Aliases: []string{"GHSA-aaaa"}, Package: "libfoo", Installed: "1.0", Fixed: "1.1", Severity: scan.SeverityCritical, Reachable: true}
	med  = scan.Finding{ID: "CVE-2026-2", Package: "libbar", Installed: "2.0", Severity: scan.SeverityMedium, Reachable: false}
	low  = scan.Finding{ID: "CVE-2026-3", Package: "libbaz", Installed: "3.0", Severity: scan.SeverityLow, Reachable: true}
	unk  = scan.Finding{ID: "GO-2026-4", Package: "example.com/m", Installed: "v1.0.0", Reachable: true}
)

func TestPolicyThresholds(t *testing.T) {
	// Results are ordered by the findings' own severity (unknown last).
	all := []scan.Finding{low, med, crit, unk}
	cases := map[string]struct {
		p           scan.Policy
		failed      []string
		ignoredOnly []string
	}{
		"zero value fails everything":  {scan.Policy{}, []string{"CVE-2026-1", "CVE-2026-2", "CVE-2026-3", "GO-2026-4"}, nil},
		"high and above":               {scan.Policy{FailAt: scan.SeverityHigh}, []string{"CVE-2026-1", "GO-2026-4"}, []string{"CVE-2026-2", "CVE-2026-3"}},
		"medium, reachable only":       {scan.Policy{FailAt: scan.SeverityMedium, OnlyReachable: true}, []string{"CVE-2026-1", "GO-2026-4"}, []string{"CVE-2026-2", "CVE-2026-3"}},
		"unknown treated as low":       {scan.Policy{FailAt: scan.SeverityHigh, UnknownAs: scan.SeverityLow}, []string{"CVE-2026-1"}, []string{"CVE-2026-2", "CVE-2026-3", "GO-2026-4"}},
		"low, reachable only":          {scan.Policy{FailAt: scan.SeverityLow, OnlyReachable: true}, []string{"CVE-2026-1", "CVE-2026-3", "GO-2026-4"}, []string{"CVE-2026-2"}},
		"critical only, unknown as it": {scan.Policy{FailAt: scan.SeverityCritical}, []string{"CVE-2026-1", "GO-2026-4"}, []string{"CVE-2026-2", "CVE-2026-3"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := tc.p.Check(now, all)
			assert.Equal(t, tc.failed, ids(v.Failed))
			assert.Equal(t, tc.ignoredOnly, nilIfEmpty(ids(v.Ignored)))
			require.ErrorIs(t, err, scan.ErrPolicyViolation)
		})
	}
	v, err := scan.Policy{FailAt: scan.SeverityHigh}.Check(now, []scan.Finding{low, med})
	require.NoError(t, err)
	assert.True(t, v.Passed())
	v, err = scan.Policy{}.Check(now, nil)
	require.NoError(t, err, "no findings pass the strictest policy")
	assert.True(t, v.Passed())
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestPolicyAllowlist(t *testing.T) {
	p := scan.Policy{FailAt: scan.SeverityMedium, Allow: []scan.Allow{
		{ID: "ghsa-aaaa", Reason: "not exposed", Expires: now.Add(time.Hour)},
		{ID: "CVE-2026-2", Package: "other-package", Reason: "wrong package", Expires: now.Add(time.Hour)},
		{ID: "CVE-2026-9", Reason: "unused entry", Expires: now.Add(-time.Hour)},
	}}
	v, err := p.Check(now, []scan.Finding{crit, med})
	var ve *scan.ViolationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, []string{"CVE-2026-2"}, ids(ve.Failed), "package-restricted entry does not match libbar")
	require.Len(t, v.Allowed, 1)
	assert.Equal(t, "CVE-2026-1", v.Allowed[0].Finding.ID, "matched by alias, case-insensitively")
	assert.Empty(t, v.Expired, "expired entries that match nothing are not reported")

	v, err = p.Check(now.Add(time.Hour), []scan.Finding{crit})
	require.ErrorIs(t, err, scan.ErrPolicyViolation, "entry expired at its expiry time")
	require.Len(t, v.Expired, 1)
	assert.Equal(t, "ghsa-aaaa", v.Expired[0].ID)
	assert.Empty(t, v.Allowed)
}

func TestPolicyInvalid(t *testing.T) {
	bad := map[string]scan.Policy{
		"no id":       {Allow: []scan.Allow{{Reason: "r", Expires: now}}},
		"no reason":   {Allow: []scan.Allow{{ID: "CVE-1", Expires: now}}},
		"no expiry":   {Allow: []scan.Allow{{ID: "CVE-1", Reason: "r"}}},
		"bad FailAt":  {FailAt: scan.Severity(9)},
		"bad Unknown": {UnknownAs: scan.Severity(-1)},
	}
	for name, p := range bad {
		assert.ErrorIs(t, p.Validate(), scan.ErrInvalidPolicy, name)
		v, err := p.Check(now, []scan.Finding{crit})
		assert.ErrorIs(t, err, scan.ErrInvalidPolicy, name)
		assert.NotErrorIs(t, err, scan.ErrPolicyViolation, name)
		assert.Empty(t, v.Failed, name)
	}
	err := scan.Policy{Allow: []scan.Allow{{ID: "CVE-7", Expires: now}}}.Validate()
	assert.ErrorContains(t, err, "allow entry 0 (CVE-7) has no reason")
}

func TestSeverity(t *testing.T) {
	for in, want := range map[string]scan.Severity{
		"CRITICAL": scan.SeverityCritical, "High": scan.SeverityHigh, "moderate": scan.SeverityMedium,
		"MEDIUM": scan.SeverityMedium, "Negligible": scan.SeverityLow, "low": scan.SeverityLow,
		"UNKNOWN": scan.SeverityUnknown, "": scan.SeverityUnknown,
	} {
		got, err := scan.ParseSeverity(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := scan.ParseSeverity("urgent")
	assert.ErrorIs(t, err, scan.ErrInvalidSeverity)
	assert.ErrorContains(t, err, `"urgent"`)

	var p scan.Policy
	require.NoError(t, json.Unmarshal([]byte(`{"FailAt":"high","UnknownAs":"medium"}`), &p))
	assert.Equal(t, scan.SeverityHigh, p.FailAt)
	assert.Equal(t, scan.SeverityMedium, p.UnknownAs)
	b, err := json.Marshal(p)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"FailAt":"high"`)
	assert.Error(t, json.Unmarshal([]byte(`{"FailAt":"severe"}`), &p))
	assert.Equal(t, "severity(7)", scan.Severity(7).String())
}

func TestSortIsStable(t *testing.T) {
	fs := []scan.Finding{low, unk, crit, med, {ID: "CVE-2026-0", Severity: scan.SeverityCritical}}
	scan.Sort(fs)
	assert.Equal(t, []string{"CVE-2026-0", "CVE-2026-1", "CVE-2026-2", "CVE-2026-3", "GO-2026-4"}, ids(fs))
}
