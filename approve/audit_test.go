package approve_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/ingest/schema"
	"github.com/jitscore/jitscore/models"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// testRecord is a decision record as the server would append it.
func testRecord(i int) approve.AuditRecord {
	return approve.AuditRecord{
		Source: "serve",
		Request: models.ScoreRequest{
			RequestID:     fmt.Sprintf("req-%d", i),
			Requester:     "Alice@Example.com",
			Entitlement:   "aws:111122223333:ReadOnly",
			Duration:      "8h",
			Justification: "ticket ÆØÅ-123 needs a look",
		},
		Requester:      "alice@example.com",
		Tier:           models.TierLow,
		Features:       map[string]float64{"peer_used": 0.7},
		Risk:           0.1,
		Decision:       models.DecisionReview,
		PolicyDecision: models.DecisionAutoApprove,
		Reasons:        []models.Reason{{Factor: "peer_used", Contribution: -0.2, Detail: "7 of 9 peers used it"}},
		ModelVersion:   "m1",
		PolicyVersion:  "p1",
		Mode:           "shadow",
	}
}

// segmentLines reads every line of every segment in dir.
func segmentLines(t *testing.T, dir string) []map[string]any {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"+approve.SegmentExt))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: line is not JSON: %v", p, err)
			}
			out = append(out, m)
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// openTestDB opens a real DuckDB file with the whole schema migrated.
func openTestDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := schema.Open(context.Background(), filepath.Join(t.TempDir(), "j.duckdb"), schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func countRows(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestAuditLogCloseWritesEveryAcceptedRecordFromConcurrentWriters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := approve.NewMetrics(nil)
	log, err := approve.OpenAuditLog(dir, approve.AuditOptions{BatchSize: 64, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	const writers, each = 8, 400
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := log.Append(testRecord(w*each + i)); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := log.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	lines := segmentLines(t, dir)
	if len(lines) != writers*each {
		t.Fatalf("segment holds %d records, want %d", len(lines), writers*each)
	}
	ids := map[string]bool{}
	for _, l := range lines {
		ids[l["decision_id"].(string)] = true
	}
	if len(ids) != writers*each {
		t.Errorf("%d distinct decision ids, want %d", len(ids), writers*each)
	}
	if got := log.Written(); got != writers*each {
		t.Errorf("Written() = %d, want %d", got, writers*each)
	}
	if got := testutil.ToFloat64(m.AuditWritten); got != writers*each {
		t.Errorf("records_written_total = %v, want %d", got, writers*each)
	}
	if got := testutil.ToFloat64(m.AuditQueueDepth); got != 0 {
		t.Errorf("queue_depth after close = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.AuditDropped); got != 0 {
		t.Errorf("records_dropped_total = %v, want 0", got)
	}
}

func TestAuditLogStoresJustificationLengthNeverItsText(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	log, err := approve.OpenAuditLog(dir, approve.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := testRecord(1)
	if err := log.Append(rec); err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(log.Path())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "ticket") {
		t.Errorf("segment contains the justification text: %s", raw)
	}
	lines := segmentLines(t, dir)
	if got := lines[0]["justification_length"]; got != float64(len([]rune(rec.Request.Justification))) {
		t.Errorf("justification_length = %v, want %d characters", got, len([]rune(rec.Request.Justification)))
	}
	if fi, err := os.Stat(log.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("segment mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
}

func TestAuditLogRefusesAppendAfterClose(t *testing.T) {
	t.Parallel()
	log, err := approve.OpenAuditLog(t.TempDir(), approve.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if err := log.Append(testRecord(1)); !errors.Is(err, approve.ErrAuditClosed) {
		t.Errorf("Append after Close = %v, want ErrAuditClosed", err)
	}
	if err := log.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestAuditLogOpensOneSegmentPerStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for range 3 {
		log, err := approve.OpenAuditLog(dir, approve.AuditOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := log.Append(testRecord(1)); err != nil {
			t.Fatal(err)
		}
		if err := log.Close(); err != nil {
			t.Fatal(err)
		}
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*"+approve.SegmentExt))
	if len(paths) != 3 {
		t.Errorf("%d segments after 3 opens, want 3: %v", len(paths), paths)
	}
}

func writeRecords(t *testing.T, dir string, from, n int) {
	t.Helper()
	log, err := approve.OpenAuditLog(dir, approve.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		if err := log.Append(testRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFoldAuditIsIdempotentAndReadsOnlyNewSegments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestDB(t)
	dir := t.TempDir()
	writeRecords(t, dir, 0, 250)

	steps := []struct {
		name         string
		addRecords   int
		wantInserted int
		wantRows     int
	}{
		{"first fold takes every record", 0, 250, 250},
		{"second fold adds nothing", 0, 0, 250},
		{"a new segment folds only its own records", 40, 40, 290},
	}
	for _, s := range steps {
		if s.addRecords > 0 {
			writeRecords(t, dir, 1000, s.addRecords)
		}
		st, err := approve.FoldAudit(ctx, db, dir)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if st.Inserted != s.wantInserted || st.Rejected != 0 {
			t.Errorf("%s: stats %+v, want %d inserted and none rejected", s.name, st, s.wantInserted)
		}
		if got := countRows(t, db, `SELECT count(*) FROM decisions`); got != s.wantRows {
			t.Errorf("%s: decisions has %d rows, want %d", s.name, got, s.wantRows)
		}
	}

	var requester, justLen, reasons string
	if err := db.QueryRow(`SELECT requester, justification_length::VARCHAR, reasons::VARCHAR
		FROM decisions WHERE request_id = 'req-7'`).Scan(&requester, &justLen, &reasons); err != nil {
		t.Fatal(err)
	}
	if requester != "alice@example.com" || justLen != "27" || !strings.Contains(reasons, "7 of 9 peers") {
		t.Errorf("row req-7 = %q %q %q", requester, justLen, reasons)
	}
}

func TestFoldAuditRejectsBadLinesKeepsGoodOnesAndWaitsForPartialLine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestDB(t)
	dir := t.TempDir()
	good := func(id string) string {
		return fmt.Sprintf(`{"decision_id":%q,"decided_at":"2026-01-02T03:04:05Z","decision":"review","policy_decision":"deny","request_id":"r-%s"}`, id, id)
	}
	content := good("a") + "\n" +
		"{not json\n" +
		`{"decided_at":"2026-01-02T03:04:05Z","decision":"review"}` + "\n" +
		`{"decision_id":"x","decided_at":"2026-01-02T03:04:05Z","decision":"maybe"}` + "\n" +
		good("a") + "\n" + // the same decision twice counts once
		good("b") + "\n" +
		good("c")[:30] // a write still in progress
	seg := filepath.Join(dir, "20260102T000000.000000000Z-1-00000000"+approve.SegmentExt)
	if err := os.WriteFile(seg, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}

	st, err := approve.FoldAudit(ctx, db, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Inserted != 2 || st.Rejected != 3 || st.Lines != 6 {
		t.Errorf("stats %+v, want 2 inserted, 3 rejected, 6 lines", st)
	}
	rejects := map[int]string{}
	rows, err := db.Query(`SELECT line, reason FROM audit_rejects ORDER BY line`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line int
		var reason string
		if err := rows.Scan(&line, &reason); err != nil {
			t.Fatal(err)
		}
		rejects[line] = reason
	}
	rows.Close()
	for line, want := range map[int]string{2: "not a decision record", 3: "decision_id missing", 4: `decision "maybe"`} {
		if !strings.Contains(rejects[line], want) {
			t.Errorf("reject of line %d = %q, want it to mention %q", line, rejects[line], want)
		}
	}

	// The writer finishes the partial line; the next fold picks it up and
	// nothing else.
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(good("c")[30:] + "\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	st, err = approve.FoldAudit(ctx, db, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Inserted != 1 || st.Rejected != 0 || st.Lines != 1 {
		t.Errorf("second fold stats %+v, want the completed line only", st)
	}
	var line int
	if err := db.QueryRow(`SELECT line FROM audit_decisions WHERE decision_id = 'c'`).Scan(&line); err != nil || line != 7 {
		t.Errorf("decision c at line %d (%v), want 7", line, err)
	}
}

func TestFoldAuditWithoutAuditDirFoldsNothing(t *testing.T) {
	t.Parallel()
	st, err := approve.FoldAudit(context.Background(), openTestDB(t), filepath.Join(t.TempDir(), "none"))
	if err != nil || st != (approve.FoldStats{}) {
		t.Errorf("FoldAudit of a missing dir = %+v, %v; want nothing, nil", st, err)
	}
}

// A fold may read a segment while the server is still appending to it: it
// takes complete lines only, and the final fold after Close has every
// record exactly once.
func TestFoldAuditWhileServerAppends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTestDB(t)
	dir := t.TempDir()
	log, err := approve.OpenAuditLog(dir, approve.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const total = 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range total {
			if err := log.Append(testRecord(i)); err != nil {
				t.Error(err)
				return
			}
			if i%200 == 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	for folding := true; folding; {
		select {
		case <-done:
			folding = false
		default:
		}
		if _, err := approve.FoldAudit(ctx, db, dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := approve.FoldAudit(ctx, db, dir); err != nil {
		t.Fatal(err)
	}
	if got := countRows(t, db, `SELECT count(*) FROM decisions`); got != total {
		t.Errorf("decisions has %d rows after the final fold, want %d appended", got, total)
	}
}
