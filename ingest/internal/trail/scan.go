package trail

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"unicode/utf8"
	"unsafe"
)

// This file holds a small validating JSON scanner. It never builds a tree:
// it walks the bytes once, checks the grammar, and hands out the byte spans
// of the values that normalisation needs. Strings without escapes are
// returned as views into the input (no copy), so the input must stay
// unmodified for as long as any returned string is in use.
//
// The walk is written for speed on CloudTrail records (about 1.3 KB each,
// nine tenths of it short ASCII strings): a string's end is read from the
// stop index (stops.go) with no call, UTF-8 is checked only in strings that
// hold a byte >= 0x80, the keys normalisation reads are routed into slots
// while the grammar is checked (a perfect-hash table, see route in
// record.go), and values that no route reads are validated by one
// iterative loop (skip), so that a record in a delivery file or a stream
// is walked once.

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 256

// syntaxError is a JSON grammar error at a byte offset of the scanned input.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg) }

func errAt(off int, msg string) error { return &syntaxError{off: off, msg: msg} }

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// skipWS returns the index of the first non-space byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// walker walks one JSON value and notes what normalisation needs to know
// about the bytes it covered: whether a string in them is not valid UTF-8,
// whether one holds a \u escape, and whether white space in them holds a
// newline. Outside strings valid JSON is ASCII and a newline can only be
// white space, so these facts about a walked record are exact for the
// record's bytes.
type walker struct {
	b []byte
	// stops is b's stop index (stops.go), or nil: then strings are read
	// eight bytes at a time.
	stops   []uint64
	badUTF8 bool
	uEscape bool
	newline bool
}

// ws returns the index of the first non-space byte of b at or after i.
// b is w.b, passed so that the inlined fast path needs no load.
func (w *walker) ws(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' {
		switch b[i] {
		case ' ', '\r', '\t':
		case '\n':
			w.newline = true
		default:
			return i
		}
		i++
	}
	return i
}

// SWAR constants: one in every byte, and the top bit of every byte.
const (
	ones = 0x0101010101010101
	tops = 0x8080808080808080
)

// stringStops returns a mask whose lowest set bit is the top bit of the
// first byte of x (little-endian) that ends a run of plain ASCII string
// bytes: '"', '\\', a control character below 0x20 or a byte >= 0x80.
// Bits above the lowest may be false positives (borrows from a lower
// byte that stops), so only the lowest is meaningful. A byte >= 0x80 needs
// no test of its own: it keeps its top bit through both XORs, and at
// least one of the two decrements keeps it too (both would lose it only
// if both XORs gave 0x80, but they differ by '"' ^ '\\').
func stringStops(x uint64) uint64 {
	q := x ^ (ones * '"')
	s := x ^ (ones * '\\')
	return ((q - ones) | (s - ones) | (x - ones*0x20)) & tops
}

// str expects b[i] == '"', b being w.b, and returns the index after the
// closing quote and whether the string holds escapes. A string that is not
// valid UTF-8 is accepted (as encoding/json does) and noted in w.badUTF8.
//
// Most strings are plain ASCII up to their closing quote, which this finds
// eight bytes at a time with no call, so that nothing needs saving around
// one; anything else is left to strFrom.
func (w *walker) str(b []byte, i int) (int, bool, error) {
	j := i + 1
	if k := j >> 6; k < len(w.stops) {
		// The first stop after the opening quote: when it is the
		// closing quote, the string is plain ASCII.
		m := w.stops[k] >> (j & 63) << (j & 63)
		for m == 0 {
			if k++; k >= len(w.stops) {
				return w.strFrom(b, i, len(b)) // no stop left: unterminated
			}
			m = w.stops[k]
		}
		j = k<<6 + bits.TrailingZeros64(m)
		if b[j] == '"' {
			return j + 1, false, nil
		}
		return w.strFrom(b, i, j)
	}
	for p := unsafe.Pointer(unsafe.SliceData(b)); j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(p, j)), 8))
		if m := stringStops(x); m != 0 {
			j += bits.TrailingZeros64(m) >> 3
			if b[j] == '"' {
				return j + 1, false, nil
			}
			break
		}
	}
	return w.strFrom(b, i, j)
}

