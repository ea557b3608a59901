package scoring

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jitscore/jitscore/models"
)

// minReasonContribution hides factors that moved the log-odds by less
// than this: they explain nothing.
const minReasonContribution = 0.05

// Reasons returns up to n factors that moved this risk the most, largest
// |contribution| first, each with its contribution in log-odds of the
// calibrated risk (positive raises the risk) and a sentence a reviewer
// understands. Equal contributions keep feature order, so the result is
// deterministic.
func (sc *Score) Reasons(n int) []models.Reason {
	var order [NumFeatures]Feature
	for i := range order {
		order[i] = Feature(i)
	}
	// Insertion sort over a fixed, small array: stable and allocation-free.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && math.Abs(sc.Contrib[order[j]]) > math.Abs(sc.Contrib[order[j-1]]); j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	out := make([]models.Reason, 0, n)
	for _, f := range order {
		if len(out) == n {
			break
		}
		c := sc.Contrib[f]
		if math.Abs(c) < minReasonContribution {
			break
		}
		detail := sc.Detail(f)
		// Features that share a sentence (history_approved and
		// history_used) become one reason carrying both contributions.
		merged := false
		for i := range out {
			if out[i].Detail == detail {
				out[i].Contribution += c
				merged = true
			}
		}
		if !merged {
			out = append(out, models.Reason{Factor: f.String(), Contribution: c, Detail: detail})
		}
	}
	for i := range out {
		out[i].Contribution = math.Round(out[i].Contribution*1000) / 1000
	}
	return out
}

