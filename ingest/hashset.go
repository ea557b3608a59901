package ingest

import "github.com/zeebo/xxh3"

// hashSet is a set of 128-bit hashes (the eventIDs a load has stored), by
// open addressing on the hash's own low bits: the hashes are already
// uniform, so unlike a map it hashes nothing again and finds a key in
// about one cache miss. A load of 1,000,000 events spent 4% of its CPU in
// map lookups before. Not safe for concurrent use.
type hashSet struct {
	slots []xxh3.Uint128 // the zero value marks an empty slot
	n     int
	zero  bool // the all-zero hash, which cannot sit in a slot, is in the set
}

// add inserts h and reports whether it was already there.
func (s *hashSet) add(h xxh3.Uint128) (had bool) {
	if h == (xxh3.Uint128{}) {
		had, s.zero = s.zero, true
		return had
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h.Lo & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case h:
			return true
		case xxh3.Uint128{}:
			s.slots[i] = h
			s.n++
			return false
		}
	}
}

// reserve sizes the table for n hashes, so that a load whose size is
// known does not regrow it (each regrowth touched a fresh table, page by
// page: the load's largest source of page faults).
func (s *hashSet) reserve(n int) {
	size := 1024
	for size < 2*n {
		size *= 2
	}
	if size <= len(s.slots) {
		return
	}
	old := s.slots
	s.slots = nil
	s.resize(size, old)
}

// grow doubles the table (keeping it at most half full) and reinserts.
func (s *hashSet) grow() { s.resize(max(1024, 2*len(s.slots)), s.slots) }

// resize makes a table of size slots (a power of two) holding old's hashes.
func (s *hashSet) resize(size int, old []xxh3.Uint128) {
	s.slots = make([]xxh3.Uint128, size)
	adviseHugePages(s.slots)
	s.n = 0
	mask := uint64(len(s.slots) - 1)
	for _, h := range old {
		if h == (xxh3.Uint128{}) {
			continue
		}
		i := h.Lo & mask
		for s.slots[i] != (xxh3.Uint128{}) {
			i = (i + 1) & mask
		}
		s.slots[i] = h
		s.n++
	}
}

// len returns the number of hashes in the set.
func (s *hashSet) len() int {
	if s.zero {
		return s.n + 1
	}
	return s.n
}
