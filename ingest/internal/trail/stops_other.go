//go:build !amd64

package trail

// stopBlocks fills dst[w] with the stop bits of the 64 bytes
// src[64w:64w+64] and returns the index of the first block that holds a
// '\n', or -1.
//
// TODO(ingest-perf): no vector loop outside amd64 (arm64 would want NEON);
// the portable loop reads a byte at a time.
func stopBlocks(dst []uint64, src []byte) int { return stopBlocksGeneric(dst, src) }
