package scan_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/clock/clocktest"
	"github.com/flightdeck-dev/flightdeck/pipeline"
	"github.com/flightdeck-dev/flightdeck/pipeline/scan"
)

// assertNoSecret checks that no planted secret (nor a long piece of one)
// appears in s.
func assertNoSecret(t *testing.T, secrets fakeSecrets, s string) {
	t.Helper()
	for rule, sec := range secrets {
		for _, piece := range strings.Fields(sec) {
			if len(piece) > 12 {
				piece = piece[4:12]
			}
			assert.NotContains(t, s, piece, "a piece of the %s secret leaked", rule)
		}
	}
}

func TestBuiltinSecretScannerFindsCommonTokens(t *testing.T) {
	dir, secrets, where := secretTree(t)
	var logs bytes.Buffer
	fs, err := scan.NewSecretScanner(scan.WithSecretLogger(slog.New(slog.NewJSONHandler(&logs, nil)))).Scan(context.Background(), scan.Target{Dir: dir})
	require.NoError(t, err)
	got := map[string][2]string{}
	for _, f := range fs {
		assert.Equal(t, scan.KindSecret, f.Kind)
		assert.True(t, f.Reachable)
		_, dup := got[f.ID]
		assert.False(t, dup, "one finding per planted secret: %s", f)
		got[f.ID] = [2]string{f.Package, strconv.Itoa(f.Line)}
		assert.Equal(t, []string{f.Package + ":" + f.ID + ":" + strconv.Itoa(f.Line)}, f.Aliases, "fingerprint")
		assert.Equal(t, f.Package+":"+strconv.Itoa(f.Line), f.Location)
		assert.NotEmpty(t, f.Summary)
		want := scan.SeverityCritical
		if f.ID == "generic-api-key" {
			want = scan.SeverityHigh
		}
		assert.Equal(t, want, f.Severity, f.ID)
	}
	assert.Equal(t, where, got, "each planted secret found where it is; placeholders, env lookups, AWS's documented example key, go.sum and binaries are not")

	for _, f := range fs {
		assert.Contains(t, f.Match, "****", f.ID)
		assertNoSecret(t, secrets, f.Match+" "+f.String())
	}
	assertNoSecret(t, secrets, logs.String())
	byID := map[string]scan.Finding{}
	for _, f := range fs {
		byID[f.ID] = f
	}
	assert.Equal(t, "ghp_****", byID["github-pat"].Match)
	assert.Equal(t, "-----BEGIN RSA PRIVATE KEY-----****", byID["private-key"].Match)
	assert.Equal(t, `db_password: "`+secrets["generic-api-key"][:4]+"****", byID["generic-api-key"].Match)
}

func TestMask(t *testing.T) {
	assert.Equal(t, "****", scan.Mask("short"))
	assert.Equal(t, "abcd****", scan.Mask("abcdefghijklmnop"))
	assert.Equal(t, "****", scan.Mask("abcdefgh ijklmnopq"), "no prefix of a multi-line secret")
}

func TestSecretScannerOptionsAndErrors(t *testing.T) {
	dir, _, _ := secretTree(t)
	ctx := context.Background()
	fs, err := scan.NewSecretScanner(scan.WithSkip("config", "*.py"), scan.WithMaxFileSize(200)).Scan(ctx, scan.Target{Dir: dir})
	require.NoError(t, err)
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID)
	}
	assert.ElementsMatch(t, []string{"aws-access-token", "slack-bot-token", "gcp-api-key", "generic-api-key"}, ids,
		"config/ and *.py skipped, and the private key file is over 200 bytes")

	_, err = scan.NewSecretScanner().Scan(ctx, scan.Target{})
	assert.ErrorIs(t, err, scan.ErrNoTarget)
	_, err = scan.NewSecretScanner().Scan(ctx, scan.Target{Dir: filepath.Join(dir, "nope")})
	var se *scan.ScanError
	require.ErrorAs(t, err, &se)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = scan.NewSecretScanner(scan.WithRules(scan.SecretRule{ID: "x"})).Scan(ctx, scan.Target{Dir: dir})
	assert.ErrorContains(t, err, "rule 0 has no ID or no pattern")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = scan.NewSecretScanner().Scan(cancelled, scan.Target{Dir: dir})
	assert.ErrorIs(t, err, context.Canceled)
}

