package simulate

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
)

// trailFile is one delivery file to encode: its path under OUT and its
// records in order.
type trailFile struct {
	seq     int
	rel     string // path relative to OUT, slash-separated
	account string
	region  string
	events  []event
}

// trailResult is what a worker reports about a written file.
type trailResult struct {
	rel            string
	account        string
	region         string
	bytes          int64
	sha256         string
	oldest, newest int64
}

// trailWriter streams events into delivery files: the generator fills one
// buffer per (account, region) and hands full files to workers that encode
// and gzip them in parallel. Files and their names depend only on the seed.
type trailWriter struct {
	o       *Org
	dir     string
	r       rng // file name suffixes
	streams map[string]*[]event
	jobs    chan trailFile
	seq     int

	mu      sync.Mutex
	results []trailResult
	err     error

	other      []otherEvent // records copied to cloudtrail-other
	otherEvery int
	seen       int
}

// writeCloudTrail writes cloudtrail/ and cloudtrail-other/ under dir and
// returns the files written.
func (o *Org) writeCloudTrail(ctx context.Context, dir string) ([]trailResult, []otherEvent, error) {
	workers := o.Config.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	w := &trailWriter{
		o:          o,
		dir:        dir,
		r:          newRNG(o.Config.Seed, 4),
		streams:    map[string]*[]event{},
		jobs:       make(chan trailFile, workers),
		otherEvery: max(1, o.Summary.Events/max(1, o.Config.OtherSample)),
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.work()
		}()
	}

	err := w.generate(ctx)
	close(w.jobs)
	wg.Wait()
	if err == nil {
		err = w.err
	}
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(w.results, func(a, b int) bool { return w.results[a].rel < w.results[b].rel })
	return w.results, w.other, nil
}

// generate materialises sessions day by day, in start order, and cuts
// every stream into files of RecordsPerFile records.
func (w *trailWriter) generate(ctx context.Context) error {
	o := w.o
	pr := newPrincipals(o.Config.Seed, o.Config.Accounts)
	end := o.End.Unix()
	next := 0
	for day := o.Start; day.Before(o.End); day = day.AddDate(0, 0, 1) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if w.failed() {
			return nil
		}
		dayEnd := day.AddDate(0, 0, 1)
		batch := map[string][]event{}
		for ; next < len(o.sessions) && o.sessions[next].start.Before(dayEnd); next++ {
			for _, ev := range o.materialise(next, pr) {
				if ev.t >= end {
					continue
				}
				k := ev.recordAccount() + "/" + ev.recordRegion()
				batch[k] = append(batch[k], ev)
			}
		}
		for _, k := range sortedKeys(batch) {
			evs := batch[k]
			sortEvents(evs)
			for i := range evs {
				if w.seen%w.otherEvery == 0 && len(w.other) < o.Config.OtherSample {
					w.other = append(w.other, newOtherEvent(&evs[i]))
				}
				w.seen++
			}
			buf := w.streams[k]
			if buf == nil {
				buf = new([]event)
				w.streams[k] = buf
			}
			*buf = append(*buf, evs...)
			for len(*buf) >= o.Config.RecordsPerFile {
				chunk := make([]event, o.Config.RecordsPerFile)
				copy(chunk, *buf)
				*buf = append((*buf)[:0], (*buf)[o.Config.RecordsPerFile:]...)
				w.emit(chunk)
			}
		}
	}
	keys := make([]string, 0, len(w.streams))
	for k := range w.streams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if buf := *w.streams[k]; len(buf) > 0 {
			w.emit(buf)
		}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// emit names a file after its account, region and last event, the way
// CloudTrail does, and queues it.
// TODO(simulate): a file holds RecordsPerFile records of one stream, which
// may span hours or days, where CloudTrail delivers every few minutes; the
// folder date is the first event's day. Ingest detects shapes from content,
// so only the file count differs from a real trail.
func (w *trailWriter) emit(evs []event) {
	first, last := time.Unix(evs[0].t, 0).UTC(), time.Unix(evs[len(evs)-1].t, 0).UTC()
	acct, region := evs[0].recordAccount(), evs[0].recordRegion()
	stamp := last.Add(5 * time.Minute).Truncate(5 * time.Minute)
	rel := fmt.Sprintf("cloudtrail/AWSLogs/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%s_%s.json.gz",
		acct, region, first.Format("2006/01/02"), acct, region, stamp.Format("20060102T1504Z"),
		w.r.token(alnumUpper+"abcdefghijklmnopqrstuvwxyz", 16))
	w.seq++
	w.jobs <- trailFile{seq: w.seq, rel: rel, account: acct, region: region, events: evs}
}

func (w *trailWriter) failed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil
}

// work encodes and compresses queued files until the queue closes; after
// a failure it drains the queue without writing.
func (w *trailWriter) work() {
	var buf []byte
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	for f := range w.jobs {
		if w.failed() {
			continue
		}
		buf = append(buf[:0], `{"Records":[`...)
		for i := range f.events {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendRecord(buf, &f.events[i])
		}
		buf = append(buf, "]}\n"...)
		res, err := w.writeGzip(zw, f.rel, buf)
		w.mu.Lock()
		if err != nil && w.err == nil {
			w.err = err
		}
		res.account, res.region = f.account, f.region
		res.oldest, res.newest = f.events[0].t, f.events[len(f.events)-1].t
		w.results = append(w.results, res)
		w.mu.Unlock()
	}
}

// writeGzip writes data gzipped to rel under the output directory.
func (w *trailWriter) writeGzip(zw *gzip.Writer, rel string, data []byte) (trailResult, error) {
	return writeGzipFile(zw, filepath.Join(w.dir, filepath.FromSlash(rel)), rel, data)
}

func writeGzipFile(zw *gzip.Writer, path, rel string, data []byte) (trailResult, error) {
	res := trailResult{rel: rel}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return res, fmt.Errorf("write %s: %w", rel, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return res, fmt.Errorf("write %s: %w", rel, err)
	}
	h := sha256.New()
	cw := &countWriter{w: bufio.NewWriterSize(f, 256<<10)}
	zw.Reset(io.MultiWriter(cw, h))
	_, err = zw.Write(data)
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = cw.w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return res, fmt.Errorf("write %s: %w", rel, err)
	}
	res.bytes = cw.n
	res.sha256 = hex.EncodeToString(h.Sum(nil))
	return res, nil
}
