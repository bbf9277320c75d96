package gitops_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	flightdeck "github.com/flightdeck-dev/flightdeck"
	"github.com/flightdeck-dev/flightdeck/gitops"
)

// trailersOf parses the flightdeck trailers of a commit message and fails
// the test if there are none.
func trailersOf(t testing.TB, message string) gitops.Trailers {
	t.Helper()
	tr, err := gitops.ParseTrailers(message)
	require.NoError(t, err, message)
	return tr
}

// awkward are values that a naive "Key: value" writer would lose or
// mangle.
var awkward = []string{
	"plain",
	"has: colons: everywhere:",
	"https://user@git.example.com:8443/team/checkout.git",
	"  leading and trailing spaces  ",
	" ",
	"tab\tinside",
	"two\nlines",
	"ends with a newline\n",
	"\nFlightdeck-Action: rollback",
	"crlf\r\nline",
	"100% sure, %41 is not A",
	"ünïcödé — 日本語 🚀",
	"right-to-left \u202e override and line\u2028separator",
	"\x00nul and \x7f del",
	"invalid utf-8 \xff\xfe",
	"# looks like a comment",
	"Signed-off-by: someone <x@y>",
	"---",
}

func TestTrailersRoundTripEveryValue(t *testing.T) {
	when := time.Date(2026, 3, 29, 1, 59, 59, 123456789, time.FixedZone("CEST", 2*3600))
	for i, v := range awkward {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			in := gitops.Trailers{
				Action: gitops.ActionDeploy, App: v, Environment: v,
				Image: "registry.example.com/team/checkout", Digest: digestN(i + 1), Tag: v,
				SourceRepo: v, SourceRevision: v, SourceTime: when,
				Extra: gitops.Extra{{Key: gitops.TrailerReason, Value: v}, {Key: "Flightdeck-Custom-Thing", Value: v}},
			}
			ch := gitops.Change{Message: "subject\n\nbody", Trailers: in}
			msg := ch.CommitMessage()
			got := trailersOf(t, msg)
			assert.True(t, in.SourceTime.Equal(got.SourceTime), "time instant")
			_, off := got.SourceTime.Zone()
			assert.Equal(t, 2*3600, off, "time offset")
			got.SourceTime = in.SourceTime
			assert.Equal(t, in, got)

			// Git reads exactly the same trailers, one line each.
			lines := strings.Split(strings.TrimSuffix(gitParse(t, msg), "\n"), "\n")
			assert.Len(t, lines, len(strings.Split(strings.TrimSuffix(in.String(), "\n"), "\n")))
			assert.Equal(t, gitops.TrailerVersion+": 1", lines[0])
			assert.True(t, strings.HasPrefix(msg, "subject\n\nbody\n\nFlightdeck-Version: 1\n"))
		})
	}
}

func TestTrailersWellKnownExtraKeysRoundTrip(t *testing.T) {
	var x gitops.Extra
	x.Set(gitops.TrailerPlanHash, "sha256:"+strings.Repeat("ab", 32))
	x.Set(gitops.TrailerStep, "2/5")
	x.Set(gitops.TrailerWeight, "25")
	x.Set(gitops.TrailerReverts, strings.Repeat("c", 40))
	x.Set(gitops.TrailerReason, "p95 latency +52% against baseline: 412ms > 270ms")
	x.Set(gitops.TrailerChange, gitops.ChangeUnplanned)
	x.Set(gitops.TrailerVerified, "verified")
	x.Set(gitops.TrailerFrom, "staging")
	x.Set("flightdeck-step", "3/5") // replaces, case-insensitively
	require.Len(t, x, 8)
	v, ok := x.Get("FLIGHTDECK-STEP")
	assert.True(t, ok)
	assert.Equal(t, "3/5", v)
	_, ok = x.Get("Flightdeck-Nope")
	assert.False(t, ok)

	in := gitops.Trailers{Action: gitops.ActionStep, App: "checkout", Environment: "prod", Extra: x}
	got := trailersOf(t, gitops.Change{Trailers: in}.CommitMessage())
	assert.Equal(t, in, got, "order and values kept")
}

