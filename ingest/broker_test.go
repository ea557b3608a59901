package ingest

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/jitscore/jitscore/ingest/schema"
)

func openTestDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := schema.Open(context.Background(), filepath.Join(t.TempDir(), "t.duckdb"), schema.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func load(t *testing.T, db *sql.DB, kind TableKind, body string) *TableSummary {
	t.Helper()
	sum, err := LoadTable(context.Background(), db, kind, "in."+string(kind), strings.NewReader(body), TableOptions{})
	if err != nil {
		t.Fatalf("load %s: %v", kind, err)
	}
	return sum
}

func queryStrings(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		out = append(out, s.String)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

const requestsCSV = `request_id,requester,entitlement,requested_at,status,duration,granted_at,expires_at,ticket
r1,alice@example.com,aws:111122223333:PowerUser,2024-03-01T09:00:00Z,approved,8h,2024-03-01T09:05:00Z,,T-1
r2,bob@example.com,stripe:refunds,2024-03-01T10:00:00Z,denied,,,,
r3,,aws:111122223333:PowerUser,2024-03-01T11:00:00Z,approved,,,,
r4,carol@example.com,aws:111122223333:PowerUser,yesterday,approved,,,,
r5,carol@example.com,aws:111122223333:ReadOnly,2024-03-02T08:00:00+02:00,revoked,PT2H,,,T-5
r6,dave@example.com,aws:111122223333:ReadOnly,2024-03-02T08:00:00Z,granted,,,,
`

func TestLoadRequestsRejectsBadRowsWithLineAndLoadsTheRest(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	sum := load(t, db, TableRequests, requestsCSV)

	want := []TableRejection{
		{Line: 4, Reason: "missing required field requester"},
		{Line: 5, Reason: `requested_at "yesterday" is not an RFC 3339 time`},
		{Line: 7, Reason: `status "granted": want approved, denied, pending, canceled, expired or revoked`},
	}
	if !reflect.DeepEqual(sum.Rejections, want) {
		t.Errorf("rejections = %+v, want %+v", sum.Rejections, want)
	}
	if sum.RowsRead != 6 || sum.RowsLoaded != 3 || sum.RowsRejected != 3 || sum.Quarantined != 3 || sum.Duplicates != 0 {
		t.Errorf("summary = %+v", sum)
	}
	ids := queryStrings(t, db, "SELECT request_id FROM requests ORDER BY 1")
	if !reflect.DeepEqual(ids, []string{"r1", "r2", "r5"}) {
		t.Errorf("loaded = %v", ids)
	}
	reasons := queryStrings(t, db, "SELECT source || ' ' || position || ': ' || reason FROM quarantine ORDER BY position")
	if len(reasons) != 3 || reasons[0] != "in.requests line 4: requests: missing required field requester" {
		t.Errorf("quarantine = %v", reasons)
	}
	attrs := queryStrings(t, db, "SELECT attributes->>'ticket' FROM requests WHERE request_id = 'r5'")
	if !reflect.DeepEqual(attrs, []string{"T-5"}) {
		t.Errorf("extra column ticket = %v, want T-5", attrs)
	}
}

func TestLoadRequestsTwiceUpdatesByKeyAndCountsDuplicates(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	load(t, db, TableRequests, requestsCSV)
	again := requestsCSV + "r2,bob@example.com,stripe:refunds,2024-03-01T10:00:00Z,approved,,,,\n"
	sum := load(t, db, TableRequests, again)
	// r1, r2, r5 exist already; the appended r2 line repeats r2 in the file.
	if sum.Duplicates != 4 || sum.RowsLoaded != 4 {
		t.Errorf("summary = %+v, want 4 loaded, 4 duplicates", sum)
	}
	got := queryStrings(t, db, "SELECT request_id || '=' || status FROM requests ORDER BY 1")
	if !reflect.DeepEqual(got, []string{"r1=approved", "r2=approved", "r5=revoked"}) {
		t.Errorf("requests = %v", got)
	}
	n := queryStrings(t, db, "SELECT count(*)::VARCHAR FROM quarantine")
	if n[0] != "3" {
		t.Errorf("re-load keeps %s rejections, want the file's 3 once", n[0])
	}
}

func TestGrantsViewDerivesWindowFromDuration(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	load(t, db, TableRequests, requestsCSV)
	got := queryStrings(t, db, `SELECT request_id || ' ' || strftime(granted_at, '%m-%d %H:%M') || ' ' ||
		strftime(ended_at, '%m-%d %H:%M') FROM grants ORDER BY 1`)
	want := []string{
		"r1 03-01 09:05 03-01 17:05", // granted_at + 8h
		"r5 03-02 06:00 03-02 08:00", // revoked: access was given; requested_at in UTC + PT2H
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("grants = %v, want %v", got, want)
	}
}

func TestLoadNDJSONRequestsDetectedFromContent(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	body := `{"request_id":"n1","requester":"alice","entitlement":"stripe:refunds","requested_at":"2024-03-01T09:00:00Z","status":"approved","duration":3600,"priority":2}

{"request_id":"n2","requester":"alice"
{"request_id":"n3","requester":"bob","entitlement":"stripe:refunds","requested_at":"2024-03-01T09:00:00Z","status":"pending","duration":"forever"}
`
	sum := load(t, db, TableRequests, body)
	if sum.RowsLoaded != 1 || sum.RowsRejected != 2 {
		t.Fatalf("summary = %+v", sum)
	}
	if sum.Rejections[0].Line != 3 || !strings.Contains(sum.Rejections[0].Reason, "not a JSON object") {
		t.Errorf("first rejection = %+v, want line 3 not a JSON object", sum.Rejections[0])
	}
	if sum.Rejections[1].Line != 4 || !strings.HasPrefix(sum.Rejections[1].Reason, "duration:") {
		t.Errorf("second rejection = %+v, want line 4 duration", sum.Rejections[1])
	}
	got := queryStrings(t, db, "SELECT duration_seconds || ' ' || (attributes->>'priority') FROM requests")
	if !reflect.DeepEqual(got, []string{"3600 2"}) {
		t.Errorf("n1 = %v", got)
	}
}

func TestLoadIdentitiesFillsIdentityKeys(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	sum := load(t, db, TableIdentities, `user,aliases,identity_store_id,department,title,manager,cost_center
alice@example.com,Alice;alice-admin,90670a1b-1111,Payments,Backend Engineer,carol@example.com,CC1
bob@example.com,Alice,90670a1b-2222,Payments,Backend Engineer,carol@example.com,CC1
,nobody,,,,,
`)
	if sum.RowsLoaded != 2 || sum.RowsRejected != 1 || sum.Rejections[0].Line != 4 {
		t.Errorf("summary = %+v", sum)
	}
	if len(sum.Warnings) != 1 || !strings.Contains(sum.Warnings[0].Reason, `alias "Alice" of bob@example.com already names alice@example.com`) {
		t.Errorf("warnings = %+v", sum.Warnings)
	}
	keys := queryStrings(t, db, "SELECT key || ' ' || user_id || ' ' || kind FROM identity_keys ORDER BY 1")
	want := []string{
		"90670a1b-1111 alice@example.com identity_store_id",
		"90670a1b-2222 bob@example.com identity_store_id",
		"alice alice@example.com alias",
		"alice-admin alice@example.com alias",
		"alice@example.com alice@example.com user",
		"bob@example.com bob@example.com user",
	}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("identity_keys =\n%v\nwant\n%v", keys, want)
	}
	row := queryStrings(t, db, `SELECT department || '/' || title || '/' || manager || '/' || (attributes->>'cost_center')
		|| '/' || array_to_string(aliases, ';') FROM identities WHERE user_id = 'alice@example.com'`)
	if !reflect.DeepEqual(row, []string{"Payments/Backend Engineer/carol@example.com/CC1/Alice;alice-admin"}) {
		t.Errorf("alice = %v", row)
	}

	// Re-loading alice without aliases drops her old alias keys.
	sum = load(t, db, TableIdentities, "user,department\nalice@example.com,Risk\n")
	if sum.Duplicates != 1 {
		t.Errorf("reload duplicates = %d, want 1", sum.Duplicates)
	}
	keys = queryStrings(t, db, "SELECT key FROM identity_keys WHERE user_id = 'alice@example.com'")
	if !reflect.DeepEqual(keys, []string{"alice@example.com"}) {
		t.Errorf("alice keys after reload = %v", keys)
	}
}

func TestLoadEntitlementCatalogueAndDerivedEntitlements(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	sum := load(t, db, TableEntitlements, `entitlement,tier,owner,description
aws:111122223333:AdministratorAccess,critical,secops,Full admin
stripe:refunds,medium,payments,
aws:111122223333:Weird,extreme,,
`)
	if sum.RowsLoaded != 2 || sum.RowsRejected != 1 || !strings.Contains(sum.Rejections[0].Reason, `tier "extreme"`) {
		t.Errorf("summary = %+v", sum)
	}
	load(t, db, TableRequests, requestsCSV)
	got := queryStrings(t, db, `SELECT entitlement || '|' || app || '|' || coalesce(aws_account, '-') || '|' ||
		coalesce(aws_role, '-') || '|' || coalesce(tier, '-') || '|' || catalogued FROM entitlements ORDER BY 1`)
	want := []string{
		"aws:111122223333:AdministratorAccess|aws|111122223333|AdministratorAccess|critical|true",
		"aws:111122223333:PowerUser|aws|111122223333|PowerUser|-|false",
		"aws:111122223333:ReadOnly|aws|111122223333|ReadOnly|-|false",
		"stripe:refunds|stripe|-|-|medium|true",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entitlements =\n%v\nwant\n%v", got, want)
	}
}

func TestLoadTableRefusesUnreadableFiles(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body, want string
	}{
		{"json array", `[{"request_id":"x"}]`, "JSON array is not accepted"},
		{"duplicate header", "user,user\na,b\n", `column "user" appears twice`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := openTestDB(t)
			_, err := LoadTable(context.Background(), db, TableIdentities, "f.csv", strings.NewReader(c.body), TableOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.csv") {
				t.Errorf("err = %v, want it to name f.csv and say %q", err, c.want)
			}
		})
	}
}

