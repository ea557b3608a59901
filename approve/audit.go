package approve

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jitscore/jitscore/models"
)

// The audit store is a directory of append-only NDJSON segment files, one
// per AuditLog (one per server process start), named so that they sort by
// the time they were opened:
//
//	20261204T130909.123456789Z-4242-1a2b3c4d.ndjson
//
// Each line is one decision (auditLine). Lines are written in batches; a
// batch is written whole and fsynced before its records count as written,
// and a failed write is cut off again before it is retried, so a segment
// only ever ends in a partial line when the process died inside a write.
// FoldAudit reads complete lines only and remembers how far it got.

// SegmentExt is the file name extension of an audit segment.
const SegmentExt = ".ndjson"

// Sentinel errors of the audit log. They may arrive wrapped; match them with
// errors.Is.
var (
	// ErrAuditClosed reports an Append after Close began.
	ErrAuditClosed = errors.New("audit log is closed")
	// ErrAuditFull reports that the queue stayed full for the whole
	// AppendTimeout, because the disk is failing or far too slow. The
	// record was not kept, and the caller must not answer the decision.
	ErrAuditFull = errors.New("audit log queue is full")
)

// AuditOptions tunes an AuditLog. Zero values take the defaults noted.
type AuditOptions struct {
	// QueueSize is how many records may wait for the writer. Default 65536.
	QueueSize int
	// BatchSize caps the records written per fsync. Default 4096.
	BatchSize int
	// Linger is how long the writer keeps collecting records after the
	// first of a batch arrived, so that under load one write and one fsync
	// carry many records. It delays only the disk, never a caller.
	// Default 2ms; negative writes each record as soon as it is seen.
	Linger time.Duration
	// AppendTimeout is how long Append waits for room in a full queue
	// before it refuses the record with ErrAuditFull. Default 2s.
	AppendTimeout time.Duration
	// RetryInterval is the pause between attempts when a batch cannot be
	// written. Default 200ms.
	RetryInterval time.Duration
	// Logger receives write failures; default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, tracks queue depth, records written and dropped
	// and flush duration.
	Metrics *Metrics
}

func (o AuditOptions) withDefaults() AuditOptions {
	if o.QueueSize <= 0 {
		o.QueueSize = 65536
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 4096
	}
	if o.Linger == 0 {
		o.Linger = 2 * time.Millisecond
	}
	if o.AppendTimeout <= 0 {
		o.AppendTimeout = 2 * time.Second
	}
	if o.RetryInterval <= 0 {
		o.RetryInterval = 200 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// AuditLog is an AuditSink that appends decisions to a segment file of its
// own under a directory, so that no database is on the path of a decision.
// Append queues the record and returns; one writer goroutine writes what has
// queued as one batch and fsyncs it, so under load many records share one
// fsync. Close stops accepting records, writes everything queued and
// returns only when it is on disk. AuditLog is safe for concurrent use.
//
// A record accepted by Append is on disk once Close returns, or within one
// batch write of being accepted while the process lives.
type AuditLog struct {
	opts AuditOptions
	path string
	f    *os.File
	ch   chan AuditRecord
	done chan struct{}

	mu     sync.RWMutex // held for reading while sending on ch, for writing to close it
	closed bool

	written  atomic.Int64
	dropped  atomic.Int64
	closeErr error // set by the writer before done is closed
}

var _ AuditSink = (*AuditLog)(nil)

// OpenAuditLog creates dir if needed (mode 0700: decisions name people) and
// a new segment file in it, and starts the writer. Close must be called to
// flush and release it.
func OpenAuditLog(dir string, opts AuditOptions) (*AuditLog, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create audit dir %s: %w", dir, err)
	}
	// TODO(audit): one segment per process start grows for as long as the
	// server runs, and folded segments are never deleted; rotation by size
	// and pruning of folded segments are left to the operator for now.
	path := filepath.Join(dir, segmentName(time.Now()))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create audit segment: %w", err)
	}
	// Make the new file's directory entry durable too, so a crash cannot
	// lose a segment whose records were fsynced.
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync audit dir %s: %w", dir, err)
	}
	a := &AuditLog{
		opts: opts,
		path: path,
		f:    f,
		ch:   make(chan AuditRecord, opts.QueueSize),
		done: make(chan struct{}),
	}
	go a.run()
	return a, nil
}

