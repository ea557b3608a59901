package schema

import (
	"context"
	"path/filepath"
	"testing"
)

// TestMigrateRunsOnlyWhenTheFileLacksTheseSteps pins the fingerprint: a
// reopen of an up-to-date file runs no step (a view dropped by hand stays
// dropped), and a file whose recorded fingerprint differs gets every step
// again (the view is back).
func TestMigrateRunsOnlyWhenTheFileLacksTheseSteps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "j.duckdb")
	hasView := func() bool {
		t.Helper()
		db, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_views() WHERE view_name = 'events'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	exec := func(q string) {
		t.Helper()
		db, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if !hasView() {
		t.Fatal("a new file has no events view")
	}
	exec(`DROP VIEW events`)
	if hasView() {
		t.Fatal("reopening an up-to-date file ran the steps again")
	}
	exec(`UPDATE jitscore_schema SET fingerprint = 'from another build'`)
	if !hasView() {
		t.Fatal("a file migrated by other steps was not migrated again")
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
