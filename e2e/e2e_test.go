// Package e2e runs the built jitscore binary as a user would: every step
// is a subprocess, nothing is called in-process, and outputs are checked
// against the contracts of the design document (field names, one-line
// summaries on stderr, exit codes). It is skipped under -short.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// binary is the jitscore built once for this test binary by TestMain, or
// the one JITSCORE_E2E_BINARY names (for example bin/jitscore after `make
// build`), which saves the link on a busy machine.
var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run()) // every test skips itself
	}
	if b := os.Getenv("JITSCORE_E2E_BINARY"); b != "" {
		abs, err := filepath.Abs(b)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e: JITSCORE_E2E_BINARY:", err)
			os.Exit(1)
		}
		binary = abs
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "jitscore-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "jitscore")
	build := exec.Command("go", "build", "-o", binary, "github.com/jitscore/jitscore/cmd/jitscore")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: go build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary left.
type result struct {
	stdout, stderr string
	code           int
}

// jitscore runs the binary with args and the given extra environment, and
// fails the test when it could not be started or ran longer than a minute.
func jitscore(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(baseEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("jitscore %q: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("jitscore %q: no answer within a minute", args)
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// baseEnv is the environment of every run: the test's own, without any
// jitscore or AWS settings that would change what the binary does.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "JITSCORE_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "AWS_EC2_METADATA_DISABLED=true")
}

// ok runs the binary, wants exit 0 and exactly one summary line on stderr
// starting with prefix, and returns stdout.
func ok(t *testing.T, prefix string, args ...string) string {
	t.Helper()
	r := jitscore(t, nil, args...)
	if r.code != 0 {
		t.Fatalf("jitscore %q: exit %d\n%s", args, r.code, r.stderr)
	}
	oneLine(t, args, r.stderr, prefix)
	return r.stdout
}

// oneLine wants stderr to be one line starting with prefix.
func oneLine(t *testing.T, args []string, stderr, prefix string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], prefix) {
		t.Errorf("jitscore %q: stderr %q, want one summary line starting %q", args, stderr, prefix)
	}
}

// objects decodes NDJSON into maps, failing on a line that is not an
// object.
func objects(t *testing.T, what, out string) []map[string]any {
	t.Helper()
	var list []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: line %q is not a JSON object: %v", what, sc.Text(), err)
		}
		list = append(list, m)
	}
	return list
}

// object decodes one JSON object.
func object(t *testing.T, what, out string) map[string]any {
	t.Helper()
	list := objects(t, what, out)
	if len(list) != 1 {
		t.Fatalf("%s: %d JSON objects, want one:\n%s", what, len(list), out)
	}
	return list[0]
}

// hasKeys wants every key in m.
func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: no %q in %v", what, k, sortedKeys(m))
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// num reads a JSON number field.
func num(t *testing.T, what string, m map[string]any, key string) float64 {
	t.Helper()
	f, ok := m[key].(float64)
	if !ok {
		t.Fatalf("%s: %q is %v (%T), want a number", what, key, m[key], m[key])
	}
	return f
}

// Score and renewal objects, per the design document.
var (
	scoreKeys   = []string{"request_id", "risk", "decision", "policy_decision", "reasons", "model_version", "policy_version"}
	reasonKeys  = []string{"factor", "contribution", "detail"}
	renewalKeys = []string{"request_id", "requester", "entitlement", "action", "reasons", "expires_at"}
	ingestKeys  = []string{"duplicates", "quarantined", "skipped_files", "files"}
)

// checkScore wants a score object with every field of the contract and a
// shadow-mode answer.
func checkScore(t *testing.T, what string, m map[string]any) {
	t.Helper()
	hasKeys(t, what, m, scoreKeys...)
	if risk := num(t, what, m, "risk"); risk < 0 || risk > 1 {
		t.Errorf("%s: risk %v outside [0, 1]", what, risk)
	}
	if m["decision"] != "review" {
		t.Errorf("%s: decision %v, want review in the default shadow mode", what, m["decision"])
	}
	switch m["policy_decision"] {
	case "auto_approve", "review", "deny":
	default:
		t.Errorf("%s: policy_decision %v", what, m["policy_decision"])
	}
	reasons, _ := m["reasons"].([]any)
	if len(reasons) == 0 {
		t.Errorf("%s: no reasons", what)
	}
	for _, r := range reasons {
		rm, _ := r.(map[string]any)
		hasKeys(t, what+" reason", rm, reasonKeys...)
	}
}

