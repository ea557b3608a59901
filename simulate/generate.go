package simulate

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jitscore/jitscore/models"
)

// Org is a generated organisation: people, catalogue, request history with
// the reviewer's truth, grants with their planned use, and the plan of
// every CloudTrail session. Write turns it into files; CloudTrail events are
// materialised only then, day by day, so an Org stays small in memory.
type Org struct {
	Config       Config
	Start, End   time.Time
	People       []*Person
	Entitlements []models.Entitlement
	Requests     []*Request
	Grants       []*Grant
	// Summary holds the counts known after Generate; Write adds the file
	// counts.
	Summary Summary

	ents     []*entInfo
	entIndex map[string]int // entitlement id -> index into ents
	byUser   map[string]*Person
	sessions []session
}

// Request is one simulated request: the row as written (Requester may be
// an alias or differ in case) plus the truth behind it.
type Request struct {
	models.Request
	// User is the canonical requester.
	User string
	// DurationText is the duration as written: "8h", "PT8H" or seconds.
	DurationText string
	// Ticket is the extra ticket column, empty for most requests.
	Ticket string
	// Standing marks an extended-access request (weeks), judged against a
	// 30-day norm instead of the entitlement's typical length.
	Standing bool
	// Signals, Probability and Denied are the reviewer's view: what it saw,
	// its probability of denying, and its draw. For pending, canceled and
	// expired requests Denied is what it would have decided.
	Signals     Signals
	Probability float64
	Denied      bool
	// Grant indexes Org.Grants, -1 when no grant was made.
	Grant int
}

// Grant is an access window and how the simulation used it.
type Grant struct {
	models.Grant // Requester is the canonical user
	// CloudTrail is true for AWS entitlements, whose use CloudTrail shows.
	CloudTrail bool
	// Used is true when the person acted inside the window; for CloudTrail
	// grants that means at least one event, and an unused one has none.
	Used bool
	// Sessions and Events count the planned CloudTrail sessions and events
	// (portal events included) inside the window, up to the history's end.
	Sessions int
	Events   int
	// FirstUse and LastUse bound the planned events; zero when none.
	FirstUse time.Time
	LastUse  time.Time
}

// Summary counts what a simulation produced.
type Summary struct {
	People            int            `json:"people"`
	Entitlements      int            `json:"entitlements"`
	Requests          int            `json:"requests"`
	ByStatus          map[string]int `json:"by_status"`
	AutoApproved      int            `json:"auto_approved"`
	Pending           int            `json:"pending"`
	Grants            int            `json:"grants"`
	GrantsCloudTrail  int            `json:"grants_cloudtrail"`
	GrantsUsed        int            `json:"grants_cloudtrail_used"`
	GrantsUnused      int            `json:"grants_cloudtrail_unused"`
	ExpiringAfterEnd  int            `json:"grants_expiring_after_end"`
	Sessions          int            `json:"sessions"`
	Events            int            `json:"events"`
	EventsByPrincipal map[string]int `json:"events_by_principal"`
	Files             int            `json:"cloudtrail_files,omitempty"`
	Bytes             int64          `json:"cloudtrail_bytes,omitempty"`
	OtherEvents       int            `json:"cloudtrail_other_events,omitempty"`
}

type sessKind uint8

const (
	sessHuman sessKind = iota
	sessAutomation
	sessService
)

// session is a burst of CloudTrail calls by one principal: a person using
// a grant, a pipeline run of the automation user, or a service.
type session struct {
	kind       sessKind
	grant      int // -1 for noise
	account    int
	region     string
	start, end time.Time
	calls      int
	portal     int // IdentityCenterUser portal events before the calls
	name       string
}

// habit is how often a person asks for one entitlement.
type habit struct {
	ent     int
	profile string
	rate    float64 // requests per working day at weight 1
	weight  float64 // moves with the person's experience
}

