package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/ingest/schema"
)

// ctCase returns a shared CloudTrail case folder, skipping (failing under
// CI=true) when ../shared is missing beside the repository.
func ctCase(t *testing.T, name string) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		if filepath.Dir(dir) == dir {
			t.Fatal("go.mod not found")
		}
		dir = filepath.Dir(dir)
	}
	p := filepath.Join(filepath.Dir(dir), "shared", "cases", "cloudtrail", name)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared case missing: %s", p)
		}
		t.Skipf("shared case missing: %s", p)
	}
	return p
}

func ctRun(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Logger: newLogger(&errb), Getenv: os.Getenv}
	err = Run(context.Background(), env, args)
	return out.String(), errb.String(), err
}

// TestIngestCloudTrailPrintsJSONSummaryAndSQLReadsIt runs the commands as a
// user would: ingest with --format json, then query with sql in each format.
func TestIngestCloudTrailPrintsJSONSummaryAndSQLReadsIt(t *testing.T) {
	t.Parallel()
	input := filepath.Join(ctCase(t, "a9-duplicate-across-files"), "input")
	db := filepath.Join(t.TempDir(), "j.duckdb")
	out, errOut, err := ctRun(t, "ingest", "cloudtrail", "--db", db, "--format", "json", input)
	if err != nil {
		t.Fatal(err)
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(out), &sum); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out)
	}
	for k, want := range map[string]float64{"events_loaded": 3, "duplicates": 1, "quarantined": 0, "skipped_files": 0, "files": 2} {
		if got, ok := sum[k].(float64); !ok || got != want {
			t.Errorf("%s = %v, want %v", k, sum[k], want)
		}
	}
	if !strings.Contains(errOut, "3 events loaded, 1 duplicates") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr = %q, want one summary line", errOut)
	}

	tests := []struct{ format, want string }{
		{"csv", "actor,n\nalice@corp.example,1\nbob,1\ncarol@corp.example,1\n"},
		{"json", `{"actor":"alice@corp.example","n":1}` + "\n" + `{"actor":"bob","n":1}` + "\n" + `{"actor":"carol@corp.example","n":1}` + "\n"},
		{"table", "actor               n\nalice@corp.example  1\nbob                 1\ncarol@corp.example  1\n"},
	}
	for _, tc := range tests {
		out, _, err := ctRun(t, "sql", "--db", db, "--format", tc.format,
			"SELECT actor, count(*) AS n FROM events GROUP BY actor ORDER BY actor")
		if err != nil {
			t.Fatalf("sql --format %s: %v", tc.format, err)
		}
		if out != tc.want {
			t.Errorf("sql --format %s:\n%s\nwant:\n%s", tc.format, out, tc.want)
		}
	}
}

