package trail

import (
	"strconv"
	"strings"
	"unsafe"
)

// arena hands out the small strings and bools that a scan makes for each
// record (its position, its entitlement, its readOnly flag) from shared
// blocks, so that a record costs no allocation of its own. Bytes of a
// block are never written again once handed out, so the strings stay
// immutable; every bool is its own element. A block stays alive while
// anything handed out from it does. A nil *arena allocates every piece on
// its own, for callers that keep no scanner (ParseRecord).
type arena struct {
	buf   []byte
	bools []bool
}

// arenaBlock is the size of a string block; a record takes some 40 bytes.
const arenaBlock = 4 << 10

// room returns an empty slice with room for n bytes after what the current
// block has handed out.
func (a *arena) room(n int) []byte {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(arenaBlock, n))
	}
	return a.buf[len(a.buf):len(a.buf)]
}

// keep hands out p, which was appended to a slice from room within the
// room asked for, as a string.
func (a *arena) keep(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	a.buf = a.buf[:len(a.buf)+len(p)]
	return unsafe.String(unsafe.SliceData(p), len(p))
}

// concat returns the concatenation of parts.
func (a *arena) concat(parts ...string) string {
	if a == nil {
		return strings.Join(parts, "")
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := a.room(n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return a.keep(out)
}

// pos returns "KIND N", or "line L KIND N" withLine; with idx 0 it
// returns "line L". a must not be nil.
func (a *arena) pos(line int, kind string, idx int, withLine bool) string {
	const maxInt = len("-9223372036854775808")
	out := a.room(len("line  ") + 2*maxInt + len(kind) + 1)
	if idx == 0 || withLine {
		out = strconv.AppendInt(append(out, "line "...), int64(line), 10)
		if idx == 0 {
			return a.keep(out)
		}
		out = append(out, ' ')
	}
	out = strconv.AppendInt(append(append(out, kind...), ' '), int64(idx), 10)
	return a.keep(out)
}

// bool returns a pointer to a bool holding v.
func (a *arena) bool(v bool) *bool {
	if a == nil {
		p := new(bool)
		*p = v
		return p
	}
	if len(a.bools) == cap(a.bools) {
		a.bools = make([]bool, 0, 512)
	}
	a.bools = append(a.bools, v)
	return &a.bools[len(a.bools)-1]
}