// Generate builds the organisation cfg describes. The same cfg always
// gives the same Org. It fails only on an invalid cfg.
func Generate(cfg Config) (*Org, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("simulate config: %w", err)
	}
	start := cfg.start()
	o := &Org{
		Config: cfg,
		Start:  start,
		End:    start.AddDate(0, 0, cfg.Days),
	}
	r := newRNG(cfg.Seed, 0)
	ents, templates := buildCatalogue(cfg, r)
	o.ents = ents
	o.entIndex = map[string]int{}
	for i, e := range o.ents {
		o.entIndex[e.ID] = i
		o.Entitlements = append(o.Entitlements, e.Entitlement)
	}
	o.People = buildPeople(cfg, r, o.Start, o.End)

	g := &history{org: o, r: newRNG(cfg.Seed, 1), templates: templates}
	g.run()
	o.planNoise(newRNG(cfg.Seed, 2))
	sort.SliceStable(o.sessions, func(a, b int) bool { return o.sessions[a].start.Before(o.sessions[b].start) })
	o.summarise()
	return o, nil
}

// history runs the day-by-day request simulation.
type history struct {
	org       *Org
	r         rng
	templates map[string]int
	habits    [][]habit
	granted   [][]int // per person, indices into Org.Grants
	standing  map[int][]draft
	nextID    int
}

// draft is a request before the reviewer sees it.
type draft struct {
	person int
	habit  int // index into the person's habits
	at     time.Time
	long   bool
}

func (h *history) run() {
	o := h.org
	h.habits = make([][]habit, len(o.People))
	h.granted = make([][]int, len(o.People))
	h.standing = map[int][]draft{}
	for pi, p := range o.People {
		h.habits[pi] = h.personHabits(p)
		if o.Config.Days >= 14 && h.r.chance(0.3) {
			hs := h.habits[pi]
			k := h.r.IntN(len(hs))
			if hs[k].profile == ProfileNone {
				k = 0
			}
			lo := max(0, o.Config.Days-45)
			day := lo + h.r.IntN(o.Config.Days-8-lo)
			at := o.Start.AddDate(0, 0, day).Add(time.Duration(h.r.between(9, 16) * float64(time.Hour))).Truncate(time.Second)
			h.standing[day] = append(h.standing[day], draft{person: pi, habit: k, at: at, long: true})
		}
	}

	for d := range o.Config.Days {
		day := o.Start.AddDate(0, 0, d)
		weekend := day.Weekday() == time.Saturday || day.Weekday() == time.Sunday
		last := d == o.Config.Days-1
		factor := o.Config.RequestRate
		// The last day always has a working day's volume, so that there is
		// a batch of pending requests to score whatever the calendar says.
		if weekend && !last {
			factor *= 0.1
		}
		var batch []draft
		for pi, p := range o.People {
			if p.StartDate.After(day) {
				continue
			}
			for hi, hb := range h.habits[pi] {
				for range h.r.poisson(hb.rate * hb.weight * factor) {
					batch = append(batch, draft{person: pi, habit: hi, at: h.requestTime(day, weekend && !last)})
				}
			}
		}
		for _, dr := range h.standing[d] {
			if !o.People[dr.person].StartDate.After(day) {
				batch = append(batch, dr)
			}
		}
		sort.SliceStable(batch, func(a, b int) bool { return batch[a].at.Before(batch[b].at) })
		for _, dr := range batch {
			h.request(dr, last)
		}
	}
}

// personHabits gives a person their persona's routine and occasional
// entitlements and two entitlements outside the profile they sometimes try.
func (h *history) personHabits(p *Person) []habit {
	var hs []habit
	seen := map[int]bool{}
	add := func(tpls []string, profile string, total float64) {
		var ids []int
		for _, t := range tpls {
			if i, ok := resolveTemplate(h.templates, t); ok && !seen[i] {
				seen[i] = true
				ids = append(ids, i)
			}
		}
		for _, i := range ids {
			hs = append(hs, habit{ent: i, profile: profile, rate: total / float64(len(ids)) * p.Activity, weight: 1})
		}
	}
	add(p.def.routine, ProfileRoutine, 0.72)
	add(p.def.occasional, ProfileOccasional, 0.144)
	for range 2 {
		i := h.r.IntN(len(h.org.ents))
		if !seen[i] {
			seen[i] = true
			hs = append(hs, habit{ent: i, profile: ProfileNone, rate: 0.024 * p.Activity, weight: 1})
		}
	}
	return hs
}

