package trail

// stopBlocksSSE2 is stopBlocks over blocks 64-byte blocks, in SSE2, which
// every amd64 has (stops_amd64.s).
//
//go:noescape
func stopBlocksSSE2(dst *uint64, src *byte, blocks int) (newlineBlock int)

// stopBlocks fills dst[w] with the stop bits of the 64 bytes
// src[64w:64w+64] (len(src) must be 64*len(dst)) and returns the index of
// the first block that holds a '\n', or -1.
func stopBlocks(dst []uint64, src []byte) int {
	if len(dst) == 0 {
		return -1
	}
	_ = src[64*len(dst)-1]
	return stopBlocksSSE2(&dst[0], &src[0], len(dst))
}
