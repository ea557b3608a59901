package features

import "time"

// Lookups for the scorer. Each is a few map reads, allocates nothing and
// returns zero values when the snapshot knows nothing of the key. person is
// a canonical user id (see Resolve); ent an entitlement id.

// Person returns what the snapshot knows of a person, by any of their names.
func (s *Snapshot) Person(name string) (*Person, bool) {
	u, ok := s.Resolve(name)
	if !ok {
		return nil, false
	}
	p, ok := s.People[u]
	return p, ok
}

// Entitlement returns the reuse statistics of ent; ok is false for an
// entitlement never requested, granted, used or catalogued before AsOf.
func (s *Snapshot) Entitlement(ent string) (EntitlementStat, bool) {
	e, ok := s.Entitlements[ent]
	if !ok {
		return EntitlementStat{ID: ent}, false
	}
	return *e, true
}

// AttrCoverage is the coverage of ent among the person's peers in their
// attribute persona: the other members, the person left out, so that
// holding an entitlement oneself never counts as peers holding it.
func (s *Snapshot) AttrCoverage(person, ent string) Coverage {
	p, ok := s.People[person]
	if !ok || p.AttrPersona == "" {
		return Coverage{}
	}
	return s.peers(s.PeerAttr, p.AttrPersona, s.personaSize(p.AttrPersona), person, ent)
}

// UsageCoverage is AttrCoverage for the person's usage persona.
func (s *Snapshot) UsageCoverage(person, ent string) Coverage {
	p, ok := s.People[person]
	if !ok || p.UsagePersona == "" {
		return Coverage{}
	}
	return s.peers(s.PeerUsage, p.UsagePersona, s.personaSize(p.UsagePersona), person, ent)
}

// ManagerCoverage is the coverage of ent among the other people reporting to
// the person's manager.
func (s *Snapshot) ManagerCoverage(person, ent string) Coverage {
	p, ok := s.People[person]
	if !ok || p.Manager == "" {
		return Coverage{}
	}
	return s.peers(s.PeerManager, p.Manager, s.ManagerSize[p.Manager], person, ent)
}

func (s *Snapshot) personaSize(id string) int {
	if ps, ok := s.Personas[id]; ok {
		return len(ps.Members)
	}
	return 0
}

// peers returns the group's coverage with the person taken out: the person
// counted as granted when their last grant started within the peer window
// and as a user when their last use fell within the usage window, the same
// rules Build counted the group by.
func (s *Snapshot) peers(m map[PairKey]Coverage, group string, size int, person, ent string) Coverage {
	c := m[PairKey{group, ent}]
	c.Members = size - 1
	h := s.History[PairKey{person, ent}]
	if !h.LastGrantAt.IsZero() && !h.LastGrantAt.Before(s.AsOf.Add(-s.PeerWindow)) {
		c.Granted--
	}
	if !h.LastUsedAt.IsZero() && !h.LastUsedAt.Before(s.AsOf.Add(-s.UsageWindow)) {
		c.Used--
	}
	c.Members, c.Granted, c.Used = max(c.Members, 0), max(c.Granted, 0), max(c.Used, 0)
	return c
}

// HistoryOf is the person's history with ent before AsOf.
func (s *Snapshot) HistoryOf(person, ent string) History { return s.History[PairKey{person, ent}] }

// TotalsOf is the person's history over all entitlements before AsOf.
func (s *Snapshot) TotalsOf(person string) History { return s.PersonTotals[person] }

// AttrOutcomes counts decided requests for ent by people whose attribute
// attr (one of AttrStatAttributes) has value.
func (s *Snapshot) AttrOutcomes(attr, value, ent string) Outcomes {
	return s.AttrStats[PairKey{attr + "=" + value, ent}]
}

// Share is part / whole, 0 when whole is 0.
func Share(part, whole int) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// SinceLastUse is how long before AsOf the person last used ent, and false
// when they never did.
func (s *Snapshot) SinceLastUse(person, ent string) (time.Duration, bool) {
	h := s.History[PairKey{person, ent}]
	if h.LastUsedAt.IsZero() {
		return 0, false
	}
	return s.AsOf.Sub(h.LastUsedAt), true
}
