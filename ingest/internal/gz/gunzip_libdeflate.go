//go:build libdeflate

package gz

/*
#cgo LDFLAGS: -ldeflate
#include <libdeflate.h>
*/
import "C"

import (
	"errors"
	"sync"
	"unsafe"
)

// Implementation names the decompressor this build uses.
const Implementation = "libdeflate"

// decompressors pools libdeflate's decompressor state (about 32 KiB each),
// which is not safe for concurrent use.
var decompressors = sync.Pool{New: func() any {
	d := C.libdeflate_alloc_decompressor()
	if d == nil {
		return nil
	}
	return d
}}

// Gunzip decompresses every gzip member of data. It fails with ErrTooLarge
// when the output would pass limit bytes, and with an error starting
// "gzip:" when data is not a complete gzip stream (bad header, corrupt or
// truncated data, checksum mismatch).
//
// libdeflate inflates into a buffer it is given whole, so a member is
// retried with twice the room when it does not fit; the trailer's size
// makes the first try right for single-member files.
func Gunzip(data []byte, limit int) ([]byte, error) { return GunzipInto(nil, data, limit) }

// GunzipInto is Gunzip writing into dst's memory when it has the room
// (its contents are overwritten), so that a caller can reuse one buffer
// for many inputs.
func GunzipInto(dst, data []byte, limit int) ([]byte, error) {
	if !IsGzip(data) {
		return nil, wrap(errors.New("invalid header"))
	}
	v := decompressors.Get()
	if v == nil {
		return nil, wrap(errors.New("libdeflate: out of memory"))
	}
	d := v.(*C.struct_libdeflate_decompressor)
	defer decompressors.Put(d)

	out := dst[:0]
	if need := sizeHint(data, limit) + 1; cap(out) < need {
		out = make([]byte, 0, need)
	}
	for in := data; len(in) > 0; {
		room := cap(out) - len(out)
		if room == 0 {
			if cap(out) >= limit {
				return nil, ErrTooLarge
			}
			out = grow(out, limit)
			continue
		}
		var used, wrote C.size_t
		dst := out[len(out):cap(out)]
		r := C.libdeflate_gzip_decompress_ex(d,
			unsafe.Pointer(unsafe.SliceData(in)), C.size_t(len(in)),
			unsafe.Pointer(unsafe.SliceData(dst)), C.size_t(len(dst)),
			&used, &wrote)
		switch r {
		case C.LIBDEFLATE_SUCCESS:
			out = out[:len(out)+int(wrote)]
			if len(out) > limit {
				return nil, ErrTooLarge
			}
			in = in[used:]
			if len(in) > 0 && !IsGzip(in) {
				// Trailing bytes that are not another member: the
				// pure-Go reader rejects them too.
				return nil, wrap(errors.New("invalid header"))
			}
		case C.LIBDEFLATE_INSUFFICIENT_SPACE:
			if cap(out) >= limit {
				return nil, ErrTooLarge
			}
			out = grow(out, limit)
		case C.LIBDEFLATE_BAD_DATA:
			return nil, wrap(errors.New("corrupt or truncated data"))
		default:
			return nil, wrap(errors.New("libdeflate failed"))
		}
	}
	return out, nil
}

// grow doubles out's capacity, bounded by limit plus one byte (so that an
// output of exactly limit bytes still fits and one more is detected).
func grow(out []byte, limit int) []byte {
	n := 2 * cap(out)
	if n > limit+1 {
		n = limit + 1
	}
	g := make([]byte, len(out), n)
	copy(g, out)
	return g
}