// strFrom finishes str for the string starting at b[start], whose bytes
// before j are plain ASCII.
func (w *walker) strFrom(b []byte, start, j int) (int, bool, error) {
	i := j
	esc := false
	for {
		// The next stop: from the stop index when there is one, else
		// plain ASCII eight bytes at a time, then byte by byte near the
		// end of the input. The loads stay inside b: i+8 <= len(b).
		if w.stops != nil {
			if i = firstStop(w.stops, i); i < 0 {
				return 0, false, errAt(start, "unterminated string")
			}
			goto stop
		}
		for p := unsafe.Pointer(unsafe.SliceData(b)); i+8 <= len(b); i += 8 {
			x := binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(p, i)), 8))
			if m := stringStops(x); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				goto stop
			}
		}
		for ; i < len(b); i++ {
			if c := b[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
				goto stop
			}
		}
		return 0, false, errAt(start, "unterminated string")
	stop:
		switch c := b[i]; {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return 0, false, errAt(i, "unterminated escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					return 0, false, errAt(i, "bad \\u escape")
				}
				w.uEscape = true
				i += 6
			default:
				return 0, false, errAt(i, "bad escape")
			}
		case c < 0x20:
			return 0, false, errAt(i, "control character in string")
		default:
			// A multi-byte sequence, decoded where it starts: the string
			// is valid UTF-8 exactly when every one decodes. A sequence
			// cannot run into the closing quote, which is not a
			// continuation byte.
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				w.badUTF8 = true
			}
			i += n
		}
	}
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// value returns the index just after the JSON value starting at or after
// i (leading space allowed). Its keys are not routed.
func (w *walker) value(i, depth int) (int, error) {
	return w.valueAt(w.ws(w.b, i), depth)
}

// valueAt is value for an i already past any space.
func (w *walker) valueAt(i, depth int) (int, error) {
	b := w.b
	if i >= len(b) {
		return 0, errAt(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := w.str(b, i)
		return end, err
	case c == '{' || c == '[':
		return w.skip(i, depth+1)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(b, i)
	default:
		return 0, errAt(i, fmt.Sprintf("unexpected character %q", c))
	}
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errAt(i, "bad literal")
	}
	return i + len(lit), nil
}

// skipDigits returns the index after the run of ASCII digits at i.
func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// skipNumber accepts the JSON number grammar.
func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if j := skipDigits(b, i); j == i {
		return 0, errAt(start, "bad number")
	} else {
		i = j
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, errAt(start, "bad number")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return 0, errAt(start, "bad number")
		}
		i = j
	}
	return i, nil
}

// span is a value's bytes [start, end) in the scanned input.
type span struct{ start, end int }

// plainEnd returns the index after the closing quote of the string that
// opens at b[i], when the stop index shows the string plain ASCII (its
// first stop is the closing quote) within the 64 bytes after the opening
// quote; otherwise 0, and str decides. It reads the window from the two
// index words it spans (buildStops leaves a word to spare), so that a
// string across a word boundary is no exception, and it is small enough
// to be inlined, so that most strings cost no call.
func plainEnd(stops []uint64, b []byte, i int) int {
	j := i + 1
	if k := j >> 6; k+1 < len(stops) {
		// The second word's bits shifted up by 64-s, done in two steps
		// so that s == 0 gives zero.
		m := stops[k]>>(uint(j)&63) | stops[k+1]<<1<<(^uint(j)&63)
		if m != 0 {
			j += bits.TrailingZeros64(m)
			if j < len(b) && b[j] == '"' {
				return j + 1
			}
		}
	}
	return 0
}

