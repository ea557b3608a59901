package trail

import "golang.org/x/sys/cpu"

// stopBlocksSSE2 is stopBlocks over blocks 64-byte blocks, in SSE2, which
// every amd64 has (stops_amd64.s).
//
//go:noescape
func stopBlocksSSE2(dst *uint64, src *byte, blocks int) (newlineBlock int)

// stopBlocksAVX2 is stopBlocksSSE2 in AVX2, two compares a block instead
// of four (stops_amd64.s). Only where useAVX2 says so.
//
//go:noescape
func stopBlocksAVX2(dst *uint64, src *byte, blocks int) (newlineBlock int)

// useAVX2 says the CPU and the OS support AVX2.
var useAVX2 = cpu.X86.HasAVX2

// stopBlocks fills dst[w] with the stop bits of the 64 bytes
// src[64w:64w+64] (len(src) must be 64*len(dst)) and returns the index of
// the first block that holds a '\n', or -1.
func stopBlocks(dst []uint64, src []byte) int {
	if len(dst) == 0 {
		return -1
	}
	_ = src[64*len(dst)-1]
	if useAVX2 {
		return stopBlocksAVX2(&dst[0], &src[0], len(dst))
	}
	return stopBlocksSSE2(&dst[0], &src[0], len(dst))
}
