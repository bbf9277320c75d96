package promote

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"path"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// SSHNamespace is the namespace of the SSH signatures of approvals: an
// approval is signed with `ssh-keygen -Y sign -n flightdeck-approval`.
// A signature made for another namespace (a Git commit's, "git") never
// passes for an approval.
const SSHNamespace = "flightdeck-approval"

const (
	sshsigMagic   = "SSHSIG"
	sshsigVersion = 1
	sshsigPEM     = "SSH SIGNATURE"
)

// SignSSH signs data as `ssh-keygen -Y sign -n namespace` does and returns
// the armored signature ("-----BEGIN SSH SIGNATURE-----"). The message is
// hashed with SHA-512; RSA keys sign with rsa-sha2-512.
func SignSSH(signer ssh.Signer, namespace string, data []byte) ([]byte, error) {
	h := sha512.Sum512(data)
	signed := sshsigSignedData(namespace, "sha512", h[:])
	var sig *ssh.Signature
	var err error
	if as, ok := signer.(ssh.AlgorithmSigner); ok && signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		sig, err = as.SignWithAlgorithm(rand.Reader, signed, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = signer.Sign(rand.Reader, signed)
	}
	if err != nil {
		return nil, fmt.Errorf("ssh signature: %w", err)
	}
	blob := []byte(sshsigMagic)
	blob = append(blob, ssh.Marshal(struct {
		Version   uint32
		PublicKey []byte
		Namespace string
		Reserved  string
		HashAlg   string
		Signature []byte
	}{sshsigVersion, signer.PublicKey().Marshal(), namespace, "", "sha512", ssh.Marshal(sig)})...)
	return pem.EncodeToMemory(&pem.Block{Type: sshsigPEM, Bytes: blob}), nil
}

func sshsigSignedData(namespace, hashAlg string, digest []byte) []byte {
	b := []byte(sshsigMagic)
	return append(b, ssh.Marshal(struct {
		Namespace string
		Reserved  string
		HashAlg   string
		Hash      []byte
	}{namespace, "", hashAlg, digest})...)
}

// parseSSHSig decodes an armored SSH signature and checks it over data in
// namespace; it returns the key that made it.
func parseSSHSig(armored, data []byte, namespace string) (ssh.PublicKey, error) {
	blk, _ := pem.Decode(bytes.TrimSpace(armored))
	if blk == nil || blk.Type != sshsigPEM {
		return nil, errors.New("not an armored SSH signature (want -----BEGIN SSH SIGNATURE-----)")
	}
	b := blk.Bytes
	if !bytes.HasPrefix(b, []byte(sshsigMagic)) {
		return nil, errors.New("SSH signature lacks the SSHSIG magic")
	}
	var s struct {
		Version   uint32
		PublicKey []byte
		Namespace string
		Reserved  string
		HashAlg   string
		Signature []byte
	}
	if err := ssh.Unmarshal(b[len(sshsigMagic):], &s); err != nil {
		return nil, fmt.Errorf("SSH signature does not parse: %v", err)
	}
	if s.Version != sshsigVersion {
		return nil, fmt.Errorf("SSH signature version %d is not supported", s.Version)
	}
	if s.Namespace != namespace {
		return nil, fmt.Errorf("SSH signature is for namespace %q, not %q", s.Namespace, namespace)
	}
	var h hash.Hash
	switch s.HashAlg {
	case "sha512":
		h = sha512.New()
	case "sha256":
		h = sha256.New()
	default:
		return nil, fmt.Errorf("SSH signature hash algorithm %q is not supported", s.HashAlg)
	}
	h.Write(data)
	pub, err := ssh.ParsePublicKey(s.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("SSH signature public key: %v", err)
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(s.Signature, &sig); err != nil {
		return nil, fmt.Errorf("SSH signature blob: %v", err)
	}
	if pub.Type() == ssh.KeyAlgoRSA && sig.Format == ssh.KeyAlgoRSA {
		return nil, errors.New("SSH signature uses ssh-rsa (SHA-1), which ssh-keygen refuses")
	}
	if err := pub.Verify(sshsigSignedData(s.Namespace, s.HashAlg, h.Sum(nil)), &sig); err != nil {
		return nil, fmt.Errorf("SSH signature does not verify: %v", err)
	}
	return pub, nil
}

// AllowedSigner is one line of an allowed-signers file.
type AllowedSigner struct {
	// Principals are the identities (patterns with * and ?) the key may
	// sign as.
	Principals []string
	// Namespaces, when set, are the namespaces the key may sign in.
	Namespaces []string
	// ValidAfter and ValidBefore bound when the key is valid; zero means
	// unbounded.
	ValidAfter, ValidBefore time.Time
	// Key is the public key.
	Key ssh.PublicKey
}

// AllowedSigners is a parsed allowed-signers file, the format of Git's
// gpg.ssh.allowedSignersFile and of `ssh-keygen -Y verify -f`.
type AllowedSigners []AllowedSigner

// ParseAllowedSigners parses an allowed-signers file: one entry a line,
// "principals [options] keytype base64-key [comment]", with blank lines
// and '#' comments ignored. Principals are comma-separated patterns;
// options are namespaces="a,b", valid-after and valid-before
// (YYYYMMDD[HHMM[SS]][Z]), and cert-authority, which is refused: only
// plain keys are supported. Errors wrap [ErrInvalidSigners] and name the
// line.
func ParseAllowedSigners(data []byte) (AllowedSigners, error) {
	var out AllowedSigners
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSignerLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrInvalidSigners, n, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidSigners, err)
	}
	return out, nil
}

