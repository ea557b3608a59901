package schema

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRefusesEventsOfTheEarlierLayout pins that a database whose
// ct_events predates event_uuid and ct_raw is refused with an error that
// says what to do, instead of failing later on a missing column.
func TestOpenRefusesEventsOfTheEarlierLayout(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "old.duckdb")
	old, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Exec(`CREATE TABLE ct_events (event_id VARCHAR NOT NULL, event_time TIMESTAMP NOT NULL, raw BLOB)`); err != nil {
		t.Fatal(err)
	}
	old.Close()
	db, err := Open(context.Background(), path, Options{})
	if err == nil {
		db.Close()
		t.Fatal("opened a database of the earlier layout without error")
	}
	if !strings.Contains(err.Error(), "older jitscore") || !strings.Contains(err.Error(), "new database file") {
		t.Errorf("error %q does not say the file is of an older layout and what to do", err)
	}
}

// TestOpenCreatesTheEventsLayoutAndReopens pins that a new file migrates
// and that a second open of it passes the layout check.
func TestOpenCreatesTheEventsLayoutAndReopens(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new.duckdb")
	for i := range 2 {
		db, err := Open(context.Background(), path, Options{})
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM events`).Scan(&n); err != nil || n != 0 {
			t.Errorf("open %d: events = %d, %v", i+1, n, err)
		}
		db.Close()
	}
}
