package promotetest

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/flightdeck-dev/flightdeck/promote"
)

// SSHKey is an approver's SSH key made in process: what `ssh-keygen -t
// ed25519` and `ssh-keygen -Y sign -n flightdeck-approval` give a person,
// for tests and examples of an Approvals policy with a
// [promote.SSHVerifier].
type SSHKey struct {
	// Principal is the approver's identity, as the allowed-signers file
	// names it (an email address).
	Principal string
	// Signer signs with the private key.
	Signer ssh.Signer
}

// NewSSHKey returns a new ed25519 key of principal.
func NewSSHKey(principal string) (SSHKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SSHKey{}, fmt.Errorf("ssh key of %s: %w", principal, err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return SSHKey{}, fmt.Errorf("ssh key of %s: %w", principal, err)
	}
	return SSHKey{Principal: principal, Signer: s}, nil
}

// AllowedSigner returns the key's line of an allowed-signers file
// ("<principal> ssh-ed25519 AAAA…"), as [promote.ParseAllowedSigners]
// reads it.
func (k SSHKey) AllowedSigner() string {
	return k.Principal + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.Signer.PublicKey())))
}

// Sign returns a's canonical JSON signed with the key in the
// [promote.SSHNamespace], the signature [promote.Promoter.Approve] takes.
func (k SSHKey) Sign(a promote.Approval) ([]byte, error) {
	data, err := a.Marshal()
	if err != nil {
		return nil, err
	}
	return promote.SignSSH(k.Signer, promote.SSHNamespace, data)
}

// AllowedSigners parses the allowed-signers lines of keys.
func AllowedSigners(keys ...SSHKey) (promote.AllowedSigners, error) {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k.AllowedSigner() + "\n")
	}
	return promote.ParseAllowedSigners([]byte(b.String()))
}
