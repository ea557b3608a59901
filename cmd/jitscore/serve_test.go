package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/ingest/schema"
	"github.com/jitscore/jitscore/scoring"
	"github.com/jitscore/jitscore/scoring/scoringtest"
)

const serveTestToken = "serve-test-token-0123456789"

// serveStderr is a stderr that the test reads while serve writes it.
type serveStderr struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *serveStderr) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *serveStderr) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// serveFixture writes a snapshot and a model beside a database path, as
// build and train would.
func serveFixture(t *testing.T) (db string) {
	t.Helper()
	db = filepath.Join(t.TempDir(), "j.duckdb")
	if err := scoringtest.Org().WriteFile(features.SnapshotPath(db)); err != nil {
		t.Fatal(err)
	}
	if err := scoring.SaveModel(scoring.ModelPath(db), scoringtest.ConstantModel(0.05)); err != nil {
		t.Fatal(err)
	}
	return db
}

type runningServe struct {
	url    string
	stderr *serveStderr
	cancel context.CancelFunc
	done   chan error
}

// startServe runs the serve command on 127.0.0.1:0 and waits for it to
// listen.
func startServe(t *testing.T, env map[string]string, args ...string) *runningServe {
	t.Helper()
	stderr := &serveStderr{}
	e := &Env{
		Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: stderr,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Getenv: func(k string) string { return env[k] },
	}
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runningServe{stderr: stderr, cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- Run(ctx, e, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)) }()
	re := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			rs.url = "http://" + m[1]
			break
		}
		select {
		case err := <-rs.done:
			cancel()
			t.Fatalf("serve exited before listening: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not listen within 20s:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { rs.stop(t) })
	return rs
}

func (rs *runningServe) stop(t *testing.T) error {
	t.Helper()
	if rs.cancel == nil {
		return nil
	}
	rs.cancel()
	rs.cancel = nil
	select {
	case err := <-rs.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30s")
		return nil
	}
}

func servePost(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+serveTestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func serveGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServeRefusesToStartWithoutAToken(t *testing.T) {
	t.Parallel()
	e := &Env{Stdout: io.Discard, Stderr: io.Discard, Logger: slog.New(slog.DiscardHandler),
		Getenv: func(string) string { return "" }}
	err := Run(context.Background(), e, []string{"serve", "--db", serveFixture(t), "--listen", "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "JITSCORE_TOKEN") || !strings.Contains(err.Error(), "--insecure-no-auth") {
		t.Errorf("serve without a token = %v, want a refusal naming JITSCORE_TOKEN and --insecure-no-auth", err)
	}
}

// TestServeRefusesAShortTokenAtOnceNamingTheVariable pins that a token in
// the environment that Install would refuse stops serve before it listens,
// with the variable's name and without the token.
func TestServeRefusesAShortTokenAtOnceNamingTheVariable(t *testing.T) {
	t.Parallel()
	cases := []struct{ value, want string }{
		{"s3cret", "serve: $JITSCORE_TOKEN: token shorter than 16 characters"},
		{serveTestToken + ",s3cret", "serve: $JITSCORE_TOKEN: token 2 of 2 shorter than 16 characters"},
	}
	for _, c := range cases {
		var stderr bytes.Buffer
		e := &Env{Stdout: io.Discard, Stderr: &stderr, Logger: slog.New(slog.NewTextHandler(&stderr, nil)),
			Getenv: func(k string) string {
				if k == "JITSCORE_TOKEN" {
					return c.value
				}
				return ""
			}}
		err := Run(context.Background(), e, []string{"serve", "--db", serveFixture(t), "--listen", "127.0.0.1:0"})
		if err == nil || err.Error() != c.want {
			t.Errorf("serve with a short token = %v, want %q", err, c.want)
		}
		if strings.Contains(stderr.String(), "s3cret") || strings.Contains(stderr.String(), "listening") {
			t.Errorf("serve printed the token or listened:\n%s", stderr.String())
		}
	}
}

// The whole command: the token from the environment, the snapshot and model
// beside the database, a reload when the config file changes, a refused
// reload of an invalid config, and on shutdown an audit log that folds into
// the decisions view with one row per answered decision.
func TestServeAnswersReloadsOnConfigChangeAndFoldsItsAuditLog(t *testing.T) {
	t.Parallel()
	db := serveFixture(t)
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfgPath, []byte("mode: shadow\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := startServe(t, map[string]string{"JITSCORE_TOKEN": serveTestToken},
		"--db", db, "--config", cfgPath, "--watch", "20ms")

	if code, body := serveGet(t, rs.url+"/readyz"); code != 200 || !strings.Contains(body, "s-fixture") {
		t.Fatalf("readyz: %d %s", code, body)
	}
	req := `{"request_id":"r1","requester":"alice@example.com","entitlement":"` + scoringtest.ReadOnly + `","duration":"8h"}`
	answered := 0
	code, first := servePost(t, rs.url+"/v1/score", req)
	if code != 200 || first["decision"] != "review" || first["policy_decision"] != "auto_approve" {
		t.Fatalf("shadow answer: %d %v", code, first)
	}
	answered++

	// Switch to enforce: the watcher reloads and the answer follows.
	if err := os.WriteFile(cfgPath, []byte("mode: enforce\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, got := servePost(t, rs.url+"/v1/score", req)
		if code != 200 {
			t.Fatalf("during reload: %d %v", code, got)
		}
		answered++
		if got["decision"] == "auto_approve" {
			if got["policy_version"] == first["policy_version"] {
				t.Errorf("policy version did not change with the config: %v", got["policy_version"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("config change not applied within 10s:\n%s", rs.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// An invalid config is refused, counted, and enforce keeps serving.
	if err := os.WriteFile(cfgPath, []byte("mode: enforce\nthresholds: {auto_approve_max: 0.9, deny_min: 0.1}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, metrics := serveGet(t, rs.url+"/metrics")
		if strings.Contains(metrics, `jitscore_serve_reloads_total{result="failed"} 1`) {
			for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "jitscore_ingest_", "jitscore_audit_queue_depth"} {
				if !strings.Contains(metrics, name) {
					t.Errorf("metrics lack %s", name)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("invalid config not counted within 10s:\n%s", rs.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, got := servePost(t, rs.url+"/v1/score", req); code != 200 || got["decision"] != "auto_approve" {
		t.Errorf("after the refused reload: %d %v, want the enforce config still serving", code, got)
	}
	answered++
	if !strings.Contains(rs.stderr.String(), "reload refused") {
		t.Errorf("refused reload not logged:\n%s", rs.stderr.String())
	}

	if err := rs.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if strings.Contains(rs.stderr.String(), serveTestToken) {
		t.Error("the token appears in serve's output")
	}

	// The next writer of the database folds the audit log in.
	sqldb, err := schema.Open(context.Background(), db, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sqldb.Close()
	e := &Env{Logger: slog.New(slog.DiscardHandler)}
	if err := foldAuditIfAny(context.Background(), e, &common{db: db}, nil, sqldb); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := sqldb.QueryRow(`SELECT count(*) FROM decisions WHERE source = 'serve'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != answered {
		t.Errorf("decisions view holds %d rows, %d decisions were answered", n, answered)
	}
}

func TestServeIsNotReadyUntilASnapshotAppears(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "j.duckdb")
	rs := startServe(t, map[string]string{"JITSCORE_TOKEN": serveTestToken}, "--db", db, "--watch", "20ms")
	if code, _ := serveGet(t, rs.url+"/readyz"); code != 503 {
		t.Errorf("readyz without a snapshot: %d, want 503", code)
	}
	if code, _ := servePost(t, rs.url+"/v1/score", `{"request_id":"r","requester":"a","entitlement":"e"}`); code != 503 {
		t.Errorf("score without a snapshot: %d, want 503", code)
	}

	// build and train finish: the watcher loads them.
	if err := scoringtest.Org().WriteFile(features.SnapshotPath(db)); err != nil {
		t.Fatal(err)
	}
	if err := scoring.SaveModel(scoring.ModelPath(db), scoringtest.ConstantModel(0.05)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := serveGet(t, rs.url+"/readyz"); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready 10s after the snapshot appeared:\n%s", rs.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
