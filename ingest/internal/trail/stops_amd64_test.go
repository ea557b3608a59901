package trail

import (
	"math/rand/v2"
	"testing"
)

// TestStopBlocksVectorLoopsMatchGeneric pins each vector loop the CPU can
// run, not only the one stopBlocks picks, against the byte-at-a-time
// definition, with the newline in every block position or in none.
func TestStopBlocksVectorLoopsMatchGeneric(t *testing.T) {
	t.Parallel()
	loops := map[string]func(dst *uint64, src *byte, blocks int) int{"sse2": stopBlocksSSE2}
	if useAVX2 {
		loops["avx2"] = stopBlocksAVX2
	}
	rng := rand.New(rand.NewPCG(7, 8))
	interesting := []byte{'"', '\\', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff, 'a', '{', '\t'}
	for name, loop := range loops {
		for _, blocks := range []int{1, 2, 3, 7, 40} {
			for nlAt := -1; nlAt < blocks; nlAt++ {
				src := make([]byte, 64*blocks)
				for i := range src {
					if rng.IntN(3) == 0 {
						src[i] = interesting[rng.IntN(len(interesting))]
					} else {
						src[i] = byte(rng.Uint32())
					}
					if src[i] == '\n' {
						src[i] = 'n'
					}
				}
				if nlAt >= 0 {
					src[64*nlAt+rng.IntN(64)] = '\n'
					if k := nlAt + 1 + rng.IntN(blocks-nlAt); k < blocks {
						src[64*k+rng.IntN(64)] = '\n' // a later one changes nothing
					}
				}
				got, want := make([]uint64, blocks), make([]uint64, blocks)
				gnl, wnl := loop(&got[0], &src[0], blocks), stopBlocksGeneric(want, src)
				if gnl != wnl {
					t.Fatalf("%s, %d blocks: newline block %d, want %d", name, blocks, gnl, wnl)
				}
				for w := range want {
					if got[w] != want[w] {
						t.Fatalf("%s, %d blocks: block %d mask %064b, want %064b", name, blocks, w, got[w], want[w])
					}
				}
			}
		}
	}
}
