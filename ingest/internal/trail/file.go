// Package trail reads CloudTrail in every shape it is delivered in and
// normalises each record to a models.Event. It does no I/O: callers hand it
// the (already decompressed) bytes of one file or object.
//
// The shape is decided from the content, never from a name: a document
// {"Records":[...]} (S3 delivery), a bare array, a stream of values
// (newline-delimited or concatenated: NDJSON, CloudTrail Lake exports,
// Logstash re-emits, EventBridge envelopes one per line), and the
// `aws cloudtrail lookup-events` output {"Events":[{"CloudTrailEvent":"..."}]}.
// CloudTrail digest files and JSON that holds no events are recognised and
// reported as such so that callers can skip them.
package trail

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/jitscore/jitscore/models"
)

// Kind is what a whole input turned out to hold.
type Kind int

// Kinds of input.
const (
	// KindEvents is CloudTrail: events, unusable records, or an empty
	// event container.
	KindEvents Kind = iota
	// KindDigest is a CloudTrail-Digest file.
	KindDigest
	// KindNotEvents is valid JSON with no CloudTrail event in it.
	KindNotEvents
	// KindNotJSON is input that does not start like JSON at all.
	KindNotJSON
	// KindEmpty is input with nothing but white space.
	KindEmpty
)

// String names the kind for reports and the ct_files table.
func (k Kind) String() string {
	switch k {
	case KindEvents:
		return "events"
	case KindDigest:
		return "digest"
	case KindNotEvents:
		return "not-events"
	case KindNotJSON:
		return "not-json"
	case KindEmpty:
		return "empty"
	}
	return "unknown"
}

// Item is one record found in an input: a usable Event, or Err saying why
// the record at Pos cannot be used, with a Snippet of its bytes.
type Item struct {
	Pos     string // "record 3", "line 7", "line 2 record 5"
	Event   models.Event
	Err     error
	Snippet string
}

// Result summarises one Scan.
type Result struct {
	Kind     Kind
	Shape    string // records, array, stream, lookup-events, event, or "" for skipped kinds
	Events   int    // usable events emitted
	Problems int    // unusable records emitted
}

// snippetLen bounds the input kept with a quarantined record.
const snippetLen = 512

// Scan reads one input and calls emit for every record, usable or not, in
// input order. emit must not keep the *Item; the Event's strings may share
// memory with data, which must stay unmodified while they are used.
//
// A syntax error inside a document ends that document (its records before
// the error were emitted) and the scan resumes at the next line, after the
// document's start, that starts with '{' or '[' (in NDJSON, the next line). Objects that are not events (and
// not containers of events) make the input KindNotEvents when it holds
// nothing else, and are emitted as unusable records otherwise.
func Scan(data []byte, emit func(*Item)) Result {
	s := scanner{b: bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), emit: emit}
	return s.run()
}

type scanner struct {
	b     []byte
	stops []uint64 // b's stop index (stops.go)
	emit  func(*Item)

	res       Result
	digests   int
	notEvents []Item // held back until we know whether the input has events

	values   int // top-level values seen
	lineOff  int // offset whose line number is lineNo
	lineNo   int
	multiple bool // more than one top-level value: a stream

	// Reused for every record: emit must not keep the *Item.
	it     Item
	fields fields
	arena  arena
}

// lineOf returns the 1-based line of offset off; offsets must not decrease
// between calls.
func (s *scanner) lineOf(off int) int {
	if off < s.lineOff {
		return 1 + bytes.Count(s.b[:off], []byte{'\n'})
	}
	s.lineNo += bytes.Count(s.b[s.lineOff:off], []byte{'\n'})
	s.lineOff = off
	return s.lineNo + 1
}