// object expects b[i] == '{', an object walked with route r (not
// routeNone), and returns the index after the closing brace. Every
// member's key is routed (route in record.go) into f: its value is stored
// in the slot the route names and a nested object is walked with the
// route it names. Values that no route reads are walked by skip.
//
// Compact JSON has no space around ':' and ',', so those are looked for
// first, and space is skipped only when they are not there. Plain strings,
// the literals and the punctuation are handled inline; only escapes,
// non-ASCII text, numbers, containers and errors cost a call.
//
// TODO(ingest-perf): Scan spends about 10,200 instructions per 1.3 KB
// record (1.8 to 1.9 us on the 2-core benchmark machine at its quietest,
// where the walk before the key table and skip measured 2.8), inside the
// 2 us budget but not by much on a busy machine. Four fifths of it is the
// walk: Go keeps nothing in registers across a call, so every member pays
// for the spills around the calls its slow paths need, and each string's
// end waits on an index load. Going further needs the walk in assembly or
// a list of stop offsets built ahead of it (a prototype walked twice as
// fast, but building the list in Go cost as much as it saved).
func (w *walker) object(i, depth int, r route, f *fields) (int, error) {
	b, stops := w.b, w.stops
	if depth > maxDepth {
		return 0, errAt(i, "nesting too deep")
	}
	i = w.ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		// Unsigned compares let the compiler drop its own bounds checks.
		if uint(i) >= uint(len(b)) || b[i] != '"' {
			return 0, errAt(i, "want object key")
		}
		kend, kesc := plainEnd(stops, b, i), false
		if kend == 0 {
			var err error
			if kend, kesc, err = w.str(b, i); err != nil {
				return 0, err
			}
		}
		// The key's bytes are b[ks:ks+n]. A plain key of up to 24 bytes
		// with eight bytes of input at its start (nearly every key) is
		// looked up here, its words read straight from b: a short key's
		// word holds its closing quote and more, which a mask drops.
		sl, inner := noSlot, routeNone
		if ks, n := i+1, kend-i-2; !kesc && n <= 24 && ks+8 <= len(b) {
			p := unsafe.Pointer(unsafe.SliceData(b))
			lo, hi := load64(p, ks), uint64(0)
			if n < 8 {
				lo &= 1<<(8*(uint(n)&7)) - 1
			} else {
				hi = load64(p, ks+n-8)
			}
			if e := &keyTable[keyHash(r, lo, n)]; e.lo == lo && e.hi == hi && int(e.n) == n && e.r == r &&
				(n <= 16 || e.mid == load64(p, ks+8)) {
				sl, inner = e.sl, e.inner
				if inner == routeIdentity || inner == routeInsight {
					f.enter(inner)
				}
			}
		} else if kesc {
			sl, inner = f.route(r, unescapeKey(b[ks:ks+n]))
		} else {
			sl, inner = f.route(r, view(b[ks:ks+n]))
		}
		if i = kend; uint(i) >= uint(len(b)) || b[i] != ':' {
			if i = w.ws(b, i); i >= len(b) || b[i] != ':' {
				return 0, errAt(i, "want ':' after object key")
			}
		}
		vstart := i + 1
		if uint(vstart) >= uint(len(b)) || b[vstart] <= ' ' {
			if vstart = w.ws(b, vstart); vstart >= len(b) {
				return 0, errAt(vstart, "unexpected end of input")
			}
		}
		var vend int
		var err error
		vesc := false
		switch b[vstart] {
		case '"':
			if vend = plainEnd(stops, b, vstart); vend == 0 {
				vend, vesc, err = w.str(b, vstart)
			}
		case '{':
			if inner != routeNone {
				vend, err = w.object(vstart, depth+1, inner, f)
			} else {
				vend, err = w.skip(vstart, depth+1)
			}
		case '[':
			vend, err = w.skip(vstart, depth+1)
		case 't':
			vend, err = skipLiteral(b, vstart, "true")
		case 'f':
			vend, err = skipLiteral(b, vstart, "false")
		case 'n':
			vend, err = skipLiteral(b, vstart, "null")
		default:
			vend, err = w.valueAt(vstart, depth)
		}
		if err != nil {
			return 0, err
		}
		if sl != noSlot {
			if vesc {
				f.setEscaped(b, sl, span{vstart, vend})
			} else {
				f.set(sl, span{vstart, vend})
			}
		}
		if i = vend; uint(i) >= uint(len(b)) || b[i] != ',' {
			if i = w.ws(b, i); i < len(b) && b[i] == '}' {
				return i + 1, nil
			}
			if i >= len(b) || b[i] != ',' {
				return 0, afterValueError(b, i, true)
			}
		}
		if i++; uint(i) >= uint(len(b)) || b[i] <= ' ' {
			i = w.ws(b, i)
		}
	}
}

