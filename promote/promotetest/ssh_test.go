package promotetest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/promote"
	"github.com/flightdeck-dev/flightdeck/promote/promotetest"
)

func TestSSHKeySignsWhatTheVerifierAccepts(t *testing.T) {
	alice, err := promotetest.NewSSHKey("alice@example.com")
	require.NoError(t, err)
	mallory, err := promotetest.NewSSHKey("alice@example.com")
	require.NoError(t, err)
	assert.Regexp(t, `^alice@example\.com ssh-ed25519 AAAA\S+$`, alice.AllowedSigner())
	signers, err := promotetest.AllowedSigners(alice)
	require.NoError(t, err)
	v := promote.SSHVerifier{Signers: signers}

	a := promote.Approval{App: "shop", Environment: "prod", PlanHash: "sha256:" + strings.Repeat("ab", 32),
		Approver: "alice@example.com", Decision: promote.Approve, Time: time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)}
	data, err := a.Marshal()
	require.NoError(t, err)
	sig, err := alice.Sign(a)
	require.NoError(t, err)
	assert.NoError(t, v.Verify(a, data, sig))
	forged, err := mallory.Sign(a)
	require.NoError(t, err)
	assert.Error(t, v.Verify(a, data, forged), "another key of the same name is not alice's")
}
