package approve

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

// Renewal reason factors, as they appear in Reason.Factor. The first reason
// of every renewal is the rule that decided its action; the facts behind it
// (usage, last use, tier, peers, outlier) follow, always all of them.
const (
	// Rules that decide.
	RenewalInUse        = "renewal:in_use"        // used recently enough: renew
	RenewalUnused       = "renewal:unused"        // never used, or not for unused_days: revoke
	RenewalNoIdentity   = "renewal:no_identity"   // no identity record: review
	RenewalNoCloudTrail = "renewal:no_cloudtrail" // not an AWS entitlement: review
	RenewalTrailGap     = "renewal:trail_gap"     // the account's CloudTrail does not cover the idle time: review
	RenewalHeldByOther  = "renewal:held_by_other_grant"
	RenewalTooNew       = "renewal:too_new"     // unused, but held less than min_age: review
	RenewalRarelyUsed   = "renewal:rarely_used" // a review tier used on few days: review
	RenewalOutlierRule  = "renewal:outlier_for_it"
	RenewalUnknownGrant = "renewal:unknown_grant"
	RenewalNoSnapshot   = "renewal:no_snapshot"

	// Facts.
	RenewalUsage   = "renewal:usage"
	RenewalLastUse = "renewal:last_use"
	RenewalTier    = "renewal:tier"
	RenewalPeerUse = "renewal:peer_use"
	RenewalOutlier = "renewal:outlier"
)

// TrailSlack is how far the last CloudTrail use seen in an account may lie
// before the data horizon for the trail to count as current: a weekend and
// a late delivery fit in it, an ingest that stopped does not.
const TrailSlack = 7 * day

// RenewalInput is everything one renewal review depends on. ReviewRenewals
// reads nothing else: no clock, no file, no network.
type RenewalInput struct {
	// Config supplies the renewal section and the tier patterns; nil means
	// DefaultConfig.
	Config *Config
	// Snapshot supplies people, entitlements, peers and CloudTrail reach.
	// Nil reviews every grant (nothing can be judged without it).
	Snapshot *features.Snapshot
	// At is when the review is made. Use is measured up to the data
	// horizon, the earlier of At and Snapshot.AsOf: what happened after
	// the snapshot is unknown and never counts as idle time.
	At time.Time
	// Grants are the grants to review, usually Snapshot.ExpiringGrants.
	Grants []features.GrantUsage
}

// ReviewRenewals decides, for each grant of in, renew, revoke or review. It
// is a pure function of in, and answers one models.Renewal per grant in the
// order given.
//
// The rules, with u = renewal.unused_days, c = max(renewal.min_calls, 1):
//
//  1. Use. The grant counts as used when CloudTrail shows at least c calls
//     in it (from its start to the horizon). Its idle time is the horizon
//     minus its last use, or minus its start when it was not used.
//  2. Verdict. Used with idle time under u days: renew (renewal:in_use).
//     Otherwise (never used, or idle for u days or more): revoke
//     (renewal:unused). A grant never used but held for less than
//     renewal.min_age and for less than half its length is too new to
//     judge: review (renewal:too_new). An 8-hour grant unused for 5 hours
//     is judged; a 30-day grant unused for 2 days is not.
//  3. Guards, each of which can only turn the verdict into review:
//     - the requester has no identity record (renewal:no_identity);
//     - revoke, but the entitlement is not an AWS one, so CloudTrail cannot
//     show its use (renewal:no_cloudtrail): lack of CloudTrail use is never
//     a reason to revoke it;
//     - revoke, but the account's CloudTrail does not reach over the idle
//     time: it began after the idle time did, or its last use lies more
//     than TrailSlack before the horizon (renewal:trail_gap), since a gap
//     in ingestion must not read as disuse;
//     - revoke, but another grant of the same entitlement keeps the access
//     past this one (renewal:held_by_other_grant): the assignment is shared;
//     - renew, but the tier is one of renewal.review_tiers and the grant was
//     used on fewer than renewal.min_active_days days (renewal:rarely_used);
//     - renew, but the entitlement is one of the person's unusual ones,
//     held by fewer than a fifth of their persona (renewal:outlier_for_it).
//
// Non-AWS entitlements are therefore never revoked for lack of use: they are
// renewed by nobody and reviewed by a person. Revocation happens only for
// an AWS entitlement whose account's CloudTrail covers the time it sat idle.
//
// Each reason's Contribution is +1 when it argues against renewal (for
// revoking or a human look), -1 when it argues for renewal and 0 for
// context.
func ReviewRenewals(in RenewalInput) []models.Renewal {
	cfg := in.Config
	if cfg == nil {
		cfg = DefaultConfig()
	}
	out := make([]models.Renewal, 0, len(in.Grants))
	for i := range in.Grants {
		out = append(out, reviewGrant(cfg, in.Snapshot, in.At, &in.Grants[i]))
	}
	return out
}

