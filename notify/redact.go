package notify

import (
	"errors"
	"net/url"
	"slices"
	"strings"
)

// redacted replaces every secret in text the package produces.
const redacted = "REDACTED"

// redactor removes known secrets from text. It is built once per notifier
// and read-only afterwards.
type redactor struct{ secrets []string }

// add registers secrets; values shorter than 4 bytes are left out, since
// replacing them would garble text without hiding anything.
func (r *redactor) add(secrets ...string) {
	for _, s := range secrets {
		if len(s) >= 4 && !slices.Contains(r.secrets, s) {
			r.secrets = append(r.secrets, s)
		}
	}
	// Longest first, so a secret that contains another goes whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
}

// addURL registers the parts of u that may carry credentials: the
// password of its user info, its query values, and its whole path and
// every path segment when pathIsSecret (a Slack-style webhook URL).
func (r *redactor) addURL(u *url.URL, pathIsSecret bool) {
	r.add(u.String())
	if p, ok := u.User.Password(); ok {
		r.add(p)
	}
	if u.User != nil {
		r.add(u.User.Username())
	}
	for _, vs := range u.Query() {
		r.add(vs...)
	}
	r.add(u.RawQuery)
	if pathIsSecret {
		r.add(u.EscapedPath(), u.Path)
		for seg := range strings.SplitSeq(strings.Trim(u.Path, "/"), "/") {
			r.add(seg)
		}
	}
}

// string returns s with every secret replaced.
func (r *redactor) string(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}

// err returns err if its text carries no secret, else an error with the
// redacted text that still matches the sentinels and context errors err
// matched.
func (r *redactor) err(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := r.string(msg)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

// redactedError keeps errors.Is working on a redacted error without
// exposing the original through Unwrap.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string        { return e.msg }
func (e *redactedError) Is(target error) bool { return errors.Is(e.err, target) }

// displayURL returns u without user info and query values, and with its
// path replaced when pathIsSecret.
func displayURL(u *url.URL, pathIsSecret bool) string {
	d := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	if pathIsSecret && strings.Trim(u.Path, "/") != "" {
		d.Path = "/" + redacted
	}
	s := d.String()
	if u.RawQuery != "" {
		s += "?" + redacted
	}
	return s
}
