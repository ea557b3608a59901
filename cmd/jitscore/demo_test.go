package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

// runDemoJSON runs `demo --db DB --format json` in-process and decodes its
// summary.
func runDemoJSON(t *testing.T, db string) (demoSummary, string) {
	t.Helper()
	env, stdout, stderr := simulateEnv()
	if err := Run(context.Background(), env, []string{"demo", "--db", db, "--format", "json"}); err != nil {
		t.Fatalf("demo: %v\nstderr: %s", err, stderr)
	}
	var sum demoSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("demo stdout is not one JSON object: %v\n%s", err, stdout)
	}
	return sum, stderr.String()
}

func TestDemoScoresRealActorsWithTheirRealUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole pipeline (about 15 s)")
	}
	t.Parallel()
	db := filepath.Join(t.TempDir(), "demo.duckdb")
	sum, stderr := runDemoJSON(t, db)

	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "demo: ") {
		t.Errorf("stderr %q, want one demo: summary line", stderr)
	}
	if sum.DB != db || sum.InputDir != "" {
		t.Errorf("db %q, input dir %q: want the --db path and no kept inputs", sum.DB, sum.InputDir)
	}
	if sum.Simulated.EventsLoaded == 0 || sum.Real.EventsLoaded == 0 || sum.Real.Quarantined != 0 {
		t.Errorf("events: simulated %d, real %d (%d quarantined); want both loaded, none quarantined",
			sum.Simulated.EventsLoaded, sum.Real.EventsLoaded, sum.Real.Quarantined)
	}
	if sum.Real.IdentitiesRows != 4 || sum.Real.RequestsRows != 8 {
		t.Errorf("real identities %d, requests %d; want the 4 and 8 rows of testdata/demo", sum.Real.IdentitiesRows, sum.Real.RequestsRows)
	}

	// The real actors come out of the events view resolved, and those who
	// assumed roles are seen using them as entitlements.
	actors := map[string]demoActor{}
	for _, a := range sum.Real.Actors {
		actors[a.Actor] = a
	}
	for _, who := range []string{"bert-jan", "christophe", "benjamin", "pedro"} {
		if actors[who].Events == 0 {
			t.Errorf("actor %s has no events in the events view (actors %+v)", who, sum.Real.Actors)
		}
	}
	for _, who := range []string{"bert-jan", "christophe"} {
		if actors[who].Entitlements == 0 {
			t.Errorf("actor %s: no entitlement in use resolved from the assumed-role sessions", who)
		}
	}

	// Every pending request is scored; shadow mode answers review and keeps
	// the policy decision; a critical tier is never auto-approved.
	if want := sum.Simulated.Pending + len(demoRealPending(sum.AsOf)); len(sum.Decisions) != want {
		t.Fatalf("%d decisions, want %d", len(sum.Decisions), want)
	}
	if sum.Mode != "shadow" || sum.Answered[string(models.DecisionReview)] != len(sum.Decisions) {
		t.Errorf("mode %s answered %v; want shadow answering review to all", sum.Mode, sum.Answered)
	}
	if sum.Policy[string(models.DecisionAutoApprove)] == 0 {
		t.Errorf("policy %v: want some auto_approve on the simulated routine requests", sum.Policy)
	}
	for _, d := range sum.Decisions {
		if d.RequestID == demoRequestPrefix+"002" && d.Tier != models.TierCritical {
			t.Errorf("benjamin's AdministratorAccess request has tier %q, want critical from the config's pattern", d.Tier)
		}
		if d.TopReason == nil || d.TopReason.Detail == "" || d.Requester == "" || d.Entitlement == "" {
			t.Errorf("decision %+v: want requester, entitlement and a top reason", d)
		}
		if d.Real != strings.HasPrefix(d.RequestID, demoRequestPrefix) {
			t.Errorf("decision %s: real_actor %v", d.RequestID, d.Real)
		}
		if d.Tier == models.TierCritical && d.PolicyDecision == models.DecisionAutoApprove {
			t.Errorf("decision %s: critical tier auto-approved by policy", d.RequestID)
		}
	}
	if len(sum.RenewalList) == 0 || sum.Renewals[string(models.RenewalRevoke)] == 0 {
		t.Errorf("renewals %v: want some, with unused grants revoked", sum.Renewals)
	}

	// The snapshot scored the real actors with the history written for
	// them and the use the real CloudTrail shows inside their grants.
	snap, err := features.ReadSnapshotFile(features.SnapshotPath(db))
	if err != nil {
		t.Fatal(err)
	}
	history := []struct {
		name                          string
		user, entitlement             string
		grants, used, denied, minReqs int
	}{
		{"bert-jan used the role he asks for again", "bert-jan",
			"aws:123837392027:stratus-red-team-ec2-get-password-data-role", 1, 1, 0, 1},
		{"benjamin never used his AdministratorAccess grant", "benjamin",
			"aws:123837392027:AdministratorAccess", 1, 0, 0, 1},
		{"pedro was denied the role before", "pedro",
			"aws:123456789123:MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0", 0, 0, 1, 1},
		{"christophe used test-role", "christophe", "aws:494659789341:test-role", 1, 1, 0, 1},
	}
	for _, tc := range history {
		h := snap.History[features.PairKey{A: tc.user, B: tc.entitlement}]
		if h.Grants != tc.grants || h.GrantsUsed != tc.used || h.Denied != tc.denied || h.Requests < tc.minReqs {
			t.Errorf("%s: history %+v, want %d grants, %d used, %d denied", tc.name, h, tc.grants, tc.used, tc.denied)
		}
	}

	// The decisions view of the demo database holds the demo's decisions.
	env, stdout, stderr2 := simulateEnv()
	q := fmt.Sprintf("SELECT count(*) AS n FROM decisions WHERE request_id LIKE '%s%%'", demoRequestPrefix)
	if err := Run(context.Background(), env, []string{"sql", "--db", db, "--format", "json", q}); err != nil {
		t.Fatalf("sql: %v: %s", err, stderr2)
	}
	if got := strings.TrimSpace(stdout.String()); got != `{"n":4}` {
		t.Errorf("decisions of the real actors in the decisions view: %s, want 4", got)
	}

	// The readable summary says the mode, where the database is, and lists
	// every real-actor decision.
	var page bytes.Buffer
	if err := printDemo(&page, &sum); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"mode shadow", "database  " + db, "REAL-P001", "REAL-P004", "bert-jan",
		"renewal review", "real public CloudTrail"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, page.String())
		}
	}
}

