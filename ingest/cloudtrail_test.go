package ingest

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/ingest/schema"
)

// ctSharedDir returns ../shared beside the repository root, or skips the
// test when it is missing (fails under CI=true).
func ctSharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root (go.mod) not found")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	if _, err := os.Stat(shared); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared fixtures missing at %s", shared)
		}
		t.Skipf("shared fixtures missing at %s", shared)
	}
	return shared
}

// ctOpenDB opens a fresh database file in a temporary directory.
func ctOpenDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := schema.Open(context.Background(), filepath.Join(t.TempDir(), "test.duckdb"), schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// ctInsertIdentities loads an identities CSV (user, aliases, identity_store_id
// columns) into identities and identity_keys, as the identities loader
// does: keys are lower-cased.
func ctInsertIdentities(t *testing.T, db *sql.DB, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, r := range recs[1:] {
		user := r[col["user"]]
		var aliases []string
		if r[col["aliases"]] != "" {
			aliases = strings.Split(r[col["aliases"]], ";")
		}
		isid := r[col["identity_store_id"]]
		if _, err := db.Exec(`INSERT INTO identities (user_id, identity_store_id) VALUES (?, ?)`, user, isid); err != nil {
			t.Fatal(err)
		}
		keys := map[string]string{strings.ToLower(user): "user", strings.ToLower(isid): "identity_store_id"}
		for _, a := range aliases {
			keys[strings.ToLower(a)] = "alias"
		}
		for k, kind := range keys {
			if _, err := db.Exec(`INSERT OR REPLACE INTO identity_keys VALUES (?, ?, ?)`, k, user, kind); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// caseExpect is a case's expect.json.
type caseExpect struct {
	Case            string             `json:"case"`
	Input           string             `json:"input"`
	Identities      string             `json:"identities"`
	EventsLoaded    int                `json:"events_loaded"`
	Duplicates      int                `json:"duplicates"`
	Quarantined     int                `json:"quarantined"`
	SkippedFiles    int                `json:"skipped_files"`
	Actors          map[string]*string `json:"actors"`
	ActorsSample    bool               `json:"actors_sample"`
	ActorTypes      map[string]string  `json:"actor_types"`
	Entitlements    map[string]string  `json:"entitlements"`
	Times           map[string]string  `json:"times"`
	SourceIPs       map[string]string  `json:"source_ips"`
	Categories      map[string]string  `json:"categories"`
	ErrorCodes      map[string]*string `json:"error_codes"`
	Skipped         []string           `json:"skipped"`
	QuarantineFiles []string           `json:"quarantine_files"`
	raw             map[string]json.RawMessage
}

// knownCaseKeys are the keys of cases/README.md; a case using any other key
// fails the test so that a new expectation is never silently ignored.
var knownCaseKeys = map[string]bool{
	"case": true, "input": true, "identities": true, "events_loaded": true, "duplicates": true,
	"quarantined": true, "skipped_files": true, "actors": true, "actors_sample": true,
	"actor_types": true, "entitlements": true, "times": true, "source_ips": true,
	"categories": true, "error_codes": true, "skipped": true, "quarantine_files": true,
	"exit_status": true, "notes": true,
}

func ctReadCase(t *testing.T, dir string) caseExpect {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c caseExpect
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("expect.json: %v", err)
	}
	if err := json.Unmarshal(b, &c.raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"case", "events_loaded", "duplicates", "quarantined", "skipped_files", "actors"} {
		if _, ok := c.raw[k]; !ok {
			t.Fatalf("expect.json lacks required key %q", k)
		}
	}
	for k := range c.raw {
		if !knownCaseKeys[k] {
			t.Fatalf("expect.json has key %q this test does not check", k)
		}
	}
	if c.Input == "" {
		c.Input = "input/"
	}
	return c
}

// ctEventColumn reads one column of the events view for the given ids.
func ctEventColumn(t *testing.T, db *sql.DB, column string) map[string]*string {
	t.Helper()
	rows, err := db.Query(`SELECT event_id, CAST(` + column + ` AS VARCHAR) FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]*string{}
	for rows.Next() {
		var id string
		var v sql.NullString
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		if v.Valid {
			s := v.String
			out[id] = &s
		} else {
			out[id] = nil
		}
	}
	return out
}

func ctDeref(s *string) string {
	if s == nil {
		return "<null>"
	}
	return *s
}

func ctCheckColumn(t *testing.T, db *sql.DB, column string, want map[string]*string, sample bool) {
	t.Helper()
	got := ctEventColumn(t, db, column)
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("%s: event %s not stored", column, id)
			continue
		}
		if ctDeref(g) != ctDeref(w) {
			t.Errorf("%s of %s = %s, want %s", column, id, ctDeref(g), ctDeref(w))
		}
	}
	if !sample && column == "actor" && len(got) != len(want) {
		t.Errorf("events view has %d events, expect.json lists %d actors", len(got), len(want))
	}
}

func ctPtrs(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = &v
	}
	return out
}

func ctCount(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestCloudTrailCasesMatchExpect loads every shared case into an empty
// database and checks the summary and every listed column against its
// expect.json; then loads it again, with and without a rescan, and checks
// that nothing changes and every record counts as a duplicate.
func TestCloudTrailCasesMatchExpect(t *testing.T) {
	root := filepath.Join(ctSharedDir(t), "cases", "cloudtrail")
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join(root, d.Name())
		t.Run(d.Name(), func(t *testing.T) {
			t.Parallel()
			c := ctReadCase(t, dir)
			if c.Case != d.Name() {
				t.Errorf("expect.json case %q in folder %s", c.Case, d.Name())
			}
			db := ctOpenDB(t)
			if c.Identities != "" {
				ctInsertIdentities(t, db, filepath.Join(dir, c.Identities))
			}
			input := filepath.Join(dir, c.Input)
			ctx := context.Background()
			sum, err := LoadCloudTrail(ctx, db, []string{input}, CloudTrailOptions{})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if sum.EventsLoaded != c.EventsLoaded || sum.Duplicates != c.Duplicates ||
				sum.Quarantined != c.Quarantined || sum.SkippedFiles != c.SkippedFiles {
				t.Errorf("loaded/dup/quar/skipped = %d/%d/%d/%d, want %d/%d/%d/%d (%+v)",
					sum.EventsLoaded, sum.Duplicates, sum.Quarantined, sum.SkippedFiles,
					c.EventsLoaded, c.Duplicates, c.Quarantined, c.SkippedFiles, sum)
			}
			if n := ctCount(t, db, `SELECT count(*) FROM events`); n != c.EventsLoaded {
				t.Errorf("events view holds %d rows, want %d", n, c.EventsLoaded)
			}
			ctCheckColumn(t, db, "actor", c.Actors, c.ActorsSample)
			ctCheckColumn(t, db, "principal_type", ctPtrs(c.ActorTypes), true)
			ctCheckColumn(t, db, "entitlement", ctPtrs(c.Entitlements), true)
			ctCheckColumn(t, db, "source_ip", ctPtrs(c.SourceIPs), true)
			ctCheckColumn(t, db, "event_category", ctPtrs(c.Categories), true)
			ctCheckColumn(t, db, "error_code", c.ErrorCodes, true)
			ctCheckTimes(t, db, c.Times)
			ctCheckSkipped(t, dir, sum, c.Skipped)
			ctCheckQuarantine(t, db, dir, c.QuarantineFiles)

			// Load again: incrementally (unchanged files not read) and
			// with a rescan (every file read): same answer both ways.
			read := c.EventsLoaded + c.Duplicates
			quar := ctCount(t, db, `SELECT count(*) FROM quarantine`)
			for _, rescan := range []bool{false, true} {
				again, err := LoadCloudTrail(ctx, db, []string{input}, CloudTrailOptions{Rescan: rescan})
				if err != nil {
					t.Fatalf("second load (rescan %v): %v", rescan, err)
				}
				if again.EventsLoaded != 0 || again.Duplicates != read || again.SkippedFiles != c.SkippedFiles {
					t.Errorf("second load (rescan %v): loaded/dup/skipped = %d/%d/%d, want 0/%d/%d",
						rescan, again.EventsLoaded, again.Duplicates, again.SkippedFiles, read, c.SkippedFiles)
				}
				if n := ctCount(t, db, `SELECT count(*) FROM events`); n != c.EventsLoaded {
					t.Errorf("after second load (rescan %v) events holds %d rows, want %d", rescan, n, c.EventsLoaded)
				}
				if n := ctCount(t, db, `SELECT count(*) FROM quarantine`); n != quar {
					t.Errorf("after second load (rescan %v) quarantine holds %d rows, want %d", rescan, n, quar)
				}
			}
		})
	}
}

func ctCheckTimes(t *testing.T, db *sql.DB, want map[string]string) {
	t.Helper()
	for id, ws := range want {
		w, err := time.Parse(time.RFC3339Nano, ws)
		if err != nil {
			t.Fatalf("times[%s] = %q: %v", id, ws, err)
		}
		var got time.Time
		if err := db.QueryRow(`SELECT event_time FROM events WHERE event_id = ?`, id).Scan(&got); err != nil {
			t.Errorf("time of %s: %v", id, err)
			continue
		}
		if !got.Equal(w) {
			t.Errorf("time of %s = %s, want %s", id, got.UTC().Format(time.RFC3339Nano), ws)
		}
	}
}

func ctCheckSkipped(t *testing.T, dir string, sum Summary, want []string) {
	t.Helper()
	if want == nil {
		return
	}
	var got []string
	for _, s := range sum.Skipped {
		rel, err := filepath.Rel(dir, s.Source)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.ToSlash(rel))
	}
	sort.Strings(got)
	w := append([]string(nil), want...)
	sort.Strings(w)
	if strings.Join(got, "\n") != strings.Join(w, "\n") {
		t.Errorf("skipped files = %v, want %v", got, w)
	}
}

func ctCheckQuarantine(t *testing.T, db *sql.DB, dir string, want []string) {
	t.Helper()
	if want == nil {
		return
	}
	rows, err := db.Query(`SELECT DISTINCT source FROM quarantine ORDER BY source`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, s)
		got = append(got, filepath.ToSlash(rel))
	}
	w := append([]string(nil), want...)
	sort.Strings(w)
	if strings.Join(got, "\n") != strings.Join(w, "\n") {
		t.Errorf("quarantined files = %v, want %v", got, w)
	}
}

// TestIdentitiesLoadedLaterReresolveActors loads Identity Center events
// without identities (actor = Identity Store user id), then the identities:
// the events view then names the person, with no re-ingest.
func TestIdentitiesLoadedLaterReresolveActors(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(ctSharedDir(t), "cases", "cloudtrail", "a5-identity-center-user")
	db := ctOpenDB(t)
	if _, err := LoadCloudTrail(context.Background(), db, []string{filepath.Join(dir, "input")}, CloudTrailOptions{}); err != nil {
		t.Fatal(err)
	}
	const id = "70e7b4d7-e109-4e07-8f34-e1fb3c6558d0"
	storeID := "720bf30c-3635-4aa9-8037-76362e3c2281"
	carol := "carol@corp.example"
	ctCheckColumn(t, db, "actor", map[string]*string{id: &storeID}, true)
	ctInsertIdentities(t, db, filepath.Join(dir, "identities.csv"))
	ctCheckColumn(t, db, "actor", map[string]*string{id: &carol}, true)
}

// TestSharedDataLoadsEveryEvent loads all of shared/data: 3,313 events,
// nothing quarantined, the non-JSON documentation files skipped; a second
// load adds nothing.
func TestSharedDataLoadsEveryEvent(t *testing.T) {
	t.Parallel()
	data := filepath.Join(ctSharedDir(t), "data")
	db := ctOpenDB(t)
	ctx := context.Background()
	sum, err := LoadCloudTrail(ctx, db, []string{data}, CloudTrailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EventsLoaded != 3313 || sum.Quarantined != 0 || sum.Duplicates != 0 {
		t.Errorf("loaded/quarantined/dup = %d/%d/%d, want 3313/0/0", sum.EventsLoaded, sum.Quarantined, sum.Duplicates)
	}
	for _, s := range sum.Skipped {
		if ext := filepath.Ext(s.Source); ext == ".json" {
			t.Errorf("skipped %s (%s)", s.Source, s.Reason)
		}
	}
	if n := ctCount(t, db, `SELECT count(*) FROM events WHERE actor IS NULL AND event_category <> 'Insight'`); n != 0 {
		t.Logf("%d events without an actor", n)
	}
	again, err := LoadCloudTrail(ctx, db, []string{data}, CloudTrailOptions{Rescan: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.EventsLoaded != 0 || again.Duplicates != 3313 {
		t.Errorf("re-load: loaded/dup = %d/%d, want 0/3313", again.EventsLoaded, again.Duplicates)
	}
	if n := ctCount(t, db, `SELECT count(*) FROM events`); n != 3313 {
		t.Errorf("events holds %d rows after re-load, want 3313", n)
	}
}
