package approve

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

// Unused access. A grant is in scope when it is an AWS grant (CloudTrail
// can show its use), began before the as-of time and was active at some
// point of the window [AsOf - Window, AsOf); it is unused when its holder
// made no call with it during the part of its window inside that span. It
// is standing access when it runs for StandingMin or longer, just-in-time
// otherwise. Revocations after AsOf are not yet known.

// unused returns the rows by (kind, persona, entitlement), most unused
// first, and per entitlement the standing holders active at AsOf and how
// many of them are unused.
func (rb *reportBuilder) unused() ([]UnusedRow, map[string][2]int) {
	type key struct{ kind, persona, ent string }
	rows := map[key]*UnusedRow{}
	people := map[key]map[string]bool{}
	standing := map[string][2]int{}
	at := rb.opts.At
	for _, g := range rb.data.Grants {
		if !g.GrantedAt.Before(at) || !observable(g.Entitlement) {
			continue
		}
		end := g.ExpiresAt
		if !g.RevokedAt.IsZero() && g.RevokedAt.Before(at) && g.RevokedAt.Before(end) {
			end = g.RevokedAt
		}
		if !end.After(rb.from) {
			continue
		}
		from, to := maxTime(g.GrantedAt, rb.from), minTime(end, at)
		who := rb.person(g.Requester)
		used := rb.usedBetween(who, g.Entitlement, from, to)
		kind := "jit"
		if end.Sub(g.GrantedAt) >= rb.opts.StandingMin || g.ExpiresAt.Sub(g.GrantedAt) >= rb.opts.StandingMin {
			kind = "standing"
			if end.After(at) {
				s := standing[g.Entitlement]
				s[0]++
				if !used {
					s[1]++
				}
				standing[g.Entitlement] = s
			}
		}
		persona, name := "", "(no identity)"
		if p := rb.snap.People[who]; p != nil && p.AttrPersona != "" {
			persona = p.AttrPersona
			if ps := rb.snap.Personas[persona]; ps != nil {
				name = ps.Name
			}
		}
		k := key{kind, persona, g.Entitlement}
		r := rows[k]
		if r == nil {
			r = &UnusedRow{Kind: kind, PersonaID: persona, PersonaName: name, Entitlement: g.Entitlement,
				Tier: rb.tier(g.Entitlement)}
			rows[k] = r
			people[k] = map[string]bool{}
		}
		r.Grants++
		if !used {
			r.Unused++
			people[k][who] = true
		}
	}
	out := make([]UnusedRow, 0, len(rows))
	for k, r := range rows {
		if r.Unused == 0 {
			continue
		}
		r.UnusedShare = float64(r.Unused) / float64(r.Grants)
		r.People = sortedSet(people[k])
		r.PeopleCount = len(r.People)
		if len(r.People) > 5 {
			r.People = r.People[:5]
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Unused != b.Unused {
			return a.Unused > b.Unused
		}
		if a.Kind != b.Kind {
			return a.Kind > b.Kind // standing first
		}
		if a.Entitlement != b.Entitlement {
			return a.Entitlement < b.Entitlement
		}
		return a.PersonaID < b.PersonaID
	})
	return out, standing
}

// entitlements returns one row per entitlement the snapshot knows, the
// most requested first.
func (rb *reportBuilder) entitlements() []EntitlementRow {
	type use struct {
		calls map[string]int
	}
	users := map[string]*use{}
	for k, days := range rb.usage {
		u := users[k.B]
		if u == nil {
			u = &use{calls: map[string]int{}}
			users[k.B] = u
		}
		for _, d := range days {
			u.calls[k.A] += d.Calls
		}
	}
	var rows []EntitlementRow
	for id, e := range rb.snap.Entitlements {
		r := EntitlementRow{
			ID: id, App: e.App, Tier: rb.tier(id), Catalogued: e.Catalogued, Observable: observable(id),
			Requests: e.Requests, Requesters: e.Requesters, Approved: e.Approved, Denied: e.Denied,
			ApprovalRt: share(e.Approved, e.Approved+e.Denied), ReRequest: e.ReRequestRate,
			MedianEvery: durationText(e.MedianInterval), MedianLen: durationText(e.MedianDuration),
			Grants: e.Grants, GrantsUsed: e.GrantsUsed, MedianToUse: durationText(e.MedianTimeToUse),
			LastUsedAt: e.LastUsedAt, TopUsers: []string{}, UserPersonas: []string{},
		}
		if r.Observable {
			r.UnusedShare = share(e.Grants-e.GrantsUsed, e.Grants)
		}
		if u := users[id]; u != nil {
			r.Users = len(u.calls)
			r.TopUsers = topByCount(u.calls, 3, "%s (%d calls)")
			personas := map[string]int{}
			for who := range u.calls {
				if p := rb.snap.People[who]; p != nil && p.AttrPersona != "" {
					personas[rb.snap.Personas[p.AttrPersona].Name]++
				}
			}
			r.UserPersonas = topByCount(personas, 3, "%s (%d)")
		}
		s := rb.standing[id]
		r.Standing, r.StandingUnused = s[0], s[1]
		r.Candidate, r.Why = rb.candidate(r)
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Requests != rows[j].Requests {
			return rows[i].Requests > rows[j].Requests
		}
		return rows[i].ID < rows[j].ID
	})
	return rows
}

