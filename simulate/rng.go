package simulate

import (
	"math"
	"math/rand/v2"
)

// rng is the simulator's random source: a seeded PCG with the draws the
// generator needs. Every stream is derived from Config.Seed, so output
// never depends on wall time or goroutine scheduling.
type rng struct{ *rand.Rand }

// newRNG returns the stream number stream of seed.
func newRNG(seed, stream uint64) rng {
	return rng{rand.New(rand.NewPCG(seed, stream*0x9e3779b97f4a7c15+1))}
}

// chance is true with probability p.
func (r rng) chance(p float64) bool { return r.Float64() < p }

// between is uniform in [lo, hi).
func (r rng) between(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// poisson draws a Poisson count with mean lambda (Knuth for small means,
// a rounded normal above 30, which is close enough for volumes).
func (r rng) poisson(lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		n := int(math.Round(lambda + math.Sqrt(lambda)*r.NormFloat64()))
		return max(n, 0)
	}
	l := math.Exp(-lambda)
	k, p := 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// weighted picks an index with probability proportional to w.
func (r rng) weighted(w []float64) int {
	var sum float64
	for _, x := range w {
		sum += x
	}
	u := r.Float64() * sum
	for i, x := range w {
		if u < x {
			return i
		}
		u -= x
	}
	return len(w) - 1
}

const alnumUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
const hexDigits = "0123456789abcdef"

// token returns n characters drawn from alphabet.
func (r rng) token(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// uuid returns 16 random bytes shaped as a version 4 UUID.
func (r rng) uuid() [16]byte {
	var u [16]byte
	a, b := r.Uint64(), r.Uint64()
	for i := range 8 {
		u[i] = byte(a >> (8 * i))
		u[8+i] = byte(b >> (8 * i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// appendUUID writes u in its 8-4-4-4-12 text form.
func appendUUID(b []byte, u [16]byte) []byte {
	for i, x := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hexDigits[x>>4], hexDigits[x&0xf])
	}
	return b
}

func uuidString(u [16]byte) string { return string(appendUUID(nil, u)) }

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func clamp(x, lo, hi float64) float64 { return math.Min(hi, math.Max(lo, x)) }
