package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/jitscore/jitscore/ingest/internal/trail"
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
// sealed and handed to a store goroutine, which writes batches one after
// the other while the next ones are built, so parsing overlaps DuckDB's
// inserts and commits. One sealed batch may wait while another is being
// stored: a commit (most of it waiting for the disk) took about as long as
// parsing a batch, and with a single batch in flight the parsers stalled
// whenever it took longer.
//
// Deduplication has two layers. Every eventID stored in this load is kept
// as a 128-bit xxh3 hash in seen (a hashSet), which catches repeats within
// the load. When ct_events already held rows at the start, each batch is
// appended to a temporary staging table and moved over with an anti-join
// on event_uuid and event_id, which catches repeats of earlier loads; when
// it was empty, seen is complete and rows are appended straight into
// ct_events.
type writer struct {
	ctx    context.Context
	conn   *sql.Conn
	rows   rowSink
	direct bool
	opts   CloudTrailOptions
	sum    *Summary
	log    *slog.Logger

	known     map[string]knownFile
	seen      hashSet
	keep      []bool   // scratch: which rows of a file are stored
	keys      fileKeys // scratch: the file's keys
	lastBlob  int32    // the highest ct_raw.blob_id in use
	firstBlob int32    // lastBlob when the load began
	dims      [numDims]*dimension
	restore   []string // statements that put loadSettings back

	pending bool                  // a batch has been started
	inTx    bool                  // a transaction is open (owned by the in-flight store when async)
	queue   chan storeJob         // to the store goroutine; nil when it is not running
	stopped chan error            // its outcome, once queue is closed and drained
	failed  atomic.Pointer[error] // its first error, as soon as it happens
	batch                         // the batch being built
}

// batch is what one transaction stores besides its rows.
type batch struct {
	staged   int // rows in this batch, those carried over from the last one included
	dups     int // duplicates found in this batch before the anti-join
	before   int
	read     int // files read in this batch
	quar     []quarRow
	files    []fileRow
	blobs    []blobRow
	dimRows  [numDims][]dimRow // dimension rows first seen in this batch
	skipped  []FileNote
	skipKind []string
}

