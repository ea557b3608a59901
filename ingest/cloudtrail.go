// Package ingest loads what jitscore learns from into its DuckDB database:
// CloudTrail in every shape it is delivered in, and the broker's tables
// (requests, identities, entitlements). Readers never stop a load for one
// bad record: what cannot be used is kept in quarantine with its source,
// position and reason.
package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/klauspost/compress/s2"

	"github.com/jitscore/jitscore/ingest/internal/gz"
	"github.com/jitscore/jitscore/ingest/internal/trail"
	"github.com/jitscore/jitscore/ingest/schema"
	"github.com/jitscore/jitscore/models"
)

// DefaultBatchEvents is the events per transaction when
// CloudTrailOptions.BatchEvents is zero: one of DuckDB's row groups, which
// DuckDB writes straight to the file (see arrowSink.seal). Two row groups
// per batch cost a third more memory (1.2 GiB peak against 0.9 at
// 1,000,000 events) and no less time.
const DefaultBatchEvents = 122_880

// CloudTrailOptions controls LoadCloudTrail. The zero value is usable.
type CloudTrailOptions struct {
	// Since drops events before this instant, and files whose S3 key
	// layout date folder lies wholly before it are not read (nor, on S3,
	// listed). Zero loads everything.
	Since time.Time
	// EndpointURL points S3 sources at an S3-compatible store, addressed
	// path-style. Empty uses AWS.
	EndpointURL string
	// Region is the S3 signing region; empty takes it from the standard
	// AWS configuration, else us-east-1.
	Region string
	// Rescan reads files that were loaded before and have not changed
	// since (same size and mtime or ETag). Without it they are not read
	// again; see Summary.UnchangedFiles for how they are counted.
	Rescan bool
	// Concurrency is the number of files read and parsed at once; zero
	// means GOMAXPROCS for local files and 8 when any source is on S3.
	Concurrency int
	// BatchEvents is the number of events per database transaction; zero
	// means DefaultBatchEvents. A crash loses at most the batch in flight, and a
	// re-run loads it (files are recorded with their last batch).
	BatchEvents int
	// Logger receives the load's log lines; nil means slog.Default().
	Logger *slog.Logger
	// Metrics, when not nil, counts what the load did.
	Metrics *Metrics
	// Progress, when not nil, is called from one goroutine after each
	// file is stored or skipped, with the files done and the total.
	Progress func(done, total int)
}

// Summary is the outcome of one LoadCloudTrail, printed by
// `jitscore ingest cloudtrail --format json`.
//
// A file that was loaded before and is unchanged is not read again (unless
// CloudTrailOptions.Rescan): it counts in UnchangedFiles, and the usable
// records it held count as Duplicates, since that is exactly what reading
// it again would find. So loading the same input twice reports, the second
// time, EventsLoaded 0 and every record as a duplicate, with or without a
// rescan.
type Summary struct {
	EventsLoaded     int        `json:"events_loaded"`      // new distinct eventIDs stored
	Duplicates       int        `json:"duplicates"`         // records whose eventID was already stored
	Quarantined      int        `json:"quarantined"`        // records or files put in quarantine
	SkippedFiles     int        `json:"skipped_files"`      // digests, non-event JSON, non-JSON, empty
	Files            int        `json:"files"`              // files or objects found in the sources
	FilesRead        int        `json:"files_read"`         // of which read this time
	UnchangedFiles   int        `json:"unchanged_files"`    // loaded before and unchanged: not read
	BeforeSince      int        `json:"before_since"`       // events dropped as older than Since
	BeforeSinceFiles int        `json:"before_since_files"` // files not read: date folder before Since
	Skipped          []FileNote `json:"skipped,omitempty"`  // which files were skipped, and why
	Elapsed          float64    `json:"elapsed_seconds"`
}

// FileNote names a file and what happened to it.
type FileNote struct {
	Source string `json:"source"`
	Reason string `json:"reason"`
}

// ErrNoSources reports a load called without any source.
var ErrNoSources = errors.New("no CloudTrail source given")