func TestDemoRefusesAnExistingDatabase(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "mine.duckdb")
	if err := os.WriteFile(db, []byte("not the demo's"), 0o644); err != nil {
		t.Fatal(err)
	}
	env, stdout, _ := simulateEnv()
	err := Run(context.Background(), env, []string{"demo", "--db", db})
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), db) {
		t.Fatalf("error %v, want one naming %s as existing", err, db)
	}
	if b, _ := os.ReadFile(db); string(b) != "not the demo's" || stdout.Len() != 0 {
		t.Errorf("existing file changed to %q or output written %q", b, stdout)
	}
}

func TestDemoRejectsArgumentsAndUnknownFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"demo", "extra"}, {"demo", "--people", "5"}, {"demo", "--format", "csv"}} {
		env, _, _ := simulateEnv()
		err := Run(context.Background(), env, args)
		var ue usageError
		if err == nil || !errors.As(err, &ue) {
			t.Errorf("%q: error %v, want a usage error", args, err)
		}
	}
}

func TestDemoTableRowsSpreadOverRiskAndKeepRealActors(t *testing.T) {
	t.Parallel()
	var ds []demoDecision
	for i := 24; i >= 0; i-- {
		ds = append(ds, demoDecision{RequestID: fmt.Sprintf("S%02d", i), Risk: float64(i) / 24})
	}
	ds = append(ds, demoDecision{RequestID: "R1", Real: true, Risk: 0.5})
	cases := []struct {
		name string
		in   []demoDecision
		want []string
	}{
		{"few simulated: all, by risk", ds[20:], []string{"S00", "S01", "S02", "S03", "S04", "R1"}},
		{"many simulated: lowest, highest and spread between", ds,
			[]string{"S00", "S02", "S05", "S08", "S10", "S13", "S16", "S18", "S21", "S24", "R1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, d := range demoTableRows(tc.in) {
				got = append(got, d.RequestID)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("rows %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCountsTextOrdersKnownKindsFirst(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   map[string]int
		want string
	}{
		{"empty", map[string]int{}, "none"},
		{"decisions", map[string]int{"deny": 1, "review": 3, "auto_approve": 2}, "2 auto_approve, 3 review, 1 deny"},
		{"renewals", map[string]int{"revoke": 1, "renew": 4, "review": 2}, "2 review, 4 renew, 1 revoke"},
		{"unknown after", map[string]int{"zz": 1, "renew": 1, "aa": 2}, "1 renew, 2 aa, 1 zz"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := countsText(tc.in); got != tc.want {
				t.Errorf("countsText(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestShortenCutsRunesWithAnEllipsis(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"aws:123837392027:stratus-red-team", 10, "aws:12383…"},
		{"ééééééé", 4, "ééé…"},
	}
	for _, tc := range cases {
		if got := shorten(tc.in, tc.n); got != tc.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
