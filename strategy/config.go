package strategy

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ParseStrategy decodes a strategy specification from JSON, as a
// configuration file holds it ({"canary": {...}}, {"blueGreen": {...}} or
// {"rolling": {...}}, with Argo Rollouts' field names), refusing unknown
// fields, and validates it. It returns an error wrapping
// [ErrInvalidStrategy] for a specification that decodes but breaks a
// rule.
func ParseStrategy(data []byte) (Strategy, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Strategy
	if err := dec.Decode(&s); err != nil {
		return Strategy{}, fmt.Errorf("decoding strategy: %w", err)
	}
	if dec.More() {
		return Strategy{}, fmt.Errorf("decoding strategy: data after the strategy")
	}
	if err := s.Validate(); err != nil {
		return Strategy{}, fmt.Errorf("strategy: %w", err)
	}
	return s, nil
}
