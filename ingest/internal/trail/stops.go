package trail

import (
	"math/bits"
	"sync"
)

// A stop index marks, one bit per input byte, every byte that ends a run
// of plain ASCII string bytes: '"', '\\', a control character below 0x20
// or a byte >= 0x80 (the bytes stringStops finds). Bit k of word w stands
// for byte 64*w+k. Built once per input by a vector loop (AVX2 or SSE2 on
// amd64), it lets the walker find a string's end with two loads and a bit
// scan instead of reading the string eight bytes at a time: the 64 bits
// after a string's opening quote come from the two words they span, and
// most CloudTrail strings end within them.
//
// The index is exact (no false positives), so a string whose first stop
// is its closing quote holds plain ASCII and no escape, and everything
// else is left to strFrom as before.

// stopIndex is an input's stop index and where its first newline lies.
type stopIndex struct {
	words []uint64
	// firstNewline is the offset of the first '\n' in the input, or -1.
	firstNewline int
}

// stopWordsPool recycles index buffers (an eighth of the input's size).
var stopWordsPool sync.Pool

// buildStops indexes b. release hands its buffer back. The index has a
// zero word past the one that holds offset len(b), so that the word after
// that of any offset up to len(b) can be read without a length check
// beyond the one the compiler wants.
func buildStops(b []byte) stopIndex {
	n := len(b)/64 + 2
	var words []uint64
	if p, _ := stopWordsPool.Get().(*[]uint64); p != nil && cap(*p) >= n {
		words = (*p)[:n]
	} else {
		words = make([]uint64, n, n+n/4)
	}
	full := len(b) / 64
	nl := stopBlocks(words[:full], b[:full*64])
	if nl >= 0 {
		nl = firstNewlineFrom(b, nl*64)
	}
	var m uint64
	for k, c := range b[full*64:] {
		if isStopByte(c) {
			m |= 1 << k
		}
		if c == '\n' && nl < 0 {
			nl = full*64 + k
		}
	}
	words[full], words[full+1] = m, 0
	return stopIndex{words: words, firstNewline: nl}
}

// release returns the index's buffer to the pool; ix must not be used
// after.
func (ix *stopIndex) release() {
	if ix.words != nil {
		w := ix.words[:0]
		stopWordsPool.Put(&w)
		ix.words = nil
	}
}

// firstNewlineFrom returns the offset of the first '\n' in b at or after
// off, which the caller knows exists.
func firstNewlineFrom(b []byte, off int) int {
	for i := off; i < len(b); i++ {
		if b[i] == '\n' {
			return i
		}
	}
	return -1
}

func isStopByte(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }

// stopBlocksGeneric is stopBlocks in portable Go, one byte at a time: the
// definition the vector loop is tested against, and the loop where there
// is none.
func stopBlocksGeneric(dst []uint64, src []byte) (newlineBlock int) {
	newlineBlock = -1
	for w := range dst {
		var m uint64
		nl := false
		for k, c := range src[w*64 : w*64+64] {
			if isStopByte(c) {
				m |= 1 << k
			}
			nl = nl || c == '\n'
		}
		dst[w] = m
		if nl && newlineBlock < 0 {
			newlineBlock = w
		}
	}
	return newlineBlock
}

// firstStop returns the offset of the first stop at or after j in the
// stop index words, or -1 when there is none.
func firstStop(words []uint64, j int) int {
	w := j >> 6
	if w >= len(words) {
		return -1
	}
	if m := words[w] >> (j & 63); m != 0 {
		return j + bits.TrailingZeros64(m)
	}
	for w++; w < len(words); w++ {
		if m := words[w]; m != 0 {
			return w<<6 + bits.TrailingZeros64(m)
		}
	}
	return -1
}