// LoadCloudTrail reads every source (a file, a directory tree, a glob or
// s3://bucket/prefix), normalises each CloudTrail record and stores the new
// ones in db, deduplicated by eventID against everything already stored.
// The shape of each input is detected from its content; gzip is detected
// by its magic bytes.
//
// Unusable records and unreadable files go to the quarantine table and the
// load goes on. Events, quarantine rows and the bookkeeping of the files
// they came from are committed together, one transaction per batch, so an
// interrupted load leaves a consistent database and running it again
// finishes the job. An error is returned only when the load cannot go on
// (a source that does not exist, a listing or database failure, ctx
// cancelled); the Summary then holds what was committed.
//
// TODO(ingest-perf): 1,000,000 events in 200 .json.gz files load in about
// 3.3-4.5 s on 2 cores (220,000-300,000 events/s; the median of
// scripts/bench_ingest.sh's three runs was 250,600 and 297,600 in two
// runs of it), at the 250,000 target but not clear of it when the host is
// slow. The load is CPU-bound at 5.5-7 CPU seconds: the record
// scanner about 1.9 s (see the ingest-perf mark in
// ingest/internal/trail/scan.go), DuckDB's inserts, commits and final
// checkpoint about 1.5 s, libdeflate 1.0 s, the workers' per-file columns
// 0.8 s (most of it numbering principal, action, client and place tuples),
// the writer 0.3 s. The final checkpoint (about 0.4 s) and opening a new
// database (0.2 s) run on one core. Next steps: a cheaper tuple key than
// the encoded tuple, and a checkpoint that overlaps the last files' parse.
func LoadCloudTrail(ctx context.Context, db *sql.DB, sources []string, opts CloudTrailOptions) (Summary, error) {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "ingest.cloudtrail")
	var sum Summary
	if len(sources) == 0 {
		return sum, ErrNoSources
	}

	objs, err := listSources(ctx, sources, opts, &sum)
	if err != nil {
		return sum, err
	}
	// S3 listing already left out (and counted) objects before Since.
	sum.Files = len(objs) + sum.BeforeSinceFiles

	w, err := newWriter(ctx, db, opts, &sum, log)
	if err != nil {
		return sum, err
	}
	defer w.close()

	// Files loaded before and unchanged are accounted without reading.
	var toRead []object
	for _, o := range objs {
		if beforeSince(o.source, opts.Since) {
			sum.BeforeSinceFiles++
			opts.Metrics.skipped(SkipBeforeSince)
			continue
		}
		if k, ok := w.known[o.source]; ok && !opts.Rescan && k.size == o.size && k.version == o.version {
			w.unchanged(o, k)
			continue
		}
		toRead = append(toRead, o)
	}
	total := sum.Files
	var bytes int64
	for _, o := range toRead {
		bytes += o.size
	}
	w.seen.reserve(estimateEvents(bytes))
	done := total - len(toRead)
	if opts.Progress != nil {
		opts.Progress(done, total)
	}

	err = parseAll(ctx, toRead, workers(opts, sources), func(r fileResult) error {
		err := w.add(r)
		r.release()
		if err != nil {
			return err
		}
		done++
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
		return nil
	})
	if err == nil {
		err = w.commit()
	}
	if err == nil {
		err = w.dropUnusedRaw()
	}
	if err == nil {
		w.checkpoint()
	}
	sum.Elapsed = time.Since(start).Seconds()
	if err != nil {
		w.rollback()
		return sum, err
	}
	log.Info("cloudtrail loaded",
		"events_loaded", sum.EventsLoaded, "duplicates", sum.Duplicates,
		"quarantined", sum.Quarantined, "skipped_files", sum.SkippedFiles,
		"files", sum.Files, "unchanged_files", sum.UnchangedFiles,
		"seconds", sum.Elapsed)
	return sum, nil
}

// listSources expands every source into objects to consider.
func listSources(ctx context.Context, sources []string, opts CloudTrailOptions, sum *Summary) ([]object, error) {
	var objs []object
	seen := map[string]bool{}
	for _, src := range sources {
		var got []object
		if isS3(src) {
			bucket, prefix, err := splitS3(src)
			if err != nil {
				return nil, err
			}
			client, err := newS3Client(ctx, opts)
			if err != nil {
				return nil, err
			}
			var skipped int
			got, skipped, err = listS3(ctx, client, bucket, prefix, opts.Since)
			if err != nil {
				return nil, err
			}
			sum.BeforeSinceFiles += skipped
			for range skipped {
				opts.Metrics.skipped(SkipBeforeSince)
			}
		} else {
			var err error
			if got, err = localObjects(src); err != nil {
				return nil, fmt.Errorf("source %s: %w", src, err)
			}
		}
		for _, o := range got {
			if !seen[o.source] {
				seen[o.source] = true
				objs = append(objs, o)
			}
		}
	}
	return objs, nil
}

func workers(opts CloudTrailOptions, sources []string) int {
	if opts.Concurrency > 0 {
		return opts.Concurrency
	}
	for _, s := range sources {
		if isS3(s) {
			return 8
		}
	}
	return runtime.GOMAXPROCS(0)
}

// fileResult is one object after reading and parsing.
type fileResult struct {
	obj      object
	kind     trail.Kind
	err      error // the object could not be read at all
	events   []models.Event
	rows     *fileRows // the events as ct_events columns, nil without events
	codec    string    // how blob is stored in ct_raw (schema.Codec*)
	blob     []byte    // the ct_raw data for this object, nil without events
	problems []trail.Item
	// content is the decompressed input, from contentPool, which the
	// events' strings point into: the writer hands it back once it has
	// copied them (nil when the input was not gzip).
	content *[]byte
}