// TestSQLGivesJSONAsItsTextInEveryFormat pins that a JSON value (the
// events view's raw) is printed as its text: keys in their own order and
// '&', '<', '>' unescaped, in all three formats; and that a query ending
// in a line comment still runs.
func TestSQLGivesJSONAsItsTextInEveryFormat(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rec := `{"eventVersion":"1.09","eventTime":"2026-03-09T09:00:00Z","eventID":"z1","zeta":1,"alpha":{"y":2,"b":3},"q":"a=1&b<2>"}`
	if err := os.WriteFile(filepath.Join(dir, "r.jsonl"), []byte(rec+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "k.duckdb")
	if _, _, err := ctRun(t, "ingest", "cloudtrail", "--db", db, dir); err != nil {
		t.Fatal(err)
	}
	sqlPrints(t, db, "SELECT raw, event_id AS id FROM events -- the record", map[string]string{
		"json":  `{"raw":` + rec + `,"id":"z1"}` + "\n",
		"csv":   "raw,id\n\"" + strings.ReplaceAll(rec, `"`, `""`) + "\",z1\n",
		"table": "raw" + strings.Repeat(" ", len(rec)-1) + "id\n" + rec + "  z1\n",
	})
}

// sqlPrints runs query with jitscore sql over db in each format and
// checks the output against want[format].
func sqlPrints(t *testing.T, db, query string, want map[string]string) {
	t.Helper()
	for format, w := range want {
		out, _, err := ctRun(t, "sql", "--db", db, "--format", format, query)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if out != w {
			t.Errorf("%s:\n%s\nwant:\n%s", format, out, w)
		}
	}
}

// TestSQLPrintsValuesAsDuckDBWritesThem pins the printing of values whose
// Go form would mislead: a UUID (scanned as 16 bytes) as its hyphenated
// text, a DATE and a TIME without the zero half of a time.Time, and text
// with '&', '<', '>' as it is.
func TestSQLPrintsValuesAsDuckDBWritesThem(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "v.duckdb")
	if _, _, err := ctRun(t, "ingest", "cloudtrail", "--db", db, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	q := `SELECT '11111111-2222-3333-4444-555555555555'::UUID u, NULL::UUID n, DATE '2025-01-10' d, TIME '01:02:03.5' tm, 'a&b<c>' s`
	sqlPrints(t, db, q, map[string]string{
		"json": `{"u":"11111111-2222-3333-4444-555555555555","n":null,"d":"2025-01-10","tm":"01:02:03.5","s":"a&b<c>"}` + "\n",
		"csv":  "u,n,d,tm,s\n11111111-2222-3333-4444-555555555555,,2025-01-10,01:02:03.5,a&b<c>\n",
	})
}

// TestSQLRefusesAnythingButOneReadOnlyQuery pins the statements sql refuses.
func TestSQLRefusesAnythingButOneReadOnlyQuery(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "r.duckdb")
	if _, _, err := ctRun(t, "ingest", "cloudtrail", "--db", db, filepath.Join(ctCase(t, "a4-null-params"), "input")); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"DELETE FROM ct_events",
		"DROP VIEW events",
		"CREATE TABLE x AS SELECT 1",
		"SELECT 1; DELETE FROM ct_events",
		"COPY ct_events TO 'out.csv'",
		"ATTACH 'other.duckdb'",
		"PRAGMA database_list",
		"INSERT INTO quarantine VALUES ('a','b','c','d',now())",
	} {
		if _, _, err := ctRun(t, "sql", "--db", db, q); err == nil {
			t.Errorf("sql %q ran, want it refused", q)
		}
	}
	out, _, err := ctRun(t, "sql", "--db", db, "--format", "csv", "WITH c AS (SELECT count(*) AS n FROM events) SELECT n FROM c")
	if err != nil || out != "n\n3\n" {
		t.Errorf("WITH query = %q, %v; want n=3", out, err)
	}
}

// TestSQLReadsNothingButTheDatabase pins the confinement of sql: a
// SELECT that would read a local file, list a directory or load an
// extension from the network fails, while the public views still answer.
func TestSQLReadsNothingButTheDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "r.duckdb")
	if _, _, err := ctRun(t, "ingest", "cloudtrail", "--db", db, filepath.Join(ctCase(t, "a4-null-params"), "input")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "secret.csv")
	if err := os.WriteFile(secret, []byte("k\ntop-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"SELECT * FROM read_csv('" + secret + "')",
		"SELECT * FROM read_text('" + secret + "')",
		"SELECT * FROM glob('" + dir + "/*')",
		"SELECT * FROM sqlite_scan('" + secret + "', 'x')",
		"SELECT current_setting('enable_external_access') AS v FROM read_blob('" + secret + "')",
	} {
		out, _, err := ctRun(t, "sql", "--db", db, q)
		if err == nil || strings.Contains(out, "top-secret") {
			t.Errorf("sql %q = %q, %v; want it refused", q, out, err)
		}
	}
	out, _, err := ctRun(t, "sql", "--db", db, "--format", "csv", "SELECT count(*) AS n FROM events")
	if err != nil || out != "n\n3\n" {
		t.Errorf("events count = %q, %v; want n=3", out, err)
	}
}

