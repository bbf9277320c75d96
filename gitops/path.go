package gitops

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file decides which paths a [Tree] accepts. The rules follow what
// Git itself refuses in a tree or on checkout (read-cache.c verify_path,
// fsck's tree checks, and the core.protectHFS / core.protectNTFS
// aliases), so that a commit flightdeck writes is accepted by a remote
// that runs fsck on push and is safe to check out on Linux, macOS and
// Windows alike.

// cleanPath validates the slash-separated path p and returns it
// unchanged, or "" for the root ("."). It refuses with [ErrPathEscape] a
// path that is absolute, uses a backslash or a drive letter, has a ".."
// component, or has a component that is ".git" or that macOS (HFS+) or
// Windows (NTFS) would read as ".git"; and with [ErrInvalidPath] a path
// that is empty, has a NUL byte or another control character, an empty
// component ("a//b"), a "." component, or a trailing slash.
func cleanPath(p string) (string, error) {
	switch {
	case p == "":
		return "", fmt.Errorf("%w: empty path", ErrInvalidPath)
	case p == ".":
		return "", nil
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == 0:
			return "", fmt.Errorf("%w: NUL byte at offset %d", ErrInvalidPath, i)
		case c < 0x20 || c == 0x7f:
			return "", fmt.Errorf("%w: control character %q at offset %d", ErrInvalidPath, c, i)
		case c == '\\':
			return "", fmt.Errorf("%w: backslash (a separator on Windows)", ErrPathEscape)
		}
	}
	switch {
	case p[0] == '/':
		return "", fmt.Errorf("%w: absolute path", ErrPathEscape)
	case len(p) > 1 && p[1] == ':' && isASCIILetter(p[0]):
		return "", fmt.Errorf("%w: drive letter", ErrPathEscape)
	case p[len(p)-1] == '/':
		return "", fmt.Errorf("%w: trailing slash", ErrInvalidPath)
	}
	for part := range strings.SplitSeq(p, "/") {
		if err := checkComponent(part); err != nil {
			return "", err
		}
	}
	return p, nil
}

// checkComponent applies the per-name rules of [cleanPath].
func checkComponent(part string) error {
	switch {
	case part == "":
		return fmt.Errorf("%w: empty path component", ErrInvalidPath)
	case part == ".":
		return fmt.Errorf("%w: %q component", ErrInvalidPath, part)
	case part == "..":
		return fmt.Errorf("%w: climbs with \"..\"", ErrPathEscape)
	case strings.EqualFold(part, ".git"):
		return fmt.Errorf("%w: names a .git directory", ErrPathEscape)
	case isNTFSDotName(part, "git", "git~1") || isHFSDotName(part, "git"):
		return fmt.Errorf("%w: %q is read as .git on Windows or macOS", ErrPathEscape, part)
	}
	return nil
}

// checkWritable refuses, with [ErrInvalidPath], creating anything whose
// path has a component that is ".gitmodules" or an HFS+/NTFS alias of it,
// and creating a directory named like ".gitattributes". Git's fsck
// rejects a .gitmodules that is not a regular file (and checks the
// content of one that is, which flightdeck does not attempt), so
// flightdeck never writes submodule configuration; a .gitattributes
// directory is likewise an fsck error. p is a clean path from
// [cleanPath]; dir says whether its last component becomes a directory.
func checkWritable(p string, dir bool) error {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if isDotName(part, "gitmodules", "gi7eba") {
			return fmt.Errorf("%w: %q is .gitmodules (submodule configuration), which flightdeck does not write", ErrInvalidPath, part)
		}
		if (i < len(parts)-1 || dir) && isDotName(part, "gitattributes", "gi7d29") {
			return fmt.Errorf("%w: %q would be a .gitattributes directory", ErrInvalidPath, part)
		}
	}
	return nil
}

// isDotName reports whether part is ".<name>" itself (in any case) or
// a name that NTFS or HFS+ resolves to it. short is the prefix of the
// NTFS 8.3 name Git computes for names with a hash fall-back.
func isDotName(part, name, short string) bool {
	return strings.EqualFold(part, "."+name) || isNTFSDotName(part, name, short) || isHFSDotName(part, name)
}

func isASCIILetter(c byte) bool { return lowerASCII(c) >= 'a' && lowerASCII(c) <= 'z' }

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hfsIgnorable reports whether HFS+ drops r when it compares names:
// the zero-width and directional formatting code points (Git's
// next_hfs_char list).
func hfsIgnorable(r rune) bool {
	switch {
	case r >= 0x200c && r <= 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x206a && r <= 0x206f, r == 0xfeff:
		return true
	}
	return false
}

// isHFSDotName reports whether part reads as "."+name (name in lower
// case ASCII) on HFS+: ASCII case folded and ignorable code points
// dropped anywhere.
func isHFSDotName(part, name string) bool {
	want := "." + name
	i := 0
	for _, r := range part {
		if hfsIgnorable(r) {
			continue
		}
		if r >= utf8.RuneSelf || i >= len(want) || lowerASCII(byte(r)) != want[i] {
			return false
		}
		i++
	}
	return i == len(want)
}

// isNTFSDotName reports whether part reads as "."+name on NTFS: the name
// itself or one of its 8.3 short names, in any case, followed only by
// spaces and dots (which Windows strips) and optionally by an
// alternate data stream (":stream"). short is either a complete short
// name ("git~1") or the six-letter prefix Git uses for the hashed short
// names of longer dot files ("gi7eba" for .gitmodules).
func isNTFSDotName(part, name, short string) bool {
	lower := strings.ToLower(part)
	var rest string
	switch {
	case strings.HasPrefix(lower, "."+name):
		rest = lower[1+len(name):]
	case strings.Contains(short, "~"):
		if !strings.HasPrefix(lower, short) {
			return false
		}
		rest = lower[len(short):]
	case len(name) >= 6 && len(lower) >= 8 && lower[:6] == name[:6] && lower[6] == '~' && lower[7] >= '1' && lower[7] <= '4':
		// The short names Windows gives the first four files with this
		// prefix: "gitmod~1" … "gitmod~4".
		rest = lower[8:]
	default:
		var ok bool
		if rest, ok = hashedShortName(lower, short); !ok {
			return false
		}
	}
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case ':':
			return true
		case ' ', '.':
		default:
			return false
		}
	}
	return true
}

// hashedShortName matches the short names Windows falls back to after
// the fourth collision: at most six characters of the hash prefix, a
// tilde, a digit 1-9 and more digits, eight characters in all. Like Git's
// is_ntfs_dot_generic it accepts a prefix of any length from none to
// six. It returns what follows those eight characters.
func hashedShortName(lower, prefix string) (string, bool) {
	if len(prefix) != 6 || len(lower) < 8 {
		return "", false
	}
	tilde := strings.IndexByte(lower[:8], '~')
	if tilde < 0 || tilde > 6 || lower[:tilde] != prefix[:tilde] {
		return "", false
	}
	if lower[tilde+1] < '1' || lower[tilde+1] > '9' {
		return "", false
	}
	for _, c := range []byte(lower[tilde+2 : 8]) {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return lower[8:], true
}