// Secret findings go through the same Policy as vulnerabilities: an
// allowlist entry by rule and file, or by fingerprint, lets the build
// pass until it expires.
func TestSecretsStageAllowlistExpires(t *testing.T) {
	dir, secrets, where := secretTree(t)
	clk := clocktest.New(now)
	var allow []scan.Allow
	for rule, w := range where {
		if rule == "private-key" {
			allow = append(allow, scan.Allow{ID: scan.Fingerprint(w[0], rule, 1), Reason: "test fixture key, revoked", Expires: now.Add(48 * time.Hour)})
			continue
		}
		allow = append(allow, scan.Allow{ID: rule, Package: w[0], Reason: "rotated, history rewrite scheduled", Expires: now.Add(24 * time.Hour)})
	}
	policy := scan.Policy{Allow: allow}
	stage := scan.NewSecretsStage(dir, scan.WithPolicy(policy), scan.WithClock(clk))
	assert.Equal(t, "secrets", stage.Name())
	st := pipeline.NewState()
	require.NoError(t, stage.Run(context.Background(), st))
	fs, err := scan.SecretFindings.Get(st)
	require.NoError(t, err)
	assert.Len(t, fs, len(where))

	clk.Advance(25 * time.Hour)
	err = stage.Run(context.Background(), st)
	require.ErrorIs(t, err, scan.ErrPolicyViolation)
	assert.True(t, pipeline.IsPermanent(err))
	var ve *scan.ViolationError
	require.ErrorAs(t, err, &ve)
	assert.Len(t, ve.Failed, len(where)-1, "the fingerprint entry still applies")
	assert.Len(t, ve.Expired, len(where)-1)
	assert.Contains(t, err.Error(), "secret github-pat in config/app.env:3: ghp_**** (critical)")
	assert.Contains(t, err.Error(), "allowlist entry for github-pat expired")
	assertNoSecret(t, secrets, err.Error())

	clk.Advance(24 * time.Hour)
	err = stage.Run(context.Background(), st)
	require.ErrorAs(t, err, &ve)
	assert.Len(t, ve.Failed, len(where))
	assert.Contains(t, err.Error(), "secret private-key in keys/deploy_key:1: -----BEGIN RSA PRIVATE KEY-----**** (critical)")
}

func TestParseGitleaksJSON(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "gitleaks", "redacted.json"))
	require.NoError(t, err)
	defer f.Close()
	fs, err := scan.ParseGitleaksJSON(f, "/tmp/src")
	require.NoError(t, err)
	require.Len(t, fs, 2)
	assert.Equal(t, scan.Finding{Kind: scan.KindSecret, ID: "github-pat", Aliases: []string{"config/app.env:github-pat:3"}, Package: "config/app.env", Line: 3,
		Match: "GITHUB_TOKEN=REDACTED", Severity: scan.SeverityCritical, Reachable: true, Location: "config/app.env:3",
		Summary: "Uncovered a GitHub Personal Access Token, potentially leading to unauthorized repository access and sensitive content exposure."}, fs[0])
	assert.Equal(t, "generic-api-key", fs[1].ID)
	assert.Equal(t, scan.SeverityHigh, fs[1].Severity)

	// An unredacted report (gitleaks run without --redact) is masked on
	// the way in.
	token := "gh" + "p_" + randFrom(t, alnum, 36)
	fs, err = scan.ParseGitleaksJSON(strings.NewReader(`[{"RuleID":"github-pat","StartLine":1,"File":"a.env","Match":"T=`+token+`","Secret":"`+token+`"}]`), "")
	require.NoError(t, err)
	assert.Equal(t, "T=ghp_****", fs[0].Match)

	_, err = scan.ParseGitleaksJSON(strings.NewReader(`{"leaks": "`+token+`"}`), "")
	require.ErrorIs(t, err, scan.ErrInvalidReport)
	assert.NotContains(t, err.Error(), token[4:])
	_, err = scan.ParseGitleaksJSON(strings.NewReader(`[{"StartLine":1}]`), "")
	require.ErrorIs(t, err, scan.ErrInvalidReport)
}

// A stand-in gitleaks checks the flags it is given and answers with a
// redacted report, as gitleaks --redact does.
func TestGitleaksRunsDetectNoGitRedacted(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gitleaks")
	script := `#!/bin/sh
case " $* " in *" detect --no-git --source "*" --report-format json --report-path /dev/stdout --redact --exit-code 0 "*) ;; *) echo "unexpected flags: $*" >&2; exit 2;; esac
src=$4
printf '[{"RuleID":"aws-access-token","Description":"AWS","StartLine":2,"File":"%s/deploy/aws.yaml","Match":"aws_access_key_id: REDACTED","Secret":"REDACTED"}]' "$src" > /dev/stdout
`
	require.NoError(t, os.WriteFile(bin, []byte(script), 0o755))
	dir := t.TempDir()
	g := scan.NewGitleaks(scan.WithBinary(bin))
	assert.True(t, g.Installed())
	fs, err := g.Scan(context.Background(), scan.Target{Dir: dir})
	require.NoError(t, err)
	require.Len(t, fs, 1)
	assert.Equal(t, "deploy/aws.yaml", fs[0].Package)
	assert.Equal(t, []string{"deploy/aws.yaml:aws-access-token:2"}, fs[0].Aliases)

	// NewSecrets prefers gitleaks when it is there.
	fs, err = scan.NewSecrets(g).Scan(context.Background(), scan.Target{Dir: dir})
	require.NoError(t, err)
	assert.Len(t, fs, 1)

	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\necho 'config error: bad rule' >&2\nexit 1\n"), 0o755))
	_, err = g.Scan(context.Background(), scan.Target{Dir: dir})
	var se *scan.ScanError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "gitleaks", se.Scanner)
	assert.Contains(t, se.Stderr, "config error: bad rule")

	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\necho 'not a report'\n"), 0o755))
	_, err = g.Scan(context.Background(), scan.Target{Dir: dir})
	require.ErrorIs(t, err, scan.ErrInvalidReport)
	assert.EqualError(t, err, "gitleaks "+dir+": invalid scan report: not a JSON array of gitleaks findings",
		"the scanner is named once, and the report is not quoted")
}