// rowSink buffers ct_events rows; seal hands them over as a rowBatch that
// writes them into the sink's table. store_append.go (the default build)
// and store_arrow.go (build tag duckdb_arrow) implement it.
type rowSink interface {
	// add buffers every row of f, with its file's keys.
	add(f *fileRows, k *fileKeys) error
	// async reports whether a sealed batch may be written while rows of the
	// next are added. When false the batch's transaction must be open
	// while rows are added (the Appender writes full chunks as it goes).
	async() bool
	// seal ends the current batch with its first limit rows (all of
	// them when limit is 0 or the sink cannot split) and returns how many
	// it took; the rest begin the next batch.
	seal(limit int) (rowBatch, int)
	// clear drops the rows not yet sealed.
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

// fileKeys are what a file's rows refer to besides their own columns:
// the ct_raw blob that holds their records, and for each dimension the key
// of each of the file's tuples, by tuple number (fileRows.tuple).
type fileKeys struct {
	blob int32
	dims [numDims][]int32
}

// The dimensions of ct_events, in the order of writer.dims.
const (
	dimPrincipal = iota
	dimAction
	dimClient
	dimPlace
	numDims
)

func newDimensions() [numDims]*dimension {
	return [numDims]*dimension{
		dimPrincipal: newDimension("ct_principals", "principal_key",
			"principal_type", "principal_arn", "principal_id", "on_behalf_of", "session_name", "actor_raw", "entitlement"),
		dimAction: newDimension("ct_actions", "action_key",
			"event_source", "event_name", "event_type", "event_category"),
		dimClient: newDimension("ct_clients", "client_key",
			"source_ip", "user_agent", "source_ip_parsed").deriving(1, func(v []string) []string {
			return []string{trail.ParseIP(v[0])}
		}),
		dimPlace: newDimension("ct_places", "place_key", "account_id", "aws_region"),
	}
}

// blobRow is a ct_raw row.
type blobRow struct {
	id            int32
	source, codec string
	data          []byte
}

type fileRow struct {
	source, version, kind, note string
	size, records, quarantined  int64
	end                         int // the batch's row count after the file's rows
}

func newWriter(ctx context.Context, db *sql.DB, opts CloudTrailOptions, sum *Summary, log *slog.Logger) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("database connection: %w", err)
	}
	w := &writer{
		ctx: ctx, conn: conn, opts: opts, sum: sum, log: log,
		known: map[string]knownFile{},
		dims:  newDimensions(),
	}
	if w.opts.BatchEvents <= 0 {
		w.opts.BatchEvents = DefaultBatchEvents
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

	for _, d := range w.dims {
		if err := d.load(w.ctx, w.conn); err != nil {
			return err
		}
	}
	if err := w.conn.QueryRowContext(w.ctx, `SELECT coalesce(max(blob_id), 0) FROM ct_raw`).Scan(&w.lastBlob); err != nil {
		return fmt.Errorf("read ct_raw: %w", err)
	}
	w.firstBlob = w.lastBlob
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
	if err := w.tune(); err != nil {
		return err
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
	cut := 0 // events of this file left out by Since
	if f := r.rows; f != nil {
		// Which rows to store: the eventID set is probed in one tight
		// loop over the hashes, so that its cache misses overlap.
		w.keep = resize(w.keep, len(f.hash))
		since := !w.opts.Since.IsZero()
		stored := 0
		for i, h := range f.hash {
			if since && f.ev[i].EventTime.Before(w.opts.Since) {
				w.before++
				cut++
				w.keep[i] = false
				continue
			}
			had := w.seen.add(h)
			w.keep[i] = !had
			if !had {
				stored++
			}
		}
		fr.records += int64(len(f.hash) - cut)
		w.dups += len(f.hash) - cut - stored
		var used [numDims][]bool
		if stored < len(f.hash) {
			used = f.keep(w.keep)
		}
		if stored > 0 {
			w.lastBlob++
			w.keys.blob = w.lastBlob
			w.blobs = append(w.blobs, blobRow{w.lastBlob, r.obj.source, r.codec, r.blob})
			for d, dim := range w.dims {
				w.keys.dims[d] = dim.ids(&f.tuples[d], used[d], w.keys.dims[d])
			}
			if err := w.rows.add(f, &w.keys); err != nil {
				return fmt.Errorf("store events from %s: %w", r.obj.source, err)
			}
			w.staged += stored
		}
	}
	for _, p := range r.problems {
		w.quar = append(w.quar, quarRow{r.obj.source, p.Pos, p.Err.Error(), p.Snippet})
		fr.quarantined++
	}
	if cut > 0 {
		// Only part of the file was loaded: it is not recorded, so that
		// a later load without (or with an earlier) Since reads it again
		// and takes the rest; what this load stored is then duplicates.
		return w.maybeCommit()
	}
	fr.end = w.staged
	w.files = append(w.files, fr)
	return w.maybeCommit()
}

// maybeCommit stores full batches. A file's rows may straddle two
// batches: its ct_files row commits with its last rows, so a crash in
// between leaves it to be read again, and the rows already stored are then
// duplicates that the next load drops.
func (w *writer) maybeCommit() error {
	for w.staged >= w.opts.BatchEvents {
		if err := w.send(false); err != nil {
			return err
		}
	}
	return nil
}

// storeJob is a sealed batch for the store goroutine.
type storeJob struct {
	b    batch
	rows rowBatch
}

// storeLoop stores the batches of q in order until q is closed, and sends
// its outcome on done. After a failure it stores nothing more (it releases
// the rows of the batches still queued).
func (w *writer) storeLoop(q <-chan storeJob, done chan<- error) {
	var err error
	for j := range q {
		if err != nil {
			j.rows.release()
			continue
		}
		if err = w.store(j.b, j.rows); err != nil {
			w.failed.Store(&err)
		}
	}
	done <- err
}

// commit stores the batch being built and waits until every batch is
// stored.
func (w *writer) commit() error {
	if err := w.wait(); err != nil {
		return err
	}
	// Parsing is over: the last batch and the checkpoint may have every
	// core (measured: the load's last 0.8 s ran on one).
	if len(w.restore) > 0 {
		if _, err := w.conn.ExecContext(w.ctx, w.restore[0]); err != nil {
			return fmt.Errorf("restore threads: %w", err)
		}
	}
	return w.send(true)
}

// send seals the batch being built and stores it: on the store goroutine
// when the sink is async (waiting while another sealed batch is queued),
// else here. With wait it returns only when nothing is in flight.
func (w *writer) send(wait bool) error {
	if err := w.failed.Load(); err != nil {
		return *err
	}
	if !w.pending {
		return nil
	}
	limit := 0 // the final batch takes every row
	if !wait {
		limit = w.opts.BatchEvents
	}
	rows, n := w.rows.seal(limit)
	b, next := w.batch, batch{}
	// Tuples first seen so far go with this batch, before or beside the
	// rows (carried ones included) that use them.
	for i, d := range w.dims {
		b.dimRows[i] = d.take()
	}
	if n < b.staged {
		// The rest of the rows start the next batch, with the files
		// whose last rows are among them.
		next.staged = b.staged - n
		kept := b.files[:0:0]
		for _, f := range b.files {
			if f.end > n {
				f.end -= n
				next.files = append(next.files, f)
			} else {
				kept = append(kept, f)
			}
		}
		b.files, b.staged = kept, n
	}
	w.batch = next
	w.pending = next.staged > 0 || len(next.files) > 0
	if !w.rows.async() {
		return w.store(b, rows)
	}
	if w.queue == nil {
		w.queue, w.stopped = make(chan storeJob, 1), make(chan error, 1)
		go w.storeLoop(w.queue, w.stopped)
	}
	w.queue <- storeJob{b, rows}
	if wait {
		return w.wait()
	}
	return nil
}

// wait lets the store goroutine finish the batches handed to it and
// returns its outcome; nothing is in flight after.
func (w *writer) wait() error {
	if w.queue == nil {
		return nil
	}
	close(w.queue)
	err := <-w.stopped
	w.queue, w.stopped = nil, nil
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
	// TODO(ingest-dims): the tuples of rows this anti-join drops (repeats
	// of an earlier load with other principals or clients), and of rows a
	// crash left uncommitted, stay in the dimension tables unused; no event
	// refers to them, and no cleanup removes them yet.
	if !w.direct && b.staged > 0 {
		res, err := w.conn.ExecContext(w.ctx, `
INSERT INTO ct_events SELECT s.* FROM ct_stage s
WHERE NOT EXISTS (SELECT 1 FROM ct_events e WHERE e.event_uuid = s.event_uuid)
AND NOT EXISTS (SELECT 1 FROM ct_events e WHERE e.event_id = s.event_id)`)
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
	tb := time.Now() // raw blobs and dimension rows
	if err := w.appendRows("ct_raw", len(b.blobs), func(i int) []driver.Value {
		r := b.blobs[i]
		return []driver.Value{r.id, r.source, r.codec, r.data}
	}); err != nil {
		return fmt.Errorf("store raw records: %w", err)
	}
	for i, d := range w.dims {
		rows := b.dimRows[i]
		if err := w.appendRows(d.table, len(rows), func(j int) []driver.Value { return rows[j].values() }); err != nil {
			return fmt.Errorf("store %s: %w", d.table, err)
		}
	}
	tSide := time.Since(tb)
	if err := w.quarantine(b.quar); err != nil {
		return err
	}
	if err := w.recordFiles(b.files); err != nil {
		return err
	}
	t1 := time.Now()
	if _, err := w.conn.ExecContext(w.ctx, "COMMIT"); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	w.inTx = false
	w.log.Debug("batch committed", "events", b.staged, "flush_seconds", tFlush.Seconds(),
		"write_seconds", t1.Sub(t0).Seconds(), "side_tables_seconds", tSide.Seconds(), "commit_seconds", time.Since(t1).Seconds())

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

// quarantine stores a batch's quarantine rows, each (source, position,
// reason) once: a file read again does not repeat its rows. They are
// appended to a staging table and moved in one statement; one INSERT per
// row took about 3 ms, 50 s for a file of 14,500 bad lines.
func (w *writer) quarantine(rows []quarRow) error {
	if len(rows) == 0 {
		return nil
	}
	if _, err := w.conn.ExecContext(w.ctx, `
CREATE TEMP TABLE IF NOT EXISTS ct_quarantine_stage (n INTEGER, source VARCHAR, position VARCHAR, reason VARCHAR, snippet VARCHAR)`); err != nil {
		return fmt.Errorf("quarantine staging table: %w", err)
	}
	if err := w.appendRows("ct_quarantine_stage", len(rows), func(i int) []driver.Value {
		q := rows[i]
		return []driver.Value{int32(i), q.source, q.position, q.reason, q.snippet}
	}); err != nil {
		return fmt.Errorf("quarantine: %w", err)
	}
	// In input order, the first of a batch's repeats kept.
	if _, err := w.conn.ExecContext(w.ctx, `
INSERT INTO quarantine (source, position, reason, snippet)
SELECT source, position, reason, snippet FROM (
	SELECT *, row_number() OVER (PARTITION BY source, position, reason ORDER BY n) AS k FROM ct_quarantine_stage) s
WHERE k = 1 AND NOT EXISTS (
	SELECT 1 FROM quarantine q WHERE q.source = s.source AND q.position = s.position AND q.reason = s.reason)
ORDER BY n`); err != nil {
		return fmt.Errorf("quarantine %s %s: %w", rows[0].source, rows[0].position, err)
	}
	if _, err := w.conn.ExecContext(w.ctx, `DELETE FROM ct_quarantine_stage`); err != nil {
		return fmt.Errorf("clear quarantine staging table: %w", err)
	}
	return nil
}

// appendRows appends n rows, row(i) each, to table through DuckDB's
// Appender inside the open transaction: one INSERT statement per row cost
// about 10 ms for a blob of a few hundred KB.
func (w *writer) appendRows(table string, n int, row func(i int) []driver.Value) error {
	if n == 0 {
		return nil
	}
	app, err := newAppender(w.conn, table)
	if err != nil {
		return err
	}
	for i := range n {
		if err := app.AppendRow(row(i)...); err != nil {
			app.Close()
			return fmt.Errorf("%s row %d: %w", table, i+1, err)
		}
	}
	if err := app.Close(); err != nil {
		return fmt.Errorf("append to %s: %w", table, err)
	}
	return nil
}

// newAppender opens DuckDB's Appender on table, on conn's connection (so
// in its open transaction, if any).
func newAppender(conn *sql.Conn, table string) (app *duckdb.Appender, err error) {
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("duckdb connection expected")
		}
		app, err = duckdb.NewAppenderFromConn(c, "", table)
		if err != nil {
			return fmt.Errorf("appender on %s: %w", table, err)
		}
		return nil
	})
	return app, err
}

