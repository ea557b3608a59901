package ingest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

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
	var packed []byte
	if err := db.QueryRowContext(ctx, `SELECT raw FROM ct_events WHERE event_id = 'r2'`).Scan(&packed); err != nil {
		t.Fatal(err)
	}
	if len(packed) == 0 || packed[0] == '{' {
		t.Errorf("ct_events.raw holds %q, want the packed form", packed)
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

// TestPackRawRoundTrips pins the stored form: packed records unpack to the
// same bytes, and plain JSON text (an older file's raw) passes through.
func TestPackRawRoundTrips(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in string }{
		{"empty object", `{}`},
		{"record", `{"eventID":"e","requestParameters":{"a":[1,2,3]},"x":"\u00e9"}`},
		{"repetitive", `{"k":"` + strings.Repeat("a", 5000) + `"}`},
	} {
		packed := schema.PackRaw([]byte("prefix"), []byte(tc.in))
		if string(packed[:6]) != "prefix" {
			t.Errorf("%s: PackRaw did not append to dst", tc.name)
		}
		got, err := schema.UnpackRaw(packed[6:])
		if err != nil || string(got) != tc.in {
			t.Errorf("%s: round trip = %q, %v", tc.name, got, err)
		}
		if plain, err := schema.UnpackRaw([]byte(tc.in)); err != nil || string(plain) != tc.in {
			t.Errorf("%s: plain text = %q, %v; want it unchanged", tc.name, plain, err)
		}
	}
	if _, err := schema.UnpackRaw([]byte{0x01, 0xff, 0xff}); err == nil {
		t.Error("corrupt packed value unpacked without error")
	}
}