// ErrNoSnapshot reports a renewal query over a window made without a
// feature snapshot: there is nothing to list grants from. It may arrive
// wrapped.
var ErrNoSnapshot = errors.New("no feature snapshot loaded")

// ReviewRenewalQuery answers POST /v1/renewals from the snapshot alone, as
// of now: the grants named by q.RequestIDs (an id the snapshot does not
// hold in effect is answered review with renewal:unknown_grant), or else
// every grant expiring in (At, At+Within], At defaulting to now and Within
// to renewal.within. A window query without a snapshot returns
// ErrNoSnapshot; an id query without one answers review for every id.
func ReviewRenewalQuery(cfg *Config, snap *features.Snapshot, q RenewalQuery, now time.Time) ([]models.Renewal, error) {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	at := q.At
	if at.IsZero() {
		at = now
	}
	if len(q.RequestIDs) == 0 {
		if snap == nil {
			return nil, fmt.Errorf("renewal review: %w", ErrNoSnapshot)
		}
		within := q.Within
		if within <= 0 {
			within = cfg.Renewal.Within
		}
		return ReviewRenewals(RenewalInput{Config: cfg, Snapshot: snap, At: at,
			Grants: snap.ExpiringGrants(at, within)}), nil
	}
	var found []features.GrantUsage
	missing := q.RequestIDs
	if snap != nil {
		found, missing = snap.GrantsByID(q.RequestIDs)
	}
	reviewed := ReviewRenewals(RenewalInput{Config: cfg, Snapshot: snap, At: at, Grants: found})
	byID := make(map[string]models.Renewal, len(reviewed)+len(missing))
	for _, r := range reviewed {
		byID[r.RequestID] = r
	}
	for _, id := range missing {
		detail := fmt.Sprintf("grant %s is not in effect in the feature snapshot", id)
		if snap == nil {
			detail = "no feature snapshot is loaded"
		} else {
			detail += " as of " + dateOf(snap.AsOf)
		}
		byID[id] = models.Renewal{RequestID: id, Action: models.RenewalReview,
			Reasons: []models.Reason{{Factor: RenewalUnknownGrant, Contribution: 1, Detail: detail + "; a human decides"}}}
	}
	out := make([]models.Renewal, 0, len(byID))
	for _, id := range q.RequestIDs {
		if r, ok := byID[id]; ok {
			out = append(out, r)
			delete(byID, id)
		}
	}
	return out, nil
}

// renewalFacts is what reviewGrant measured about one grant.
type renewalFacts struct {
	horizon  time.Time
	used     bool
	idle     time.Duration
	held     time.Duration
	tier     models.Tier
	aws      bool
	person   *features.Person
	unusual  bool
	coverage features.Coverage
	persona  string
}