func (s *scanner) run() Result {
	b := s.b
	i := skipWS(b, 0)
	if i == len(b) {
		s.res.Kind = KindEmpty
		return s.res
	}
	if b[i] != '{' && b[i] != '[' {
		s.res.Kind = KindNotJSON
		return s.res
	}
	ix := buildStops(b)
	defer ix.release()
	s.stops = ix.words
	// Is there more than one top-level value? Only a stream has a value
	// start at the beginning of a later line; a cheap check that needs no
	// parse of the first value.
	nl := ix.firstNewline
	if nl >= 0 && nl < i {
		nl = bytes.IndexByte(b[i:], '\n')
		if nl >= 0 {
			nl += i
		}
	}
	s.multiple = isStream(b, nl)
	if s.multiple {
		s.res.Shape = "stream"
	}
	for i < len(b) {
		c := b[i]
		if c != '{' && c != '[' {
			line := s.lineOf(i)
			next := nextValueLine(b, i)
			s.problem(fmt.Sprintf("line %d", line), errors.New("not a JSON object"), b[i:min(next, len(b))])
			i = skipWS(b, next)
			continue
		}
		end, err := s.top(i)
		if err != nil {
			// Resume at the next line that starts a value after this
			// value's start: in NDJSON a broken line must not swallow
			// the good line after it.
			line := s.lineOf(i)
			next := nextValueLine(b, i)
			s.problem(fmt.Sprintf("line %d", line), err, b[i:min(next, len(b), i+snippetLen)])
			i = skipWS(b, next)
			continue
		}
		s.values++
		// TODO(ingest-resync): in a stream, text after a value on its
		// line ("{...}x") is quarantined on its own while the value loads;
		// a JSON reader refuses the whole line.
		i = skipWS(b, end)
	}
	return s.finish()
}

// isStream reports whether a top-level value seems to start on a later
// line: a line whose first byte is '{' or '['. Pretty-printed documents
// indent their inner objects, so only the first value sits at column 0.
// nl is the offset of the first newline after the first value's start, or
// -1; the stop index finds it, so a one-line delivery file is not read
// again for this.
func isStream(b []byte, nl int) bool {
	if nl < 0 {
		return false
	}
	first, j := nl, 0
	for j >= 0 {
		k := first + j + 1
		if k < len(b) && (b[k] == '{' || b[k] == '[') {
			return true
		}
		n := bytes.IndexByte(b[k:], '\n')
		if n < 0 {
			return false
		}
		first, j = k, n
	}
	return false
}

// nextValueLine returns the offset of the next line after off that starts
// with '{' or '[', or len(b).
//
// TODO(ingest-resync): after a broken line, lines in between that do not
// start with '{' or '[' are passed over without a quarantine row of their
// own, so an NDJSON record indented by a tab, or a stray scalar, is lost
// silently; and a record nested past maxDepth inside a Records array ends
// the document, taking the records after it into the same quarantine row.
// Resuming at every line would split a broken pretty-printed document into
// many rows; telling the two apart needs the stream's line shape.
func nextValueLine(b []byte, off int) int {
	for {
		j := bytes.IndexByte(b[off:], '\n')
		if j < 0 {
			return len(b)
		}
		off += j + 1
		if off < len(b) && (b[off] == '{' || b[off] == '[') {
			return off
		}
	}
}

// pos names a position: the record index inside a document, prefixed by
// the line in a stream.
func (s *scanner) pos(line int, kind string, idx int) string {
	return s.arena.pos(line, kind, idx, s.multiple)
}

// top handles one top-level value starting at i and returns its end.
func (s *scanner) top(i int) (int, error) {
	b := s.b
	line := 1
	if s.multiple {
		line = s.lineOf(i)
	}
	if b[i] == '[' {
		if s.res.Shape == "" {
			s.res.Shape = "array"
		}
		return s.elements(i, 1, line, "record")
	}

	// Fast path for S3 delivery files: {"Records":[ is walked once, each
	// element normalised as it is reached.
	if end, ok, err := s.recordsFirst(i, line); ok || err != nil {
		return end, err
	}

	// TODO(ingest-perf): a document whose Records (or lookup-events Events)
	// is not its first key is walked twice: whole here, then its array by
	// elements. CloudTrail writes Records first, so only other writers pay.
	f := &s.fields
	v, err := collectAt(b, s.stops, i, 1, f)
	if err != nil {
		return 0, err
	}
	switch {
	case f.opens(b, slotRecords, '['):
		s.shape("records")
		_, err = s.elements(f.v[slotRecords].start, 2, line, "record")
	case f.opens(b, slotLookupEvents, '['):
		s.shape("lookup-events")
		_, err = s.elements(f.v[slotLookupEvents].start, 2, line, "event")
	case f.isDigest():
		s.digests++
	default:
		s.shape("event")
		s.itemFields(s.pos(line, "", 0), span{i, v}, f, 1)
	}
	return v, err
}