func TestParseTableTimeAcceptsRFC3339Variants(t *testing.T) {
	t.Parallel()
	want := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, s := range []string{"2024-03-01T09:00:00Z", "2024-03-01T10:00:00+01:00", "2024-03-01 09:00:00", "2024-03-01T09:00:00.000Z"} {
		got, err := parseTableTime("t", s)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTableTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
}

func TestLoadTableCountsRowsInMetrics(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	_, err := LoadTable(context.Background(), db, TableRequests, "m.csv", strings.NewReader(requestsCSV),
		TableOptions{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.RowsLoaded.WithLabelValues(KindRequests)); got != 3 {
		t.Errorf("rows loaded = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.RowsRejected.WithLabelValues(KindRequests)); got != 3 {
		t.Errorf("rows rejected = %v, want 3", got)
	}
}

// TestLoadTableRejectsBadRecordsAndLoadsTheRest pins that a cell that is
// not valid UTF-8, a JSON array in a text column and a record swallowed by
// an unbalanced quote each reject only their own line (or span, named),
// and the rows around them load.
func TestLoadTableRejectsBadRecordsAndLoadsTheRest(t *testing.T) {
	t.Parallel()
	const head = "request_id,requester,entitlement,requested_at,status\n"
	row := func(id string) string { return id + ",a@example.com,e1,2024-03-01T09:00:00Z,approved\n" }
	cases := []struct {
		name   string
		body   string
		want   []TableRejection
		loaded []string
	}{
		{
			name:   "invalid UTF-8 cell",
			body:   head + "R-1,a\xff@example.com,e1,2024-03-01T09:00:00Z,approved\n" + row("R-2"),
			want:   []TableRejection{{Line: 2, Reason: "field requester is not valid UTF-8"}},
			loaded: []string{"R-2"},
		},
		{
			name: "unbalanced quote closed later",
			body: head + row("R-1") + "R-2,\"b,e1,2024-03-01T09:00:00Z,approved\n" + row("R-3") +
				"R-4,c,e1\",2024-03-01T09:00:00Z,approved\n" + row("R-5"),
			want:   []TableRejection{{Line: 3, EndLine: 5, Reason: "lines 3-5: 4 fields, the header has 5"}},
			loaded: []string{"R-1", "R-5"},
		},
		{
			name:   "unbalanced quote to the end",
			body:   head + row("R-1") + "R-2,\"b,e1,2024-03-01T09:00:00Z,approved\n" + row("R-3"),
			want:   []TableRejection{{Line: 3, EndLine: 4, Reason: `lines 3-4: extraneous or missing " in quoted-field`}},
			loaded: []string{"R-1"},
		},
		{
			name: "JSON array where a string is expected",
			body: `{"request_id":"R-1","requester":["a"],"entitlement":"e1","requested_at":"2024-03-01T09:00:00Z","status":"approved"}` + "\n" +
				`{"request_id":"R-2","requester":"a","entitlement":"e1","requested_at":"2024-03-01T09:00:00Z","status":"approved","tags":["x"]}` + "\n",
			want:   []TableRejection{{Line: 1, Reason: "field requester: a JSON array or object where a string is expected"}},
			loaded: []string{"R-2"},
		},
		{
			name:   "invalid UTF-8 NDJSON line",
			body:   "{\"request_id\":\"R-1\",\"requester\":\"a\xff\",\"entitlement\":\"e1\",\"requested_at\":\"2024-03-01T09:00:00Z\",\"status\":\"approved\"}\n",
			want:   []TableRejection{{Line: 1, Reason: "not valid UTF-8"}},
			loaded: nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := openTestDB(t)
			sum := load(t, db, TableRequests, tc.body)
			if !reflect.DeepEqual(sum.Rejections, tc.want) {
				t.Errorf("rejections = %+v, want %+v", sum.Rejections, tc.want)
			}
			if ids := queryStrings(t, db, "SELECT request_id FROM requests ORDER BY 1"); !reflect.DeepEqual(ids, tc.loaded) {
				t.Errorf("loaded = %v, want %v", ids, tc.loaded)
			}
		})
	}
}

// TestLoadTableMissingHeaderColumnFailsAtOnce pins that a CSV header
// without a required column is one error naming it, not a rejection per
// row.
func TestLoadTableMissingHeaderColumnFailsAtOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		kind TableKind
		body string
		want string
	}{
		{TableRequests, "request_id,requester,requested_at,status\nR-1,a,2024-03-01T09:00:00Z,approved\n",
			"ingest requests in.requests: CSV header has no entitlement column"},
		{TableRequests, "request_id,requester\nR-1,a\n",
			"ingest requests in.requests: CSV header has no entitlement, requested_at, status columns"},
		{TableEntitlements, "app,tier\nx,low\n", "ingest entitlements in.entitlements: CSV header has no entitlement column"},
		{TableIdentities, "aliases\nx\n", "ingest identities in.identities: CSV header has no user column"},
	}
	for _, tc := range cases {
		t.Run(tc.want, func(t *testing.T) {
			t.Parallel()
			db := openTestDB(t)
			_, err := LoadTable(context.Background(), db, tc.kind, "in."+string(tc.kind), strings.NewReader(tc.body), TableOptions{})
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