// filesPerStatement bounds the rows of one ct_files statement.
const filesPerStatement = 256

// recordFiles writes ct_files rows, replacing earlier rows of the same
// sources, a few hundred per statement.
func (w *writer) recordFiles(files []fileRow) error {
	for len(files) > 0 {
		part := files[:min(len(files), filesPerStatement)]
		files = files[len(part):]
		var q strings.Builder
		q.WriteString(`INSERT OR REPLACE INTO ct_files (source, size, version, kind, records, quarantined, note, loaded_at) VALUES `)
		args := make([]any, 0, 7*len(part))
		for i, f := range part {
			if i > 0 {
				q.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&q, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, current_timestamp)", n+1, n+2, n+3, n+4, n+5, n+6, n+7)
			args = append(args, f.source, f.size, f.version, f.kind, f.records, f.quarantined, nullable(f.note))
		}
		if _, err := w.conn.ExecContext(w.ctx, q.String(), args...); err != nil {
			return fmt.Errorf("record files (%s, ...): %w", part[0].source, err)
		}
	}
	return nil
}

// canonicalUUID parses id when it is a UUID written the way DuckDB writes
// one back (8-4-4-4-12 lower-case hex digits), so that storing it as a
// UUID loses nothing of its text.
func canonicalUUID(id string) (u [16]byte, ok bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return u, false
	}
	var bad byte
	for j, i := range uuidDigits {
		hi, lo := lowerHex[id[i]], lowerHex[id[i+1]]
		bad |= hi | lo
		u[j] = hi<<4 | lo
	}
	return u, bad&0x80 == 0
}

