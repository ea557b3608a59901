package approve_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/ingest/schema"
)

// scaleGrants is the size the renewal figures are measured at.
const scaleGrants = 100_000

// scaleDB writes a database with n grants, all expiring in the week after
// reviewAt, spread over n/20 people and 20 entitlements (18 permission
// sets in 3 accounts and 2 apps), and about 4 usage days per AWS grant,
// with a quarter of the grants left unused.
func scaleDB(tb testing.TB, n int) *sql.DB {
	tb.Helper()
	ctx := context.Background()
	db, err := schema.Open(ctx, filepath.Join(tb.TempDir(), "scale.duckdb"), schema.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	conn, err := db.Conn(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	var ents []string
	for _, acct := range []string{"111122223333", "444455556666", "777788889999"} {
		for _, role := range []string{"ReadOnly", "BillingReadOnly", "SecurityAudit", "DataScientist", "PowerUser",
			"AdministratorAccess"} {
			ents = append(ents, "aws:"+acct+":"+role)
		}
	}
	ents = append(ents, "stripe:refunds", "github:org-admin")
	people := n / len(ents)
	person := func(i int) string { return fmt.Sprintf("p%05d@example.com", i) }

	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(schema.AppendRows(ctx, conn, "identities", []string{"user_id", "identity_store_id", "department", "title"},
		people, func(i int) []driver.Value {
			return []driver.Value{person(i), fmt.Sprintf("u-%05d", i), fmt.Sprintf("D%d", i%12), "T"}
		}))
	_, err = conn.ExecContext(ctx, `UPDATE identities SET attributes = json_object('department', department, 'title', title)`)
	must(err)
	must(schema.AppendRows(ctx, conn, "identity_keys", []string{"key", "user_id", "kind"}, people,
		func(i int) []driver.Value { return []driver.Value{person(i), person(i), "user"} }))
	must(schema.AppendRows(ctx, conn, "requests", []string{"request_id", "requester", "entitlement", "requested_at",
		"status", "decided_at", "granted_at", "expires_at"}, n, func(i int) []driver.Value {
		granted := reviewAt.Add(-time.Duration(10+i%40) * 24 * time.Hour)
		expires := reviewAt.Add(time.Duration(1+i%160) * time.Hour)
		return []driver.Value{fmt.Sprintf("R%07d", i), person(i / len(ents)), ents[i%len(ents)],
			granted.Add(-time.Minute), "approved", granted, granted, expires}
	}))
	const daysPerGrant = 4
	must(schema.AppendRows(ctx, conn, "usage_daily", []string{"person", "entitlement", "day", "calls", "writes",
		"errors", "services", "first_at", "last_at", "active_slots"}, n*daysPerGrant, func(j int) []driver.Value {
		i, k := j/daysPerGrant, j%daysPerGrant
		ent := ents[i%len(ents)]
		d := reviewAt.Add(-time.Duration(1+k*3+(i%3)*12) * 24 * time.Hour).Truncate(24 * time.Hour)
		calls := int64(5)
		if i%4 == 0 || ent[:4] != "aws:" {
			d = reviewAt.AddDate(-1, 0, 0) // unused in the grant: a day long before it
		}
		return []driver.Value{person(i / len(ents)), ent, d, calls, int64(1), int64(0), int64(1),
			d.Add(10 * time.Hour), d.Add(11 * time.Hour), int64(1) << 20}
	}))
	return db
}

// BenchmarkReviewRenewals measures the pure review of 100,000 expiring
// grants from an in-memory snapshot: what POST /v1/renewals costs.
func BenchmarkReviewRenewals(b *testing.B) {
	db := scaleDB(b, scaleGrants)
	snap := buildSnapshot(b, db, reviewAt)
	grants := snap.ExpiringGrants(reviewAt, 7*24*time.Hour)
	if len(grants) != scaleGrants {
		b.Fatalf("%d grants expiring, want %d", len(grants), scaleGrants)
	}
	cfg := approve.DefaultConfig()
	b.ResetTimer()
	for b.Loop() {
		approve.ReviewRenewals(approve.RenewalInput{Config: cfg, Snapshot: snap, At: reviewAt, Grants: grants})
	}
}

// TestRenewalScaleFigures prints the figures scripts/bench_renewals.sh
// reports: 100,000 grants reviewed from the database (load, build, review)
// and from the snapshot alone, beside a baseline that asks DuckDB one query
// per grant for its use. It runs only with JITSCORE_BENCH=1; timings are
// printed, never asserted.
func TestRenewalScaleFigures(t *testing.T) {
	if os.Getenv("JITSCORE_BENCH") != "1" {
		t.Skip("set JITSCORE_BENCH=1 to measure")
	}
	ctx := context.Background()
	db := scaleDB(t, scaleGrants)
	cfg := approve.DefaultConfig()

	began := time.Now()
	data, err := features.Load(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	loaded := time.Now()
	snap, err := features.Build(data, cfg.Features(), reviewAt)
	if err != nil {
		t.Fatal(err)
	}
	built := time.Now()
	grants := snap.ExpiringGrants(reviewAt, 7*24*time.Hour)
	rs := approve.ReviewRenewals(approve.RenewalInput{Config: cfg, Snapshot: snap, At: reviewAt, Grants: grants})
	reviewed := time.Now()
	count := map[string]int{}
	for _, r := range rs {
		count[string(r.Action)]++
	}
	fmt.Printf("renewals: %d grants reviewed in %.2fs from the database (load %.2fs, build %.2fs, review %.3fs): %v\n",
		len(rs), reviewed.Sub(began).Seconds(), loaded.Sub(began).Seconds(), built.Sub(loaded).Seconds(),
		reviewed.Sub(built).Seconds(), count)

	// Baseline: the obvious implementation, one query per grant.
	const sample = 2000
	stmt, err := db.PrepareContext(ctx, `SELECT coalesce(sum(calls), 0), count(*), max(last_at) FROM usage_daily
		WHERE person = ? AND entitlement = ? AND last_at >= ? AND first_at < ?`)
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	t0 := time.Now()
	revoke := 0
	for _, g := range grants[:sample] {
		var calls, days int
		var last sql.NullTime
		if err := stmt.QueryRowContext(ctx, g.Requester, g.Entitlement, g.GrantedAt, reviewAt).Scan(&calls, &days,
			&last); err != nil {
			t.Fatal(err)
		}
		if calls == 0 || reviewAt.Sub(last.Time) >= 30*24*time.Hour {
			revoke++
		}
	}
	per := time.Since(t0) / sample
	fmt.Printf("baseline (one DuckDB query per grant): %d grants in %.2fs, %.2f ms a grant; %d grants would take %.0fs\n",
		sample, time.Since(t0).Seconds(), float64(per)/float64(time.Millisecond), len(grants),
		(per * time.Duration(len(grants))).Seconds())
}