func reviewGrant(cfg *Config, snap *features.Snapshot, at time.Time, g *features.GrantUsage) models.Renewal {
	r := models.Renewal{RequestID: g.RequestID, Requester: g.Requester, Entitlement: g.Entitlement,
		ExpiresAt: g.ExpiresAt}
	if snap == nil {
		r.Action = models.RenewalReview
		r.Reasons = []models.Reason{{Factor: RenewalNoSnapshot, Contribution: 1,
			Detail: "no feature snapshot is loaded, so the grant's use is unknown; a human decides"}}
		return r
	}
	rc := cfg.Renewal
	f := measureGrant(cfg, snap, at, g)
	unused := time.Duration(rc.UnusedDays) * day

	// The verdict from use, then the guards that can only turn it to review.
	var decide models.Reason
	action := models.RenewalRenew
	switch {
	case f.used && f.idle < unused:
		decide = models.Reason{Factor: RenewalInUse, Contribution: -1,
			Detail: fmt.Sprintf("used %s ago, within renewal.unused_days (%d)", days(f.idle), rc.UnusedDays)}
	case !f.used && f.held < rc.MinAge && 2*f.held < g.ExpiresAt.Sub(g.GrantedAt) && f.idle < unused:
		action = models.RenewalReview
		decide = models.Reason{Factor: RenewalTooNew, Contribution: 1,
			Detail: fmt.Sprintf("not used yet, but held only %s, less than renewal.min_age (%s) and less than "+
				"half its length; too new to judge", days(f.held), models.FormatDuration(rc.MinAge))}
	default:
		action = models.RenewalRevoke
		what := fmt.Sprintf("not used in the %s it has been held", days(f.held))
		if f.used {
			what = fmt.Sprintf("last used %s ago, at least renewal.unused_days (%d)", days(f.idle), rc.UnusedDays)
		}
		decide = models.Reason{Factor: RenewalUnused, Contribution: 1, Detail: what}
	}

	var guards []models.Reason
	guard := func(factor, detail string) {
		guards = append(guards, models.Reason{Factor: factor, Contribution: 1, Detail: detail})
	}
	if f.person == nil {
		guard(RenewalNoIdentity, fmt.Sprintf("requester %q has no identity record; a human decides", g.Requester))
	}
	if action == models.RenewalRevoke {
		switch {
		case !f.aws:
			guard(RenewalNoCloudTrail, fmt.Sprintf("%s is not an AWS entitlement; CloudTrail cannot show its use, "+
				"so lack of use is no reason to revoke it", g.Entitlement))
		case !trailCovers(snap, g, f):
			guard(RenewalTrailGap, trailGapDetail(snap, g, f))
		}
		if g.HeldUntil.After(g.ExpiresAt) {
			guard(RenewalHeldByOther, fmt.Sprintf("another grant of %s keeps the same access until %s; "+
				"revoking would cut it short", g.Entitlement, dateOf(g.HeldUntil)))
		}
	}
	if action == models.RenewalRenew {
		if hasTier(rc.ReviewTiers, f.tier) && g.ActiveDays < rc.MinActiveDays {
			guard(RenewalRarelyUsed, fmt.Sprintf("tier %s is renewed without a human only after use on "+
				"renewal.min_active_days (%d) days; used on %s", f.tier, rc.MinActiveDays,
				plural(g.ActiveDays, "day")))
		}
		if f.unusual {
			guard(RenewalOutlierRule, fmt.Sprintf("%s is unusual for %s's persona; a human confirms the renewal",
				g.Entitlement, f.person.User))
		}
	}
	if len(guards) > 0 && action != models.RenewalReview {
		action = models.RenewalReview
		guards[0], decide = decide, guards[0]
		decide.Contribution = 1
	}
	r.Action = action
	r.Reasons = append(append([]models.Reason{decide}, guards...), factsOf(cfg, g, f)...)
	return r
}

// measureGrant gathers the facts the rules read.
func measureGrant(cfg *Config, snap *features.Snapshot, at time.Time, g *features.GrantUsage) renewalFacts {
	f := renewalFacts{horizon: at}
	if snap.AsOf.Before(at) {
		f.horizon = snap.AsOf
	}
	minCalls := max(cfg.Renewal.MinCalls, 1)
	f.used = g.Calls >= minCalls && !g.LastUse.IsZero()
	f.held = max(f.horizon.Sub(g.GrantedAt), 0)
	f.idle = f.held
	if f.used {
		f.idle = max(f.horizon.Sub(g.LastUse), 0)
	}
	var catalogue models.Tier
	stat := snap.Entitlements[g.Entitlement]
	if stat != nil && stat.Catalogued {
		catalogue = stat.Tier
	}
	f.tier = cfg.TierOf(g.Entitlement, catalogue)
	if stat != nil {
		f.aws = stat.CloudTrailBacked
	} else {
		f.aws = models.DeriveEntitlement(g.Entitlement).App == "aws"
	}
	f.aws = f.aws && g.AWSAccount != ""
	if p, ok := snap.People[g.Person]; ok {
		f.person = p
		f.coverage = snap.AttrCoverage(p.User, g.Entitlement)
		if ps, ok := snap.Personas[p.AttrPersona]; ok {
			f.persona = ps.Name
		}
		for _, e := range p.Unusual {
			if e == g.Entitlement {
				f.unusual = true
			}
		}
	}
	return f
}

