package ingest

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/ingest/internal/trail"
	"github.com/jitscore/jitscore/ingest/schema"
)

// writeInputs writes files (name to content) into a new directory and
// returns it.
func writeInputs(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadInto runs one load of srcs into db.
func loadInto(t *testing.T, db *sql.DB, srcs ...string) Summary {
	t.Helper()
	sum, err := LoadCloudTrail(context.Background(), db, srcs, CloudTrailOptions{})
	if err != nil {
		t.Fatalf("load %v: %v", srcs, err)
	}
	return sum
}

// TestCanonicalUUIDTakesOnlyTextThatRoundTrips pins which eventIDs are
// stored as UUIDs: only the lower-case hyphenated form that DuckDB prints
// back, so the events view returns every ID exactly as the record had it.
func TestCanonicalUUIDTakesOnlyTextThatRoundTrips(t *testing.T) {
	t.Parallel()
	for id, want := range map[string]bool{
		"31c5208f-a355-441e-980b-ac62216b8912":   true,
		"31C5208F-A355-441E-980B-AC62216B8912":   false, // upper case would come back lower
		"{31c5208f-a355-441e-980b-ac62216b8912}": false,
		"31c5208fa355441e980bac62216b8912":       false,
		"31c5208f-a355-441e-980b-ac62216b891g":   false,
		"31c5208f-a355-441e-980b_ac62216b8912":   false,
		"r1":                                     false,
		"":                                       false,
	} {
		if _, ok := canonicalUUID(id); ok != want {
			t.Errorf("canonicalUUID(%q) ok = %v, want %v", id, ok, want)
		}
	}
}

// TestEventIDsOfEveryFormComeBackExactlyAndDeduplicate loads IDs that are
// canonical UUIDs, upper-case UUIDs and free text, then loads them again
// from another file (the staging path): the view gives each ID as written,
// and the second load adds nothing.
func TestEventIDsOfEveryFormComeBackExactlyAndDeduplicate(t *testing.T) {
	t.Parallel()
	ids := []string{"0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4E", "r1", "evt-000042"}
	var lines strings.Builder
	for _, id := range ids {
		lines.WriteString(`{"eventVersion":"1.09","eventID":"` + id + `","eventTime":"2026-03-09T09:00:00Z","eventName":"GetObject"}` + "\n")
	}
	dir := writeInputs(t, map[string]string{"a.jsonl": lines.String(), "b.jsonl": lines.String()})
	ctx := context.Background()
	db := ctOpenDB(t)
	if sum := loadInto(t, db, filepath.Join(dir, "a.jsonl")); sum.EventsLoaded != len(ids) {
		t.Fatalf("first load: %+v", sum)
	}
	if sum := loadInto(t, db, filepath.Join(dir, "b.jsonl")); sum.EventsLoaded != 0 || sum.Duplicates != len(ids) {
		t.Fatalf("second load of the same IDs: %+v; want all duplicates", sum)
	}
	got := queryStrings(t, db, `SELECT event_id FROM events ORDER BY event_id`)
	want := append([]string(nil), ids...)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("event_id = %v, want %v", got, want)
	}
	var asUUID int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM ct_events WHERE event_uuid IS NOT NULL`).Scan(&asUUID); err != nil || asUUID != 1 {
		t.Errorf("IDs stored as UUID = %d (%v), want 1", asUUID, err)
	}
}

// TestPrincipalsAreStoredOnceAcrossLoads loads two files in two loads whose
// events share one IAM Identity Center session and differ in another: each
// distinct principal is one ct_principals row, reused by the second load,
// and the view gives every event its principal's columns.
func TestPrincipalsAreStoredOnceAcrossLoads(t *testing.T) {
	t.Parallel()
	ev := func(id, user string) string {
		return `{"eventVersion":"1.09","eventID":"` + id + `","eventTime":"2026-03-09T09:00:00Z","eventName":"GetObject",` +
			`"userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:` + user + `",` +
			`"arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_DataRead_0123456789abcdef/` + user + `",` +
			`"accountId":"111122223333"}}` + "\n"
	}
	dir := writeInputs(t, map[string]string{
		"a.jsonl": ev("a1", "ana@corp.example") + ev("a2", "ana@corp.example") + ev("a3", "bo@corp.example"),
		"b.jsonl": ev("b1", "ana@corp.example") + ev("b2", "cy@corp.example"),
	})
	ctx := context.Background()
	db := ctOpenDB(t)
	loadInto(t, db, filepath.Join(dir, "a.jsonl"))
	loadInto(t, db, filepath.Join(dir, "b.jsonl"))
	var principals, events, ana int
	var ent string
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM ct_principals`).Scan(&principals); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (actor_raw = 'ana@corp.example'), min(entitlement) FROM events`).Scan(&events, &ana, &ent); err != nil {
		t.Fatal(err)
	}
	if principals != 3 || events != 5 || ana != 3 || ent != "aws:111122223333:DataRead" {
		t.Errorf("principals %d, events %d, ana's %d, entitlement %q; want 3, 5, 3, aws:111122223333:DataRead", principals, events, ana, ent)
	}
}

// TestClientsGiveEachEventItsAddressAndAgent loads events whose
// sourceIPAddress is an IPv4 or IPv6 address, a service name or "AWS
// Internal", with agents shared and not: each event reads back its own
// text, the parsed address only where the text is one, and its agent.
func TestClientsGiveEachEventItsAddressAndAgent(t *testing.T) {
	t.Parallel()
	type client struct{ ip, ua, parsed string }
	want := map[string]client{
		"c1": {"203.0.113.7", "aws-cli/2.24", "203.0.113.7"},
		"c2": {"203.0.113.7", "Boto3/1.35", "203.0.113.7"},
		"c3": {"2001:DB8::1", "aws-cli/2.24", "2001:db8::1"},
		"c4": {"AWS Internal", "AWS Internal", ""},
		"c5": {"s3.amazonaws.com", "s3.amazonaws.com", ""},
		"c6": {"203.0.113.7", "aws-cli/2.24", "203.0.113.7"},
	}
	var lines strings.Builder
	for id, c := range want {
		lines.WriteString(`{"eventVersion":"1.09","eventID":"` + id + `","eventTime":"2026-03-09T09:00:00Z",` +
			`"sourceIPAddress":"` + c.ip + `","userAgent":"` + c.ua + `"}` + "\n")
	}
	ctx := context.Background()
	db := ctOpenDB(t)
	loadInto(t, db, writeInputs(t, map[string]string{"c.jsonl": lines.String()}))
	rows, err := db.QueryContext(ctx, `SELECT event_id, source_ip, coalesce(source_ip_parsed, ''), user_agent FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		var got client
		if err := rows.Scan(&id, &got.ip, &got.parsed, &got.ua); err != nil {
			t.Fatal(err)
		}
		n++
		if got != want[id] {
			t.Errorf("%s: got %+v, want %+v", id, got, want[id])
		}
	}
	if n != len(want) {
		t.Errorf("%d events, want %d", n, len(want))
	}
	var clients int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM ct_clients`).Scan(&clients); err != nil || clients != 5 {
		t.Errorf("ct_clients rows = %d (%v), want 5 distinct (address, agent) pairs", clients, err)
	}
}

// TestDimensionColumnsAreTheirTablesColumns pins that each dimension names
// its table's columns in the table's order: its rows are appended by
// position.
func TestDimensionColumnsAreTheirTablesColumns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := schema.Open(ctx, ":memory:", schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, d := range newDimensions() {
		got := queryStrings(t, db, `SELECT column_name FROM duckdb_columns() WHERE table_name = '`+d.table+`' ORDER BY column_index`)
		want := append([]string{d.key}, d.cols...)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s columns %v, dimension appends %v", d.table, got, want)
		}
	}
}

// TestPlacesGiveEachEventItsAccountAndRegion pins account_id (the
// recipient account, else the principal's) and aws_region per event, read
// back through ct_places, and principal_type Unknown where the record
// names none.
func TestPlacesGiveEachEventItsAccountAndRegion(t *testing.T) {
	t.Parallel()
	body := `{"eventVersion":"1.09","eventID":"p1","eventTime":"2026-03-09T09:00:00Z","awsRegion":"us-east-1","recipientAccountId":"111122223333"}
{"eventVersion":"1.09","eventID":"p2","eventTime":"2026-03-09T09:00:00Z","awsRegion":"eu-west-1","recipientAccountId":"111122223333"}
{"eventVersion":"1.09","eventID":"p3","eventTime":"2026-03-09T09:00:00Z","awsRegion":"eu-west-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::444455556666:user/ops","userName":"ops"}}
{"eventVersion":"1.09","eventID":"p4","eventTime":"2026-03-09T09:00:00Z"}
`
	db := ctOpenDB(t)
	loadInto(t, db, writeInputs(t, map[string]string{"p.jsonl": body}))
	got := queryStrings(t, db, `SELECT event_id || ' ' || coalesce(account_id, '-') || ' ' || coalesce(aws_region, '-') || ' ' || principal_type FROM events ORDER BY event_id`)
	want := "p1 111122223333 us-east-1 Unknown,p2 111122223333 eu-west-1 Unknown,p3 444455556666 eu-west-1 IAMUser,p4 - - Unknown"
	if strings.Join(got, ",") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

// TestScrubbedSSOSessionTakesItsRoleFromTheIssuer pins the entitlement of
// an IAM Identity Center session whose ARN an export scrubbed (the role
// part gone, as in one of the public datasets): the session issuer still
// names AWSReservedSSO_<PermissionSet>_<suffix>.
func TestScrubbedSSOSessionTakesItsRoleFromTheIssuer(t *testing.T) {
	t.Parallel()
	e, err := trail.ParseRecord([]byte(`{"eventVersion":"1.08","eventID":"s1","eventTime":"2022-03-09T09:00:00Z",
"userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:someone@example.com",
"arn":"arn:aws:sts::844015365555:assumed-role/AWSReservedSSOsomeone@example.com","accountId":"844015365555",
"sessionContext":{"sessionIssuer":{"type":"Role","userName":"AWSReservedSSO_account-admin_599c9e90e350d2ff",
"arn":"arn:aws:iam::844015365555:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_account-admin_599c9e90e350d2ff"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.Entitlement != "aws:844015365555:account-admin" || e.Actor != "someone@example.com" {
		t.Errorf("entitlement %q, actor %q; want aws:844015365555:account-admin and someone@example.com", e.Entitlement, e.Actor)
	}
}

// TestGrownFileKeepsEveryEventAcrossBatches reloads a file that grew since
// its first load, in batches smaller than the file, so that its first
// batch holds only duplicates: every event stays in the view with its own
// raw record, and the first load's blob is the only one left unused-free.
func TestGrownFileKeepsEveryEventAcrossBatches(t *testing.T) {
	t.Parallel()
	line := func(i int) string {
		return `{"eventVersion":"1.09","eventID":"g-` + strconv.Itoa(i) + `","eventTime":"2026-03-09T09:00:00Z","eventName":"GetObject"}` + "\n"
	}
	var first strings.Builder
	for i := range 30 {
		first.WriteString(line(i))
	}
	dir := writeInputs(t, map[string]string{"grow.jsonl": first.String()})
	db := ctOpenDB(t)
	ctx := context.Background()
	opts := CloudTrailOptions{BatchEvents: 8}
	if _, err := LoadCloudTrail(ctx, db, []string{dir}, opts); err != nil {
		t.Fatal(err)
	}
	more := first.String()
	for i := 30; i < 40; i++ {
		more += line(i)
	}
	if err := os.WriteFile(filepath.Join(dir, "grow.jsonl"), []byte(more), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := LoadCloudTrail(ctx, db, []string{dir}, opts)
	if err != nil || sum.EventsLoaded != 10 || sum.Duplicates != 30 {
		t.Fatalf("reload: %+v, %v; want 10 loaded, 30 duplicates", sum, err)
	}
	var events, raws, mismatched, blobs int
	if err := db.QueryRowContext(ctx, `SELECT count(*), count(raw), count(*) FILTER (raw->>'$.eventID' <> event_id) FROM events`).Scan(&events, &raws, &mismatched); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM ct_raw`).Scan(&blobs); err != nil {
		t.Fatal(err)
	}
	if events != 40 || raws != 40 || mismatched != 0 || blobs != 2 {
		t.Errorf("events %d, raw %d, raw of another event %d, blobs %d; want 40, 40, 0, 2", events, raws, mismatched, blobs)
	}
}

// TestLoneSurrogateEscapesAreRefused pins that a record holding a \u
// escape of an unpaired UTF-16 surrogate (in a value or a key) is refused,
// since DuckDB's JSON would then fail every read of raw, while a proper
// pair and an escaped backslash before "u" are kept.
func TestLoneSurrogateEscapesAreRefused(t *testing.T) {
	t.Parallel()
	rec := func(extra string) []byte {
		return []byte(`{"eventVersion":"1.09","eventID":"s","eventTime":"2026-03-09T09:00:00Z",` + extra + `}`)
	}
	for extra, refused := range map[string]bool{
		`"k":"\ud800"`:         true,
		`"k":"\udc00"`:         true,
		`"k":"\ud800\u0041"`:   true,
		`"k":"\ud800\ud800"`:   true,
		`"k\ud800":1`:          true,
		`"k":"x\ud800"`:        true,
		`"k":"\ud83d\ude00"`:   false,
		`"k":"\\ud800"`:        false,
		`"k":"\u00e9\u0041"`:   false,
		`"k":"\\\ud83d\ude00"`: false,
	} {
		_, err := trail.ParseRecord(rec(extra))
		if got := err != nil && strings.Contains(err.Error(), "surrogate"); got != refused {
			t.Errorf("%s: err %v, want refused %v", extra, err, refused)
		}
	}
}

// TestSinceLoadLeavesTheRestForALaterLoad pins that a load with Since does
// not record a file it only partly took, so a later full load reads it
// again and stores the older events.
func TestSinceLoadLeavesTheRestForALaterLoad(t *testing.T) {
	t.Parallel()
	body := `{"eventVersion":"1.09","eventID":"old","eventTime":"2026-03-01T09:00:00Z"}
{"eventVersion":"1.09","eventID":"new","eventTime":"2026-03-20T09:00:00Z"}
`
	dir := writeInputs(t, map[string]string{"s.jsonl": body})
	db := ctOpenDB(t)
	ctx := context.Background()
	since := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	if sum, err := LoadCloudTrail(ctx, db, []string{dir}, CloudTrailOptions{Since: since}); err != nil || sum.EventsLoaded != 1 || sum.BeforeSince != 1 {
		t.Fatalf("since load: %+v, %v", sum, err)
	}
	sum := loadInto(t, db, dir)
	if sum.EventsLoaded != 1 || sum.Duplicates != 1 {
		t.Errorf("full load after it: %+v; want the old event loaded and the new one a duplicate", sum)
	}
	if n := ctCount(t, db, `SELECT count(*) FROM events`); n != 2 {
		t.Errorf("events = %d, want 2", n)
	}
	if again := loadInto(t, db, dir); again.UnchangedFiles != 1 || again.EventsLoaded != 0 {
		t.Errorf("third load: %+v; want the file recorded as loaded by now", again)
	}
}

// TestRowsLeftOutRegisterNoTuples pins that a record dropped as a
// duplicate, or as older than Since, leaves no principal behind, while
// the rows kept beside it in the same file keep their own: the parse
// workers number every tuple of a file, and the writer registers only
// those of stored rows.
func TestRowsLeftOutRegisterNoTuples(t *testing.T) {
	t.Parallel()
	ev := func(id, day, user string) string {
		return `{"eventVersion":"1.09","eventID":"` + id + `","eventTime":"2026-03-` + day + `T09:00:00Z","eventName":"GetObject",` +
			`"eventSource":"s3.amazonaws.com","awsRegion":"eu-west-1","errorCode":"AccessDenied",` +
			`"userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:` + user + `",` +
			`"arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_DataRead_0123456789abcdef/` + user + `",` +
			`"accountId":"111122223333"}}` + "\n"
	}
	dir := writeInputs(t, map[string]string{
		// dup@ only on a repeated eventID, old@ only before Since.
		"a.jsonl": ev("a1", "09", "ana@corp.example") + ev("a1", "09", "dup@corp.example") +
			ev("a2", "01", "old@corp.example") + ev("a3", "09", "bo@corp.example"),
	})
	ctx := context.Background()
	db := ctOpenDB(t)
	sum, err := LoadCloudTrail(ctx, db, []string{dir}, CloudTrailOptions{Since: time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EventsLoaded != 2 || sum.Duplicates != 1 || sum.BeforeSince != 1 {
		t.Fatalf("summary %+v: want 2 loaded, 1 duplicate, 1 before since", sum)
	}
	var got []string
	rows, err := db.QueryContext(ctx, `SELECT session_name FROM ct_principals ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	if strings.Join(got, ",") != "ana@corp.example,bo@corp.example" {
		t.Errorf("principals %v, want ana and bo only", got)
	}
	var pairs string
	if err := db.QueryRowContext(ctx, `SELECT string_agg(event_id || '=' || actor_raw || '/' || error_code, ',' ORDER BY event_id) FROM events`).Scan(&pairs); err != nil {
		t.Fatal(err)
	}
	if pairs != "a1=ana@corp.example/AccessDenied,a3=bo@corp.example/AccessDenied" {
		t.Errorf("events %s", pairs)
	}
}