// uuidDigits are the offsets of the 16 digit pairs of a hyphenated UUID.
var uuidDigits = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// lowerHex maps a lower-case hex digit to its value and anything else to
// 0x80.
var lowerHex = func() (t [256]byte) {
	for i := range t {
		t[i] = 0x80
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
	}
	return t
}()

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

// loadSettings are the DuckDB settings a load changes for its duration
// (they are global to the database instance; close puts them back).
//
// threads: the parsers keep the other cores busy, and a second DuckDB
// thread on a 2-core machine only contended with them (measured at
// 1,000,000 events: 12 s with one DuckDB thread, 15-17 s with two).
// checkpoint_threshold: every batch's raw blobs (~25 MB) passed DuckDB's
// default 16 MB, so every commit checkpointed; the load checkpoints once
// at its end instead (14 s -> 9 s).
var loadSettings = []string{"threads", "checkpoint_threshold"} // threads first: commit restores it early

// tune applies loadSettings, remembering the values close restores.
func (w *writer) tune() error {
	w.restore = w.restore[:0]
	for _, name := range loadSettings {
		var v string
		if err := w.conn.QueryRowContext(w.ctx, `SELECT current_setting($1)::VARCHAR`, name).Scan(&v); err != nil {
			return fmt.Errorf("read setting %s: %w", name, err)
		}
		w.restore = append(w.restore, fmt.Sprintf("SET %s = '%s'", name, strings.ReplaceAll(v, "'", "''")))
	}
	threads := max(1, runtime.GOMAXPROCS(0)/2)
	for _, q := range []string{
		fmt.Sprintf("SET threads = %d", threads),
		"SET checkpoint_threshold = '1GB'",
	} {
		if _, err := w.conn.ExecContext(w.ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// dropUnusedRaw deletes the blobs this load stored whose every event was
// already stored by an earlier load. It runs once, after the last batch:
// a file's rows may straddle batches, so a blob unused when one batch
// commits may be needed by the next.
func (w *writer) dropUnusedRaw() error {
	if w.direct || w.lastBlob <= w.firstBlob {
		return nil
	}
	if _, err := w.conn.ExecContext(w.ctx, `
DELETE FROM ct_raw WHERE blob_id > $1
AND NOT EXISTS (SELECT 1 FROM ct_events e WHERE e.raw_blob = ct_raw.blob_id)`, w.firstBlob); err != nil {
		return fmt.Errorf("drop unused raw: %w", err)
	}
	return nil
}

// checkpoint writes what the load committed into the database file, so
// that the log the load let grow is not left to the next open to replay.
// The data is committed either way: a checkpoint DuckDB refuses (another
// connection's transaction is open) is logged, and DuckDB checkpoints
// later by itself.
func (w *writer) checkpoint() {
	if _, err := w.conn.ExecContext(w.ctx, "CHECKPOINT"); err != nil {
		w.log.Warn("checkpoint after load deferred", "err", err)
	}
}

func (w *writer) close() {
	w.wait()
	if w.rows != nil {
		w.rows.close()
	}
	for _, q := range w.restore {
		w.conn.ExecContext(context.WithoutCancel(w.ctx), q)
	}
	w.conn.Close()
}
