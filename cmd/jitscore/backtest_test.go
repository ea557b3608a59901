package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitscore/jitscore/ingest/schema"
)

// analystRun runs one jitscore command and returns its stdout, failing the
// test on error.
func analystRun(t *testing.T, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := analystEnv(&stdout, &stderr)
	if err := Run(context.Background(), env, args); err != nil {
		t.Fatalf("jitscore %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// analystEnv is a quiet environment writing to stdout and stderr.
func analystEnv(stdout, stderr io.Writer) *Env {
	return &Env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(string) string { return "" }}
}

// analystDB loads a hand-made two-week history into a DuckDB file:
//
//	Engineering / Backend: alice, bob, carol (a persona of three); Sales: dave.
//	PU = aws:111122223333:PowerUser (medium), Admin = aws:111122223333:AdministratorAccess
//	(critical by the default tier patterns, never auto-approved).
//
//	week 1 (from Mon 2025-01-06): r1 alice PU approved, r2 bob PU approved,
//	  r3 dave PU denied, r4 alice Admin approved
//	week 2 (from Mon 2025-01-13): r5 alice PU approved, r6 bob PU approved,
//	  r7 dave PU denied, r8 carol Admin approved, r9 mallory (no identity)
//	  PU denied, r10 bob PU pending
//
// Every grant lasts 8 hours. The only CloudTrail use is alice's during r5.
func analystDB(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db := filepath.Join(dir, "j.duckdb")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ids := write("identities.csv", `user,department,title
alice,Engineering,Backend
bob,Engineering,Backend
carol,Engineering,Backend
dave,Sales,Account Executive
`)
	reqs := write("requests.csv", `request_id,requester,entitlement,requested_at,status,duration,decided_at,decided_by,granted_at,expires_at
r1,alice,aws:111122223333:PowerUser,2025-01-06T10:00:00Z,approved,8h,2025-01-06T10:10:00Z,lead,2025-01-06T10:10:00Z,2025-01-06T18:10:00Z
r2,bob,aws:111122223333:PowerUser,2025-01-07T10:00:00Z,approved,8h,2025-01-07T10:10:00Z,lead,2025-01-07T10:10:00Z,2025-01-07T18:10:00Z
r3,dave,aws:111122223333:PowerUser,2025-01-08T10:00:00Z,denied,8h,2025-01-08T10:10:00Z,lead,,
r4,alice,aws:111122223333:AdministratorAccess,2025-01-09T10:00:00Z,approved,1h,2025-01-09T10:10:00Z,lead,2025-01-09T10:10:00Z,2025-01-09T18:10:00Z
r5,alice,aws:111122223333:PowerUser,2025-01-13T10:00:00Z,approved,8h,2025-01-13T10:10:00Z,lead,2025-01-13T10:10:00Z,2025-01-13T18:10:00Z
r6,bob,aws:111122223333:PowerUser,2025-01-14T10:00:00Z,approved,8h,2025-01-14T10:10:00Z,lead,2025-01-14T10:10:00Z,2025-01-14T18:10:00Z
r7,dave,aws:111122223333:PowerUser,2025-01-15T10:00:00Z,denied,8h,2025-01-15T10:10:00Z,lead,,
r8,carol,aws:111122223333:AdministratorAccess,2025-01-16T10:00:00Z,approved,1h,2025-01-16T10:10:00Z,lead,2025-01-16T10:10:00Z,2025-01-16T18:10:00Z
r9,mallory,aws:111122223333:PowerUser,2025-01-17T10:00:00Z,denied,8h,2025-01-17T10:10:00Z,lead,,
r10,bob,aws:111122223333:PowerUser,2025-01-19T10:00:00Z,pending,8h,,,,
`)
	analystRun(t, "ingest", "identities", "--db", db, ids)
	analystRun(t, "ingest", "requests", "--db", db, reqs)

	conn, err := schema.Open(context.Background(), db, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Exec(`INSERT INTO usage_daily (person, entitlement, day, calls, writes, errors, services, first_at, last_at) VALUES ('alice', 'aws:111122223333:PowerUser',
		DATE '2025-01-13', 5, 1, 0, 2, TIMESTAMP '2025-01-13 11:00:00', TIMESTAMP '2025-01-13 12:00:00')`); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestBacktestCommandCountsOnAHandMadeHistory(t *testing.T) {
	t.Parallel()
	db := analystDB(t)
	plot := filepath.Join(t.TempDir(), "tradeoff.svg")
	out := analystRun(t, "backtest", "--db", db, "--period", "7d", "--format", "json",
		"--auto-approve-max", "0,0.999", "--deny-min", "1", "--plot", plot)
	var res struct {
		Skipped int `json:"skipped"`
		Periods []struct {
			Start        string `json:"start"`
			ColdStart    bool   `json:"cold_start"`
			TrainDecided int    `json:"train_decided"`
			Scored       int    `json:"scored"`
			HumanDenied  int    `json:"human_denied"`
		} `json:"periods"`
		Sweep []struct {
			AutoApproveMax float64  `json:"auto_approve_max"`
			DenyMin        float64  `json:"deny_min"`
			Current        bool     `json:"current"`
			Scored         int      `json:"scored"`
			AutoApproved   int      `json:"auto_approved"`
			FalseApprovals int      `json:"false_approvals"`
			AutoGrants     int      `json:"auto_grants_observable"`
			Unused         int      `json:"auto_grants_unused"`
			AutoShare      *float64 `json:"auto_share"`
			HoursSaved     float64  `json:"hours_saved"`
		} `json:"sweep"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res.Periods) != 2 || res.Skipped != 1 {
		t.Fatalf("got %d periods, %d skipped; want 2 and the pending r10", len(res.Periods), res.Skipped)
	}
	p0, p1 := res.Periods[0], res.Periods[1]
	if p0.Start != "2025-01-06T00:00:00Z" || p0.TrainDecided != 0 || p0.Scored != 4 || p0.HumanDenied != 1 {
		t.Errorf("period 0: %+v; want start 2025-01-06, no training history, 4 scored, 1 denied", p0)
	}
	if p1.TrainDecided != 4 || p1.Scored != 5 || p1.HumanDenied != 2 || !p1.ColdStart {
		t.Errorf("period 1: %+v; want the 4 decided of week 1 (a cold start), 5 scored, 2 denied", p1)
	}

	// The sweep: the config pair 0.15/0.85 plus 0/1 and 0.999/1.
	byPair := map[[2]float64]int{}
	for i, s := range res.Sweep {
		byPair[[2]float64{s.AutoApproveMax, s.DenyMin}] = i
	}
	open, ok := byPair[[2]float64{0.999, 1}]
	if !ok {
		t.Fatalf("no 0.999/1 pair in %+v", res.Sweep)
	}
	// Week 1: every entitlement is new, so the new_entitlement guardrail
	// reviews all four. Week 2: r8 is critical and r9 has no identity;
	// r5, r6 and r7 pass the guardrails, and r7 was denied by the reviewer.
	// Of the two auto-approved AWS grants, r6 was never used.
	s := res.Sweep[open]
	if s.Scored != 9 || s.AutoApproved != 3 || s.FalseApprovals != 1 || s.AutoGrants != 2 || s.Unused != 1 {
		t.Errorf("0.999/1: %+v; want 9 scored, 3 auto-approved, 1 false approval, 2 observable grants, 1 unused", s)
	}
	if s.AutoShare == nil || math.Abs(*s.AutoShare-1.0/3) > 1e-12 || math.Abs(s.HoursSaved-0.5) > 1e-12 {
		t.Errorf("0.999/1: auto share %v, hours saved %v; want 3/9 and 3 × 10 min = 0.5", s.AutoShare, s.HoursSaved)
	}
	closed := res.Sweep[byPair[[2]float64{0, 1}]]
	if closed.AutoApproved != 0 || closed.AutoShare == nil || *closed.AutoShare != 0 {
		t.Errorf("0/1 approves nothing: %+v", closed)
	}
	if cur := res.Sweep[byPair[[2]float64{0.15, 0.85}]]; !cur.Current {
		t.Errorf("the config pair 0.15/0.85 is not marked current: %+v", cur)
	}
	svg, err := os.ReadFile(plot)
	if err != nil || !bytes.Contains(svg, []byte("<svg")) {
		t.Errorf("plot file: %v, %d bytes, want an SVG", err, len(svg))
	}
}

func TestBacktestCommandRefusesBadFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"plot extension", []string{"--plot", "chart.gif"}, "png or .svg"},
		{"threshold out of range", []string{"--auto-approve-max", "0.1,1.5"}, `"1.5" is not a number in [0, 1]`},
		{"view", []string{"--view", "people"}, "--view"},
		{"period", []string{"--period", "soon"}, "--period"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			env := analystEnv(&out, &out)
			args := append([]string{"backtest", "--db", filepath.Join(t.TempDir(), "none.duckdb")}, tc.args...)
			err := Run(context.Background(), env, args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
