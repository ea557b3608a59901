package approve

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

// Report is what an IAM analyst reads: personas, entitlement reuse and
// unused access, all as of one instant (every figure uses only data before
// AsOf, through features.Build) and over one look-back window for requests
// and use. BuildReport makes it; the cmd layer prints it as a table, CSV,
// JSON or the HTML page of WriteHTML.
type Report struct {
	AsOf   time.Time     `json:"as_of"`
	Window time.Duration `json:"-"`
	// WindowDays is Window in days, for JSON readers.
	WindowDays   float64          `json:"window_days"`
	People       int              `json:"people"`
	Personas     []PersonaRow     `json:"personas"`
	Entitlements []EntitlementRow `json:"entitlements"`
	Unused       []UnusedRow      `json:"unused"`
	// Heat is the coverage heat map of attribute personas against the
	// most granted entitlements.
	Heat Heatmap `json:"heatmap"`
}

// ReportOptions tunes BuildReport. Zero values take the defaults noted.
type ReportOptions struct {
	// At is the as-of instant (default now).
	At time.Time
	// Window is how far back requests and use are counted (default the
	// config's windows.usage).
	Window time.Duration
	// StandingMin: a grant at least this long is standing access rather
	// than just-in-time (default 7 days).
	StandingMin time.Duration
	// TopEntitlements per persona (default 3); OutlierMin is the outlier
	// score at or above which a member is listed as an outlier (default 0.5).
	TopEntitlements int
	OutlierMin      float64
	// Auto-approval candidates need at least MinDecided decided requests
	// (default 10), an approval rate of at least MinApproval (default 0.9)
	// and at least MinRequesters distinct requesters (default 3).
	MinDecided    int
	MinApproval   float64
	MinRequesters int
	// HeatRows and HeatCols cap the heat map (defaults 15 and 15).
	HeatRows, HeatCols int
}

func (o ReportOptions) withDefaults(cfg *Config) ReportOptions {
	if o.At.IsZero() {
		o.At = time.Now()
	}
	o.At = o.At.UTC()
	if o.Window <= 0 {
		o.Window = cfg.Windows.Usage
	}
	if o.Window <= 0 {
		o.Window = 90 * day
	}
	if o.StandingMin <= 0 {
		o.StandingMin = 7 * day
	}
	if o.TopEntitlements <= 0 {
		o.TopEntitlements = 3
	}
	if o.OutlierMin <= 0 {
		o.OutlierMin = 0.5
	}
	if o.MinDecided <= 0 {
		o.MinDecided = 10
	}
	if o.MinApproval <= 0 {
		o.MinApproval = 0.9
	}
	if o.MinRequesters <= 0 {
		o.MinRequesters = 3
	}
	if o.HeatRows <= 0 {
		o.HeatRows = 15
	}
	if o.HeatCols <= 0 {
		o.HeatCols = 15
	}
	return o
}

// PersonaRow is one persona of either kind.
type PersonaRow struct {
	ID      string             `json:"persona_id"`
	Kind    models.PersonaKind `json:"kind"`
	Name    string             `json:"name"`
	Members int                `json:"members"`
	// Dominant lists attributes most members share, "department=Payments
	// (100%)", the commonest first; at most four, each held by 60% or more.
	Dominant []string `json:"dominant_attributes"`
	// Top lists the entitlements most members were granted in the peer
	// window, "ENT granted 7/9 used 6/9".
	Top []string `json:"top_entitlements"`
	// Requests by members within the window, and the share approved of
	// those decided.
	Requests     int      `json:"requests"`
	Approved     int      `json:"approved"`
	Denied       int      `json:"denied"`
	ApprovalRate *float64 `json:"approval_rate"`
	// Outliers are members whose access is far from the persona's
	// (attribute personas only), highest score first.
	Outliers []string `json:"outliers"`
}

// EntitlementRow is one entitlement's reuse picture.
type EntitlementRow struct {
	ID          string      `json:"entitlement"`
	App         string      `json:"app"`
	Tier        models.Tier `json:"tier"`
	Catalogued  bool        `json:"catalogued"`
	Observable  bool        `json:"cloudtrail_observable"`
	Requests    int         `json:"requests"`
	Requesters  int         `json:"requesters"`
	Approved    int         `json:"approved"`
	Denied      int         `json:"denied"`
	ApprovalRt  *float64    `json:"approval_rate"`
	ReRequest   float64     `json:"re_request_rate"`
	MedianEvery string      `json:"median_interval"`
	MedianLen   string      `json:"median_duration"`
	Grants      int         `json:"grants"`
	GrantsUsed  int         `json:"grants_used"`
	// UnusedShare is the share of grants with no use in their window; nil
	// for entitlements CloudTrail cannot observe or without grants.
	UnusedShare *float64  `json:"unused_share"`
	MedianToUse string    `json:"median_time_to_use"`
	LastUsedAt  time.Time `json:"last_used_at"`
	// Users counts people with use in the window; TopUsers names up to
	// three by calls, UserPersonas their attribute personas by count.
	Users        int      `json:"users"`
	TopUsers     []string `json:"top_users"`
	UserPersonas []string `json:"user_personas"`
	// Standing and StandingUnused count standing grants active at AsOf and
	// those with no use in the window.
	Standing       int `json:"standing_holders"`
	StandingUnused int `json:"standing_unused"`
	// Candidate is "auto_approve", "remove_standing" or ""; Why says why.
	Candidate string `json:"candidate"`
	Why       string `json:"candidate_reason"`
}

