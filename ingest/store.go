package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/jitscore/jitscore/ingest/internal/trail"
	"github.com/jitscore/jitscore/models"
)

// knownFile is a ct_files row: what a file was when it was last loaded.
type knownFile struct {
	size    int64
	version string
	kind    string
	records int64
}

// writer stores parsed files in batches, one transaction per batch, on one
// connection. Not safe for concurrent use: add and commit are called from
// one goroutine. When the sink allows it (the Arrow build), a full batch is
// sealed and written by a second goroutine while the next one is built, at
// most one in flight, so parsing and DuckDB's insert and checkpoint overlap.
//
// Deduplication has two layers. Every eventID stored in this load is kept
// as a 128-bit xxh3 hash in seen, which catches repeats within the load.
// When ct_events already held rows at the start, each batch is appended to
// a temporary staging table and moved over with an anti-join on event_id,
// which catches repeats of earlier loads; when it was empty, seen is
// complete and rows are appended straight into ct_events.
type writer struct {
	ctx    context.Context
	conn   *sql.Conn
	rows   rowSink
	direct bool
	opts   CloudTrailOptions
	sum    *Summary
	log    *slog.Logger

	known map[string]knownFile
	seen  map[xxh3.Uint128]struct{}

	pending  bool       // a batch has been started
	inTx     bool       // a transaction is open (owned by the in-flight store when async)
	inflight chan error // the async store of the previous batch, nil when none
	batch               // the batch being built
}

// batch is what one transaction stores besides its rows.
type batch struct {
	staged   int // rows appended in this batch
	dups     int // duplicates found in this batch before the anti-join
	before   int
	read     int // files read in this batch
	quar     []quarRow
	files    []fileRow
	skipped  []FileNote
	skipKind []string
}

// rowSink buffers ct_events rows; seal hands them over as a rowBatch that
// writes them into the sink's table. store_append.go (the default build)
// and store_arrow.go (build tag duckdb_arrow) implement it.
type rowSink interface {
	// add buffers one event; packed is its raw record as schema.PackRaw
	// stored it.
	add(e *models.Event, source string, packed []byte) error
	// async reports whether a sealed batch may be written while rows of the
	// next are added. When false the batch's transaction must be open
	// while rows are added (the Appender writes full chunks as it goes).
	async() bool
	// seal ends the current batch's rows; the sink starts an empty one.
	seal() rowBatch
	// clear drops rows added since the last seal.
	clear()
	close()
}

// rowBatch is a sealed batch of rows.
type rowBatch interface {
	// stage readies the rows; it runs outside the batch's transaction,
	// since DuckDB cannot commit a transaction that created the view of
	// an Arrow stream.
	stage(ctx context.Context) error
	// flush writes the rows inside the connection's open transaction.
	flush(ctx context.Context) error
	// release frees the rows, written or not.
	release()
}

type quarRow struct{ source, position, reason, snippet string }

type fileRow struct {
	source, version, kind, note string
	size, records, quarantined  int64
}

func newWriter(ctx context.Context, db *sql.DB, opts CloudTrailOptions, sum *Summary, log *slog.Logger) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("database connection: %w", err)
	}
	w := &writer{
		ctx: ctx, conn: conn, opts: opts, sum: sum, log: log,
		known: map[string]knownFile{},
		seen:  map[xxh3.Uint128]struct{}{},
	}
	if w.opts.BatchEvents <= 0 {
		w.opts.BatchEvents = 100_000
	}
	if err := w.init(); err != nil {
		conn.Close()
		return nil, err
	}
	return w, nil
}

