package ingest

import (
	"slices"
	"sync"

	"github.com/zeebo/xxh3"

	"github.com/jitscore/jitscore/models"
)

// fileRows is one file's events as the columns of ct_events, computed by
// the parse worker that read the file, while the file's bytes are still in
// that core's cache. The single writer goroutine then only deduplicates
// (on hash), turns tuple numbers into dimension keys and copies columns:
// when it read the events themselves, its cache misses on memory another
// core had written took a fifth of the load's CPU time.
type fileRows struct {
	ev []models.Event // the file's events (the row-appender sink reads them)

	hash    []xxh3.Uint128 // of each eventID, for the writer's set
	uuid    [][16]byte     // the eventID as a UUID, where isUUID
	isUUID  []bool         // else the eventID is stored as text
	allUUID bool
	micros  []int64 // event_time, microseconds since 1970 UTC
	roVal   []bool  // read_only, where roSet
	roSet   []bool
	errs    int // events with an error code or message
	off     []int64
	size    []int32 // the record's bytes [off, off+size) in its blob's content
	tuple   [numDims][]int32
	tuples  [numDims]tupleSet
}

// rowsPool recycles fileRows (their slices and tuple maps).
var rowsPool sync.Pool

func getRows() *fileRows {
	if f, _ := rowsPool.Get().(*fileRows); f != nil {
		return f
	}
	f := &fileRows{}
	for d := range f.tuples {
		f.tuples[d].reset()
	}
	return f
}

// putRows hands f back to rowsPool.
func putRows(f *fileRows) {
	f.ev = nil
	f.truncate(0)
	for d := range f.tuples {
		f.tuples[d].reset()
	}
	rowsPool.Put(f)
}

// truncate sets every column to n rows, n no more than it has; with 0
// it readies f for a new file.
func (f *fileRows) truncate(n int) {
	f.hash, f.uuid, f.isUUID = f.hash[:n], f.uuid[:n], f.isUUID[:n]
	f.micros, f.roVal, f.roSet = f.micros[:n], f.roVal[:n], f.roSet[:n]
	f.off, f.size = f.off[:n], f.size[:n]
	for d := range f.tuple {
		f.tuple[d] = f.tuple[d][:n]
	}
}

// resize returns s with length n, reusing its array when it is big
// enough. The contents are not cleared.
func resize[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n, n+n/4)
}

// add appends the row of e, whose record lies at [off, off+size) in its
// blob's content. It is called as each record is parsed, while its bytes
// are in the cache: a pass over the file's events after the scan missed
// the cache on most of them.
func (f *fileRows) add(e *models.Event, off int64, size int32) {
	if len(f.hash) == 0 {
		f.allUUID, f.errs = true, 0
	}
	f.hash = append(f.hash, xxh3.HashString128(e.EventID))
	u, ok := canonicalUUID(e.EventID)
	f.uuid, f.isUUID = append(f.uuid, u), append(f.isUUID, ok)
	f.allUUID = f.allUUID && ok
	f.micros = append(f.micros, e.EventTime.UnixMicro())
	ro := e.ReadOnly != nil
	f.roVal, f.roSet = append(f.roVal, ro && *e.ReadOnly), append(f.roSet, ro)
	if e.ErrorCode != "" || e.ErrorMessage != "" {
		f.errs++
	}
	f.off, f.size = append(f.off, off), append(f.size, size)
	p := [...]string{e.PrincipalType, e.PrincipalARN, e.PrincipalID, e.OnBehalfOf, e.SessionName, e.Actor, e.Entitlement}
	f.tuple[dimPrincipal] = append(f.tuple[dimPrincipal], f.tuples[dimPrincipal].num(p[:]))
	a := [...]string{e.EventSource, e.EventName, e.EventType, e.EventCategory}
	f.tuple[dimAction] = append(f.tuple[dimAction], f.tuples[dimAction].num(a[:]))
	c := [...]string{e.SourceIP, e.UserAgent}
	f.tuple[dimClient] = append(f.tuple[dimClient], f.tuples[dimClient].num(c[:]))
	l := [...]string{e.AccountID, e.AWSRegion}
	f.tuple[dimPlace] = append(f.tuple[dimPlace], f.tuples[dimPlace].num(l[:]))
}

// keep drops the rows whose keep[i] is false, in place, and reports
// which tuples the remaining rows use.
func (f *fileRows) keep(keep []bool) (used [numDims][]bool) {
	n := 0
	for i, k := range keep {
		if !k {
			continue
		}
		f.hash[n], f.uuid[n], f.isUUID[n] = f.hash[i], f.uuid[i], f.isUUID[i]
		f.micros[n], f.roVal[n], f.roSet[n] = f.micros[i], f.roVal[i], f.roSet[i]
		f.off[n], f.size[n] = f.off[i], f.size[i]
		f.ev[n] = f.ev[i]
		for d := range f.tuple {
			f.tuple[d][n] = f.tuple[d][i]
		}
		n++
	}
	f.ev = f.ev[:n]
	f.truncate(n)
	f.allUUID, f.errs = true, 0
	for i := range n {
		f.allUUID = f.allUUID && f.isUUID[i]
		if f.ev[i].ErrorCode != "" || f.ev[i].ErrorMessage != "" {
			f.errs++
		}
	}
	for d := range used {
		used[d] = make([]bool, len(f.tuples[d].encs))
		for _, j := range f.tuple[d] {
			used[d][j] = true
		}
	}
	return used
}

// tupleSet numbers the distinct tuples of one dimension in one file, in
// the order first seen. Not safe for concurrent use.
type tupleSet struct {
	nums map[string]int32 // by the tuple's encoding (encodeTuple)
	encs []string         // tuple j's encoding, which the writer keeps as its key
	vals [][]string       // tuple j's values; they point into the file's content
	last int32            // the tuple of the previous call, -1 before the first
	buf  []byte
}

func (t *tupleSet) reset() {
	if t.nums == nil {
		t.nums = map[string]int32{}
	}
	clear(t.nums)
	clear(t.vals) // drop the references into content
	t.encs, t.vals, t.last = t.encs[:0], t.vals[:0], -1
}

// num returns the number of the tuple vals, numbering it when new. vals
// may be reused by the caller.
func (t *tupleSet) num(vals []string) int32 {
	// Neighbouring events share tuples often (always the place, in a
	// delivery file of one account and region).
	if t.last >= 0 && slices.Equal(t.vals[t.last], vals) {
		return t.last
	}
	t.buf = encodeTuple(t.buf[:0], vals)
	j, ok := t.nums[string(t.buf)]
	if !ok {
		j = int32(len(t.encs))
		enc := string(t.buf)
		t.nums[enc] = j
		t.encs = append(t.encs, enc)
		t.vals = append(t.vals, slices.Clone(vals))
	}
	t.last = j
	return j
}
