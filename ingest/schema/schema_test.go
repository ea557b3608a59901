package schema

import (
	"context"
	"path/filepath"
	"testing"
)

// TestMigrateRunsOnlyWhenTheFileLacksTheseSteps pins the fingerprint: a
// reopen of an up-to-date file runs no step (its migration time stays),
// while a view dropped, a view replaced the way an older jitscore replaces
// it, or a fingerprint of other steps each get every step again.
func TestMigrateRunsOnlyWhenTheFileLacksTheseSteps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.duckdb")
	// open opens the file (migrating as needed), runs q unless empty, and
	// returns when it was last migrated and the events view's column count.
	open := func(q string) (migrated string, cols int) {
		t.Helper()
		db, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.QueryRowContext(ctx, `SELECT CAST(max(migrated_at) AS VARCHAR) FROM jitscore_schema`).Scan(&migrated); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_columns() WHERE table_name = 'events' AND database_name = current_database()`).Scan(&cols); err != nil {
			t.Fatal(err)
		}
		if q != "" {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		return migrated, cols
	}
	first, full := open("")
	if full < 10 {
		t.Fatalf("a new file's events view has %d columns", full)
	}
	if again, _ := open(""); again != first {
		t.Fatalf("reopening an up-to-date file migrated it again (%s, then %s)", first, again)
	}
	for _, change := range []string{
		`DROP VIEW events`,
		`CREATE OR REPLACE VIEW events AS SELECT 1 AS older`,
		`UPDATE jitscore_schema SET fingerprint = 'from another build'`,
		// A damaged bookkeeping table is made anew.
		`DROP TABLE jitscore_schema; CREATE TABLE jitscore_schema (fingerprint INTEGER, migrated_at INTEGER, extra INTEGER); INSERT INTO jitscore_schema VALUES (1, 2, 3)`,
		`DROP TABLE jitscore_schema; CREATE VIEW jitscore_schema AS SELECT 'x' AS fingerprint, now() AS migrated_at`,
	} {
		before, _ := open(change)
		after, cols := open("")
		if after == before || cols != full {
			t.Errorf("after %s: migrated at %s then %s, events view has %d columns, want %d", change, before, after, cols, full)
		}
	}
}

// TestFingerprintChangesWithAnyStep pins that the fingerprint covers each
// step's order, name and SQL, so a changed step is never skipped.
func TestFingerprintChangesWithAnyStep(t *testing.T) {
	t.Parallel()
	base := []Step{{Order: 1, Name: "a", SQL: "CREATE TABLE x (i INT);"}, {Order: 2, Name: "b", SQL: "SELECT 1;"}}
	seen := map[string]string{fingerprint(base): "base"}
	for name, steps := range map[string][]Step{
		"order": {{Order: 3, Name: "a", SQL: base[0].SQL}, base[1]},
		"name":  {{Order: 1, Name: "c", SQL: base[0].SQL}, base[1]},
		"sql":   {{Order: 1, Name: "a", SQL: "CREATE TABLE x (i BIGINT);"}, base[1]},
		"moved": {{Order: 1, Name: "a", SQL: "CREATE TABLE x (i INT);SELECT 1;"}, {Order: 2, Name: "b", SQL: ""}},
		"fewer": base[:1],
	} {
		fp := fingerprint(steps)
		if other, ok := seen[fp]; ok {
			t.Errorf("%s: same fingerprint as %s", name, other)
		}
		seen[fp] = name
	}
}
