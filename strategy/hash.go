package strategy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// CanonicalJSON returns the plan's canonical encoding: JSON with object
// keys sorted, no insignificant whitespace, no HTML escaping, numbers as
// encoded, and an empty step list as []. Two plans with the same content
// have the same canonical JSON, whatever the order of the fields they
// were decoded from.
func (p Plan) CanonicalJSON() ([]byte, error) {
	if p.Steps == nil {
		p.Steps = []Step{}
	}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding plan: %w", err)
	}
	return canonicalJSON(raw)
}

// Hash returns the hex SHA-256 of the plan's canonical JSON. It names the
// plan in commit trailers and approvals: any change to what would run
// changes it.
func (p Plan) Hash() (string, error) {
	b, err := p.CanonicalJSON()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// canonicalJSON re-encodes JSON with sorted keys: decoding into generic
// maps (numbers kept as written) and encoding again, since encoding/json
// writes map keys in sorted order.
func canonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("canonicalising plan: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("canonicalising plan: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