// Candidate kinds of EntitlementRow.Candidate.
const (
	CandidateAutoApprove    = "auto_approve"
	CandidateRemoveStanding = "remove_standing"
)

// UnusedRow is the unused access of one (kind, persona, entitlement): grants
// active during the window that saw no call in it.
type UnusedRow struct {
	Kind        string      `json:"kind"` // "jit" or "standing"
	PersonaID   string      `json:"persona_id"`
	PersonaName string      `json:"persona"`
	Entitlement string      `json:"entitlement"`
	Tier        models.Tier `json:"tier"`
	Grants      int         `json:"grants"`
	Unused      int         `json:"unused"`
	UnusedShare float64     `json:"unused_share"`
	// People holding an unused grant, sorted; PeopleCount counts them all.
	People      []string `json:"people"`
	PeopleCount int      `json:"people_count"`
}

// Heatmap is peer coverage: Cells[i][j] is the share of Rows[i]'s members
// granted Cols[j] in the peer window (Granted) and with use of it (Used).
type Heatmap struct {
	Rows  []string        `json:"personas"`
	Sizes []int           `json:"sizes"`
	Cols  []string        `json:"entitlements"`
	Cells [][]HeatmapCell `json:"cells"`
}

// HeatmapCell is one persona × entitlement coverage.
type HeatmapCell struct {
	Granted float64 `json:"granted_share"`
	Used    float64 `json:"used_share"`
}

// BuildReport computes the report from the history as of opts.At. It is a
// pure function of its inputs (no I/O); cost is one features.Build plus a
// pass over requests, grants and usage.
func BuildReport(data *features.Data, cfg *Config, opts ReportOptions) (*Report, error) {
	if data == nil {
		return nil, errors.New("report: no data")
	}
	if cfg == nil {
		cfg = DefaultConfig()
	}
	opts = opts.withDefaults(cfg)
	snap, err := features.Build(data, featureConfig(cfg), opts.At)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	rb := &reportBuilder{data: data, cfg: cfg, opts: opts, snap: snap,
		from: opts.At.Add(-opts.Window), usage: map[features.PairKey][]features.UsageDay{}}
	rb.indexUsage()
	r := &Report{AsOf: opts.At, Window: opts.Window, WindowDays: opts.Window.Hours() / 24,
		People: len(snap.People)}
	r.Personas = rb.personas()
	r.Unused, rb.standing = rb.unused()
	r.Entitlements = rb.entitlements()
	r.Heat = rb.heatmap()
	return r, nil
}

// reportBuilder carries BuildReport's working state.
type reportBuilder struct {
	data  *features.Data
	cfg   *Config
	opts  ReportOptions
	snap  *features.Snapshot
	from  time.Time // start of the window
	usage map[features.PairKey][]features.UsageDay
	// standing counts, per entitlement, standing holders and unused ones.
	standing map[string][2]int
}

// person maps a name to the canonical user id, leaving unknown names.
func (rb *reportBuilder) person(name string) string {
	if u, ok := rb.snap.Resolve(name); ok {
		return u
	}
	return name
}

// indexUsage keeps the usage rows inside the window, by (person, entitlement).
func (rb *reportBuilder) indexUsage() {
	for _, u := range rb.data.Usage {
		if u.LastAt.Before(rb.from) || !u.LastAt.Before(rb.opts.At) {
			continue
		}
		k := features.PairKey{A: rb.person(u.Person), B: u.Entitlement}
		rb.usage[k] = append(rb.usage[k], u)
	}
}

// usedBetween reports whether person called ent in [from, to).
func (rb *reportBuilder) usedBetween(person, ent string, from, to time.Time) bool {
	for _, u := range rb.usage[features.PairKey{A: person, B: ent}] {
		if !u.LastAt.Before(from) && u.FirstAt.Before(to) {
			return true
		}
	}
	return false
}

func (rb *reportBuilder) tier(ent string) models.Tier {
	var cat models.Tier
	if e := rb.snap.Entitlements[ent]; e != nil && e.Catalogued {
		cat = e.Tier
	}
	return rb.cfg.TierOf(ent, cat)
}

func observable(ent string) bool { return models.DeriveEntitlement(ent).App == "aws" }

