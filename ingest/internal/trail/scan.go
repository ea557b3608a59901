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
// nine tenths of it short ASCII strings): string bodies are searched eight
// bytes at a time, UTF-8 is checked only in strings that hold a byte >=
// 0x80, and the keys normalisation reads are routed into slots while the
// grammar is checked (see route in record.go), so that a record in a
// delivery file or a stream is walked once.

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
		// Plain ASCII eight bytes at a time, then byte by byte near the
		// end of the input. The loads stay inside b: i+8 <= len(b).
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
// i (leading space allowed). Objects in it are walked with routeNone.
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
	case c == '{':
		return w.object(i, depth+1, routeNone, nil)
	case c == '[':
		return w.array(i, depth+1)
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

// object expects b[i] == '{' and returns the index after the closing
// brace. With a route other than routeNone, every member's key is routed
// (route in record.go) into f: its value is stored in the slot the route
// names and a nested object is walked with the route it names.
//
// Compact JSON has no space around ':' and ',', so those are looked for
// first, and space is skipped only when they are not there.
//
// TODO(ingest-perf): Scan spends about 16,000 instructions (2.8 to 3.1 us
// on the 2-core benchmark machine) per 1.3 KB record, short of the 2 us
// budget: some 6,000 go to string words (about 20 instructions per eight
// bytes in portable Go) and some 5,000 to this loop's per-member calls and
// the register saves around them. An iterative walk with the string scan
// inlined measured slower; going further needs SIMD or a structural index
// built ahead of the walk.
func (w *walker) object(i, depth int, r route, f *fields) (int, error) {
	b := w.b
	if depth > maxDepth {
		return 0, errAt(i, "nesting too deep")
	}
	i = w.ws(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errAt(i, "want object key")
		}
		kend, kesc, err := w.str(b, i)
		if err != nil {
			return 0, err
		}
		sl, inner := noSlot, routeNone
		if r != routeNone {
			// The key's bytes are b[i+1 : kend-1]; b[i+1] exists even
			// for "" (it is the closing quote).
			key := unsafe.String(&b[i+1], kend-1-(i+1))
			if kesc {
				key = unescapeKey(b[i+1 : kend-1])
			}
			sl, inner = f.route(r, key)
		}
		if i = kend; i >= len(b) || b[i] != ':' {
			if i = w.ws(b, i); i >= len(b) || b[i] != ':' {
				return 0, errAt(i, "want ':' after object key")
			}
		}
		vstart := w.ws(b, i+1)
		var vend int
		vesc := false
		switch {
		case vstart < len(b) && b[vstart] == '"':
			vend, vesc, err = w.str(b, vstart)
		case inner != routeNone && vstart < len(b) && b[vstart] == '{':
			vend, err = w.object(vstart, depth+1, inner, f)
		default:
			vend, err = w.valueAt(vstart, depth)
		}
		if err != nil {
			return 0, err
		}
		if sl != noSlot {
			f.set(sl, span{vstart, vend}, vesc)
		}
		if i = vend; i >= len(b) || b[i] != ',' {
			if i = w.ws(b, i); i >= len(b) {
				return 0, errAt(i, "unterminated object")
			}
			switch b[i] {
			case ',':
			case '}':
				return i + 1, nil
			default:
				return 0, errAt(i, "want ',' or '}' in object")
			}
		}
		i = w.ws(b, i+1)
	}
}

// array expects b[i] == '[' and returns the index after the closing
// bracket.
func (w *walker) array(i, depth int) (int, error) {
	b := w.b
	if depth > maxDepth {
		return 0, errAt(i, "nesting too deep")
	}
	i = w.ws(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		vend, err := w.valueAt(i, depth)
		if err != nil {
			return 0, err
		}
		if i = vend; i >= len(b) || b[i] != ',' {
			if i = w.ws(b, i); i >= len(b) {
				return 0, errAt(i, "unterminated array")
			}
			switch b[i] {
			case ',':
			case ']':
				return i + 1, nil
			default:
				return 0, errAt(i, "want ',' or ']' in array")
			}
		}
		i = w.ws(b, i+1)
	}
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
