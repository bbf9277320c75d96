package gates_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/pipeline/gates"
)

func TestParseQuantityReadsKubernetesSyntax(t *testing.T) {
	for in, want := range map[string]string{
		"0":      "0",
		"500m":   "500m",
		"0.5":    "500m",
		".5":     "500m",
		"1.":     "1",
		"1.5":    "1500m",
		"+2":     "2",
		"2000m":  "2",
		"100u":   "100u",
		"0.1m":   "100u",
		"0.1n":   "1n", // rounded up to the API server's precision
		"1k":     "1k",
		"1500k":  "1500k",
		"2G":     "2G",
		"1E":     "1E",
		"1e3":    "1k",
		"1E3":    "1k",
		"5e-3":   "5m",
		"1e+6":   "1M",
		"1Ki":    "1Ki",
		"1024Mi": "1Gi",
		"1.5Gi":  "1536Mi",
		"1.5Ki":  "1536",
		"0.5Ki":  "512",
		"8Ei":    "8Ei",
		"129M":   "129M",
		"-1":     "-1",
	} {
		q, err := gates.ParseQuantity(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, q.String(), in)
	}
}

func TestParseQuantityRefusesMalformed(t *testing.T) {
	for in, why := range map[string]string{
		"":      "no number",
		"Mi":    "no number",
		"12Gb":  `unknown suffix "Gb"`,
		"1K":    `unknown suffix "K"`,
		"1mi":   `unknown suffix "mi"`,
		"1.2.3": `unknown suffix ".3"`,
		"1e":    `unknown suffix "e"`,
		"1e3.5": `bad exponent "e3.5"`,
		"1 Gi":  `unknown suffix " Gi"`,
		"one":   "no number",
		"1e999": `bad exponent "e999"`,
	} {
		_, err := gates.ParseQuantity(in)
		require.ErrorIs(t, err, gates.ErrInvalidQuantity, in)
		assert.Contains(t, err.Error(), why, in)
	}
}

func TestQuantityArithmeticIsExact(t *testing.T) {
	q := gates.MustParseQuantity
	assert.Equal(t, "16Ei", q("8Ei").Add(q("8Ei")).String(), "beyond int64 of nano units")
	assert.Equal(t, "2100m", q("0.7").Mul(3).String())
	assert.Equal(t, "1Gi", q("1536Mi").Sub(q("512Mi")).String())
	assert.Equal(t, 0, q("1Gi").Cmp(q("1073741824")))
	assert.Equal(t, 1, q("1G").Cmp(q("953Mi")))
	assert.Equal(t, -1, q("1000m").Cmp(q("1001m")))
	assert.Equal(t, "1Gi", q("1073741824").As(q("1Mi")).String(), "written as the other")
	assert.Equal(t, "2Gi", gates.Quantity{}.Add(q("2Gi")).String(), "zero takes the other's form")
	assert.Equal(t, "3", gates.IntQuantity(3).String())
	assert.Equal(t, q("2"), q("2").Max(q("1500m")))
	assert.Equal(t, 0, gates.Quantity{}.Sign())
	assert.Panics(t, func() { gates.MustParseQuantity("lots") })
}