func (w *writer) init() error {
	rows, err := w.conn.QueryContext(w.ctx, `SELECT source, size, version, kind, records FROM ct_files`)
	if err != nil {
		return fmt.Errorf("read ct_files: %w", err)
	}
	for rows.Next() {
		var src string
		var k knownFile
		if err := rows.Scan(&src, &k.size, &k.version, &k.kind, &k.records); err != nil {
			rows.Close()
			return fmt.Errorf("read ct_files: %w", err)
		}
		w.known[src] = k
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read ct_files: %w", err)
	}

	var present int
	if err := w.conn.QueryRowContext(w.ctx, `SELECT count(*) FROM (SELECT 1 FROM ct_events LIMIT 1)`).Scan(&present); err != nil {
		return fmt.Errorf("count ct_events: %w", err)
	}
	w.direct = present == 0
	table := "ct_events"
	if !w.direct {
		table = "ct_stage"
		if _, err := w.conn.ExecContext(w.ctx,
			`CREATE OR REPLACE TEMP TABLE ct_stage AS SELECT * FROM ct_events LIMIT 0`); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
	}
	// DuckDB's checkpoint at COMMIT tries every compression method on
	// every new segment; for a 100,000-event batch that analysis took 8 of
	// the batch's 10 seconds. Forcing dictionary compression (the one that
	// pays off on these repetitive columns; others fall back to the
	// default) cuts the commit to about 2 seconds. The setting is global
	// to the database instance, so close resets it.
	// TODO(ingest-perf): find which method's analysis is slow (not zstd,
	// not fsst: disabling either alone changes nothing) and disable only it.
	if _, err := w.conn.ExecContext(w.ctx, `SET force_compression = 'dictionary'`); err != nil {
		return fmt.Errorf("set compression: %w", err)
	}
	sink, err := newRowSink(w.ctx, w.conn, table)
	if err != nil {
		return err
	}
	w.rows = sink
	return nil
}

// unchanged accounts for a file loaded before and not changed since.
func (w *writer) unchanged(o object, k knownFile) {
	w.sum.UnchangedFiles++
	w.opts.Metrics.skipped(SkipUnchanged)
	if k.kind != trail.KindEvents.String() {
		w.sum.SkippedFiles++
		w.sum.Skipped = append(w.sum.Skipped, FileNote{Source: o.source, Reason: k.kind})
		return
	}
	w.sum.Duplicates += int(k.records)
	w.opts.Metrics.events(0, int(k.records), 0)
}

