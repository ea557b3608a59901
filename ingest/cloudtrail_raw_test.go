package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/jitscore/jitscore/ingest/schema"
)

// TestEventsViewRawIsTheRecordOnEveryConnection loads records, which
// ct_events keeps packed, and reads the events view's raw back as the
// records' JSON on two connections held at once and on a read-only reopen:
// the unpacking function is registered for the whole database instance.
func TestEventsViewRawIsTheRecordOnEveryConnection(t *testing.T) {
	t.Parallel()
	recs := map[string]string{
		"r1": `{"eventVersion":"1.09","eventID":"r1","eventTime":"2026-03-09T09:00:00Z","eventName":"GetObject","note":"caf\u00e9 ☕"}`,
		"r2": `{"eventVersion":"1.09","eventID":"r2","eventTime":"2026-03-09T09:01:00Z","requestParameters":{"bucketName":"b","key":"k"}}`,
	}
	dir := t.TempDir()
	var lines []byte
	for _, r := range recs {
		lines = append(lines, r+"\n"...)
	}
	if err := os.WriteFile(filepath.Join(dir, "in.jsonl"), lines, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "raw.duckdb")
	ctx := context.Background()
	db, err := schema.Open(ctx, path, schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := LoadCloudTrail(ctx, db, []string{dir}, CloudTrailOptions{}); err != nil || sum.EventsLoaded != 2 {
		t.Fatalf("load: %+v, %v", sum, err)
	}
	var codec string
	if err := db.QueryRowContext(ctx, `SELECT codec FROM ct_raw JOIN ct_events ON raw_blob = blob_id WHERE event_id = 'r2'`).Scan(&codec); err != nil {
		t.Fatal(err)
	}
	if codec != schema.CodecS2 {
		t.Errorf("a plain NDJSON input is kept as %q, want %q", codec, schema.CodecS2)
	}

	c1, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	for name, q := range map[string]func(string) (string, error){
		"conn 1": func(id string) (s string, err error) {
			err = c1.QueryRowContext(ctx, `SELECT CAST(raw AS VARCHAR) FROM events WHERE event_id = ?`, id).Scan(&s)
			return
		},
		"conn 2": func(id string) (s string, err error) {
			err = c2.QueryRowContext(ctx, `SELECT CAST(raw AS VARCHAR) FROM events WHERE event_id = ?`, id).Scan(&s)
			return
		},
	} {
		for id, want := range recs {
			got, err := q(id)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			sameJSON(t, name+" "+id, got, want)
		}
	}
	c1.Close()
	c2.Close()
	db.Close()

	ro, err := schema.Open(ctx, path, schema.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var got string
	if err := ro.QueryRowContext(ctx, `SELECT CAST(raw AS VARCHAR) FROM events WHERE event_id = 'r1'`).Scan(&got); err != nil {
		t.Fatalf("read-only: %v", err)
	}
	sameJSON(t, "read-only r1", got, recs["r1"])
}

func sameJSON(t *testing.T, what, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("%s: raw is not JSON: %v: %q", what, err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: raw = %s, want %s", what, got, want)
	}
}

// TestRawIsEveryShapesRecord loads a gzip Records file (kept as
// delivered), a pretty-printed array (whose records are compacted) and
// lookup-events output (whose events are JSON strings, unescaped), and
// reads every record back through the events view on a pool of one
// connection: jitscore_raw reads blobs on a connection of its own.
func TestRawIsEveryShapesRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r1 := `{"eventVersion":"1.09","eventID":"g1","eventTime":"2026-03-09T09:00:00Z","eventName":"GetObject","k":"caf\u00e9 ☕"}`
	r2 := `{"eventVersion":"1.09","eventID":"g2","eventTime":"2026-03-09T09:01:00Z","eventName":"PutObject"}`
	var gzbuf bytes.Buffer
	zw := gzip.NewWriter(&gzbuf)
	zw.Write([]byte(`{"Records":[` + r1 + `,` + r2 + `]}`))
	zw.Close()
	pretty := "[\n  {\n    \"eventVersion\": \"1.09\",\n    \"eventID\": \"p1\",\n    \"eventTime\": \"2026-03-09T10:00:00Z\",\n    \"eventName\": \"ListBuckets\"\n  }\n]\n"
	inner := `{"eventVersion":"1.09","eventID":"l1","eventTime":"2026-03-09T11:00:00Z","eventName":"ConsoleLogin"}`
	quoted, _ := json.Marshal(inner)
	lookup := `{"Events":[{"EventId":"l1","EventName":"ConsoleLogin","CloudTrailEvent":` + string(quoted) + `}]}`
	for name, body := range map[string][]byte{
		"records.json.gz": gzbuf.Bytes(),
		"pretty.json":     []byte(pretty),
		"lookup.json":     []byte(lookup),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	db, err := schema.Open(ctx, filepath.Join(t.TempDir(), "raw.duckdb"), schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if sum, err := LoadCloudTrail(ctx, db, []string{dir}, CloudTrailOptions{}); err != nil || sum.EventsLoaded != 4 {
		t.Fatalf("load: %+v, %v", sum, err)
	}
	db.SetMaxOpenConns(1)
	want := map[string]string{
		"g1": r1, "g2": r2,
		"p1": `{"eventVersion":"1.09","eventID":"p1","eventTime":"2026-03-09T10:00:00Z","eventName":"ListBuckets"}`,
		"l1": inner,
	}
	rows, err := db.QueryContext(ctx, `SELECT event_id, CAST(raw AS VARCHAR), source FROM events ORDER BY event_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, raw, src string
		if err := rows.Scan(&id, &raw, &src); err != nil {
			t.Fatal(err)
		}
		n++
		if id[0] == 'g' && raw != want[id] {
			t.Errorf("%s: raw = %s, want the delivered bytes %s", id, raw, want[id])
		}
		sameJSON(t, id, raw, want[id])
		if filepath.Dir(src) != dir {
			t.Errorf("%s: source = %q, want a file of %s", id, src, dir)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Errorf("read %d events, want %d", n, len(want))
	}
	var codec string
	if err := db.QueryRowContext(ctx, `SELECT codec FROM ct_raw WHERE source LIKE '%.json.gz'`).Scan(&codec); err != nil || codec != schema.CodecGzip {
		t.Errorf("gzip input kept as %q (%v), want it as delivered (%q)", codec, err, schema.CodecGzip)
	}
	var msg string
	for _, span := range []string{"0, 1000000", "9223372036854775807, 1", "-1, 5", "1, 2147483647"} {
		err = db.QueryRowContext(ctx, `SELECT jitscore_raw(min(raw_blob), `+span+`) FROM ct_events`).Scan(&msg)
		if err == nil || !strings.Contains(err.Error(), "outside its") {
			t.Errorf("span (%s) past the blob's bounds: %q, %v; want an error naming it", span, msg, err)
		}
	}
}

// TestDecodeRawRefusesCorruptBlobs pins that a damaged blob is an error,
// not a wrong record.
func TestDecodeRawRefusesCorruptBlobs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		codec string
		data  []byte
	}{
		{schema.CodecS2, []byte{0xff, 0xff, 0xff, 0x01}},
		{schema.CodecGzip, []byte{0x1f, 0x8b, 0x08, 0x00, 0x00}},
		{"zip", []byte("PK")},
	} {
		if out, err := schema.DecodeRaw(tc.codec, tc.data); err == nil {
			t.Errorf("%s: decoded %q from a corrupt blob, want an error", tc.codec, out)
		}
	}
}
