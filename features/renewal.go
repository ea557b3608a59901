package features

import (
	"math/bits"
	"sort"
	"strings"
	"time"

	"github.com/jitscore/jitscore/models"
)

// Renewal is what renewal review needs from a snapshot: every grant in
// effect at AsOf with the use CloudTrail shows inside it, and how far the
// CloudTrail of each AWS account reaches, so that `jitscore serve` can
// answer POST /v1/renewals from memory. Build fills it; it uses only data
// from before AsOf, like the rest of the snapshot.
type Renewal struct {
	// Grants in effect at AsOf (granted before it, not expired and not
	// revoked before it), in order of ExpiresAt, then RequestID.
	Grants []GrantUsage
	// Trails maps an AWS account id to the first and last day on which
	// CloudTrail showed anyone using an entitlement of that account.
	Trails map[string]TrailSpan
}

// GrantUsage is one grant in effect at the snapshot's AsOf and its use so
// far, from usage_daily. The window looked at is [GrantedAt, AsOf): the use
// that can be known when the snapshot is taken.
type GrantUsage struct {
	models.Grant // as the broker recorded it; Requester as written
	// Person is the canonical user id of the requester, or the requester
	// as written when no identity record knows the name.
	Person string
	// IdentityStoreID is the person's IAM Identity Center user id, "" when
	// the person has no identity record or the record has none.
	IdentityStoreID string
	// AWSAccount and AWSRole (the permission-set name) come from the
	// catalogue, else from the entitlement id; both empty for an app.
	AWSAccount string
	AWSRole    string
	// Calls, Writes and Errors sum the usage days inside the window;
	// ActiveDays counts those days.
	Calls      int
	Writes     int
	Errors     int
	ActiveDays int
	// FirstUse and LastUse bound the calls inside the window; zero when
	// there were none.
	FirstUse time.Time
	LastUse  time.Time
	// HeldUntil is the latest expiry of the person's other grants of the
	// same entitlement in effect at AsOf (zero when there is none): the
	// time until which access stays even if this grant is not renewed.
	HeldUntil time.Time
}

// TrailSpan is the first and last UTC day with any CloudTrail use of an
// account's entitlements.
type TrailSpan struct {
	First time.Time
	Last  time.Time
}

// Covers reports whether the trail reaches from day from to day to
// (inclusive, by UTC day) give or take slack at the far end, which allows
// for weekends and delivery lag.
func (t TrailSpan) Covers(from, to time.Time, slack time.Duration) bool {
	if t.First.IsZero() {
		return false
	}
	return !t.First.After(from.UTC().Truncate(24*time.Hour)) &&
		!t.Last.Add(slack).Before(to.UTC().Truncate(24*time.Hour))
}

// ExpiringGrants returns the grants of the snapshot that expire in
// (at, at+within], in order of expiry.
func (s *Snapshot) ExpiringGrants(at time.Time, within time.Duration) []GrantUsage {
	gs := s.Renewal.Grants
	i := sort.Search(len(gs), func(i int) bool { return gs[i].ExpiresAt.After(at) })
	end := at.Add(within)
	var out []GrantUsage
	for ; i < len(gs) && !gs[i].ExpiresAt.After(end); i++ {
		out = append(out, gs[i])
	}
	return out
}

// GrantsByID returns the snapshot's grants with the given request ids, in
// the order asked (each id once), and the ids it does not hold (unknown,
// or not in effect at AsOf), also in the order asked. Cost is one pass over
// the snapshot's grants.
func (s *Snapshot) GrantsByID(ids []string) (found []GrantUsage, missing []string) {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	held := make(map[string]GrantUsage, len(ids))
	for _, g := range s.Renewal.Grants {
		if want[g.RequestID] {
			held[g.RequestID] = g
		}
	}
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if g, ok := held[id]; ok {
			found = append(found, g)
		} else {
			missing = append(missing, id)
		}
	}
	return found, missing
}

