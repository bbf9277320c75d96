package gates

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// ErrInvalidQuantity is wrapped by [ParseQuantity]'s errors, and by the
// pre-deploy gates' when a manifest holds a quantity that does not parse.
var ErrInvalidQuantity = errors.New("invalid quantity")

// Quantity is an exact Kubernetes resource quantity ("500m", "1.5",
// "512Mi", "2G", "1e3"), read as the API server reads one: with a
// precision of 10⁻⁹, smaller fractions rounded up (so "0.1n" is "1n").
// Sums and comparisons are exact at any size. The zero value is 0.
type Quantity struct {
	nanos  *big.Int // nil means 0
	binary bool     // written with a binary suffix (Ki, Mi, …)
}

var (
	bigNano = big.NewInt(1_000_000_000)
	big1024 = big.NewInt(1024)
	big1000 = big.NewInt(1000)
)

// decimalSuffixes maps the decimal SI suffixes to their power of ten.
var decimalSuffixes = map[string]int{"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

// binarySuffixes maps the binary suffixes to their power of two.
var binarySuffixes = map[string]uint{"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}

// ParseQuantity parses s in the Kubernetes quantity syntax: an optional
// sign, a decimal number (digits with at most one point, at least one
// digit), and a suffix: none, a decimal SI suffix (n u m k M G T P E), a
// binary one (Ki Mi Gi Ti Pi Ei), or a decimal exponent (e3, E-2). Errors
// wrap [ErrInvalidQuantity] and quote s.
func ParseQuantity(s string) (Quantity, error) {
	bad := func(why string) (Quantity, error) {
		return Quantity{}, fmt.Errorf("%w %q: %s", ErrInvalidQuantity, s, why)
	}
	rest := s
	neg := false
	if rest != "" && (rest[0] == '+' || rest[0] == '-') {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	i := 0
	digits, point := 0, false
	for ; i < len(rest); i++ {
		c := rest[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			continue
		case c == '.' && !point:
			point = true
			continue
		}
		break
	}
	if digits == 0 {
		return bad("no number")
	}
	num, suffix := rest[:i], rest[i:]
	r, ok := new(big.Rat).SetString(strings.TrimSuffix(num, "."))
	if !ok {
		return bad("no number")
	}
	q := Quantity{}
	if p, ok := binarySuffixes[suffix]; ok {
		q.binary = true
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Lsh(big.NewInt(1), p)))
	} else {
		exp, ok := decimalSuffixes[suffix]
		if !ok {
			if len(suffix) < 2 || suffix[0] != 'e' && suffix[0] != 'E' {
				return bad(fmt.Sprintf("unknown suffix %q", suffix))
			}
			e, err := strconv.ParseInt(suffix[1:], 10, 32)
			if err != nil || e < -100 || e > 100 {
				return bad(fmt.Sprintf("bad exponent %q", suffix))
			}
			exp = int(e)
		}
		scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil)
		if exp >= 0 {
			r.Mul(r, new(big.Rat).SetInt(scale))
		} else {
			r.Quo(r, new(big.Rat).SetInt(scale))
		}
	}
	// Round up to a whole number of nano units, as the API server does.
	r.Mul(r, new(big.Rat).SetInt(bigNano))
	n, rem := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if rem.Sign() != 0 {
		n.Add(n, big.NewInt(1))
	}
	if neg {
		n.Neg(n)
	}
	q.nanos = n
	return q, nil
}

// MustParseQuantity is [ParseQuantity] for constants: it panics if s does
// not parse.
func MustParseQuantity(s string) Quantity {
	q, err := ParseQuantity(s)
	if err != nil {
		panic(err)
	}
	return q
}

// IntQuantity returns the quantity n (a count, such as a number of pods).
func IntQuantity(n int64) Quantity {
	return Quantity{nanos: new(big.Int).Mul(big.NewInt(n), bigNano)}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

func (q Quantity) n() *big.Int {
	if q.nanos == nil {
		return new(big.Int)
	}
	return q.nanos
}

// Add returns q + o, written as q is (binary or decimal) unless q is 0.
func (q Quantity) Add(o Quantity) Quantity {
	return Quantity{nanos: new(big.Int).Add(q.n(), o.n()), binary: q.pickBinary(o)}
}

// Sub returns q - o, written as q is unless q is 0.
func (q Quantity) Sub(o Quantity) Quantity {
	return Quantity{nanos: new(big.Int).Sub(q.n(), o.n()), binary: q.pickBinary(o)}
}

// Mul returns q × n.
func (q Quantity) Mul(n int64) Quantity {
	return Quantity{nanos: new(big.Int).Mul(q.n(), big.NewInt(n)), binary: q.binary}
}

// Max returns the larger of q and o.
func (q Quantity) Max(o Quantity) Quantity {
	if o.Cmp(q) > 0 {
		return o
	}
	return q
}

func (q Quantity) pickBinary(o Quantity) bool {
	if q.Sign() == 0 {
		return o.binary
	}
	return q.binary
}

// Cmp returns -1, 0 or +1 as q is less than, equal to or greater than o.
func (q Quantity) Cmp(o Quantity) int { return q.n().Cmp(o.n()) }

// Sign returns -1, 0 or +1 as q is negative, zero or positive.
func (q Quantity) Sign() int { return q.n().Sign() }

// As returns q written as f is: with binary suffixes when f was.
func (q Quantity) As(f Quantity) Quantity { return Quantity{nanos: q.nanos, binary: f.binary} }

// String returns q in canonical form: with a binary suffix (the largest
// that divides it) when q was written with one and is a whole number of
// at least 1024, else with the largest decimal SI suffix that leaves a
// whole number ("1500m", "2", "64k", "1536Mi").
func (q Quantity) String() string {
	n := new(big.Int).Set(q.n())
	neg := n.Sign() < 0
	n.Abs(n)
	sign := ""
	if neg {
		sign = "-"
	}
	if n.Sign() == 0 {
		return "0"
	}
	if q.binary {
		whole, rem := new(big.Int).QuoRem(n, bigNano, new(big.Int))
		if rem.Sign() == 0 && whole.Cmp(big1024) >= 0 {
			return sign + withSuffix(whole, big1024, []string{"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"})
		}
	}
	return sign + withSuffix(n, big1000, []string{"n", "u", "m", "", "k", "M", "G", "T", "P", "E"})
}

// withSuffix writes n (not negative) with the last of suffixes, each a
// factor of base above the one before, that leaves a whole number.
func withSuffix(n, base *big.Int, suffixes []string) string {
	i := 0
	for i < len(suffixes)-1 {
		d, m := new(big.Int).QuoRem(n, base, new(big.Int))
		if m.Sign() != 0 {
			break
		}
		n = d
		i++
	}
	return n.String() + suffixes[i]
}
