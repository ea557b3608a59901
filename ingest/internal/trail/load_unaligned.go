//go:build amd64 || arm64

package trail

import "unsafe"

// load64 returns the eight bytes at p+off, little-endian; the caller
// vouches that they lie inside one object. amd64 and arm64 are
// little-endian and load unaligned words, so this is one instruction.
func load64(p unsafe.Pointer, off int) uint64 { return *(*uint64)(unsafe.Add(p, off)) }