func segmentName(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return fmt.Sprintf("%s-%d-%s%s",
		now.UTC().Format("20060102T150405.000000000Z"), os.Getpid(), hex.EncodeToString(b[:]), SegmentExt)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Path is the segment file this log appends to.
func (a *AuditLog) Path() string { return a.path }

// Written is the number of records written and fsynced so far.
func (a *AuditLog) Written() int64 { return a.written.Load() }

// Dropped is the number of records accepted and then lost because the
// segment could not be written even at Close. It is 0 unless the disk
// failed.
func (a *AuditLog) Dropped() int64 { return a.dropped.Load() }

// Append queues rec. It gives the record a DecisionID (a time-ordered UUID)
// when it has none and a DecidedAt when it has none. It waits up to
// AppendTimeout for room when the queue is full and then returns
// ErrAuditFull; after Close it returns ErrAuditClosed. On nil error the
// record will be written.
func (a *AuditLog) Append(rec AuditRecord) error {
	if rec.DecisionID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("decision id: %w", err)
		}
		rec.DecisionID = id.String()
	}
	if rec.DecidedAt.IsZero() {
		rec.DecidedAt = time.Now().UTC()
	}

	// TODO(audit): Append returns before the record is on disk, so a
	// SIGKILL or power loss can lose the records of the last Linger window
	// (2ms by default) and one batch write; a graceful shutdown loses none.
	// An opt-in mode that waits for the batch's fsync would close the gap
	// at the cost of fsync latency on every answer.
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return ErrAuditClosed
	}
	select {
	case a.ch <- rec:
		a.queued(1)
		return nil
	default:
	}
	t := time.NewTimer(a.opts.AppendTimeout)
	defer t.Stop()
	select {
	case a.ch <- rec:
		a.queued(1)
		return nil
	case <-t.C:
		return ErrAuditFull
	}
}

func (a *AuditLog) queued(n int) {
	if m := a.opts.Metrics; m != nil {
		m.AuditQueueDepth.Add(float64(n))
	}
}

// Close stops accepting records, waits until every queued record is written
// and fsynced, and closes the segment. It returns the error that kept
// records from being written, if any (they are then counted as dropped).
// Calling Close again returns the same result.
func (a *AuditLog) Close() error {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.ch)
	}
	a.mu.Unlock()
	<-a.done
	return a.closeErr
}

// run is the writer: it takes whatever has queued, up to BatchSize, writes
// it as one batch and fsyncs, until the queue is closed and empty.
func (a *AuditLog) run() {
	defer close(a.done)
	log := a.opts.Logger.With(slog.String("component", "audit"), slog.String("segment", a.path))
	w := &segmentWriter{f: a.f}
	if fi, err := a.f.Stat(); err == nil {
		w.size = fi.Size()
	}
	batch := make([]AuditRecord, 0, a.opts.BatchSize)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		rec, ok := <-a.ch
		if !ok {
			break
		}
		batch = append(batch[:0], rec)
		if a.opts.Linger > 0 {
			linger.Reset(a.opts.Linger)
		}
	fill:
		for len(batch) < a.opts.BatchSize {
			if a.opts.Linger <= 0 {
				select {
				case r, ok := <-a.ch:
					if !ok {
						break fill
					}
					batch = append(batch, r)
				default:
					break fill
				}
				continue
			}
			select {
			case r, ok := <-a.ch:
				if !ok {
					break fill // closing: write what there is at once
				}
				batch = append(batch, r)
			case <-linger.C:
				break fill
			}
		}
		linger.Stop()
		a.writeWithRetry(w, batch, log)
	}
	if err := a.f.Close(); err != nil && a.closeErr == nil {
		a.closeErr = fmt.Errorf("close audit segment %s: %w", a.path, err)
	}
}

