package approve

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/jitscore/jitscore/models"
)

// FoldStats says what one FoldAudit did.
type FoldStats struct {
	Segments   int `json:"segments"`   // segment files with new lines
	Lines      int `json:"lines"`      // complete new lines read
	Inserted   int `json:"inserted"`   // decisions added to audit_decisions
	Duplicates int `json:"duplicates"` // decisions that were already there
	Rejected   int `json:"rejected"`   // lines kept in audit_rejects instead
}

// maxRejectRaw bounds how much of an unreadable line audit_rejects keeps.
const maxRejectRaw = 1024

// FoldAudit copies the decisions of every segment file in dir that are not
// yet in db into the audit_decisions table (the decisions view), and
// returns what it did. It is idempotent: each segment's folded length is
// kept in audit_segments so only new complete lines are read, and rows are
// keyed by decision_id, so a segment folded twice, or a fold that died
// half-way, adds nothing the second time. A partial last line (a server
// still writing, or one that crashed mid-write) is left for a later fold.
// A line that is not a decision goes to audit_rejects with its segment,
// line number and reason, and does not stop the lines around it.
//
// db must be open for writing with the schema migrated. A dir that does not
// exist folds nothing. Segments of a server still running may be folded:
// the server only ever appends.
func FoldAudit(ctx context.Context, db *sql.DB, dir string) (FoldStats, error) {
	var st FoldStats
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read audit dir %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), SegmentExt) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return st, nil
	}

	conn, err := db.Conn(ctx)
	if err != nil {
		return st, fmt.Errorf("fold audit: %w", err)
	}
	defer conn.Close()
	done, err := foldedSegments(ctx, conn)
	if err != nil {
		return st, err
	}
	for _, name := range names {
		prev := done[name]
		lines, end, err := readSegmentLines(filepath.Join(dir, name), prev.bytes)
		if err != nil {
			return st, fmt.Errorf("read audit segment %s: %w", name, err)
		}
		if len(lines) == 0 {
			continue
		}
		seg := parseSegment(name, prev.lines, lines)
		if err := foldSegment(ctx, conn, seg, end, &st); err != nil {
			return st, fmt.Errorf("fold audit segment %s: %w", name, err)
		}
		st.Segments++
		st.Lines += len(lines)
	}
	return st, nil
}

type segmentProgress struct{ bytes, lines int64 }

func foldedSegments(ctx context.Context, conn *sql.Conn) (map[string]segmentProgress, error) {
	rows, err := conn.QueryContext(ctx, `SELECT segment, folded_bytes, folded_lines FROM audit_segments`)
	if err != nil {
		return nil, fmt.Errorf("read audit_segments: %w", err)
	}
	defer rows.Close()
	out := map[string]segmentProgress{}
	for rows.Next() {
		var name string
		var p segmentProgress
		if err := rows.Scan(&name, &p.bytes, &p.lines); err != nil {
			return nil, fmt.Errorf("read audit_segments: %w", err)
		}
		out[name] = p
	}
	return out, rows.Err()
}

// parsedSegment is the new part of one segment: the rows to insert, the
// lines rejected, and the line count after it.
type parsedSegment struct {
	name    string
	rows    [][]driver.Value
	rejects []auditReject
	lines   int64
}

type auditReject struct {
	line   int64
	reason string
	raw    string
}

func parseSegment(name string, firstLine int64, lines [][]byte) parsedSegment {
	seg := parsedSegment{name: name, lines: firstLine + int64(len(lines))}
	now := time.Now().UTC()
	seen := make(map[string]bool, len(lines))
	for i, raw := range lines {
		n := firstLine + int64(i) + 1
		var l auditLine
		reason := ""
		if err := json.Unmarshal(raw, &l); err != nil {
			reason = "not a decision record: " + err.Error()
		} else {
			reason = l.problem()
		}
		if reason != "" {
			seg.rejects = append(seg.rejects, auditReject{line: n, reason: reason, raw: clipRaw(raw)})
			continue
		}
		if seen[l.DecisionID] {
			continue // the table's key would ignore it too
		}
		seen[l.DecisionID] = true
		seg.rows = append(seg.rows, l.row(name, n, now))
	}
	return seg
}