// Detail is the sentence for feature f of this score.
func (sc *Score) Detail(f Feature) string {
	x := &sc.Facts
	who := x.User
	if who == "" {
		who = x.Requester
	}
	switch f {
	case FPeerAttrGranted:
		return peerSentence(x.AttrCov.Granted, x.AttrCov.Members, group(x.PersonaName, "their persona"),
			"were granted", x.PeerWindow)
	case FPeerAttrUsed:
		return peerSentence(x.AttrCov.Used, x.AttrCov.Members, group(x.PersonaName, "their persona"),
			"used", x.UsageWindow)
	case FPeerUsageGranted:
		return peerSentence(x.UsageCov.Granted, x.UsageCov.Members,
			group(x.UsageName, "their usage persona")+" (people with similar access)", "were granted", x.PeerWindow)
	case FPeerManagerGranted:
		return peerSentence(x.ManagerCov.Granted, x.ManagerCov.Members,
			group(x.Manager, "their manager")+"'s team", "were granted", x.PeerWindow)
	case FHistApproved, FHistUsed:
		h := x.History
		if h.Grants == 0 && h.Approved == 0 {
			return fmt.Sprintf("%s has not been granted this before", who)
		}
		if !x.Ent.CloudTrailBacked {
			// An app outside AWS: "used it never" would read as a finding
			// when CloudTrail simply cannot see it.
			return fmt.Sprintf("%s was granted this %s (CloudTrail cannot show use of %s)", who,
				times(max(h.Grants, h.Approved)), entName(x.Ent.ID))
		}
		return fmt.Sprintf("%s was granted this %s and used it %s", who, times(max(h.Grants, h.Approved)),
			usedTimes(h.GrantsUsed, max(h.Grants, h.Approved)))
	case FHistDenied:
		if x.History.Denied == 0 {
			return fmt.Sprintf("%s has never been denied this", who)
		}
		return fmt.Sprintf("%s was denied this %s before", who, times(x.History.Denied))
	case FEntApprovalRate:
		d := x.Ent.Approved + x.Ent.Denied
		if d == 0 {
			return "no decided request for this entitlement yet"
		}
		return fmt.Sprintf("%d of %d decided requests for this entitlement were approved", x.Ent.Approved, d)
	case FEntUsedShare:
		if x.Ent.Grants == 0 {
			return "this entitlement has not been granted yet"
		}
		if !x.Ent.CloudTrailBacked {
			return fmt.Sprintf("CloudTrail cannot show use of %s, so its %d grants have no use on record",
				entName(x.Ent.ID), x.Ent.Grants)
		}
		return fmt.Sprintf("%d of %d grants of this entitlement were used", x.Ent.GrantsUsed, x.Ent.Grants)
	case FEntRequesters:
		return fmt.Sprintf("%d people have requested this entitlement", x.Ent.Requesters)
	case FTier:
		return fmt.Sprintf("tier %s", tierName(x.Tier))
	case FDurationExcess:
		if x.Duration == 0 || x.TypicalLength == 0 {
			return "no requested or typical duration to compare"
		}
		return fmt.Sprintf("requested %s; this entitlement is usually granted for %s",
			ShortDuration(x.Duration), ShortDuration(x.TypicalLength))
	case FOffHours:
		if x.Weekday == time.Saturday || x.Weekday == time.Sunday {
			return fmt.Sprintf("requested on a %s", x.Weekday)
		}
		if sc.Vector[FOffHours] == 0 {
			return fmt.Sprintf("requested at %02d:%02d UTC, within working hours", x.Hour, x.Minute)
		}
		return fmt.Sprintf("requested at %02d:%02d UTC, outside working hours", x.Hour, x.Minute)
	case FNewHire, FTenure:
		if x.TenureDays < 0 {
			return fmt.Sprintf("start date of %s unknown", who)
		}
		return fmt.Sprintf("%s started %d days ago", who, x.TenureDays)
	case FContractor, FContractorHighTier:
		if !x.Contractor {
			return fmt.Sprintf("%s is staff", who)
		}
		return fmt.Sprintf("%s is a %s", who, x.Employment)
	case FNoJustification, FJustificationLen:
		if x.JustLen == 0 || sc.Vector[FNoJustification] == 1 {
			return "no justification given"
		}
		return fmt.Sprintf("justification of %d characters", x.JustLen)
	case FTicket:
		if x.Ticket {
			return "justification cites a ticket"
		}
		return "justification cites no ticket"
	case FPersonUnused:
		t := x.Totals
		if t.Grants == 0 {
			return fmt.Sprintf("%s has no earlier grants", who)
		}
		return fmt.Sprintf("%s used %d of %d earlier grants overall", who, t.GrantsUsed, t.Grants)
	case FPersonDenyRate:
		t := x.Totals
		d := t.Approved + t.Denied
		if d == 0 {
			return fmt.Sprintf("%s has no decided requests yet", who)
		}
		return fmt.Sprintf("%s had %d of %d decided requests denied", who, t.Denied, d)
	case FAttrDenyMax, FAttrDenyMean:
		if x.AttrDenyKey == "" {
			return "no decided requests for this from people sharing the requester's attributes"
		}
		d := x.AttrDeny.Approved + x.AttrDeny.Denied
		return fmt.Sprintf("%d of %d requests for this from people with %s were denied", x.AttrDeny.Denied, d, x.AttrDenyKey)
	case FUnknownRequester:
		if x.Known {
			return fmt.Sprintf("%s has an identity record", who)
		}
		return fmt.Sprintf("requester %q has no identity record", x.Requester)
	case FNewEntitlement:
		if x.EntSeen {
			return fmt.Sprintf("this entitlement has %d earlier requests", x.Ent.Requests)
		}
		return "no one has requested this entitlement before"
	case FOutlier:
		return fmt.Sprintf("%s's access has %s in common with their persona (outlier score %.2f)",
			who, outlierWords(x.OutlierScore), x.OutlierScore)
	}
	return f.String()
}

// ShortDuration writes a duration the way a reviewer reads it: 48h as
// "2d", 4h0m0s as "4h", 90m as "1h30m", rounded to the minute.
func ShortDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return models.FormatDuration(d)
	}
	s := d.Round(time.Minute).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func peerSentence(k, n int, groupName, verb string, window time.Duration) string {
	if n == 0 {
		return fmt.Sprintf("no peer group (%s) to compare with", groupName)
	}
	return fmt.Sprintf("%d of %d people in %s %s this in the last %s", k, n, groupName, verb, windowWords(window))
}

func group(name, fallback string) string {
	if name == "" {
		return fallback
	}
	return name
}

func windowWords(d time.Duration) string {
	if d <= 0 {
		return "window"
	}
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

func usedTimes(used, of int) string {
	switch {
	case used == 0:
		return "never"
	case used >= of:
		return "each time"
	}
	return times(used)
}

// entName names an entitlement in a sentence, "this app" when unknown.
func entName(id string) string {
	if id == "" {
		return "this app"
	}
	return id
}

func tierName(t models.Tier) string {
	if t == "" {
		return "unknown"
	}
	return string(t)
}

func outlierWords(s float64) string {
	switch {
	case s < 0.3:
		return "much"
	case s < 0.7:
		return "some"
	}
	return "little"
}
