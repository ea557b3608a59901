package approve

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chromiumPath is Debian's headless-capable Chromium, installed by
// .ci/packages.
const chromiumPath = "/usr/bin/chromium"

// chromium runs headless Chromium on a file:// URL with a fresh profile,
// no network services and a time limit, and returns its stdout.
func chromium(t *testing.T, url string, extra ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
	}, extra...)
	cmd := exec.CommandContext(ctx, chromiumPath, append(args, url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestReportHTMLRendersChartsInChromium renders the HTML report of a
// synthetic organisation in headless Chromium and checks, in the DOM the
// browser built, that the three charts are there with their bars and
// cells and that a hostile name stayed text. It writes a screenshot to
// build/report.png at the repository root (git-ignored). Without Chromium
// it skips, except under CI=true, where it fails.
func TestReportHTMLRendersChartsInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium missing under CI (.ci/packages installs it): %v", err)
		}
		t.Skip("chromium not installed; .ci/packages installs it")
	}
	data := btOrg(t)
	data.Identities[0].Attributes["title"] = `<b>Engineer</b><script>document.title="owned"</script>`
	rep, err := BuildReport(data, nil, ReportOptions{At: btOrigin.Add(150 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page

	dom := string(chromium(t, url, "--dump-dom"))
	count := func(pattern string) int { return len(regexp.MustCompile(pattern).FindAllStringIndex(dom, -1)) }
	checks := []struct {
		name    string
		pattern string
		atLeast int
	}{
		{"personas chart", `<svg[^>]*id="chart-personas"`, 1},
		{"heat map", `<svg[^>]*id="chart-heatmap"`, 1},
		{"unused chart", `<svg[^>]*id="chart-unused"`, 1},
		{"persona bars", `<rect class="bar-persona"`, 3},
		{"heat map cells", `<g class="heat-cell">`, 9},
		{"unused bars", `<rect class="bar-jit"`, 1},
	}
	for _, c := range checks {
		if n := count(c.pattern); n < c.atLeast {
			t.Errorf("%s: %d matches of %s in the rendered DOM, want at least %d", c.name, n, c.pattern, c.atLeast)
		}
	}
	if strings.Contains(dom, "<title>owned</title>") || strings.Contains(dom, "<b>Engineer</b>") {
		t.Errorf("a name from the input was run or rendered as markup")
	}

	// The screenshot, for a person to look at.
	root, err := filepath.Abs(filepath.Join("..", "build"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(root, "report.png")
	chromium(t, url, "--window-size=1400,2400", "--hide-scrollbars", "--screenshot="+shot)
	b, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		t.Errorf("screenshot %s: %v, %d bytes; want a PNG", shot, err, len(b))
	}
}
