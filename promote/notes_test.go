package promote_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/promote"
)

// sourceRepo is a git repository driven by the git CLI, so the range
// GitNotes lists can be compared with git's own.
type sourceRepo struct {
	t   *testing.T
	dir string
	n   int
}

func newSourceRepo(t *testing.T) *sourceRepo {
	s := &sourceRepo{t: t, dir: t.TempDir()}
	s.git("init", "-q", "-b", "main")
	return s
}

func (s *sourceRepo) git(args ...string) string {
	s.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = s.dir
	s.n++
	date := fmt.Sprintf("2026-01-01T%02d:%02d:%02dZ", s.n/3600%24, s.n/60%60, s.n%60)
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date,
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	require.NoError(s.t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// commit makes a commit by author and returns its hash.
func (s *sourceRepo) commit(author, subject string) string {
	s.t.Helper()
	require.NoError(s.t, os.WriteFile(filepath.Join(s.dir, "f"), []byte(subject), 0o644))
	s.git("add", "f")
	s.git("-c", "user.name="+author, "-c", "user.email="+strings.ToLower(author)+"@example.com", "commit", "-q", "-m", subject)
	return s.git("rev-parse", "HEAD")
}

func (s *sourceRepo) merge(branch string) string {
	s.t.Helper()
	s.git("-c", "user.name=Merger", "-c", "user.email=merger@example.com", "merge", "-q", "--no-ff", "-X", "theirs", "-m", "merge "+branch, branch)
	return s.git("rev-parse", "HEAD")
}

func TestGitNotesListsMergedBranchesAsGitLogDoes(t *testing.T) {
	ctx := context.Background()
	s := newSourceRepo(t)
	s.commit("Alice", "first")
	old := s.commit("Alice", "the release in prod")
	s.git("checkout", "-q", "-b", "feature")
	s.commit("Mal", "feature work")
	s.commit("Mal", "more feature work")
	s.git("checkout", "-q", "main")
	s.commit("Bob", "fix on main")
	s.merge("feature")
	// A branch forked before the old release and merged after it: its
	// commits before the fork are in both, the rest only in the new one.
	s.git("checkout", "-q", "-b", "late", old+"~1")
	s.commit("Carol", "old branch work")
	s.git("checkout", "-q", "main")
	s.merge("late")
	head := s.commit("Bob", "the new release")

	got, err := promote.GitNotes{}.Commits(ctx, s.dir, old, head)
	require.NoError(t, err)
	want := strings.Fields(s.git("log", "--format=%H", old+".."+head))
	var hashes, authors []string
	for _, c := range got {
		hashes = append(hashes, c.Hash)
		authors = append(authors, c.Author)
	}
	assert.ElementsMatch(t, want, hashes, "the commits of git log old..head")
	assert.Contains(t, authors, "Mal <mal@example.com>", "a merged branch's author is an author of the change")
	assert.Contains(t, authors, "Carol <carol@example.com>")
	assert.Equal(t, head, got[0].Hash, "newest first")

	none, err := promote.GitNotes{}.Commits(ctx, s.dir, head, head)
	require.NoError(t, err)
	assert.Empty(t, none, "a release promoted over itself has no new commits")

	_, err = promote.GitNotes{Limit: 3}.Commits(ctx, s.dir, old, head)
	assert.ErrorIs(t, err, promote.ErrTooManyCommits, "a long range is refused, never cut short")

	_, err = promote.GitNotes{}.Commits(ctx, s.dir, strings.Repeat("ab", 20), head)
	require.Error(t, err, "an unknown current revision gives no range")
	assert.Contains(t, err.Error(), "the current release's revision abab")
}

func TestGitNotesErrorsCarryNoCredentials(t *testing.T) {
	_, err := promote.GitNotes{}.Commits(context.Background(), "http://flightdeck:s3cr3t-token@127.0.0.1:1/source.git", "", "main")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cr3t-token")
	assert.Contains(t, err.Error(), "127.0.0.1:1/source.git")
}
