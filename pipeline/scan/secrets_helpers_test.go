package scan_test

import (
	"crypto/rand"
	"encoding/base64"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Fake credentials are assembled at run time from split prefixes and
// random characters, so this repository holds no literal a secret
// scanner would report.

const (
	alnum  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	upper2 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	digits = "0123456789"
)

func randFrom(t *testing.T, set string, n int) string {
	t.Helper()
	var b strings.Builder
	for range n {
		i, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
		require.NoError(t, err)
		b.WriteByte(set[i.Int64()])
	}
	return b.String()
}

// fakeSecrets are the secrets planted by secretTree, by rule.
type fakeSecrets map[string]string

// secretTree writes a source tree with one fake credential per common
// format, and lookalikes that are not credentials. It returns the
// directory, the planted secrets by rule, and where each is (file and
// line).
func secretTree(t *testing.T) (string, fakeSecrets, map[string][2]string) {
	t.Helper()
	key := make([]byte, 600)
	_, err := rand.Read(key)
	require.NoError(t, err)
	body := base64.StdEncoding.EncodeToString(key)
	var pem strings.Builder
	for len(body) > 64 {
		pem.WriteString(body[:64] + "\n")
		body = body[64:]
	}
	pem.WriteString(body + "\n")
	s := fakeSecrets{
		"github-pat":              "gh" + "p_" + randFrom(t, alnum, 36),
		"github-fine-grained-pat": "github" + "_pat_" + randFrom(t, alnum, 82),
		"aws-access-token":        "AK" + "IA" + randFrom(t, upper2, 16),
		"slack-bot-token":         "xo" + "xb-" + randFrom(t, digits, 12) + "-" + randFrom(t, digits, 12) + "-" + randFrom(t, alnum, 24),
		"private-key":             pem.String(),
		"gcp-api-key":             "AI" + "za" + randFrom(t, alnum, 35),
		"stripe-access-token":     "sk" + "_live_" + randFrom(t, alnum, 24),
		"generic-api-key":         randFrom(t, "abcdefghijkmnopqrstuvwxyz", 10) + randFrom(t, digits, 4) + randFrom(t, "ABCDEFGHJKLMNPQRSTUVWXYZ", 10),
	}
	begin, end := "-----BEGIN "+"RSA PRIVATE"+" KEY-----", "-----END "+"RSA PRIVATE"+" KEY-----"
	files := map[string]string{
		"config/app.env":        "# local settings\nAPP_ENV=dev\nGITHUB_TOKEN=" + s["github-pat"] + "\n",
		"config/ci.env":         "FINE_GRAINED=" + s["github-fine-grained-pat"] + "\n",
		"deploy/aws.yaml":       "credentials:\n  aws_access_key_id: " + s["aws-access-token"] + "\n  region: eu-west-1\n",
		"src/notify/slack.go":   "package notify\n\nconst hook = \"" + s["slack-bot-token"] + "\"\n",
		"keys/deploy_key":       begin + "\n" + s["private-key"] + end + "\n",
		"web/maps.js":           "// maps\nconst mapsKey = \"" + s["gcp-api-key"] + "\";\n",
		"billing/stripe.py":     "import stripe\n\nstripe.api_key = \"" + s["stripe-access-token"] + "\"\n",
		"settings.yaml":         "server:\n  port: 8080\ndatabase:\n  host: db\n  user: app\n\n  db_password: \"" + s["generic-api-key"] + "\"\n",
		"docs/ci.md":            "Use `token: ${{ secrets.GITHUB_TOKEN }}` in the workflow.\n",
		"src/notify/env.go":     "package notify\n\nimport \"os\"\n\nvar token = os.Getenv(\"SLACK_TOKEN\")\nvar secretName = \"slack-token-2024-rotation\"\n",
		"src/notify/example.go": "package notify\n\nconst password = \"changeme-example-1234abcd\"\nconst docsKey = \"AK" + "IA" + "IOSFODNN7EXAMPLE\"\n",
		"go.sum":                "example.com/m v1.0.0 h1:" + randFrom(t, alnum, 43) + "=\n",
		"bin/tool":              "\x00\x01ELF\x00token = \"" + s["generic-api-key"] + "\"\n",
	}
	dir := t.TempDir()
	for name, content := range files {
		full := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(full), 0o755))
		require.NoError(t, os.WriteFile(full, []byte(content), 0o644))
	}
	where := map[string][2]string{
		"github-pat":              {"config/app.env", "3"},
		"github-fine-grained-pat": {"config/ci.env", "1"},
		"aws-access-token":        {"deploy/aws.yaml", "2"},
		"slack-bot-token":         {"src/notify/slack.go", "3"},
		"private-key":             {"keys/deploy_key", "1"},
		"gcp-api-key":             {"web/maps.js", "2"},
		"stripe-access-token":     {"billing/stripe.py", "3"},
		"generic-api-key":         {"settings.yaml", "7"},
	}
	return dir, s, where
}