// TestIngestCloudTrailBadArgumentsFailClearly checks usage errors.
func TestIngestCloudTrailBadArgumentsFailClearly(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "b.duckdb")
	tests := []struct {
		args  []string
		usage bool
		want  string
	}{
		{[]string{"ingest", "cloudtrail", "--db", db}, true, "at least one"},
		{[]string{"ingest", "cloudtrail", "--db", db, "--since", "soonish", "x"}, true, "--since"},
		{[]string{"ingest", "cloudtrail", "--db", db, filepath.Join(t.TempDir(), "missing")}, false, "missing"},
	}
	for _, tc := range tests {
		_, _, err := ctRun(t, tc.args...)
		var ue usageError
		if err == nil || errors.As(err, &ue) != tc.usage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want usage=%v mentioning %q", tc.args, err, tc.usage, tc.want)
		}
	}
}

// TestParseSinceAcceptsTimesDatesAndAges pins --since parsing.
func TestParseSinceAcceptsTimesDatesAndAges(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"2026-03-09T10:00:00+02:00": time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC),
		"2026-03-01":                time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		"30d":                       now.Add(-30 * 24 * time.Hour),
		"8h":                        now.Add(-8 * time.Hour),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// TestWriteRowsFormatsValues pins nulls, times, quoting and key order.
func TestWriteRowsFormatsValues(t *testing.T) {
	t.Parallel()
	cols := []string{"b", "a", "t"}
	rows := [][]any{{"x,y", nil, time.Date(2026, 3, 9, 9, 0, 0, 0, time.UTC)}, {[]byte("z"), int64(3), true}}
	tests := []struct{ format, want string }{
		{"csv", "b,a,t\n\"x,y\",,2026-03-09T09:00:00Z\nz,3,true\n"},
		{"json", `{"b":"x,y","a":null,"t":"2026-03-09T09:00:00Z"}` + "\n" + `{"b":"z","a":3,"t":true}` + "\n"},
		{"table", "b    a  t\nx,y     2026-03-09T09:00:00Z\nz    3  true\n"},
	}
	for _, tc := range tests {
		var buf bytes.Buffer
		if err := writeRows(&buf, tc.format, cols, rows); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.want {
			t.Errorf("%s:\n%q\nwant\n%q", tc.format, buf.String(), tc.want)
		}
	}
	if err := writeRows(&bytes.Buffer{}, "xml", cols, rows); err == nil {
		t.Error("unknown format accepted")
	}
}

// TestHelpPrintsUsageOnStdout pins that asked-for usage is output (it can
// be paged), while a missing command is an error with usage on stderr.
func TestHelpPrintsUsageOnStdout(t *testing.T) {
	t.Parallel()
	out, _, err := ctRun(t, "help")
	if err != nil || !strings.Contains(out, "usage: jitscore") || !strings.Contains(out, "ingest ") {
		t.Errorf("help: err %v, stdout %q; want the usage on stdout", err, out)
	}
	out, errOut, err := ctRun(t)
	if err == nil || out != "" || !strings.Contains(errOut, "usage: jitscore") {
		t.Errorf("no command: err %v, stdout %q, stderr %d bytes; want an error and usage on stderr", err, out, len(errOut))
	}
}

// failingWriter fails every write, counting them.
type failingWriter struct{ writes int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.writes++
	return 0, errors.New("reader went away")
}

// TestSQLStreamsCSVAndJSONRows pins that csv and json rows are written as
// they are read: a writer that fails stops the query after a few rows,
// not after all million of them were held.
func TestSQLStreamsCSVAndJSONRows(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s.duckdb")
	if _, _, err := ctRun(t, "ingest", "cloudtrail", "--db", path, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	db, err := schema.Open(context.Background(), path, schema.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, format := range []string{"csv", "json"} {
		w := &failingWriter{}
		n, err := printQuery(context.Background(), db, "SELECT range AS i FROM range(1000000)", nil, w, format)
		if err == nil || !strings.Contains(err.Error(), "reader went away") {
			t.Fatalf("%s: error %v, want the writer's", format, err)
		}
		if n > 10000 || w.writes != 1 {
			t.Errorf("%s: %d rows read and %d writes before the failing write stopped it", format, n, w.writes)
		}
	}
}