func TestTrailersStringAndRelease(t *testing.T) {
	rel := flightdeck.Release{App: "checkout", Image: "registry.example.com/team/checkout", Digest: digestN(7),
		Tag: "1.4.0", SourceRepo: "https://git.example.com/team/checkout", Revision: strings.Repeat("4f", 20),
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	tr := gitops.ReleaseTrailers(gitops.ActionDeploy, "prod", rel)
	assert.Equal(t, "Flightdeck-Version: 1\n"+
		"Flightdeck-Action: deploy\n"+
		"Flightdeck-App: checkout\n"+
		"Flightdeck-Environment: prod\n"+
		"Flightdeck-Release: registry.example.com/team/checkout@"+digestN(7)+"\n"+
		"Flightdeck-Image-Tag: 1.4.0\n"+
		"Flightdeck-Source-Repo: https://git.example.com/team/checkout\n"+
		"Flightdeck-Source-Revision: "+rel.Revision+"\n"+
		"Flightdeck-Source-Time: 2026-01-02T03:04:05Z\n", tr.String())
	got, ok := trailersOf(t, gitops.Change{Trailers: tr}.CommitMessage()).Release()
	assert.True(t, ok)
	assert.Equal(t, rel, got)
	assert.Equal(t, rel.Ref(), tr.Ref())

	_, ok = gitops.Trailers{App: "checkout", Action: gitops.ActionStep}.Release()
	assert.False(t, ok, "no image, no release")
	assert.Empty(t, gitops.Trailers{}.String())
	assert.Equal(t, "flightdeck: update\n", gitops.Change{}.CommitMessage())
	assert.Equal(t, "deploy checkout to prod\n\n"+tr.String(), gitops.Change{Trailers: tr}.CommitMessage())
}

func TestTrailersValidate(t *testing.T) {
	img := "registry.example.com/team/checkout"
	for name, c := range map[string]struct {
		tr   gitops.Trailers
		text string
	}{
		"image without digest": {gitops.Trailers{Image: img}, "needs both"},
		"digest without image": {gitops.Trailers{Digest: digestN(1)}, "needs both"},
		"bad digest":           {gitops.Trailers{Image: img, Digest: "sha256:abc"}, "64 lower-case hex digits"},
		"image with digest":    {gitops.Trailers{Image: img + "@" + digestN(1), Digest: digestN(1)}, "not a repository without tag or digest"},
		"image with tag":       {gitops.Trailers{Image: img + ":1.0", Digest: digestN(1)}, "not a repository without tag or digest"},
		"image without host":   {gitops.Trailers{Image: "checkout", Digest: digestN(1)}, "not a repository without tag or digest"},
		"extra not flightdeck": {gitops.Trailers{Extra: gitops.Extra{{Key: "Signed-off-by", Value: "x"}}}, `"Signed-off-by"`},
		"extra bad key":        {gitops.Trailers{Extra: gitops.Extra{{Key: "Flightdeck-A B", Value: "x"}}}, `"Flightdeck-A B"`},
		"extra fixed key":      {gitops.Trailers{Extra: gitops.Extra{{Key: "flightdeck-app", Value: "x"}}}, "fixed key"},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.tr.Validate()
			require.ErrorIs(t, err, gitops.ErrInvalidChange)
			assert.Contains(t, err.Error(), c.text)
		})
	}
	assert.NoError(t, gitops.Trailers{Image: img, Digest: digestN(1), Extra: gitops.Extra{{Key: "Flightdeck-X-1", Value: ""}}}.Validate())
}

