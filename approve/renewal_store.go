package approve

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

// RenewalPlan is one run of renewal review, as the renewals tables keep it.
type RenewalPlan struct {
	RunID           string
	At              time.Time
	Within          time.Duration
	PolicyVersion   string
	SnapshotVersion string
	Apply           bool
	Actions         []models.Renewal
	// Applied holds, by request id, what enforcement did for each revoke
	// when Apply is set.
	Applied map[string]Applied
}

// NewRunID returns a fresh run id: "rr-" and 16 random hex digits.
func NewRunID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("approve: random run id: %v", err))
	}
	return "rr-" + hex.EncodeToString(b[:])
}

// ApplyRevocations carries out every revoke of rs with rev, one after the
// other, and returns what each did by request id. grants must hold the
// reviewed grants (the GrantUsage behind each Renewal); a revoke whose grant
// is missing is recorded as skipped. Renew and review actions are left
// alone: enforcement only ever removes access.
func ApplyRevocations(ctx context.Context, rev *Revoker, rs []models.Renewal,
	grants []features.GrantUsage) map[string]Applied {
	byID := make(map[string]*features.GrantUsage, len(grants))
	for i := range grants {
		byID[grants[i].RequestID] = &grants[i]
	}
	out := map[string]Applied{}
	for _, r := range rs {
		if r.Action != models.RenewalRevoke {
			continue
		}
		g, ok := byID[r.RequestID]
		if !ok {
			out[r.RequestID] = Applied{RequestID: r.RequestID, Result: ApplySkipped,
				Detail: "the grant is not among those reviewed"}
			continue
		}
		out[r.RequestID] = rev.Revoke(ctx, *g)
	}
	return out
}

// SaveRenewalPlan writes p to the renewal_runs, renewals and renewal_calls
// tables in one transaction; a plan is there whole or not at all. Rows go
// through DuckDB's appender, so a plan of 100,000 grants takes about a
// second.
func SaveRenewalPlan(ctx context.Context, db *sql.DB, p RenewalPlan) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("save renewal plan %s: %w", p.RunID, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("save renewal plan %s: %w", p.RunID, err)
	}
	if err := savePlan(ctx, conn, p); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("save renewal plan %s: %w", p.RunID, err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("save renewal plan %s: %w", p.RunID, err)
	}
	return nil
}

func savePlan(ctx context.Context, conn *sql.Conn, p RenewalPlan) error {
	count := map[models.RenewalAction]int64{}
	for _, r := range p.Actions {
		count[r.Action]++
	}
	if _, err := conn.ExecContext(ctx, `INSERT INTO renewal_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.RunID, p.At.UTC(), int64(p.Within/time.Second), p.PolicyVersion, p.SnapshotVersion, p.Apply,
		int64(len(p.Actions)), count[models.RenewalRenew], count[models.RenewalRevoke],
		count[models.RenewalReview], time.Now().UTC()); err != nil {
		return err
	}

	rows := make([][]driver.Value, 0, len(p.Actions))
	var calls [][]driver.Value
	for _, r := range p.Actions {
		reasons, err := json.Marshal(r.Reasons)
		if err != nil {
			return fmt.Errorf("reasons of %s: %w", r.RequestID, err)
		}
		var result, detail any
		applied := false
		if a, ok := p.Applied[r.RequestID]; ok {
			result, detail, applied = a.Result, a.Detail, a.Gone()
			for _, c := range a.Calls {
				calls = append(calls, []driver.Value{p.RunID, int64(len(calls) + 1), c.RequestID, c.Operation,
					c.Input, c.Outcome, c.Detail, c.At})
			}
		}
		rows = append(rows, []driver.Value{p.RunID, r.RequestID, r.Requester, r.Entitlement, string(r.Action),
			string(reasons), r.ExpiresAt.UTC(), applied, result, detail})
	}
	if err := appendTo(conn, "renewals", rows); err != nil {
		return err
	}
	return appendTo(conn, "renewal_calls", calls)
}

// appendTo bulk-loads rows into table with DuckDB's appender on conn.
func appendTo(conn *sql.Conn, table string, rows [][]driver.Value) error {
	if len(rows) == 0 {
		return nil
	}
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("append %s: unexpected driver connection %T", table, dc)
		}
		app, err := duckdb.NewAppenderFromConn(c, "", table)
		if err != nil {
			return fmt.Errorf("append %s: %w", table, err)
		}
		for _, r := range rows {
			if err := app.AppendRow(r...); err != nil {
				app.Close()
				return fmt.Errorf("append %s row %v: %w", table, r[1], err)
			}
		}
		if err := app.Close(); err != nil {
			return fmt.Errorf("append %s: %w", table, err)
		}
		return nil
	})
}