// requestTime draws when on day a request is made: mostly working hours
// on weekdays, one in ten at night, any hour at weekends.
func (h *history) requestTime(day time.Time, weekend bool) time.Time {
	var hour float64
	switch {
	case weekend:
		hour = h.r.between(0, 24)
	case h.r.chance(0.9):
		hour = 8 + 5.5*(h.r.Float64()+h.r.Float64())
	default:
		hour = math.Mod(19+h.r.between(0, 13), 24)
	}
	return day.Add(time.Duration(hour * float64(time.Hour))).Truncate(time.Second)
}

// offHours tells whether t is outside working hours.
// TODO(simulate): hours are UTC for everyone although people have
// locations; a reviewer that read local time would need per-location zones,
// and ingest has no zone to go by either, so UTC keeps the signal learnable.
func offHours(t time.Time) bool {
	wd := t.Weekday()
	return wd == time.Saturday || wd == time.Sunday || t.Hour() < 8 || t.Hour() >= 19
}

// request turns a draft into a request, lets the reviewer decide, and
// plans the grant's use.
func (h *history) request(dr draft, pending bool) {
	o, r := h.org, h.r
	p := o.People[dr.person]
	hb := &h.habits[dr.person][dr.habit]
	e := o.ents[hb.ent]
	h.nextID++

	q := &Request{User: p.User, Standing: dr.long, Grant: -1}
	q.RequestID = fmt.Sprintf("REQ-%08d", h.nextID)
	q.Entitlement = e.ID
	q.RequestedAt = dr.at
	q.Requester = p.User
	switch u := r.Float64(); {
	case u < 0.10:
		q.Requester = p.Aliases[r.IntN(len(p.Aliases))]
	case u < 0.15:
		q.Requester = strings.ToUpper(p.User[:1]) + p.User[1:]
	}

	// Duration: mostly the entitlement's typical length, sometimes far more.
	typical := e.typical
	dur := typical
	if dr.long {
		target := o.End.Add(time.Duration(r.between(1, 7*24) * float64(time.Hour)))
		dur = target.Sub(dr.at).Round(time.Hour)
		typical = 30 * 24 * time.Hour
	} else {
		switch u := r.Float64(); {
		case u < 0.15:
			dur = max(typical/2, 30*time.Minute)
		case u < 0.25:
			dur = typical * time.Duration(2+r.IntN(2))
		case u < 0.30:
			dur = typical * time.Duration(6+r.IntN(19))
		}
	}
	q.Duration = dur
	q.DurationText = durationText(r, dur)

	// Justification: sometimes empty, often citing a ticket.
	switch u := r.Float64(); {
	case u < p.terse:
	case u < p.terse+0.45:
		q.Ticket = fmt.Sprintf("%s-%d", ticketProjects[r.IntN(len(ticketProjects))], 100+r.IntN(9900))
		q.Justification = q.Ticket + ": " + justifications[r.IntN(len(justifications))]
	default:
		q.Justification = justifications[r.IntN(len(justifications))]
	}
	if dr.long {
		q.Justification = strings.TrimSpace(q.Justification + " (extended access for on-call rotation)")
	}

	q.Signals = h.signals(dr.person, hb, e, q, typical)
	q.Probability = reviewerProbability(q.Signals)
	q.Denied = r.chance(q.Probability)

	h.decide(q, dr.person, e, hb, pending)
	o.Requests = append(o.Requests, q)
}