func TestDemoRunsWithNoFlagsAndLeavesItsDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end on the built binary")
	}
	t.Parallel()
	r := jitscore(t, nil, "demo")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s", r.code, r.stderr)
	}
	oneLine(t, []string{"demo"}, r.stderr, "demo: ")
	m := regexp.MustCompile(`(?m)^database +(\S+)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("demo output names no database:\n%s", r.stdout)
	}
	db := m[1]
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(db)) })
	for _, want := range []string{"real public CloudTrail", "mode shadow", "policy decision:", "renewal review", "REAL-P001"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}

	// The real CloudTrail actors are resolved in the events view of the
	// database the demo left behind.
	out := ok(t, "sql: ", "sql", "--db", db, "--format", "json",
		"SELECT count(*) AS n FROM events WHERE actor = 'bert-jan' AND principal_type = 'AssumedRole'")
	if n := num(t, "sql", object(t, "sql", out), "n"); n == 0 {
		t.Error("no assumed-role events resolved to bert-jan in the demo database")
	}
}

func TestPipelineOnAFreshDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end on the built binary")
	}
	t.Parallel()
	dir := t.TempDir()
	sim := filepath.Join(dir, "sim")
	db := filepath.Join(dir, "e2e.duckdb")
	start := time.Now().UTC().AddDate(0, 0, -30).Format(time.DateOnly)
	ok(t, "simulate: ", "simulate", sim, "--people", "25", "--days", "30", "--seed", "7", "--start", start)

	// Ingest every kind; --format json prints one object with the counts
	// the design document names.
	ingests := []struct {
		name, kind, file string
		loadedKey        string
		wantDuplicates   bool
	}{
		{"identities csv", "identities", "identities.csv", "rows_loaded", false},
		{"identities ndjson again", "identities", "identities.ndjson", "rows_loaded", true},
		{"entitlements", "entitlements", "entitlements.csv", "rows_loaded", false},
		{"requests", "requests", "requests.csv", "rows_loaded", false},
	}
	for _, in := range ingests {
		out := ok(t, "ingest "+in.kind+": ", "ingest", in.kind, filepath.Join(sim, in.file), "--db", db, "--format", "json")
		m := object(t, in.name, out)
		hasKeys(t, in.name, m, append([]string{in.loadedKey}, ingestKeys...)...)
		if num(t, in.name, m, in.loadedKey) == 0 {
			t.Errorf("%s: nothing loaded: %v", in.name, m)
		}
		if dup := num(t, in.name, m, "duplicates"); (dup > 0) != in.wantDuplicates {
			t.Errorf("%s: %v duplicates, want some: %v", in.name, dup, in.wantDuplicates)
		}
	}
	out := ok(t, "cloudtrail: ", "ingest", "cloudtrail", filepath.Join(sim, "cloudtrail"), filepath.Join(sim, "cloudtrail-other"),
		"--db", db, "--format", "json")
	ct := object(t, "ingest cloudtrail", out)
	hasKeys(t, "ingest cloudtrail", ct, append([]string{"events_loaded"}, ingestKeys...)...)
	if num(t, "ct", ct, "events_loaded") == 0 || num(t, "ct", ct, "duplicates") == 0 || num(t, "ct", ct, "skipped_files") == 0 {
		t.Errorf("ingest cloudtrail: %v; want events, the other shapes' copies as duplicates, the digest skipped", ct)
	}

	// A bad row is rejected with its line; the good row beside it loads.
	bad := filepath.Join(dir, "bad-requests.csv")
	if err := os.WriteFile(bad, []byte("request_id,requester,entitlement,requested_at,status\n"+
		"E2E-1,carol@example.com,stripe:read,2025-01-02T03:04:05Z,approved\n"+
		"E2E-2,carol@example.com,stripe:read,yesterday,approved\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := jitscore(t, nil, "ingest", "requests", bad, "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, bad+":3:") {
		t.Errorf("ingest of a bad row: exit %d, stdout %q; want exit 0 naming line 3", r.code, r.stdout)
	}
	oneLine(t, []string{"ingest", "requests", bad}, r.stderr, "ingest requests: 1 rows loaded")

	b := object(t, "build", ok(t, "build: ", "build", "--db", db, "--format", "json"))
	hasKeys(t, "build", b, "version", "people", "personas", "snapshot")
	tr := object(t, "train", ok(t, "train: ", "train", "--db", db, "--format", "json"))
	hasKeys(t, "train", tr, "version", "model", "model_file")

	// score: NDJSON in, one decision per line out, an error line for a
	// line that is not a request.
	pending, err := os.ReadFile(filepath.Join(sim, "pending.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "score-in.ndjson")
	if err := os.WriteFile(in, append(pending, []byte(`{"request_id":"E2E-NOONE"}`+"\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	decisions := objects(t, "score", ok(t, "score: ", "score", in, "--db", db))
	want := bytes.Count(pending, []byte("\n")) + 1
	if len(decisions) != want {
		t.Fatalf("score: %d lines out, want %d", len(decisions), want)
	}
	for i, d := range decisions[:want-1] {
		checkScore(t, fmt.Sprintf("score line %d", i+1), d)
	}
	if last := decisions[want-1]; last["field"] != "requester" || last["line"] != float64(want) {
		t.Errorf("score: error line %v, want field requester on line %d", last, want)
	}

	actions := objects(t, "renewals", ok(t, "renewals: ", "renewals", "--db", db, "--format", "json"))
	if len(actions) == 0 {
		t.Error("renewals: no grant expiring within the default window; the simulator makes some")
	}
	for i, a := range actions {
		hasKeys(t, fmt.Sprintf("renewal %d", i+1), a, renewalKeys...)
		if a["action"] != "renew" && a["action"] != "revoke" && a["action"] != "review" {
			t.Errorf("renewal %d: action %v", i+1, a["action"])
		}
	}

	personas := objects(t, "report personas", ok(t, "report personas: ", "report", "personas", "--db", db, "--format", "json"))
	if len(personas) == 0 {
		t.Error("report personas --format json: no rows")
	}
	html := ok(t, "report personas: ", "report", "personas", "--db", db, "--format", "html")
	if !strings.HasPrefix(html, "<!DOCTYPE html>") || !strings.Contains(html, "<svg") {
		t.Errorf("report --format html: not a page with charts: %.200q", html)
	}

	serveOnce(t, db, decisions[0]["request_id"].(string))
}

// serveOnce starts `serve` on a free loopback port with a token from the
// environment, scores one request with and one without the token, stops it
// with SIGTERM and checks the audit store kept the decision.
func serveOnce(t *testing.T, db, pendingID string) {
	t.Helper()
	const token = "e2e-token-not-a-secret"
	cmd := exec.Command(binary, "serve", "--db", db, "--listen", "127.0.0.1:0")
	cmd.Env = append(baseEnv(), "JITSCORE_TOKEN="+token)
	stderrR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var stderr bytes.Buffer
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderrR)
		re := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
		for sc.Scan() {
			stderr.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case err := <-exited:
		t.Fatalf("serve exited before listening: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not listen within 20s")
	}
	waitReady(t, base)

	body := fmt.Sprintf(`{"request_id":"E2E-HTTP-1","requester":%q,"entitlement":"aws:111122223333:ReadOnly","duration":"2h","justification":"e2e"}`,
		firstRequester(t, db, pendingID))
	code, answer := post(t, base+"/v1/score", token, body)
	if code != http.StatusOK {
		t.Fatalf("POST /v1/score with the token: %d %s", code, answer)
	}
	var m map[string]any
	if err := json.Unmarshal(answer, &m); err != nil {
		t.Fatalf("POST /v1/score: %s: %v", answer, err)
	}
	checkScore(t, "POST /v1/score", m)
	if m["request_id"] != "E2E-HTTP-1" {
		t.Errorf("POST /v1/score answered request %v", m["request_id"])
	}
	if code, answer := post(t, base+"/v1/score", "", body); code != http.StatusUnauthorized {
		t.Errorf("POST /v1/score without a token: %d %s, want 401", code, answer)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "serve: stopped; 1 decisions recorded") {
		t.Errorf("serve stderr %q, want the stop line counting 1 decision", stderr.String())
	}
	var found bool
	files, _ := filepath.Glob(filepath.Join(db+".audit", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		found = found || bytes.Contains(b, []byte(`"E2E-HTTP-1"`))
	}
	if !found {
		t.Errorf("audit store %s.audit (%d files) does not hold E2E-HTTP-1", db, len(files))
	}
}

// firstRequester is the requester of a pending request, looked up through
// `jitscore sql`, so that the HTTP request comes from a known person.
func firstRequester(t *testing.T, db, requestID string) string {
	t.Helper()
	out := ok(t, "sql: ", "sql", "--db", db, "--format", "json",
		fmt.Sprintf("SELECT requester FROM requests WHERE request_id = '%s'", requestID))
	s, _ := object(t, "sql requester", out)["requester"].(string)
	if s == "" {
		t.Fatalf("no requester for %s: %s", requestID, out)
	}
	return s
}

// waitReady polls /readyz until the server has loaded its snapshot.
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz not ready within 20s (last: %v)", base, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// post sends body with the bearer token (none when empty).
func post(t *testing.T, url, token, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestBadCommandsExitNonZeroWithOneClearLine(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end on the built binary")
	}
	t.Parallel()
	cases := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"unknown ingest kind", []string{"ingest", "invoices", "x.csv"}, 2, `unknown kind "invoices"`},
		{"missing input file", []string{"ingest", "requests", "/nonexistent/requests.csv"}, 1, "/nonexistent/requests.csv"},
		{"bad flag value", []string{"train", "--as-of", "tuesday"}, 2, `--as-of "tuesday"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append(tc.args, "--db", filepath.Join(t.TempDir(), "x.duckdb"))
			r := jitscore(t, nil, args...)
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if r.code != tc.code || !strings.HasPrefix(lines[0], "jitscore: ") || !strings.Contains(lines[0], tc.contains) {
				t.Errorf("exit %d, stderr %q; want exit %d and a first line naming %q", r.code, r.stderr, tc.code, tc.contains)
			}
			// A usage error may add the hint line; nothing else.
			if len(lines) > 2 || (len(lines) == 2 && !strings.Contains(lines[1], "jitscore help")) {
				t.Errorf("stderr %q: want one line (and the help hint)", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}