// trailCovers reports whether CloudTrail of the grant's account reaches
// from the start of the idle time to the horizon.
func trailCovers(snap *features.Snapshot, g *features.GrantUsage, f renewalFacts) bool {
	t, ok := snap.Renewal.Trails[g.AWSAccount]
	return ok && t.Covers(f.horizon.Add(-f.idle), f.horizon, TrailSlack)
}

func trailGapDetail(snap *features.Snapshot, g *features.GrantUsage, f renewalFacts) string {
	t, ok := snap.Renewal.Trails[g.AWSAccount]
	if !ok {
		return fmt.Sprintf("no CloudTrail use has been loaded for account %s, so its absence proves nothing; "+
			"a human decides", g.AWSAccount)
	}
	return fmt.Sprintf("CloudTrail for account %s covers %s to %s, not the whole idle time %s to %s; a human decides",
		g.AWSAccount, dateOf(t.First), dateOf(t.Last), dateOf(f.horizon.Add(-f.idle)), dateOf(f.horizon))
}

// factsOf gives the context reasons every renewal carries.
func factsOf(cfg *Config, g *features.GrantUsage, f renewalFacts) []models.Reason {
	// Plain concatenation: this runs for every grant of a review, and
	// fmt costs several times more.
	itoa, unusedDays := strconv.Itoa, strconv.Itoa(cfg.Renewal.UnusedDays)
	usage := "no CloudTrail calls during the grant (since " + dateOf(g.GrantedAt) + ")"
	if !f.aws {
		usage = "CloudTrail cannot show use of this entitlement"
	} else if g.Calls > 0 {
		usage = plural(g.Calls, "call") + " (" + itoa(g.Writes) + " writes, " + itoa(g.Errors) + " errors) on " +
			plural(g.ActiveDays, "active day") + " during the grant, " + dateOf(g.FirstUse) + " to " + dateOf(g.LastUse)
	}
	last := "never used; held " + days(f.held) + "; renewal.unused_days is " + unusedDays
	if !g.LastUse.IsZero() {
		last = "last used " + dateOf(g.LastUse) + ", " + days(max(f.horizon.Sub(g.LastUse), 0)) + " before " +
			dateOf(f.horizon) + "; renewal.unused_days is " + unusedDays
	}
	tier := "tier " + string(f.tier)
	if hasTier(cfg.Renewal.ReviewTiers, f.tier) {
		tier += " is a review tier: renewed without a human only after use on " +
			plural(cfg.Renewal.MinActiveDays, "day")
	}
	peers := "no persona peers to compare with"
	if f.person == nil {
		peers = "unknown requester: no peers"
	} else if f.coverage.Members > 0 {
		peers = itoa(f.coverage.Used) + " of " + itoa(f.coverage.Members) + " peers in " + f.persona +
			" used it in the usage window; " + itoa(f.coverage.Granted) + " were granted it"
	}
	outlier := "unknown requester"
	if f.person != nil {
		score := strconv.FormatFloat(f.person.OutlierScore, 'f', 2, 64)
		outlier = "usual for the persona (outlier score " + score + ")"
		if f.unusual {
			outlier = "unusual for the persona: fewer than a fifth of its members hold it (outlier score " + score + ")"
		}
	}
	return []models.Reason{
		{Factor: RenewalUsage, Detail: usage},
		{Factor: RenewalLastUse, Detail: last},
		{Factor: RenewalTier, Detail: tier},
		{Factor: RenewalPeerUse, Detail: peers},
		{Factor: RenewalOutlier, Detail: outlier},
	}
}

// dateOf formats t as a UTC date.
func dateOf(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// days formats a duration in whole days, or hours under two days.
func days(d time.Duration) string {
	if d < 2*day {
		return plural(int(d.Round(time.Hour)/time.Hour), "hour")
	}
	return plural(int(d/day), "day")
}

// plural gives "1 call", "2 calls".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