// signals collects what the reviewer sees about q.
func (h *history) signals(pi int, hb *habit, e *entInfo, q *Request, typical time.Duration) Signals {
	p := h.org.People[pi]
	s := Signals{
		Profile:         hb.profile,
		Tier:            e.Tier,
		DurationRatio:   math.Round(float64(q.Duration)/float64(typical)*100) / 100,
		NoJustification: q.Justification == "",
		Ticket:          q.Ticket != "",
		TenureDays:      int(q.RequestedAt.Sub(p.StartDate) / (24 * time.Hour)),
		Contractor:      p.EmploymentType == "contractor",
		OffHours:        offHours(q.RequestedAt),
	}
	for _, gi := range h.granted[pi] {
		g := h.org.Grants[gi]
		if !g.End().Before(q.RequestedAt) {
			continue
		}
		if g.CloudTrail {
			s.PriorAWSGrants++
			if !g.Used {
				s.PriorUnused++
			}
		}
		if g.Entitlement == e.ID && (g.Used || !g.CloudTrail) {
			s.PriorUsed++
		}
	}
	return s
}

// decide sets the request's status, decision and grant, and lets the
// outcome shape the person's habit.
func (h *history) decide(q *Request, pi int, e *entInfo, hb *habit, pending bool) {
	o, r := h.org, h.r
	p := o.People[pi]
	if pending {
		q.Status = models.StatusPending
		return
	}
	switch u := r.Float64(); {
	case u < 0.015:
		q.Status = models.StatusCanceled
		return
	case u < 0.025:
		q.Status = models.StatusExpired
		return
	}

	auto := !q.Denied && e.Tier == models.TierLow && q.Signals.PriorUsed >= 1 && q.Probability < 0.06
	var latency time.Duration
	switch {
	case auto:
		latency = time.Duration(2+r.IntN(18)) * time.Second
		q.DecidedBy = "auto"
	case q.Signals.OffHours:
		latency = time.Duration((0.5 + r.ExpFloat64()*4) * float64(time.Hour))
	default:
		latency = time.Duration((1 + r.ExpFloat64()*25) * float64(time.Minute))
	}
	if q.DecidedBy == "" {
		q.DecidedBy = e.Owner
		if p.Manager != "" && r.chance(0.6) {
			q.DecidedBy = p.Manager
		}
	}
	q.DecidedAt = q.RequestedAt.Add(latency).Truncate(time.Second)
	if !q.DecidedAt.Before(o.End) {
		// Still waiting when the history ends.
		q.Status, q.DecidedAt, q.DecidedBy = models.StatusPending, time.Time{}, ""
		return
	}
	if q.Denied {
		q.Status = models.StatusDenied
		hb.weight *= 0.85
		if hb.profile == ProfileNone {
			hb.weight *= 0.7
		}
		return
	}

	q.Status = models.StatusApproved
	q.GrantedAt = q.DecidedAt.Add(time.Duration(1+r.IntN(5)) * time.Second)
	q.ExpiresAt = q.GrantedAt.Add(q.Duration)
	if r.chance(0.04) {
		rv := q.GrantedAt.Add(time.Duration(r.between(0.1, 0.9) * float64(q.Duration))).Truncate(time.Second)
		if rv.Before(o.End) {
			q.RevokedAt = rv
			q.Status = models.StatusRevoked
		}
	}
	g := &Grant{
		Grant: models.Grant{
			RequestID: q.RequestID, Requester: p.User, Entitlement: e.ID,
			GrantedAt: q.GrantedAt, ExpiresAt: q.ExpiresAt, RevokedAt: q.RevokedAt,
		},
		CloudTrail: e.aws(),
	}
	unused := p.UnusedPropensity
	switch hb.profile {
	case ProfileOccasional:
		unused += 0.1
	case ProfileNone:
		unused += 0.25
	}
	if e.Tier == models.TierCritical {
		unused += 0.05
	}
	g.Used = !r.chance(clamp(unused, 0.02, 0.95))
	q.Grant = len(o.Grants)
	o.Grants = append(o.Grants, g)
	h.granted[pi] = append(h.granted[pi], q.Grant)
	if g.CloudTrail && g.Used {
		h.planUse(q.Grant, p, e, q.Standing)
	}
	if g.Used {
		hb.weight = math.Min(1.5, hb.weight*1.05+0.05)
	} else {
		hb.weight *= 0.75
	}
}