// nextField splits off the first field of s, honouring double quotes.
func nextField(s string) (string, string) {
	s = strings.TrimLeft(s, " \t")
	inq := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			inq = !inq
		case ' ', '\t':
			if !inq {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

func parseSignerLine(line string) (AllowedSigner, error) {
	var s AllowedSigner
	princ, rest := nextField(line)
	for _, p := range strings.Split(strings.Trim(princ, `"`), ",") {
		if p = strings.TrimSpace(p); p != "" {
			s.Principals = append(s.Principals, p)
		}
	}
	if len(s.Principals) == 0 {
		return s, errors.New("no principals")
	}
	f, rest2 := nextField(rest)
	if f != "" && !isKeyType(f) {
		// f is the options.
		for _, opt := range strings.Split(f, ",") {
			k, v, _ := strings.Cut(opt, "=")
			v = strings.Trim(v, `"`)
			switch strings.ToLower(k) {
			case "namespaces":
				s.Namespaces = strings.Split(v, ",")
			case "valid-after", "valid-before":
				t, err := parseSSHTime(v)
				if err != nil {
					return s, fmt.Errorf("%s: %v", k, err)
				}
				if strings.EqualFold(k, "valid-after") {
					s.ValidAfter = t
				} else {
					s.ValidBefore = t
				}
			case "cert-authority":
				return s, errors.New("cert-authority entries are not supported")
			default:
				return s, fmt.Errorf("unknown option %q", k)
			}
		}
		rest = rest2
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(rest)))
	if err != nil {
		return s, fmt.Errorf("key: %v", err)
	}
	s.Key = key
	return s, nil
}

func parseSSHTime(v string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		v, loc = v[:len(v)-1], time.UTC
	}
	for _, layout := range []string{"20060102150405", "200601021504", "20060102"} {
		if len(v) == len(layout) {
			return time.ParseInLocation(layout, v, loc)
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want YYYYMMDD[HHMM[SS]][Z]", v)
}

// matches reports whether the entry lets key sign as principal in
// namespace at t.
func (s AllowedSigner) matches(principal, namespace string, key ssh.PublicKey, t time.Time) bool {
	if !bytes.Equal(s.Key.Marshal(), key.Marshal()) {
		return false
	}
	if len(s.Namespaces) > 0 && !matchAny(s.Namespaces, namespace) {
		return false
	}
	if !s.ValidAfter.IsZero() && t.Before(s.ValidAfter) || !s.ValidBefore.IsZero() && !t.Before(s.ValidBefore) {
		return false
	}
	return matchAny(s.Principals, principal)
}

func matchAny(patterns []string, s string) bool {
	neg := false
	ok := false
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		n := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		if m, _ := path.Match(p, s); m || p == s {
			if n {
				neg = true
			}
			ok = true
		}
	}
	return ok && !neg
}

// SSHVerifier verifies approvals signed with SSH keys (see [SignSSH] and
// `ssh-keygen -Y sign -n flightdeck-approval`) against an allowed-signers
// file, as `ssh-keygen -Y verify -f allowed_signers -I <approver> -n
// flightdeck-approval` does: the signature must verify, be made in
// [SSHNamespace], and by a key the file lets sign as the approver at the
// approval's time.
type SSHVerifier struct {
	Signers AllowedSigners
}

var _ Verifier = SSHVerifier{}

// Verify implements [Verifier].
func (v SSHVerifier) Verify(a Approval, data, sig []byte) error {
	if len(sig) == 0 {
		return fmt.Errorf("%w: approval by %s is not signed", ErrUnverified, a.Approver)
	}
	if !bytes.Contains(sig, []byte("BEGIN "+sshsigPEM)) {
		return fmt.Errorf("%w: approval by %s: signature is not an SSH signature", ErrUnverified, a.Approver)
	}
	key, err := parseSSHSig(sig, data, SSHNamespace)
	if err != nil {
		return fmt.Errorf("%w: approval by %s: %v", ErrUnverified, a.Approver, err)
	}
	for _, s := range v.Signers {
		if s.matches(a.Approver, SSHNamespace, key, a.Time) {
			return nil
		}
	}
	return fmt.Errorf("%w: approval by %s: key %s is not allowed to sign as %s", ErrUnverified, a.Approver, ssh.FingerprintSHA256(key), a.Approver)
}

func isKeyType(f string) bool {
	for _, p := range []string{"ssh-", "ecdsa-", "sk-"} {
		if strings.HasPrefix(f, p) {
			return true
		}
	}
	return false
}
