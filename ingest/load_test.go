package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestInterruptedLoadLeavesConsistentDatabaseAndRerunFinishes cancels a
// load after its first committed batches and checks that a re-run stores
// exactly what one uninterrupted load would.
func TestInterruptedLoadLeavesConsistentDatabaseAndRerunFinishes(t *testing.T) {
	t.Parallel()
	input := filepath.Join(ctSharedDir(t), "data", "invictus-aws-dataset")
	db := ctOpenDB(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := CloudTrailOptions{BatchEvents: 1, Concurrency: 1, Progress: func(done, total int) {
		if done >= 3 {
			cancel()
		}
	}}
	first, err := LoadCloudTrail(ctx, db, []string{input}, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	stored := ctCount(t, db, `SELECT count(*) FROM events`)
	if stored != first.EventsLoaded || stored == 0 || stored == 2900 {
		t.Fatalf("after interruption events = %d, summary says %d; want a committed part", stored, first.EventsLoaded)
	}
	// A file is recorded with its last rows, so every recorded file's
	// events are stored; a file cut off mid-way is unrecorded, read again
	// by the re-run, and its stored rows are then duplicates.
	recorded := ctCount(t, db, `SELECT coalesce(sum(records), 0) FROM ct_files`)
	ofRecorded := ctCount(t, db, `SELECT count(*) FROM events e JOIN ct_files f ON f.source = e.source`)
	if ofRecorded != recorded || recorded > stored {
		t.Errorf("ct_files records %d, events of recorded files %d, events %d: bookkeeping not committed with its events",
			recorded, ofRecorded, stored)
	}
	second, err := LoadCloudTrail(context.Background(), db, []string{input}, CloudTrailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := ctCount(t, db, `SELECT count(*) FROM events`); n != 2900 || second.EventsLoaded != 2900-stored {
		t.Errorf("after re-run events = %d (loaded %d), want 2900", n, second.EventsLoaded)
	}
}

// TestLoadCountsInPrometheusMetrics checks the counters of one load.
func TestLoadCountsInPrometheusMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	db := ctOpenDB(t)
	cases := filepath.Join(ctSharedDir(t), "cases", "cloudtrail")
	srcs := []string{filepath.Join(cases, "a9-duplicate-across-files", "input"), filepath.Join(cases, "a1-digest-mixed", "input")}
	if _, err := LoadCloudTrail(context.Background(), db, srcs, CloudTrailOptions{Metrics: m}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		c    prometheus.Collector
		want float64
	}{
		"loaded":         {m.EventsLoaded, 6},
		"duplicate":      {m.EventsDuplicate, 1},
		"quarantined":    {m.RecordsQuarantined, 0},
		"files read":     {m.FilesRead, 4},
		"skipped digest": {m.FilesSkipped.WithLabelValues(SkipDigest), 1},
		"rows requests":  {m.RowsLoaded.WithLabelValues(KindRequests), 0},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", name, got, tc.want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "jitscore_ingest_rows_loaded_total", "jitscore_ingest_rows_rejected_total"); err != nil || n != 6 {
		t.Errorf("rows series = %d, %v; want 3 kinds each, pre-initialised", n, err)
	}
}

// TestUnreadableFileIsQuarantinedAndRestLoads puts a corrupt gzip file and a
// file with one broken line beside a good one.
func TestUnreadableFileIsQuarantinedAndRestLoads(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := `{"eventID":"e1","eventTime":"2026-03-09T09:00:00Z","eventVersion":"1.09"}`
	files := map[string]string{
		"bad.json.gz": "\x1f\x8b\x08\x00garbage",
		"mixed.jsonl": good + "\n{\"eventID\":\n" + `{"eventID":"e2","eventTime":"2026-03-09T09:01:00Z","eventVersion":"1.09"}` + "\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db := ctOpenDB(t)
	sum, err := LoadCloudTrail(context.Background(), db, []string{dir}, CloudTrailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.EventsLoaded != 2 || sum.Quarantined != 2 {
		t.Errorf("loaded/quarantined = %d/%d, want 2/2", sum.EventsLoaded, sum.Quarantined)
	}
	if n := ctCount(t, db, `SELECT count(*) FROM quarantine WHERE (source LIKE '%bad.json.gz' AND position = 'file') OR (source LIKE '%mixed.jsonl' AND position = 'line 2')`); n != 2 {
		t.Errorf("quarantine rows with source and position = %d, want 2", n)
	}
}

// TestManyBadLinesAreQuarantinedOnceEach pins the batched quarantine: a
// file of thousands of bad lines gets one row per line, in line order, and
// reading it again (a rescan) adds none.
func TestManyBadLinesAreQuarantinedOnceEach(t *testing.T) {
	t.Parallel()
	var body strings.Builder
	const bad = 3000
	for i := range bad {
		fmt.Fprintf(&body, "{\"eventID\": broken %d\n", i)
	}
	body.WriteString(`{"eventVersion":"1.09","eventID":"ok1","eventTime":"2026-03-09T09:00:00Z","eventName":"GetObject"}` + "\n")
	dir := writeInputs(t, map[string]string{"bad.jsonl": body.String()})
	ctx := context.Background()
	db := ctOpenDB(t)
	for _, rescan := range []bool{false, true} {
		sum, err := LoadCloudTrail(ctx, db, []string{dir}, CloudTrailOptions{Rescan: rescan})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Quarantined != bad {
			t.Errorf("rescan %v: summary says %d quarantined, want %d", rescan, sum.Quarantined, bad)
		}
		var rows, lines int
		var first, last string
		if err := db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT position), arg_min(position, rowid), arg_max(position, rowid) FROM quarantine`).Scan(&rows, &lines, &first, &last); err != nil {
			t.Fatal(err)
		}
		if rows != bad || lines != bad || first != "line 1" || last != fmt.Sprintf("line %d", bad) {
			t.Errorf("rescan %v: %d rows, %d positions, first %q, last %q; want %d once each, line 1 to line %d", rescan, rows, lines, first, last, bad, bad)
		}
	}
}