// candidate says whether an entitlement looks ready for auto-approval
// (routine: enough decided requests, nearly all approved, several
// requesters, mostly used when CloudTrail can tell, and a tier the
// guardrails allow) or for removal from standing access (standing holders
// with no use in the window). Removal wins: access nobody uses should go
// before anyone automates handing it out.
func (rb *reportBuilder) candidate(r EntitlementRow) (string, string) {
	if r.StandingUnused > 0 {
		return CandidateRemoveStanding, fmt.Sprintf("%d of %d standing holders made no call in %s",
			r.StandingUnused, r.Standing, durationText(rb.opts.Window))
	}
	decided := r.Approved + r.Denied
	switch {
	case decided < rb.opts.MinDecided, r.ApprovalRt == nil || *r.ApprovalRt < rb.opts.MinApproval,
		r.Requesters < rb.opts.MinRequesters, hasTier(rb.cfg.Guardrails.NeverAutoApprove, r.Tier):
		return "", ""
	case r.UnusedShare != nil && *r.UnusedShare > 0.5:
		return "", ""
	}
	why := fmt.Sprintf("%d of %d decided requests approved, %d requesters", r.Approved, decided, r.Requesters)
	if r.UnusedShare != nil {
		why += fmt.Sprintf(", %d of %d grants used", r.GrantsUsed, r.Grants)
	}
	return CandidateAutoApprove, why
}

// heatmap lays out attribute personas (largest first) against the
// entitlements most granted across them.
func (rb *reportBuilder) heatmap() Heatmap {
	var personas []*models.Persona
	for _, ps := range rb.snap.Personas {
		if ps.Kind == models.PersonaAttribute {
			personas = append(personas, ps)
		}
	}
	sort.Slice(personas, func(i, j int) bool {
		if len(personas[i].Members) != len(personas[j].Members) {
			return len(personas[i].Members) > len(personas[j].Members)
		}
		return personas[i].ID < personas[j].ID
	})
	if len(personas) > rb.opts.HeatRows {
		personas = personas[:rb.opts.HeatRows]
	}
	granted := map[string]int{}
	for k, c := range rb.snap.PeerAttr {
		granted[k.B] += c.Granted + c.Used
	}
	cols := topKeysByCount(granted, rb.opts.HeatCols)
	sort.Strings(cols)
	h := Heatmap{Cols: cols, Rows: []string{}, Sizes: []int{}, Cells: [][]HeatmapCell{}}
	for _, ps := range personas {
		h.Rows = append(h.Rows, ps.Name)
		h.Sizes = append(h.Sizes, len(ps.Members))
		row := make([]HeatmapCell, len(cols))
		for j, e := range cols {
			c := rb.snap.PeerAttr[features.PairKey{A: ps.ID, B: e}]
			if c.Members > 0 {
				row[j] = HeatmapCell{Granted: float64(c.Granted) / float64(c.Members),
					Used: float64(c.Used) / float64(c.Members)}
			}
		}
		h.Cells = append(h.Cells, row)
	}
	return h
}

// topKeysByCount returns up to n keys with the highest counts, ties by key.
func topKeysByCount(m map[string]int, n int) []string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if v > 0 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	if len(keys) > n {
		keys = keys[:n]
	}
	return keys
}

// topByCount formats the top n entries with format ("%s (%d)").
func topByCount(m map[string]int, n int, format string) []string {
	out := []string{}
	for _, k := range topKeysByCount(m, n) {
		out = append(out, fmt.Sprintf(format, k, m[k]))
	}
	return out
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// durationText is a duration for people: "" when zero, days when whole.
func durationText(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	if d >= day {
		return models.FormatDuration(d.Round(day))
	}
	s := d.Round(time.Minute).String() // "1h30m0s"
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