// recordsFirst handles an object whose first key is "Records" holding an
// array. ok is false when the object does not start that way.
func (s *scanner) recordsFirst(i, line int) (end int, ok bool, err error) {
	b := s.b
	j := skipWS(b, i+1)
	const key = `"Records"`
	if !bytes.HasPrefix(b[j:], []byte(key)) {
		return 0, false, nil
	}
	j = skipWS(b, j+len(key))
	if j >= len(b) || b[j] != ':' {
		return 0, false, nil
	}
	j = skipWS(b, j+1)
	if j >= len(b) || b[j] != '[' {
		return 0, false, nil
	}
	s.shape("records")
	j, err = s.elements(j, 2, line, "record")
	if err != nil {
		return 0, true, err
	}
	// Any further members are validated and ignored.
	j = skipWS(b, j)
	for j < len(b) && b[j] == ',' {
		j = skipWS(b, j+1)
		if j >= len(b) || b[j] != '"' {
			return 0, true, errAt(j, "want object key")
		}
		kend, _, err := skipString(b, j)
		if err != nil {
			return 0, true, err
		}
		j = skipWS(b, kend)
		if j >= len(b) || b[j] != ':' {
			return 0, true, errAt(j, "want ':' after object key")
		}
		if j, err = skipValue(b, s.stops, j+1, 1); err != nil {
			return 0, true, err
		}
		j = skipWS(b, j)
	}
	if j >= len(b) || b[j] != '}' {
		return 0, true, errAt(j, "want ',' or '}' in object")
	}
	return j + 1, true, nil
}

func (s *scanner) shape(name string) {
	if s.res.Shape == "" {
		s.res.Shape = name
	}
}

// elements expects b[i] == '[', an array of records at nesting depth
// depth, and normalises every element as it is reached, naming each by
// kind and index. It returns the index after the closing bracket; a syntax
// error anywhere in the array ends the walk.
func (s *scanner) elements(i, depth, line int, kind string) (int, error) {
	b := s.b
	if depth > maxDepth {
		return 0, errAt(i, "nesting too deep")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for idx := 1; ; idx++ {
		vend, err := validateCollect(b, s.stops, i, depth, &s.fields)
		if err != nil {
			return 0, err
		}
		s.item(line, kind, idx, span{i, vend}, depth)
		i = skipWS(b, vend)
		if i >= len(b) {
			return 0, errAt(i, "unterminated array")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, errAt(i, "want ',' or ']' in array")
		}
	}
}

// item normalises one element of a container, at v. When the element is
// an object, s.fields already holds what it collected.
func (s *scanner) item(line int, kind string, idx int, v span, depth int) {
	if s.b[v.start] != '{' {
		_, err := collectAt(s.b, s.stops, v.start, depth, &s.fields)
		s.problem(s.pos(line, kind, idx), err, s.b[v.start:v.end])
		return
	}
	f := &s.fields
	if f.isDigest() && !f.looksLikeEvent() {
		s.digests++
		return
	}
	s.itemFields(s.pos(line, kind, idx), v, f, depth)
}

// itemFields emits the record at v, whose fields are f.
func (s *scanner) itemFields(pos string, v span, f *fields, depth int) {
	s.it = Item{}
	err := fromFields(s.b, s.stops, v, f, depth, &s.arena, &s.it.Event)
	if errors.Is(err, ErrNotEvent) {
		s.notEvents = append(s.notEvents, Item{Pos: pos, Err: err, Snippet: snippet(s.b[v.start:v.end])})
		return
	}
	if err != nil {
		s.problem(pos, err, s.b[v.start:v.end])
		return
	}
	s.it.Pos = pos
	s.res.Events++
	s.emit(&s.it)
}

func (s *scanner) problem(pos string, err error, raw []byte) {
	s.it = Item{Pos: pos, Err: err, Snippet: snippet(raw)}
	s.res.Problems++
	s.emit(&s.it)
}

// finish decides the kind once the whole input was seen.
func (s *scanner) finish() Result {
	switch {
	case s.res.Events > 0 || s.res.Problems > 0:
		// Objects that are not events, inside an input that has events,
		// are records that cannot be used.
		for i := range s.notEvents {
			s.res.Problems++
			s.emit(&s.notEvents[i])
		}
		s.res.Kind = KindEvents
	case len(s.notEvents) > 0:
		s.res.Kind = KindNotEvents
		s.res.Shape = ""
	case s.digests > 0:
		s.res.Kind = KindDigest
		s.res.Shape = ""
	default:
		s.res.Kind = KindEvents
	}
	return s.res
}

func snippet(b []byte) string {
	if len(b) > snippetLen {
		b = b[:snippetLen]
	}
	return strings.ToValidUTF8(string(b), "")
}