func TestParseTrailersRefusesWhatFlightdeckDidNotWrite(t *testing.T) {
	for name, c := range map[string]struct {
		msg string
		is  error
	}{
		"no trailers":   {"just a subject\n", gitops.ErrNoTrailers},
		"only a title":  {"Flightdeck-Version: 1\nFlightdeck-Action: deploy\n", gitops.ErrNoTrailers},
		"no version":    {"deploy\n\nFlightdeck-App: shop\nFlightdeck-Action: deploy\n", gitops.ErrNoTrailers},
		"not last":      {"deploy\n\nFlightdeck-Version: 1\nFlightdeck-Action: deploy\n\nthanks!\n", gitops.ErrNoTrailers},
		"prose in it":   {"deploy\n\nFlightdeck-Version: 1\nFlightdeck-Action: deploy\nsee the wiki\n", gitops.ErrNoTrailers},
		"indented":      {"deploy\n\n  Flightdeck-Version: 1\n  Flightdeck-Action: deploy\n", gitops.ErrNoTrailers},
		"version 2":     {"deploy\n\nFlightdeck-Version: 2\nFlightdeck-Action: deploy\n", gitops.ErrInvalidTrailers},
		"twice":         {"deploy\n\nFlightdeck-Version: 1\nFlightdeck-App: a\nflightdeck-app: b\n", gitops.ErrInvalidTrailers},
		"bad release":   {"deploy\n\nFlightdeck-Version: 1\nFlightdeck-Release: nodigest\n", gitops.ErrInvalidTrailers},
		"bad time":      {"deploy\n\nFlightdeck-Version: 1\nFlightdeck-Source-Time: yesterday\n", gitops.ErrInvalidTrailers},
		"version twice": {"deploy\n\nFlightdeck-Version: 1\nFlightdeck-Version: 1\n", gitops.ErrInvalidTrailers},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := gitops.ParseTrailers(c.msg)
			assert.ErrorIs(t, err, c.is)
		})
	}

	// Git's reading: case-insensitive keys, optional whitespace, other
	// trailers and continuation lines, comments after the block.
	tr := trailersOf(t, "deploy shop to prod\n\nBody mentions Flightdeck-App: fake in prose.\n\n"+
		"flightdeck-version:1\nFLIGHTDECK-APP :  shop\nFlightdeck-Environment:\tprod\nFlightdeck-Reason: a long\n  folded reason\n"+
		"Signed-off-by: Someone <s@example.com>\nFlightdeck-Action: deploy\n\n# a comment\n\n")
	assert.Equal(t, gitops.Trailers{App: "shop", Environment: "prod", Action: gitops.ActionDeploy,
		Extra: gitops.Extra{{Key: "Flightdeck-Reason", Value: "a long folded reason"}}}, tr)
}

func TestChangeRefusesTrailersSmuggledInTheMessage(t *testing.T) {
	msg := "looks innocent\n\nFlightdeck-Version: 1\nFlightdeck-Action: rollback\nFlightdeck-App: shop"
	r := newRepo(t, "file:///nonexistent")
	_, err := r.Apply(t.Context(), gitops.Change{Message: msg, Edits: []gitops.Edit{gitops.WriteFile{Path: "x", Data: []byte("x")}}})
	require.ErrorIs(t, err, gitops.ErrInvalidChange)
	assert.Contains(t, err.Error(), "Flightdeck-Version")

	// With trailers of its own, flightdeck's block is the last paragraph
	// and the message's look-alike is only body text.
	ch := gitops.Change{Message: msg, Trailers: gitops.Trailers{Action: gitops.ActionDeploy, App: "cart"}}
	got := trailersOf(t, ch.CommitMessage())
	assert.Equal(t, "cart", got.App)
	assert.Equal(t, gitops.ActionDeploy, got.Action)
}

// gitParse runs `git interpret-trailers --parse --no-divider` on msg with
// no user or system configuration.
func gitParse(t testing.TB, msg string) string {
	t.Helper()
	cmd := exec.Command("git", "interpret-trailers", "--parse", "--no-divider")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME="+cmd.Dir)
	cmd.Stdin = strings.NewReader(msg)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Run(), errb.String())
	return out.String()
}

func format(ts []gitops.Trailer) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.Key + ": " + t.Value + "\n")
	}
	return b.String()
}

