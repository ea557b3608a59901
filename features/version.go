package features

import (
	"math"
	"sort"
	"strconv"
	"time"
)

// hash is the snapshot's content hash: FNV-1a of every entry, mixed and
// summed, so that map order does not matter and no sort is needed. It
// covers every feature value, the windows and AsOf, and not BuiltAt.
func (s *Snapshot) hash() string {
	var sum uint64
	add := func(h fnvHash) { sum += mix(uint64(h)) }
	add(newFNV().str("snapshot").time(s.AsOf).int(int64(s.PeerWindow)).int(int64(s.UsageWindow)).
		outcomes(s.Global))
	for u, p := range s.People {
		h := newFNV().str("person").str(u).str(p.AttrPersona).str(p.UsagePersona).str(p.Manager).
			str(p.EmploymentType).time(p.StartDate).int(int64(p.Entitlements)).
			int(int64(math.Float64bits(p.OutlierScore)))
		for _, k := range sortedKeys(p.Attributes) {
			h = h.str(k).str(p.Attributes[k])
		}
		for _, e := range p.Unusual {
			h = h.str(e)
		}
		add(h)
	}
	for k, u := range s.Keys {
		add(newFNV().str("key").str(k).str(u))
	}
	for id, ps := range s.Personas {
		h := newFNV().str("persona").str(id).str(string(ps.Kind)).str(ps.Name)
		members := append([]string(nil), ps.Members...)
		sort.Strings(members)
		for _, m := range members {
			h = h.str(m)
		}
		add(h)
	}
	for id, e := range s.Entitlements {
		add(newFNV().str("ent").str(id).str(e.App).str(string(e.Tier)).bool(e.Catalogued).
			int(int64(e.Requests)).int(int64(e.Requesters)).int(int64(e.Approved)).int(int64(e.Denied)).
			int(int64(math.Float64bits(e.ReRequestRate))).int(int64(e.MedianInterval)).
			int(int64(e.MedianDuration)).int(int64(e.Grants)).int(int64(e.GrantsUsed)).
			int(int64(e.MedianTimeToUse)).time(e.LastUsedAt).bool(e.CloudTrailBacked))
	}
	for i, m := range []map[PairKey]Coverage{s.PeerAttr, s.PeerUsage, s.PeerManager} {
		for k, c := range m {
			add(newFNV().int(int64(i)).str(k.A).str(k.B).int(int64(c.Members)).int(int64(c.Granted)).
				int(int64(c.Used)))
		}
	}
	for k, h := range s.History {
		add(newFNV().str("hist").str(k.A).str(k.B).history(h))
	}
	for u, h := range s.PersonTotals {
		add(newFNV().str("total").str(u).history(h))
	}
	for k, o := range s.AttrStats {
		add(newFNV().str("attr").str(k.A).str(k.B).outcomes(o))
	}
	for m, n := range s.ManagerSize {
		add(newFNV().str("mgr").str(m).int(int64(n)))
	}
	return strconv.FormatUint(sum, 16)
}

// fnvHash is a 64-bit FNV-1a state.
type fnvHash uint64

const fnvPrime = 1099511628211

func newFNV() fnvHash { return 14695981039346656037 }

func (h fnvHash) str(s string) fnvHash {
	for i := 0; i < len(s); i++ {
		h ^= fnvHash(s[i])
		h *= fnvPrime
	}
	// A terminator keeps ("ab","c") apart from ("a","bc").
	h ^= 0xff
	h *= fnvPrime
	return h
}

func (h fnvHash) int(v int64) fnvHash {
	for i := 0; i < 8; i++ {
		h ^= fnvHash(byte(v >> (8 * i)))
		h *= fnvPrime
	}
	return h
}

func (h fnvHash) bool(v bool) fnvHash {
	if v {
		return h.int(1)
	}
	return h.int(0)
}

func (h fnvHash) time(t time.Time) fnvHash {
	if t.IsZero() {
		return h.int(0)
	}
	return h.int(t.UnixNano())
}

func (h fnvHash) outcomes(o Outcomes) fnvHash { return h.int(int64(o.Approved)).int(int64(o.Denied)) }

func (h fnvHash) history(x History) fnvHash {
	return h.int(int64(x.Requests)).int(int64(x.Approved)).int(int64(x.Denied)).int(int64(x.Grants)).
		int(int64(x.GrantsUsed)).time(x.LastGrantAt).time(x.LastUsedAt)
}

// mix is the splitmix64 finaliser, so that summed entry hashes do not
// cancel in simple ways.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
