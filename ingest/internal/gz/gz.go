// Package gz decompresses whole gzip inputs held in memory: CloudTrail
// delivery files on their way into the parser, and the stored originals
// that the events view's raw column is read back from.
//
// Two implementations share one contract. Built with the libdeflate tag
// (the Makefile sets it when the C library's header is installed; Debian
// package libdeflate-dev), Gunzip calls libdeflate, which inflates these
// files about 2.5 times faster than the pure-Go reader; without the tag it
// uses github.com/klauspost/compress/gzip.
package gz

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrTooLarge reports an input whose decompressed size passes the limit
// given to Gunzip.
var ErrTooLarge = errors.New("too large once decompressed")

// IsGzip reports whether data starts with gzip's magic bytes.
func IsGzip(data []byte) bool {
	return len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b
}

// sizeHint is the first guess at the decompressed size: the trailer's
// ISIZE (the last member's size mod 2^32), which is exact for the usual
// single-member file, bounded by limit.
func sizeHint(data []byte, limit int) int {
	n := 64 << 10
	if len(data) >= 18 {
		if s := int(binary.LittleEndian.Uint32(data[len(data)-4:])); s > 0 {
			n = s
		}
	}
	if n < len(data) {
		n = len(data) // deflate rarely expands; a floor avoids tiny regrowths
	}
	// Deflate expands at most about 1032:1, so a trailer claiming more
	// is forged or the file has several members; either way the output
	// grows as it is written instead of being reserved up front.
	if most := 1032*len(data) + 64<<10; n > most {
		n = most
	}
	if n > limit {
		n = limit
	}
	return n
}

func wrap(err error) error {
	if errors.Is(err, ErrTooLarge) {
		return err
	}
	return fmt.Errorf("gzip: %w", err)
}