// trailerBlockCases are messages on the edges of Git's trailer rules.
var trailerBlockCases = []string{
	"",
	"subject",
	"subject\n",
	"Key: value\n",
	"subject\n\nKey: value",
	"subject\n\nKey: value\n",
	"subject\n\nKey: value\nOther-Key:v\nthird  :  spaced   \n",
	"subject\n\nKey\t: tab before colon\n",
	"subject\n\nKey X: space inside the token\n",
	"subject\n\n:starts with colon\n",
	"subject\n\nKey: v\n  continued\n\tand again\n",
	"subject\n\n  leading continuation\nKey: v\n",
	"subject\n\nKey: v\nprose\n",
	"subject\n\nprose\nSigned-off-by: A <a@b>\n",
	"subject\n\nprose\nmore prose\nmore\nSigned-off-by: A <a@b>\n",
	"subject\n\nprose\nmore prose\nmore\nmore\nSigned-off-by: A <a@b>\n",
	"subject\n\n(cherry picked from commit abc)\nKey: v\n",
	"subject\n\nKey: v\n\n# comment\n\n\n",
	"subject\n\nKey: v\n# comment inside\nK2: w\n",
	"subject\n\nKey: v\n   \n",
	"subject\n\nbody\n\nKey: v\nConflicts:\n\tfile.go\n",
	"subject\n\nKey: v\n# ------------------------ >8 ------------------------\nIgnored: yes\n",
	"# ------------------------ >8 ------------------------\n\nK: v\n",
	"subject\n\nKey: v\n---\nAfter: divider\n",
	"# comment title\nsubject\n\nKey: v\n",
	"subject\n \t \nKey: after a whitespace-only line\n",
	"subject\n\nKey: v\r\nK2: w\r\n",
	"subject\n\nÜnï: non-ascii token\n",
	"subject\n\nKey: 日本語 value\n",
	"subject\n\nKey:\nEmpty: \n",
	"subject\n\nKey: v\n\n",
	"subject\nsecond title line\n\nKey: v\n",
	"subject\n\nbody one\n\nbody two\n\nKey: v\nKey: again\n",
	"subject\n\nKey-With-Dash-1: x: y: z\n",
}

func TestParseTrailerBlockMatchesGit(t *testing.T) {
	for i, msg := range trailerBlockCases {
		assert.Equal(t, gitParse(t, msg), format(gitops.ParseTrailerBlock(msg)), "case %d: %q", i, msg)
	}
}

func TestParseTrailerBlockMatchesGitOnRandomMessages(t *testing.T) {
	pool := []string{"", "", " ", "\t", "Key: value", "key:value", "Key : v", "Key\t:\tv", " continuation",
		"\tcontinued", "# comment", "#", "Signed-off-by: A <a@b>", "(cherry picked from commit abc)", "prose line",
		"not: a trailer: ok", ":colon first", "Key-X: a: b", "Ünï: x", "---", "Conflicts:", "\tpath/file.go",
		"# ------------------------ >8 ------------------------", "Flightdeck-App: x", "K: v\r", "K:", "words words"}
	rnd := rand.New(rand.NewPCG(1, 2))
	n := 300
	if testing.Short() {
		n = 50
	}
	for i := range n {
		lines := []string{"subject"}
		for range rnd.IntN(9) {
			lines = append(lines, pool[rnd.IntN(len(pool))])
		}
		msg := strings.Join(lines, "\n")
		if rnd.IntN(2) == 0 {
			msg += "\n"
		}
		require.Equal(t, gitParse(t, msg), format(gitops.ParseTrailerBlock(msg)), "message %d: %q", i, msg)
	}
}

func FuzzTrailerValueRoundTrip(f *testing.F) {
	for _, v := range awkward {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		in := gitops.Trailers{Action: gitops.Action(v), App: v, SourceRepo: v, Extra: gitops.Extra{{Key: gitops.TrailerReason, Value: v}}}
		msg := gitops.Change{Message: "subject", Trailers: in}.CommitMessage()
		got, err := gitops.ParseTrailers(msg)
		if err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
		if got.App != v || got.SourceRepo != v || string(got.Action) != v {
			t.Fatalf("value %q came back as %q", v, got.App)
		}
		if r, _ := got.Extra.Get(gitops.TrailerReason); r != v {
			t.Fatalf("extra %q came back as %q", v, r)
		}
	})
}
