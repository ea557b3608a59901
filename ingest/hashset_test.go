package ingest

import (
	"strconv"
	"testing"

	"github.com/zeebo/xxh3"
)

// TestHashSetKeepsEveryHashOnceThroughGrowth adds many hashes (past
// several doublings, with colliding low bits and the all-zero hash) and
// checks membership against a map.
func TestHashSetKeepsEveryHashOnceThroughGrowth(t *testing.T) {
	t.Parallel()
	var s hashSet
	s.reserve(100) // small, so that growth past it is exercised too
	want := map[xxh3.Uint128]bool{}
	add := func(h xxh3.Uint128) {
		t.Helper()
		if had := s.add(h); had != want[h] {
			t.Fatalf("add(%v) had = %v, want %v", h, had, want[h])
		}
		want[h] = true
	}
	for i := range 20000 {
		add(xxh3.HashString128("event-" + strconv.Itoa(i)))
		add(xxh3.Uint128{Hi: uint64(i), Lo: 7}) // same low bits: one long probe run
		if i%3 == 0 {
			add(xxh3.HashString128("event-" + strconv.Itoa(i/2))) // a repeat
		}
	}
	add(xxh3.Uint128{})
	add(xxh3.Uint128{})
	s.reserve(200000) // a resize keeps every hash
	s.reserve(10)     // and a smaller reserve is a no-op
	if s.len() != len(want) {
		t.Errorf("len = %d, want %d", s.len(), len(want))
	}
	for h := range want {
		if !s.add(h) {
			t.Fatalf("%v lost", h)
		}
	}
}