// skip expects b[i] to open an object or array at nesting depth depth,
// and returns the index after the container's end. It validates what it
// covers as object and array walks would, with the same errors at the
// same offsets, but routes nothing, so it walks nested containers in one
// loop with a stack of one bit per level (set: object) instead of a call
// per container.
func (w *walker) skip(i, depth int) (int, error) {
	b, stops := w.b, w.stops
	var objs [(maxDepth + 1 + 63) / 64]uint64
	d := depth
	inObj := false // the container at depth d is an object
	var n, end int
	var err error
open:
	// b[i] opens the container at depth d.
	if d > maxDepth {
		return 0, errAt(i, "nesting too deep")
	}
	n = d - depth
	if inObj = b[i] == '{'; inObj {
		objs[n>>6] |= 1 << (n & 63)
	} else {
		objs[n>>6] &^= 1 << (n & 63)
	}
	if i++; uint(i) >= uint(len(b)) || b[i] <= ' ' {
		i = w.ws(b, i)
	}
	if i < len(b) && (b[i] == '}' && inObj || b[i] == ']' && !inObj) {
		i++
		goto closed
	}
	if !inObj {
		goto value
	}
key:
	if uint(i) >= uint(len(b)) || b[i] != '"' {
		return 0, errAt(i, "want object key")
	}
	if end = plainEnd(stops, b, i); end == 0 {
		if end, _, err = w.str(b, i); err != nil {
			return 0, err
		}
	}
	if i = end; uint(i) >= uint(len(b)) || b[i] != ':' {
		if i = w.ws(b, i); i >= len(b) || b[i] != ':' {
			return 0, errAt(i, "want ':' after object key")
		}
	}
	if i++; uint(i) >= uint(len(b)) || b[i] <= ' ' {
		i = w.ws(b, i)
	}
value:
	// b[i] starts a value (or should) in the container at depth d.
	if uint(i) >= uint(len(b)) {
		return 0, errAt(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		if end = plainEnd(stops, b, i); end == 0 {
			if end, _, err = w.str(b, i); err != nil {
				return 0, err
			}
		}
		i = end
	case c == '{' || c == '[':
		d++
		goto open
	case c == 't':
		if i, err = skipLiteral(b, i, "true"); err != nil {
			return 0, err
		}
	case c == 'f':
		if i, err = skipLiteral(b, i, "false"); err != nil {
			return 0, err
		}
	case c == 'n':
		if i, err = skipLiteral(b, i, "null"); err != nil {
			return 0, err
		}
	case c == '-' || '0' <= c && c <= '9':
		if i, err = skipNumber(b, i); err != nil {
			return 0, err
		}
	default:
		return 0, errAt(i, fmt.Sprintf("unexpected character %q", c))
	}
next:
	// b[i] follows a value in the container at depth d.
	if uint(i) >= uint(len(b)) || b[i] != ',' {
		i = w.ws(b, i)
		if i < len(b) && (b[i] == '}' && inObj || b[i] == ']' && !inObj) {
			i++
			goto closed
		}
		if i >= len(b) || b[i] != ',' {
			return 0, afterValueError(b, i, inObj)
		}
	}
	if i++; uint(i) >= uint(len(b)) || b[i] <= ' ' {
		i = w.ws(b, i)
	}
	if inObj {
		goto key
	}
	goto value
closed:
	// i follows the end of the container at depth d.
	if d == depth {
		return i, nil
	}
	d--
	n = d - depth
	inObj = objs[n>>6]&(1<<(n&63)) != 0
	goto next
}

// afterValueError is the error for b[i], past the space after a value in
// an object (inObj) or array, that neither continues nor closes it.
func afterValueError(b []byte, i int, inObj bool) error {
	switch {
	case i >= len(b) && inObj:
		return errAt(i, "unterminated object")
	case i >= len(b):
		return errAt(i, "unterminated array")
	case inObj:
		return errAt(i, "want ',' or '}' in object")
	}
	return errAt(i, "want ',' or ']' in array")
}

// skipString expects b[i] == '"' and returns the index after the closing
// quote and whether the string holds escapes.
func skipString(b []byte, i int) (int, bool, error) {
	w := walker{b: b}
	return w.str(b, i)
}

// skipValue returns the index just after the JSON value starting at or
// after i (leading space allowed).
func skipValue(b []byte, stops []uint64, i, depth int) (int, error) {
	w := walker{b: b, stops: stops}
	return w.value(i, depth)
}

// view returns b as a string without copying. The caller must not modify b
// while the string is in use.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// stringValue decodes the JSON string value in b[v.start:v.end]. It returns
// ok=false when the value is not a string (null, number, object, ...).
func stringValue(b []byte, v span) (string, bool) {
	if v.end-v.start < 2 || b[v.start] != '"' {
		return "", false
	}
	inner := b[v.start+1 : v.end-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		var s string
		if err := json.Unmarshal(b[v.start:v.end], &s); err != nil {
			return "", false
		}
		return s, true
	}
	return view(inner), true
}

// unescapeKey decodes a raw key (without quotes) that holds escapes, or
// returns "" when it cannot be decoded.
func unescapeKey(key []byte) string {
	var s string
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	if err := json.Unmarshal(q, &s); err != nil {
		return ""
	}
	return s
}