func (w *writer) begin() error {
	if w.inTx {
		return nil
	}
	if _, err := w.conn.ExecContext(w.ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	w.inTx = true
	return nil
}

// add stores one parsed file, committing when the batch is full.
func (w *writer) add(r fileResult) error {
	if errors.Is(r.err, context.Canceled) || errors.Is(r.err, context.DeadlineExceeded) {
		return r.err
	}
	w.pending = true
	if !w.rows.async() {
		if err := w.begin(); err != nil {
			return err
		}
	}
	w.read++
	fr := fileRow{source: r.obj.source, size: r.obj.size, version: r.obj.version, kind: r.kind.String()}
	if r.err != nil {
		// Not recorded in ct_files, so that the next load tries again.
		w.quar = append(w.quar, quarRow{r.obj.source, "file", r.err.Error(), ""})
		return w.maybeCommit()
	}
	if reason := skipReason(r.kind); reason != "" {
		w.skipped = append(w.skipped, FileNote{Source: r.obj.source, Reason: r.kind.String()})
		w.skipKind = append(w.skipKind, reason)
		w.files = append(w.files, fr)
		return w.maybeCommit()
	}
	for i := range r.events {
		e := &r.events[i]
		if !w.opts.Since.IsZero() && e.EventTime.Before(w.opts.Since) {
			w.before++
			continue
		}
		fr.records++
		h := xxh3.HashString128(e.EventID)
		if _, dup := w.seen[h]; dup {
			w.dups++
			continue
		}
		w.seen[h] = struct{}{}
		if err := w.rows.add(e, r.obj.source, r.packed[i]); err != nil {
			return fmt.Errorf("store event %s from %s: %w", e.EventID, r.obj.source, err)
		}
		w.staged++
	}
	for _, p := range r.problems {
		w.quar = append(w.quar, quarRow{r.obj.source, p.Pos, p.Err.Error(), p.Snippet})
		fr.quarantined++
	}
	w.files = append(w.files, fr)
	return w.maybeCommit()
}

func (w *writer) maybeCommit() error {
	if w.staged < w.opts.BatchEvents {
		return nil
	}
	return w.send(false)
}

// commit stores the batch being built and waits until every batch is
// stored.
func (w *writer) commit() error { return w.send(true) }

// send seals the batch being built and stores it: on another goroutine
// when the sink is async (after waiting for the previous batch), else
// here. With wait it returns only when nothing is in flight.
func (w *writer) send(wait bool) error {
	if err := w.wait(); err != nil {
		return err
	}
	if !w.pending {
		return nil
	}
	b, rows := w.batch, w.rows.seal()
	w.batch = batch{}
	w.pending = false
	if !w.rows.async() {
		return w.store(b, rows)
	}
	w.inflight = make(chan error, 1)
	go func(done chan<- error) { done <- w.store(b, rows) }(w.inflight)
	if wait {
		return w.wait()
	}
	return nil
}

// wait returns the outcome of the batch in flight, if any.
func (w *writer) wait() error {
	if w.inflight == nil {
		return nil
	}
	err := <-w.inflight
	w.inflight = nil
	return err
}

// nullable maps "" to SQL NULL.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// store writes one sealed batch: moves staged rows, writes quarantine and
// file bookkeeping, commits, and only then counts the batch in the summary.
// On error the batch's transaction is rolled back.
func (w *writer) store(b batch, rows rowBatch) (err error) {
	defer rows.release()
	defer func() {
		if err != nil && w.inTx {
			w.conn.ExecContext(context.WithoutCancel(w.ctx), "ROLLBACK")
			w.inTx = false
		}
	}()
	t0 := time.Now()
	if err := rows.stage(w.ctx); err != nil {
		return fmt.Errorf("stage events: %w", err)
	}
	if err := w.begin(); err != nil {
		return err
	}
	if err := rows.flush(w.ctx); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	tFlush := time.Since(t0)
	loaded := b.staged
	if !w.direct && b.staged > 0 {
		res, err := w.conn.ExecContext(w.ctx, `
INSERT INTO ct_events SELECT s.* FROM ct_stage s
WHERE NOT EXISTS (SELECT 1 FROM ct_events e WHERE e.event_id = s.event_id)`)
		if err != nil {
			return fmt.Errorf("move staged events: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		loaded = int(n)
		if _, err := w.conn.ExecContext(w.ctx, `DELETE FROM ct_stage`); err != nil {
			return fmt.Errorf("clear staging table: %w", err)
		}
	}
	for _, q := range b.quar {
		if _, err := w.conn.ExecContext(w.ctx, `
INSERT INTO quarantine (source, position, reason, snippet)
SELECT $1, $2, $3, $4
WHERE NOT EXISTS (SELECT 1 FROM quarantine WHERE source = $1 AND position = $2 AND reason = $3)`,
			q.source, q.position, q.reason, q.snippet); err != nil {
			return fmt.Errorf("quarantine %s %s: %w", q.source, q.position, err)
		}
	}
	for _, f := range b.files {
		if _, err := w.conn.ExecContext(w.ctx, `
INSERT OR REPLACE INTO ct_files (source, size, version, kind, records, quarantined, note, loaded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, current_timestamp)`,
			f.source, f.size, f.version, f.kind, f.records, f.quarantined, nullable(f.note)); err != nil {
			return fmt.Errorf("record file %s: %w", f.source, err)
		}
	}
	t1 := time.Now()
	if _, err := w.conn.ExecContext(w.ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	w.inTx = false
	w.log.Debug("batch committed", "events", b.staged, "flush_seconds", tFlush.Seconds(),
		"write_seconds", t1.Sub(t0).Seconds(), "commit_seconds", time.Since(t1).Seconds())

	dups := b.dups + (b.staged - loaded)
	s := w.sum
	s.EventsLoaded += loaded
	s.Duplicates += dups
	s.Quarantined += len(b.quar)
	s.BeforeSince += b.before
	s.SkippedFiles += len(b.skipped)
	s.Skipped = append(s.Skipped, b.skipped...)
	s.FilesRead += b.read
	m := w.opts.Metrics
	m.events(loaded, dups, len(b.quar))
	for _, k := range b.skipKind {
		m.skipped(k)
	}
	for range b.read {
		m.fileRead()
	}
	return nil
}

// rollback abandons the batch in flight.
func (w *writer) rollback() {
	w.wait() // an in-flight batch rolls itself back on error
	if !w.pending {
		return
	}
	w.rows.clear()
	if w.inTx {
		w.conn.ExecContext(context.WithoutCancel(w.ctx), "ROLLBACK")
	}
	w.inTx, w.pending = false, false
	w.batch = batch{}
}

func (w *writer) close() {
	w.wait()
	if w.rows != nil {
		w.rows.close()
	}
	w.conn.ExecContext(context.WithoutCancel(w.ctx), `RESET force_compression`)
	w.conn.Close()
}