// problem says why a decoded line cannot be a decision, or "".
func (l *auditLine) problem() string {
	switch {
	case l.DecisionID == "":
		return "decision_id missing"
	case l.DecidedAt.IsZero():
		return "decided_at missing"
	case !knownDecision(l.Decision):
		return fmt.Sprintf("decision %q is not auto_approve, review or deny", l.Decision)
	}
	return ""
}

// row is the line as values in audit_decisions column order.
func (l *auditLine) row(segment string, line int64, now time.Time) []driver.Value {
	reasons, _ := json.Marshal(l.Reasons) // plain data, cannot fail
	var features driver.Value
	if l.Features != nil {
		b, _ := json.Marshal(l.Features)
		features = string(b)
	}
	return []driver.Value{
		l.DecisionID, l.DecidedAt.UTC(), l.Source, l.RequestID, l.RequesterInput,
		nullIfEmpty(l.Requester), l.Entitlement, l.Duration, l.RequestedAt,
		int32(l.JustificationLength), string(l.Tier), l.Risk, string(l.Decision),
		string(l.PolicyDecision), l.Mode, l.ModelVersion, l.PolicyVersion, string(reasons),
		features, nullIfEmpty(l.Error), segment, line, now,
	}
}

func knownDecision(d models.Decision) bool {
	switch d {
	case models.DecisionAutoApprove, models.DecisionReview, models.DecisionDeny:
		return true
	}
	return false
}

func nullIfEmpty(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}

func clipRaw(raw []byte) string {
	if len(raw) > maxRejectRaw {
		raw = raw[:maxRejectRaw]
	}
	return strings.ToValidUTF8(string(raw), "\uFFFD")
}

// foldSegment inserts one segment's new rows and rejects and moves its
// progress mark, in one transaction.
func foldSegment(ctx context.Context, conn *sql.Conn, seg parsedSegment, end int64, st *FoldStats) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()

	before, err := countDecisions(ctx, conn)
	if err != nil {
		return err
	}
	if len(seg.rows) > 0 {
		if err := appendDecisions(conn, seg.rows); err != nil {
			return err
		}
	}
	after, err := countDecisions(ctx, conn)
	if err != nil {
		return err
	}
	for _, r := range seg.rejects {
		if _, err := conn.ExecContext(ctx, `INSERT OR IGNORE INTO audit_rejects
			(segment, line, reason, raw, folded_at) VALUES (?, ?, ?, ?, current_timestamp)`,
			seg.name, r.line, r.reason, r.raw); err != nil {
			return fmt.Errorf("insert audit reject line %d: %w", r.line, err)
		}
	}
	if _, err := conn.ExecContext(ctx, `INSERT OR REPLACE INTO audit_segments
		(segment, folded_bytes, folded_lines, folded_at) VALUES (?, ?, ?, current_timestamp)`,
		seg.name, end, seg.lines); err != nil {
		return fmt.Errorf("update audit_segments: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}

	st.Inserted += int(after - before)
	st.Duplicates += len(seg.rows) - int(after-before)
	st.Rejected += len(seg.rejects)
	return nil
}

func countDecisions(ctx context.Context, conn *sql.Conn) (int64, error) {
	var n int64
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM audit_decisions`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count audit_decisions: %w", err)
	}
	return n, nil
}

// appendDecisions bulk-loads rows through DuckDB's appender into a query
// that skips decision ids already present.
func appendDecisions(conn *sql.Conn, rows [][]driver.Value) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("fold audit: unexpected driver connection %T", dc)
		}
		app, err := duckdb.NewTableAppender(c,
			`INSERT INTO audit_decisions SELECT * FROM appended_data ON CONFLICT DO NOTHING`,
			"", "", "audit_decisions", nil)
		if err != nil {
			return fmt.Errorf("audit appender: %w", err)
		}
		for _, r := range rows {
			if err := app.AppendRow(r...); err != nil {
				app.Close()
				return fmt.Errorf("append decision %v: %w", r[0], err)
			}
		}
		if err := app.Close(); err != nil {
			return fmt.Errorf("flush decisions: %w", err)
		}
		return nil
	})
}