// outcome says whether a request was approved or denied as far as known
// at the report's as-of time: the features package's rule, so that the
// report and the scorer's inputs count alike.
func (rb *reportBuilder) outcome(q models.Request) (approved, denied bool) {
	return features.Outcome(&q, rb.opts.At)
}

func (rb *reportBuilder) personas() []PersonaRow {
	type counts struct{ req, ok, no int }
	byPersona := map[string]*counts{}
	for _, q := range rb.data.Requests {
		if q.RequestedAt.Before(rb.from) || !q.RequestedAt.Before(rb.opts.At) {
			continue
		}
		p := rb.snap.People[rb.person(q.Requester)]
		if p == nil {
			continue
		}
		ok, no := rb.outcome(q)
		for _, id := range []string{p.AttrPersona, p.UsagePersona} {
			if id == "" {
				continue
			}
			c := byPersona[id]
			if c == nil {
				c = &counts{}
				byPersona[id] = c
			}
			c.req++
			if ok {
				c.ok++
			}
			if no {
				c.no++
			}
		}
	}

	var rows []PersonaRow
	for id, ps := range rb.snap.Personas {
		row := PersonaRow{ID: id, Kind: ps.Kind, Name: ps.Name, Members: len(ps.Members),
			Dominant: rb.dominant(ps.Members), Top: rb.topEntitlements(ps), Outliers: []string{}}
		if c := byPersona[id]; c != nil {
			row.Requests, row.Approved, row.Denied = c.req, c.ok, c.no
			row.ApprovalRate = share(c.ok, c.ok+c.no)
		}
		if ps.Kind == models.PersonaAttribute {
			row.Outliers = rb.outliers(ps.Members)
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Kind != rows[j].Kind {
			return rows[i].Kind < rows[j].Kind // attribute before usage
		}
		if rows[i].Members != rows[j].Members {
			return rows[i].Members > rows[j].Members
		}
		return rows[i].ID < rows[j].ID
	})
	return rows
}

// dominant lists the attribute values that at least 60% of members share.
func (rb *reportBuilder) dominant(members []string) []string {
	type kv struct{ k, v string }
	count := map[kv]int{}
	for _, u := range members {
		p := rb.snap.People[u]
		if p == nil {
			continue
		}
		for k, v := range p.Attributes {
			if k == "start_date" || v == "" {
				continue
			}
			count[kv{k, v}]++
		}
	}
	type hit struct {
		kv
		n int
	}
	var hits []hit
	for x, n := range count {
		if len(members) > 0 && n*10 >= len(members)*6 {
			hits = append(hits, hit{x, n})
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].n != hits[j].n {
			return hits[i].n > hits[j].n
		}
		return hits[i].k < hits[j].k
	})
	out := []string{}
	for i := 0; i < len(hits) && i < 4; i++ {
		out = append(out, fmt.Sprintf("%s=%s (%d%%)", hits[i].k, hits[i].v, hits[i].n*100/len(members)))
	}
	return out
}

// coverageOf is the coverage map of a persona's kind.
func (rb *reportBuilder) coverageOf(kind models.PersonaKind) map[features.PairKey]features.Coverage {
	if kind == models.PersonaUsage {
		return rb.snap.PeerUsage
	}
	return rb.snap.PeerAttr
}

func (rb *reportBuilder) topEntitlements(ps *models.Persona) []string {
	type ent struct {
		id string
		c  features.Coverage
	}
	var ents []ent
	for k, c := range rb.coverageOf(ps.Kind) {
		if k.A == ps.ID && c.Granted+c.Used > 0 {
			ents = append(ents, ent{k.B, c})
		}
	}
	sort.Slice(ents, func(i, j int) bool {
		if ents[i].c.Granted != ents[j].c.Granted {
			return ents[i].c.Granted > ents[j].c.Granted
		}
		if ents[i].c.Used != ents[j].c.Used {
			return ents[i].c.Used > ents[j].c.Used
		}
		return ents[i].id < ents[j].id
	})
	out := []string{}
	for i := 0; i < len(ents) && i < rb.opts.TopEntitlements; i++ {
		c := ents[i].c
		out = append(out, fmt.Sprintf("%s granted %d/%d used %d/%d", ents[i].id, c.Granted, c.Members,
			c.Used, c.Members))
	}
	return out
}

func (rb *reportBuilder) outliers(members []string) []string {
	type o struct {
		u string
		s float64
	}
	var os []o
	for _, u := range members {
		if p := rb.snap.People[u]; p != nil && p.OutlierScore >= rb.opts.OutlierMin {
			os = append(os, o{u, p.OutlierScore})
		}
	}
	sort.Slice(os, func(i, j int) bool {
		if os[i].s != os[j].s {
			return os[i].s > os[j].s
		}
		return os[i].u < os[j].u
	})
	out := []string{}
	for _, x := range os {
		out = append(out, fmt.Sprintf("%s (%.2f)", x.u, x.s))
	}
	return out
}
