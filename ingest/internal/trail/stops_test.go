package trail

import (
	"math/rand/v2"
	"testing"
)

// TestStopBlocksMatchesByteDefinition pins the vector loop against the
// byte-at-a-time definition: every byte value at every position of a
// block, then random inputs at every alignment biased towards the bytes
// that matter, with the newline block reported.
func TestStopBlocksMatchesByteDefinition(t *testing.T) {
	t.Parallel()
	check := func(t *testing.T, src []byte) {
		t.Helper()
		n := len(src) / 64
		got, want := make([]uint64, n), make([]uint64, n)
		gnl, wnl := stopBlocks(got, src[:64*n]), stopBlocksGeneric(want, src[:64*n])
		if gnl != wnl {
			t.Fatalf("newline block %d, want %d in %q", gnl, wnl, src)
		}
		for w := range want {
			if got[w] != want[w] {
				t.Fatalf("block %d: mask %064b, want %064b in %q", w, got[w], want[w], src[64*w:64*w+64])
			}
		}
	}
	block := make([]byte, 128)
	for pos := range 128 {
		for c := range 256 {
			for i := range block {
				block[i] = 'a' + byte(i%26)
			}
			block[pos] = byte(c)
			check(t, block)
		}
	}
	rng := rand.New(rand.NewPCG(3, 4))
	interesting := []byte{'"', '\\', '\n', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff, 'a', '{'}
	buf := make([]byte, 64*40+63)
	for range 2000 {
		for i := range buf {
			if rng.IntN(3) == 0 {
				buf[i] = interesting[rng.IntN(len(interesting))]
			} else {
				buf[i] = byte(rng.Uint32())
			}
		}
		off := rng.IntN(64)
		check(t, buf[off:off+64*(1+rng.IntN(39))])
	}
}

// TestBuildStopsIndexesEveryByteAndFirstNewline covers the tail past the
// last whole block, the first newline in or out of it, and firstStop at
// every offset against a linear search.
func TestBuildStopsIndexesEveryByteAndFirstNewline(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 63, 64, 65, 127, 128, 200, 1000} {
		for _, density := range []int{2, 50, 0} {
			b := make([]byte, n)
			for i := range b {
				b[i] = 'x'
				if density > 0 && rng.IntN(density) == 0 {
					b[i] = []byte{'"', '\\', '\n', 0x05, 0xc3}[rng.IntN(5)]
				}
			}
			ix := buildStops(b)
			wantNL := -1
			for i, c := range b {
				if c == '\n' {
					wantNL = i
					break
				}
			}
			if ix.firstNewline != wantNL {
				t.Fatalf("len %d: first newline %d, want %d", n, ix.firstNewline, wantNL)
			}
			for j := 0; j <= n; j++ {
				want := -1
				for i := j; i < n; i++ {
					if isStopByte(b[i]) {
						want = i
						break
					}
				}
				if got := firstStop(ix.words, j); got != want {
					t.Fatalf("len %d: firstStop(%d) = %d, want %d", n, j, got, want)
				}
			}
			ix.release()
		}
	}
}