// callsPerHour is the mean API call rate of a session per permission set
// at EventRate 1. It was calibrated so that 2000 people over 90 days give
// about a million events.
var callsPerHour = map[string]float64{
	"ReadOnly": 13, "BillingReadOnly": 8, "SecurityAudit": 17,
	"DataScientist": 17, "PowerUser": 19, "AdministratorAccess": 15,
}

// planUse plans the CloudTrail sessions of a used AWS grant inside its
// window (cut at the end of the history). A grant left with no session is
// marked unused, so Used always matches the events.
func (h *history) planUse(gi int, p *Person, e *entInfo, standing bool) {
	o, r := h.org, h.r
	g := o.Grants[gi]
	from := g.GrantedAt
	to := g.End()
	if to.After(o.End) {
		to = o.End
	}
	to = to.Add(-time.Second)
	region := []string{"us-east-1", "eu-west-1", "us-west-2"}[r.weighted([]float64{0.75, 0.2, 0.05})]
	name := p.User
	if r.chance(0.3) {
		name = p.Aliases[r.IntN(len(p.Aliases))]
	}
	rate := callsPerHour[e.ps.name] * o.Config.EventRate

	add := func(s0, s1 time.Time) {
		if s1.Sub(s0) < 30*time.Second {
			return
		}
		s := session{
			kind: sessHuman, grant: gi, account: e.account, region: region,
			start: s0.Truncate(time.Second), end: s1.Truncate(time.Second), name: name,
		}
		if s.start.Before(from) {
			s.start = from
		}
		s.calls = 1 + r.poisson(rate*s1.Sub(s0).Hours())
		if r.chance(0.35) {
			s.portal = 1 + r.IntN(2)
		}
		o.sessions = append(o.sessions, s)
		g.Sessions++
		g.Events += s.calls + s.portal
		if g.FirstUse.IsZero() {
			g.FirstUse = s.start
		}
		g.LastUse = s.end
	}
	window := to.Sub(from)
	if standing {
		// Extended access: a session on some working days; some people stop
		// using it weeks before it expires.
		q := r.between(0.25, 0.6)
		stop := to
		if r.chance(0.3) {
			stop = o.End.Add(-time.Duration(r.between(31, 45) * 24 * float64(time.Hour)))
		}
		for day := from.Truncate(24 * time.Hour); day.Before(stop); day = day.AddDate(0, 0, 1) {
			if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday || !r.chance(q) {
				continue
			}
			s0 := day.Add(time.Duration(r.between(9, 17) * float64(time.Hour)))
			s1 := s0.Add(time.Duration(r.between(15, 120) * float64(time.Minute)))
			if s0.Before(from) || s1.After(stop) || s1.After(to) {
				continue
			}
			add(s0, s1)
		}
	} else {
		n := 1
		if window >= 2*time.Hour && r.chance(0.25) {
			n = 2
		}
		for i := range n {
			lo, hi := 0.0, math.Min(0.3, float64(30*time.Minute)/float64(window))
			if i == 1 {
				lo, hi = 0.4, 0.7
			}
			s0 := from.Add(time.Duration(r.between(lo, hi) * float64(window)))
			maxLen := math.Min(float64(150*time.Minute), float64(to.Sub(s0)))
			length := time.Duration(r.between(math.Min(float64(5*time.Minute), maxLen), maxLen))
			add(s0, s0.Add(length))
		}
	}
	if g.Sessions == 0 {
		g.Used = false
	}
}