// writeWithRetry writes one batch, retrying while the log is open: a full
// or failing disk then backs the queue up until Append refuses records,
// which the server answers as unavailable rather than deciding without a
// record. Once Close has begun, one last attempt is made and a failed
// batch is counted as dropped.
func (a *AuditLog) writeWithRetry(w *segmentWriter, batch []AuditRecord, log *slog.Logger) {
	m := a.opts.Metrics
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := w.writeBatch(batch)
		if err == nil {
			a.written.Add(int64(len(batch)))
			if m != nil {
				m.AuditFlushDuration.Observe(time.Since(start).Seconds())
				m.AuditWritten.Add(float64(len(batch)))
				m.AuditQueueDepth.Sub(float64(len(batch)))
			}
			return
		}
		a.mu.RLock()
		closing := a.closed
		a.mu.RUnlock()
		if closing && attempt > 1 {
			log.Error("audit records lost", slog.Int("records", len(batch)), slog.Any("error", err))
			a.dropped.Add(int64(len(batch)))
			if m != nil {
				m.AuditDropped.Add(float64(len(batch)))
				m.AuditQueueDepth.Sub(float64(len(batch)))
			}
			if a.closeErr == nil {
				a.closeErr = fmt.Errorf("write audit segment %s: %w", a.path, err)
			}
			return
		}
		log.Error("audit write failed, retrying", slog.Int("attempt", attempt),
			slog.Int("records", len(batch)), slog.Any("error", err))
		time.Sleep(a.opts.RetryInterval)
	}
}

// segmentWriter appends batches of lines to one segment file.
type segmentWriter struct {
	f    *os.File
	size int64 // bytes known to be on disk
	buf  []byte
}

// writeBatch encodes batch, writes it in one go and fsyncs. On failure it
// truncates the file back to its last durable size, so a retry does not
// leave a torn line behind.
func (w *segmentWriter) writeBatch(batch []AuditRecord) error {
	w.buf = w.buf[:0]
	for i := range batch {
		w.buf = appendAuditLine(w.buf, &batch[i])
	}
	if _, err := w.f.Write(w.buf); err != nil {
		_ = w.f.Truncate(w.size)
		return err
	}
	if err := w.f.Sync(); err != nil {
		_ = w.f.Truncate(w.size)
		return err
	}
	w.size += int64(len(w.buf))
	return nil
}

func joinError(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// auditLine is one line of a segment file: an AuditRecord with the request
// flattened and the justification reduced to its length in characters.
// appendAuditLine writes it; FoldAudit reads it with encoding/json.
type auditLine struct {
	DecisionID          string             `json:"decision_id"`
	DecidedAt           time.Time          `json:"decided_at"`
	Source              string             `json:"source"`
	RequestID           string             `json:"request_id"`
	RequesterInput      string             `json:"requester_input"`
	Requester           string             `json:"requester"`
	Entitlement         string             `json:"entitlement"`
	Duration            string             `json:"duration,omitempty"`
	RequestedAt         string             `json:"requested_at,omitempty"`
	JustificationLength int                `json:"justification_length"`
	Tier                models.Tier        `json:"tier"`
	Features            map[string]float64 `json:"features,omitempty"`
	Risk                float64            `json:"risk"`
	Decision            models.Decision    `json:"decision"`
	PolicyDecision      models.Decision    `json:"policy_decision"`
	Reasons             []models.Reason    `json:"reasons"`
	ModelVersion        string             `json:"model_version"`
	PolicyVersion       string             `json:"policy_version"`
	Mode                string             `json:"mode"`
	Error               string             `json:"error,omitempty"`
}

// readSegmentLines returns
// the complete lines of a segment from offset on, and the offset just past
// the last complete line.
func readSegmentLines(path string, offset int64) ([][]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return nil, offset, err
	}
	r := bufio.NewReaderSize(f, 1<<16)
	var lines [][]byte
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// A line without its newline is a write still in progress or
			// one torn by a crash; it is left for a later fold.
			return lines, offset, nil
		}
		if err != nil {
			return lines, offset, err
		}
		offset += int64(len(line))
		lines = append(lines, line[:len(line)-1])
	}
}