func TestSecretsFallBackToBuiltinWithoutGitleaks(t *testing.T) {
	dir, _, where := secretTree(t)
	missing := scan.NewGitleaks(scan.WithBinary("flightdeck-no-gitleaks"))
	assert.False(t, missing.Installed())
	_, err := missing.Scan(context.Background(), scan.Target{Dir: dir})
	require.ErrorIs(t, err, scan.ErrNotInstalled)
	_, err = missing.Scan(context.Background(), scan.Target{})
	require.ErrorIs(t, err, scan.ErrNoTarget)

	fs, err := scan.NewSecrets(missing).Scan(context.Background(), scan.Target{Dir: dir})
	require.NoError(t, err)
	assert.Len(t, fs, len(where))
}

func TestSecretsStageTakesScannerWithOptions(t *testing.T) {
	dir, _, where := secretTree(t)
	missing := scan.NewGitleaks(scan.WithBinary("flightdeck-no-gitleaks"))
	skipped := where["github-pat"][0]
	stage := scan.NewSecretsStage(dir, scan.WithSecretScanner(scan.NewSecrets(missing, scan.WithSkip(skipped))))
	st := pipeline.NewState()
	require.NoError(t, stage.Run(context.Background(), st))
	fs, err := scan.SecretFindings.Get(st)
	require.NoError(t, err)
	require.Len(t, fs, len(where)-1, "WithSkip reached the built-in scanner")
	for _, f := range fs {
		assert.NotEqual(t, skipped, f.Package)
	}

	var got scan.Target
	own := scan.ScannerFunc(func(_ context.Context, tg scan.Target) ([]scan.Finding, error) {
		got = tg
		return []scan.Finding{{ID: "own-rule", Location: "x:1", Severity: scan.SeverityCritical}}, nil
	})
	st = pipeline.NewState()
	require.NoError(t, scan.NewSecretsStage(dir, scan.WithSecretScanner(own)).Run(context.Background(), st))
	assert.Equal(t, scan.Target{Dir: dir}, got)
	fs, err = scan.SecretFindings.Get(st)
	require.NoError(t, err)
	require.Len(t, fs, 1)
	assert.Equal(t, "own-rule", fs[0].ID)
}

func TestSecretFindingJSON(t *testing.T) {
	f := scan.Finding{Kind: scan.KindSecret, ID: "github-pat", Package: "a.env", Line: 2, Match: "ghp_****", Severity: scan.SeverityCritical}
	b, err := json.Marshal(f)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"Kind":"secret","ID":"github-pat"`)
	var back scan.Finding
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, f, back)
	vuln, err := json.Marshal(scan.Finding{ID: "GO-2026-0001"})
	require.NoError(t, err)
	assert.NotContains(t, string(vuln), "Kind", "a vulnerability's JSON is as before")
	assert.NotContains(t, string(vuln), "Line")
	assert.Error(t, json.Unmarshal([]byte(`{"Kind":"rumour"}`), &back))
}

// BenchmarkSecretScanner scans a tree of 100 source files of about 16
// KiB, with credential-like names on every line (the worst case for the
// keyword pre-filter) and one secret in all: the default rules, tried at
// their keywords, beside the same rules searched for in every whole file.
func BenchmarkSecretScanner(b *testing.B) {
	dir := b.TempDir()
	var src strings.Builder
	src.WriteString("package app\n\n")
	for i := 0; src.Len() < 16<<10; i++ {
		fmt.Fprintf(&src, "// tokenCount %d counts the keys seen so far in the cache of secrets.\nvar keyName%d = cfg.Lookup(\"api-key-%d\")\n", i, i, i)
	}
	var total int64
	for i := range 100 {
		p := filepath.Join(dir, fmt.Sprintf("pkg%d", i%10), fmt.Sprintf("file%d.go", i))
		require.NoError(b, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(b, os.WriteFile(p, []byte(src.String()), 0o644))
		total += int64(src.Len())
	}
	require.NoError(b, os.WriteFile(filepath.Join(dir, "app.env"), []byte("GITHUB_TOKEN=gh"+"p_"+"A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8\n"), 0o644))
	everywhere := scan.DefaultSecretRules()
	for i := range everywhere {
		everywhere[i].Keywords = nil
	}
	for _, bc := range []struct {
		name string
		s    *scan.SecretScanner
	}{
		{"keywords", scan.NewSecretScanner()},
		// The baseline: each pattern searched for in the whole file.
		{"searched-everywhere", scan.NewSecretScanner(scan.WithRules(everywhere...))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(total)
			for b.Loop() {
				fs, err := bc.s.Scan(context.Background(), scan.Target{Dir: dir})
				if err != nil || len(fs) != 1 {
					b.Fatalf("%d findings, %v", len(fs), err)
				}
			}
		})
	}
}
