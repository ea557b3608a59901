package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
	st "github.com/jitscore/jitscore/scoring/scoringtest"
)

// scoreFixture writes the fixture snapshot (and, with model, the prior
// model) beside a database path in a fresh directory.
func scoreFixture(t *testing.T, model bool) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "j.duckdb")
	if err := st.Org().WriteFile(features.SnapshotPath(db)); err != nil {
		t.Fatal(err)
	}
	if model {
		m := scoring.PriorModel([]string{"department", "title"}, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
		if err := scoring.SaveModel(scoring.ModelPath(db), m); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// runScoreCmd runs `jitscore score` on input and returns its output lines
// decoded as JSON objects.
func runScoreCmd(t *testing.T, input string, args ...string) ([]map[string]any, string) {
	t.Helper()
	env, stdout, stderr := simulateEnv()
	env.Stdin = strings.NewReader(input)
	if err := Run(context.Background(), env, append([]string{"score"}, args...)); err != nil {
		t.Fatalf("score: %v\n%s", err, stderr)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("output line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out, stderr.String()
}

func auditLines(t *testing.T, dir string) int {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if err != nil || len(segs) != 1 {
		t.Fatalf("audit segments %v (%v)", segs, err)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

func TestScoreAnswersEveryLineAndNamesBadOnes(t *testing.T) {
	t.Parallel()
	db := scoreFixture(t, true)
	enforce := filepath.Join(filepath.Dir(db), "enforce.yaml")
	os.WriteFile(enforce, []byte("mode: enforce\n"), 0o644)
	input := strings.Join([]string{
		`{"request_id":"r1","requester":"alice@example.com","entitlement":"` + st.Deploy + `","duration":"2h","justification":"deploy OPS-1","requested_at":"` + st.RequestedAt + `"}`,
		``,
		`{"request_id":"r2","requester":"alice@example.com"}`,
		`not json`,
		`{"request_id":"r3","requester":"a","entitlement":"e","duration":5}`,
		`{"request_id":"r4","requester":"a","entitlement":"e","requested_at":"tuesday"}`,
		`{"request_id":"r5","requester":"alice","entitlement":"` + st.Admin + `","duration":"30m","justification":"INC-9 outage","requested_at":"` + st.RequestedAt + `"}`,
	}, "\n")
	out, stderr := runScoreCmd(t, input, "--db", db, "--config", enforce, "--now", "2026-03-03T10:00:05Z")
	if len(out) != 6 {
		t.Fatalf("got %d output lines, want 6 (blank lines skipped):\n%v", len(out), out)
	}
	wantErr := []struct {
		idx   int
		line  float64
		field string
	}{{1, 3, "entitlement"}, {2, 4, ""}, {3, 5, "duration"}, {4, 6, "requested_at"}}
	for _, w := range wantErr {
		o := out[w.idx]
		if o["line"] != w.line || o["field"] != w.field || o["error"] == "" {
			t.Errorf("output %d = %v, want an error for line %v field %q", w.idx, o, w.line, w.field)
		}
	}
	if out[0]["decision"] != string(models.DecisionAutoApprove) || out[0]["request_id"] != "r1" {
		t.Errorf("routine request: %v", out[0])
	}
	if out[5]["decision"] != string(models.DecisionReview) || out[5]["tier"] != "critical" {
		t.Errorf("admin request: %v", out[5])
	}
	for _, i := range []int{0, 5} {
		if out[i]["model_version"] == "" || out[i]["policy_version"] == "" || out[i]["reasons"] == nil {
			t.Errorf("decision %d lacks versions or reasons: %v", i, out[i])
		}
	}
	if n := auditLines(t, db+".audit"); n != 2 {
		t.Errorf("audit log holds %d decisions, want 2", n)
	}
	if !strings.Contains(stderr, "6 lines, 4 errors") {
		t.Errorf("summary %q", stderr)
	}
}

func TestScoreWithoutModelReviewsEverything(t *testing.T) {
	t.Parallel()
	db := scoreFixture(t, false)
	enforce := filepath.Join(filepath.Dir(db), "enforce.yaml")
	os.WriteFile(enforce, []byte("mode: enforce\n"), 0o644)
	in := `{"request_id":"r1","requester":"alice@example.com","entitlement":"` + st.Deploy + `","duration":"2h","justification":"deploy"}`
	out, _ := runScoreCmd(t, in+"\n"+in+"\n", "--db", db, "--config", enforce)
	if len(out) != 2 {
		t.Fatalf("%d lines", len(out))
	}
	for _, o := range out {
		if o["decision"] != "review" || o["policy_decision"] != "review" {
			t.Errorf("without a model: %v, want review", o)
		}
	}
}

func TestScoreShadowModeAnswersReview(t *testing.T) {
	t.Parallel()
	db := scoreFixture(t, true)
	in := `{"request_id":"r1","requester":"alice@example.com","entitlement":"` + st.Deploy + `","duration":"2h","justification":"deploy OPS-1","requested_at":"` + st.RequestedAt + `"}`
	// --now an hour after the fixture's request time, so that requested_at
	// is plausible (guardrail:implausible_time would review it otherwise).
	now, _ := time.Parse(time.RFC3339, st.RequestedAt)
	out, stderr := runScoreCmd(t, in, "--db", db, "--now", now.Add(time.Hour).Format(time.RFC3339))
	if out[0]["decision"] != "review" || out[0]["policy_decision"] != "auto_approve" {
		t.Errorf("shadow: %v", out[0])
	}
	if !strings.Contains(stderr, "mode shadow") {
		t.Errorf("summary %q", stderr)
	}
}