// planNoise adds background sessions: pipeline runs of the automation user
// and service calls, NoiseShare of all events.
func (o *Org) planNoise(r rng) {
	human := 0
	for _, s := range o.sessions {
		human += s.calls + s.portal
	}
	share := o.Config.NoiseShare
	if share == 0 || human == 0 {
		return
	}
	total := int(float64(human) * share / (1 - share))
	span := o.End.Sub(o.Start) - 15*time.Minute
	at := func() time.Time {
		return o.Start.Add(time.Duration(r.Int64N(int64(span)))).Truncate(time.Second)
	}
	for n := 0; n < total*4/10; {
		s := session{kind: sessAutomation, grant: -1, account: r.IntN(o.Config.Accounts), region: "us-east-1", name: "ci-deployer"}
		s.start = at()
		s.end = s.start.Add(time.Duration(r.between(2, 10) * float64(time.Minute))).Truncate(time.Second)
		s.calls = 10 + r.poisson(20)
		n += s.calls
		o.sessions = append(o.sessions, s)
	}
	for n := 0; n < total*6/10; {
		s := session{kind: sessService, grant: -1, account: r.IntN(o.Config.Accounts)}
		s.region = []string{"us-east-1", "eu-west-1"}[r.weighted([]float64{0.8, 0.2})]
		s.name = serviceInvokers[r.IntN(len(serviceInvokers))]
		s.start = at()
		s.end = s.start.Add(time.Duration(1+r.IntN(5)) * time.Second)
		s.calls = 1 + r.poisson(2)
		n += s.calls
		o.sessions = append(o.sessions, s)
	}
}

// durationText writes d as hours ("8h"), ISO 8601 ("PT8H") or seconds.
func durationText(r rng, d time.Duration) string {
	switch u := r.Float64(); {
	case u < 0.5:
		if d%time.Hour == 0 {
			return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
		}
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case u < 0.8:
		if d%time.Hour == 0 {
			return "PT" + strconv.FormatInt(int64(d/time.Hour), 10) + "H"
		}
		return "PT" + strconv.FormatInt(int64(d/time.Minute), 10) + "M"
	}
	return strconv.FormatInt(int64(d/time.Second), 10)
}

func (o *Org) summarise() {
	s := Summary{
		People:            len(o.People),
		Entitlements:      len(o.Entitlements),
		Requests:          len(o.Requests),
		ByStatus:          map[string]int{},
		Grants:            len(o.Grants),
		EventsByPrincipal: map[string]int{},
		Sessions:          len(o.sessions),
	}
	for _, q := range o.Requests {
		s.ByStatus[string(q.Status)]++
		if q.DecidedBy == "auto" {
			s.AutoApproved++
		}
	}
	s.Pending = s.ByStatus[string(models.StatusPending)]
	for _, g := range o.Grants {
		if g.ExpiresAt.After(o.End) && (g.RevokedAt.IsZero() || g.RevokedAt.After(o.End)) &&
			g.ExpiresAt.Before(o.End.Add(7*24*time.Hour+time.Second)) {
			s.ExpiringAfterEnd++
		}
		if !g.CloudTrail {
			continue
		}
		s.GrantsCloudTrail++
		if g.Used {
			s.GrantsUsed++
		} else {
			s.GrantsUnused++
		}
	}
	for _, ss := range o.sessions {
		switch ss.kind {
		case sessHuman:
			s.EventsByPrincipal[models.PrincipalAssumedRole] += ss.calls
			s.EventsByPrincipal[models.PrincipalIdentityCenterUser] += ss.portal
		case sessAutomation:
			s.EventsByPrincipal[models.PrincipalIAMUser] += ss.calls
		case sessService:
			s.EventsByPrincipal[models.PrincipalAWSService] += ss.calls
		}
		s.Events += ss.calls + ss.portal
	}
	o.Summary = s
}
