//go:build !amd64 && !arm64

package trail

import (
	"encoding/binary"
	"unsafe"
)

// load64 returns the eight bytes at p+off, little-endian; the caller
// vouches that they lie inside one object. Byte by byte, for machines that
// are big-endian or refuse unaligned loads.
func load64(p unsafe.Pointer, off int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(p, off)), 8))
}