// contentPool recycles decompressed inputs (a few MB each): allocating
// and zeroing fresh memory for every file cost the load a tenth of its
// CPU time in page faults.
var contentPool sync.Pool

// eventsPool recycles the per-file event slices (about 2 MB for a
// delivery file of 5,000 events), for the same reason.
var eventsPool sync.Pool

// release returns r's decompressed input, its events slice and its rows
// to their pools. r's events and rows must not be used after.
func (r *fileResult) release() {
	if r.rows != nil {
		putRows(r.rows)
		r.rows = nil
	}
	if r.content != nil {
		contentPool.Put(r.content)
		r.content = nil
	}
	if r.events != nil {
		ev := r.events
		clear(ev) // drop what the events point at
		ev = ev[:0]
		eventsPool.Put(&ev)
		r.events = nil
	}
}

// parseAll reads and parses objs on n goroutines and hands each result to
// sink, from one goroutine, in completion order. It stops at the first
// error from sink or when ctx is done.
func parseAll(ctx context.Context, objs []object, n int, sink func(fileResult) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan object)
	results := make(chan fileResult, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range jobs {
				r := parseObject(ctx, o)
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() {
		defer close(jobs)
		for _, o := range objs {
			select {
			case jobs <- o:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() {
		wg.Wait()
		close(results)
	}()
	var err error
	for r := range results {
		if err != nil {
			continue // drain
		}
		if err = sink(r); err != nil {
			cancel()
		}
	}
	if err == nil {
		err = ctx.Err()
	}
	return err
}

func parseObject(ctx context.Context, o object) fileResult {
	r := fileResult{obj: o}
	buf, _ := contentPool.Get().(*[]byte)
	if buf == nil {
		buf = new([]byte)
	}
	orig, content, err := readObject(ctx, o, *buf)
	if gz.IsGzip(orig) && err == nil {
		*buf = content
		r.content = buf
	} else {
		contentPool.Put(buf)
	}
	if err != nil {
		if ctx.Err() != nil {
			r.err = ctx.Err()
		} else {
			r.err = err
		}
		return r
	}
	if ev, _ := eventsPool.Get().(*[]models.Event); ev != nil {
		r.events = *ev
	}
	rows := getRows()
	var extra []byte // records that are not a slice of content, back to back
	base := uintptr(unsafe.Pointer(unsafe.SliceData(content)))
	res := trail.Scan(content, func(it *trail.Item) {
		if it.Err != nil {
			r.problems = append(r.problems, *it)
			return
		}
		// Where the record lies in the content ct_raw keeps: where it is
		// (the usual case), or, when the parser compacted or unescaped
		// it, appended after content.
		raw := it.Event.Raw
		it.Event.Raw = nil
		off := int64(len(content) + len(extra))
		if p := uintptr(unsafe.Pointer(unsafe.SliceData(raw))); len(raw) > 0 && p >= base && p-base+uintptr(len(raw)) <= uintptr(len(content)) {
			off = int64(p - base)
		} else {
			extra = append(extra, raw...)
		}
		r.events = append(r.events, it.Event)
		rows.add(&r.events[len(r.events)-1], off, int32(len(raw)))
	})
	r.kind = res.Kind
	if len(r.events) == 0 {
		putRows(rows)
		return r
	}
	rows.ev = r.events
	r.rows = rows
	r.codec, r.blob = rawBlob(orig, content, extra)
	return r
}

// rawBlob returns the ct_raw data of an input whose records are content
// followed by extra (the records the parser compacted or unescaped), and
// how it is stored. When nothing had to be appended and the input was
// gzip, the blob is the input as delivered, so keeping the raw records
// costs the load no work at all.
func rawBlob(orig, content, extra []byte) (codec string, blob []byte) {
	if extra == nil && gz.IsGzip(orig) {
		return schema.CodecGzip, orig
	}
	whole := content
	if extra != nil {
		whole = make([]byte, 0, len(content)+len(extra))
		whole = append(append(whole, content...), extra...)
	}
	return schema.CodecS2, s2.Encode(nil, whole)
}

// estimateEvents guesses how many events inputs of this many bytes hold,
// erring high: gzip delivery files hold about one event per 100 bytes
// (simulated and public trails alike), plain JSON fewer. It is capped so
// that a wrong guess costs at most 128 MiB of set; past it the set grows.
func estimateEvents(bytes int64) int {
	return int(min(bytes/90, 4<<20))
}

// skipReason maps a kind that holds no events to its reason label.
func skipReason(k trail.Kind) string {
	switch k {
	case trail.KindDigest:
		return SkipDigest
	case trail.KindNotEvents:
		return SkipNotEvents
	case trail.KindNotJSON:
		return SkipNotJSON
	case trail.KindEmpty:
		return SkipEmpty
	}
	return ""
}
