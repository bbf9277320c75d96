//go:build integration

package dora_test

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/flightdeck-dev/flightdeck/dora"
	"github.com/flightdeck-dev/flightdeck/dora/doratest"
	"github.com/flightdeck-dev/flightdeck/gitops"
	"github.com/flightdeck-dev/flightdeck/gitops/gitopstest"
)

// screenshot renders the page at file in Debian's headless chromium at
// 1200x900 and returns the PNG.
func screenshot(t *testing.T, file string) image.Image {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	require.NoError(t, err, "the chromium package must be installed (.ci/run installs it)")
	dir := t.TempDir()
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--force-device-scale-factor=1", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--screenshot="+shot, "--window-size=1200,900", "file://"+file)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "chromium: %s", out)
	f, err := os.Open(shot)
	require.NoError(t, err, "chromium wrote no screenshot: %s", out)
	defer f.Close()
	img, err := png.Decode(f)
	require.NoError(t, err)
	return img
}

// near reports whether the pixel's colour is within tol of the hex
// colour c ("#rrggbb") in every channel.
func near(img image.Image, x, y int, c string, tol int) bool {
	r, g, b, _ := img.At(x, y).RGBA()
	want := [3]int{}
	for i := range want {
		var v int
		for _, ch := range c[1+2*i : 3+2*i] {
			v = v*16 + int(hexDigit(byte(ch)))
		}
		want[i] = v
	}
	got := [3]int{int(r >> 8), int(g >> 8), int(b >> 8)}
	for i := range got {
		if d := got[i] - want[i]; d > tol || d < -tol {
			return false
		}
	}
	return true
}

func hexDigit(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}

// TestIntegrationHTMLReportInChromium writes the HTML report of a
// generated history (12 apps x 3 environments, 1,500 commits 20 minutes
// apart: deploys, rollbacks, verified markers) and has a real browser
// draw it. The screenshot must be 1200x900 and not blank, and each chart
// must have its colour where it belongs: the planned-deploy bars in the
// left chart, the elite lead-time bars in the right one beside it, and
// the failed deployments' red dots in the wide chart below both.
func TestIntegrationHTMLReportInChromium(t *testing.T) {
	spec := doratest.Spec{Apps: 12, Commits: 1500, Interval: 20 * time.Minute, RollbackEvery: 23, VerifyEvery: 5}
	dir := filepath.Join(t.TempDir(), "repo.git")
	require.NoError(t, doratest.Generate(dir, spec))
	repo, err := gitops.New(gitopstest.FileURL(dir), gitops.WithCacheDir(filepath.Join(t.TempDir(), "cache")))
	require.NoError(t, err)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rep, err := dora.NewReader(repo).Report(context.Background(), dora.Query{
		Since: start, Until: start.Add(time.Duration(spec.Commits+1) * spec.Interval),
	})
	require.NoError(t, err)
	require.Len(t, rep.Targets, 36)
	require.Positive(t, rep.Total.ChangeFailRate.Count)

	page := filepath.Join(t.TempDir(), "report.html")
	f, err := os.Create(page)
	require.NoError(t, err)
	require.NoError(t, rep.WriteHTML(f))
	require.NoError(t, f.Close())

	img := screenshot(t, page)
	bounds := img.Bounds()
	require.Equal(t, 1200, bounds.Dx())
	require.Equal(t, 900, bounds.Dy())

	nonWhite := 0
	planned, plannedBox := 0, image.Rectangle{Min: image.Pt(bounds.Dx(), bounds.Dy())}
	for y := range bounds.Dy() {
		for x := range bounds.Dx() {
			if !near(img, x, y, "#ffffff", 8) {
				nonWhite++
			}
			if near(img, x, y, "#0ea5e9", 10) {
				planned++
				plannedBox = plannedBox.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	t.Logf("non-white %d of %d pixels; planned-deploy colour %d pixels in %v", nonWhite, bounds.Dx()*bounds.Dy(), planned, plannedBox)
	assert.Greater(t, nonWhite, bounds.Dx()*bounds.Dy()/20, "the page is not blank")
	require.Greater(t, planned, 3000, "the deploys chart has its bars")
	assert.Less(t, plannedBox.Max.X, bounds.Dx()/2, "the deploys chart is the left one")
	assert.Greater(t, plannedBox.Min.Y, 150, "below the cards")

	elite, failures := 0, 0
	for y := range bounds.Dy() {
		for x := range bounds.Dx() {
			switch {
			case x > bounds.Dx()/2 && y >= plannedBox.Min.Y && y < plannedBox.Max.Y && near(img, x, y, "#16a34a", 10):
				elite++
			case y > plannedBox.Max.Y && near(img, x, y, "#dc2626", 10):
				failures++
			}
		}
	}
	t.Logf("elite lead-time bars %d pixels, failure dots %d pixels", elite, failures)
	assert.Greater(t, elite, 2000, "the lead time chart, beside the deploys chart, has its elite bars")
	assert.Greater(t, failures, 50, "the failures chart, below, has its dots")
}
