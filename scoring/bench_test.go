package scoring_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
	st "github.com/jitscore/jitscore/scoring/scoringtest"
)

func benchRequest() scoring.Request {
	return scoring.Request{Requester: st.Alice, Entitlement: st.Deploy,
		RequestedAt: time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC), Duration: 2 * time.Hour,
		Justification: "deploy hotfix OPS-1234", Tier: models.TierMedium}
}

// BenchmarkScore is one request scored from the in-memory snapshot: the
// feature lookups, the dot product and the calibrated risk.
func BenchmarkScore(b *testing.B) {
	m := scoring.PriorModel(attrs, time.Now())
	s, r := st.Org(), benchRequest()
	var sc scoring.Score
	b.ReportAllocs()
	for b.Loop() {
		m.ScoreInto(s, r, &sc)
	}
}

// BenchmarkScoreWithReasons adds the five reason sentences, as a decision
// quotes them.
func BenchmarkScoreWithReasons(b *testing.B) {
	m := scoring.PriorModel(attrs, time.Now())
	s, r := st.Org(), benchRequest()
	var sc scoring.Score
	b.ReportAllocs()
	for b.Loop() {
		m.ScoreInto(s, r, &sc)
		_ = sc.Reasons(5)
	}
}

// BenchmarkLookupDuckDB is the baseline: the same peer-coverage, history and
// entitlement lookups done as one DuckDB query per request, as a scorer
// without an in-memory snapshot would.
func BenchmarkLookupDuckDB(b *testing.B) {
	ctx := context.Background()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	s := st.Org()
	for _, q := range []string{
		`CREATE TABLE peer_attr (persona VARCHAR, entitlement VARCHAR, members INT, granted INT, used INT)`,
		`CREATE TABLE history (user_id VARCHAR, entitlement VARCHAR, approved INT, denied INT, grants INT, used INT)`,
		`CREATE TABLE ent_stats (entitlement VARCHAR, approved INT, denied INT, grants INT, used INT, median_s BIGINT)`,
		`CREATE TABLE people (user_id VARCHAR, persona VARCHAR)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	for k, c := range s.PeerAttr {
		db.ExecContext(ctx, `INSERT INTO peer_attr VALUES (?, ?, ?, ?, ?)`, k.A, k.B, c.Members, c.Granted, c.Used)
	}
	for k, h := range s.History {
		db.ExecContext(ctx, `INSERT INTO history VALUES (?, ?, ?, ?, ?, ?)`, k.A, k.B, h.Approved, h.Denied, h.Grants, h.GrantsUsed)
	}
	for id, e := range s.Entitlements {
		db.ExecContext(ctx, `INSERT INTO ent_stats VALUES (?, ?, ?, ?, ?, ?)`, id, e.Approved, e.Denied, e.Grants, e.GrantsUsed,
			int64(e.MedianDuration/time.Second))
	}
	for u, p := range s.People {
		db.ExecContext(ctx, `INSERT INTO people VALUES (?, ?)`, u, p.AttrPersona)
	}
	const q = `
SELECT pa.members, pa.granted, pa.used, h.approved, h.denied, h.grants, h.used,
	e.approved, e.denied, e.grants, e.used, e.median_s
FROM people p
LEFT JOIN peer_attr pa ON pa.persona = p.persona AND pa.entitlement = ?
LEFT JOIN history h ON h.user_id = p.user_id AND h.entitlement = ?
LEFT JOIN ent_stats e ON e.entitlement = ?
WHERE p.user_id = ?`
	stmt, err := db.PrepareContext(ctx, q)
	if err != nil {
		b.Fatal(err)
	}
	defer stmt.Close()
	var v [12]sql.NullInt64
	dest := make([]any, len(v))
	for i := range v {
		dest[i] = &v[i]
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := stmt.QueryRowContext(ctx, st.Deploy, st.Deploy, st.Deploy, st.Alice).Scan(dest...); err != nil {
			b.Fatal(err)
		}
	}
}