// addRenewal fills Snapshot.Renewal from the grants and the usage rows
// addUsage kept (those ending before asOf). Call it after addUsage.
func (b *builder) addRenewal() {
	stores := make(map[string]string, len(b.data.Identities))
	for i := range b.data.Identities {
		stores[b.data.Identities[i].User] = b.data.Identities[i].IdentityStoreID
	}
	catalogue := make(map[string]models.Entitlement, len(b.data.Catalogue))
	for _, e := range b.data.Catalogue {
		catalogue[e.ID] = e
	}

	// Every grant of each (person, entitlement) before asOf, in order of
	// GrantedAt: use inside a newer grant of the pair belongs to it.
	pairGrants := map[PairKey][]*models.Grant{}
	for i := range b.data.Grants {
		g := &b.data.Grants[i]
		if !g.GrantedAt.Before(b.asOf) {
			break // grants are in order of GrantedAt
		}
		k := PairKey{b.resolve(g.Requester), g.Entitlement}
		pairGrants[k] = append(pairGrants[k], g)
	}

	var active []GrantUsage
	for i := range b.data.Grants {
		g := b.data.Grants[i]
		if !g.GrantedAt.Before(b.asOf) {
			break
		}
		if !g.ExpiresAt.After(b.asOf) || (!g.RevokedAt.IsZero() && g.RevokedAt.Before(b.asOf)) {
			continue
		}
		u := GrantUsage{Grant: g, Person: b.resolve(g.Requester), IdentityStoreID: stores[b.resolve(g.Requester)]}
		e, ok := catalogue[g.Entitlement]
		if !ok || (e.AWSAccount == "" && e.AWSRole == "") {
			e = models.DeriveEntitlement(g.Entitlement)
		}
		u.AWSAccount, u.AWSRole = e.AWSAccount, e.AWSRole
		k := PairKey{u.Person, g.Entitlement}
		var newer []*models.Grant
		for _, o := range pairGrants[k] {
			if o.GrantedAt.After(g.GrantedAt) {
				newer = append(newer, o)
			}
		}
		u.measure(b.pair[k], newer, b.asOf)
		active = append(active, u)
	}

	// HeldUntil: the latest expiry among the pair's other active grants.
	byPair := map[PairKey][]int{}
	for i, u := range active {
		k := PairKey{u.Person, u.Entitlement}
		byPair[k] = append(byPair[k], i)
	}
	for _, idx := range byPair {
		if len(idx) < 2 {
			continue
		}
		for _, i := range idx {
			for _, j := range idx {
				if i != j && active[j].ExpiresAt.After(active[i].HeldUntil) {
					active[i].HeldUntil = active[j].ExpiresAt
				}
			}
		}
	}
	sort.Slice(active, func(i, j int) bool {
		if !active[i].ExpiresAt.Equal(active[j].ExpiresAt) {
			return active[i].ExpiresAt.Before(active[j].ExpiresAt)
		}
		return active[i].RequestID < active[j].RequestID
	})

	trails := map[string]TrailSpan{}
	for k, days := range b.pair {
		if !strings.HasPrefix(k.B, "aws:") || len(days) == 0 {
			continue
		}
		acct := models.DeriveEntitlement(k.B).AWSAccount
		if e, ok := catalogue[k.B]; ok && e.AWSAccount != "" {
			acct = e.AWSAccount
		}
		if acct == "" {
			continue
		}
		t := trails[acct]
		first, last := days[0].Day, days[len(days)-1].Day
		if t.First.IsZero() || first.Before(t.First) {
			t.First = first
		}
		if last.After(t.Last) {
			t.Last = last
		}
		trails[acct] = t
	}
	b.snap.Renewal = Renewal{Grants: active, Trails: trails}
}

// measure sums the usage days (in day order, all ending before asOf) with
// calls inside the grant's window, to the half hour by the day's activity
// slots. Use while a newer grant of the same person and entitlement was in
// effect belongs to that newer grant, not to this one: someone who holds a
// long grant and still asks for a short one is doing that work under the
// short one, and CloudTrail cannot tell the two apart (they are one
// Identity Center assignment). The newer grants' revocations after asOf
// are not known yet, as in Build.
//
// TODO(features): the calls and writes of a day with activity both inside
// and outside the window count whole for the grant; the rollup keeps
// counts per day, not per slot.
func (u *GrantUsage) measure(days []*UsageDay, newer []*models.Grant, asOf time.Time) {
	from, to := u.GrantedAt, u.End()
	i := sort.Search(len(days), func(i int) bool { return !days[i].LastAt.Before(from) })
	for ; i < len(days); i++ {
		d := days[i]
		if !d.FirstAt.Before(to) {
			break
		}
		first, last, ok := activeOwn(d, from, to, newer, asOf)
		if !ok {
			continue
		}
		u.Calls += d.Calls
		u.Writes += d.Writes
		u.Errors += d.Errors
		u.ActiveDays++
		if u.FirstUse.IsZero() {
			u.FirstUse = first
		}
		if last.After(u.LastUse) {
			u.LastUse = last
		}
	}
}

// slotMask has the bits of the day's half-hour slots that overlap [from, to).
func slotMask(dayStart, from, to time.Time) uint64 {
	lo, hi := 0, 47
	if from.After(dayStart) {
		lo = int(from.Sub(dayStart) / slotLength)
	}
	if end := dayStart.Add(24 * time.Hour); to.Before(end) {
		hi = int((to.Sub(dayStart) - 1) / slotLength)
	}
	var m uint64
	for s := max(lo, 0); s <= hi && s < 48; s++ {
		m |= 1 << uint(s)
	}
	return m
}

// activeOwn reports whether day d has calls inside [from, to) outside the
// newer grants' windows, and when the first and last of them were (to the
// half hour, within the day's first and last call).
func activeOwn(d *UsageDay, from, to time.Time, newer []*models.Grant, asOf time.Time) (time.Time, time.Time, bool) {
	if d.LastAt.Before(from) || !d.FirstAt.Before(to) {
		return time.Time{}, time.Time{}, false
	}
	if d.Slots == 0 {
		// No slots: the day's span is all there is to go by.
		for _, n := range newer {
			end := n.ExpiresAt
			if !n.RevokedAt.IsZero() && n.RevokedAt.Before(asOf) && n.RevokedAt.Before(end) {
				end = n.RevokedAt
			}
			if !d.FirstAt.Before(n.GrantedAt) && d.LastAt.Before(end) {
				return time.Time{}, time.Time{}, false
			}
		}
		return latest(d.FirstAt, from), d.LastAt, true
	}
	own := d.Slots & slotMask(d.Day, from, to)
	for _, n := range newer {
		end := n.ExpiresAt
		if !n.RevokedAt.IsZero() && n.RevokedAt.Before(asOf) && n.RevokedAt.Before(end) {
			end = n.RevokedAt
		}
		if n.GrantedAt.Before(d.Day.Add(24*time.Hour)) && end.After(d.Day) {
			own &^= slotMask(d.Day, n.GrantedAt, end)
		}
	}
	if own == 0 {
		return time.Time{}, time.Time{}, false
	}
	lo, hi := bits.TrailingZeros64(own), 63-bits.LeadingZeros64(own)
	first := latest(latest(d.Day.Add(time.Duration(lo)*slotLength), from), d.FirstAt)
	last := d.Day.Add(time.Duration(hi+1) * slotLength)
	if d.LastAt.Before(last) {
		last = d.LastAt
	}
	return first, last, true
}
