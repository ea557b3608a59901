package scoring

import (
	"math"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

// Feature indexes one entry of a Vector. The package comment defines each.
type Feature int

// The features, in Vector order. Appending is safe; reordering or removing
// one changes the meaning of stored models, which LoadModel then refuses.
const (
	FPeerAttrGranted Feature = iota
	FPeerAttrUsed
	FPeerUsageGranted
	FPeerManagerGranted
	FHistApproved
	FHistDenied
	FHistUsed
	FEntApprovalRate
	FEntUsedShare
	FEntRequesters
	FTier
	FDurationExcess
	FOffHours
	FNewHire
	FTenure
	FContractor
	FContractorHighTier
	FNoJustification
	FTicket
	FJustificationLen
	FPersonUnused
	FPersonDenyRate
	FAttrDenyMax
	FAttrDenyMean
	FUnknownRequester
	FNewEntitlement
	FOutlier
	NumFeatures
)

// featureNames are the stable names used in model files, audit rows and
// reasons.
var featureNames = [NumFeatures]string{
	FPeerAttrGranted:    "peer_attr_granted",
	FPeerAttrUsed:       "peer_attr_used",
	FPeerUsageGranted:   "peer_usage_granted",
	FPeerManagerGranted: "peer_manager_granted",
	FHistApproved:       "history_approved",
	FHistDenied:         "history_denied",
	FHistUsed:           "history_used",
	FEntApprovalRate:    "entitlement_approval_rate",
	FEntUsedShare:       "entitlement_used_share",
	FEntRequesters:      "entitlement_requesters",
	FTier:               "tier",
	FDurationExcess:     "duration_excess",
	FOffHours:           "off_hours",
	FNewHire:            "new_hire",
	FTenure:             "tenure",
	FContractor:         "contractor",
	FContractorHighTier: "contractor_high_tier",
	FNoJustification:    "no_justification",
	FTicket:             "justification_ticket",
	FJustificationLen:   "justification_length",
	FPersonUnused:       "requester_unused_grants",
	FPersonDenyRate:     "requester_deny_rate",
	FAttrDenyMax:        "attribute_deny_max",
	FAttrDenyMean:       "attribute_deny_mean",
	FUnknownRequester:   "unknown_requester",
	FNewEntitlement:     "new_entitlement",
	FOutlier:            "persona_outlier",
}

// String is the feature's stable name, e.g. "peer_attr_used".
func (f Feature) String() string {
	if f < 0 || f >= NumFeatures {
		return "unknown"
	}
	return featureNames[f]
}

// FeatureNames lists every feature name in Vector order.
func FeatureNames() []string { return append([]string(nil), featureNames[:]...) }

// Vector holds one request's raw feature values (before standardisation),
// indexed by Feature.
type Vector [NumFeatures]float64

// Request is what the model needs to know about one request beyond the
// snapshot. Tier is the effective tier, which the caller resolves (the
// catalogue's, else the config's patterns); Duration 0 means not given.
type Request struct {
	Requester     string
	Entitlement   string
	RequestedAt   time.Time
	Duration      time.Duration
	Justification string
	Tier          models.Tier
}

// Facts are the counts behind a Vector, kept so that reasons can quote
// them. Strings point into the snapshot; building Facts does not allocate.
type Facts struct {
	User          string // canonical user id, "" when unknown
	Requester     string // as given
	Known         bool
	PersonaName   string
	AttrCov       features.Coverage
	UsageCov      features.Coverage
	UsageName     string
	Manager       string
	ManagerCov    features.Coverage
	History       features.History
	Totals        features.History
	Ent           features.EntitlementStat // zero when never seen
	EntSeen       bool
	Tier          models.Tier
	Duration      time.Duration
	TypicalLength time.Duration
	Hour, Minute  int
	Weekday       time.Weekday
	TenureDays    int // -1 when the start date is unknown
	Employment    string
	Contractor    bool
	JustLen       int
	Ticket        bool
	AttrDeny      features.Outcomes // the attribute with the highest smoothed deny rate
	AttrDenyKey   string
	OutlierScore  float64
	PeerWindow    time.Duration
	UsageWindow   time.Duration
}

// Smoothing constants; the package comment explains each.
const (
	peerPriorShare    = 0.1 // prior share for peer coverage
	peerPriorWeight   = 2   // pseudo-members behind the prior
	rateWeight        = 5   // pseudo-decisions behind a smoothed rate
	attrWeight        = 10  // m of the m-estimate for attribute deny rates
	newHireDays       = 30
	maxDurationExcess = 3 // doublings
	maxUsedGrants     = 4
)

// contractorTypes are employment_type values (lower case) that mark
// non-staff in the model. The policy's contractor rules read the config
// instead; this list only shapes a feature.
var contractorTypes = map[string]bool{"contractor": true, "vendor": true, "temp": true, "external": true}

// Extract fills v with the features of r as seen in s and returns the facts
// behind them. attrs are the identity attributes whose attribute ×
// entitlement deny rates are looked up in s.AttrStats. It does no I/O and
// does not allocate beyond the attribute keys.
func Extract(s *features.Snapshot, r Request, attrs []string, v *Vector) Facts {
	f := Facts{Requester: r.Requester, Tier: r.Tier, Duration: r.Duration, TenureDays: -1,
		PeerWindow: s.PeerWindow, UsageWindow: s.UsageWindow}
	*v = Vector{}
	globalDeny := smoothRate(s.Global.Denied, s.Global.Approved+s.Global.Denied, 0.2, 2)

	user, known := s.Resolve(r.Requester)
	var p *features.Person
	if known {
		p = s.People[user]
	}
	if p != nil {
		f.User, f.Known = user, true
	}
	id := r.Entitlement
	if e := s.Entitlements[id]; e != nil {
		f.Ent = *e // a copy, so Facts never aliases the snapshot
		f.EntSeen = e.Requests > 0 || e.Grants > 0
		f.TypicalLength = e.MedianDuration
	}

	if p != nil {
		// Coverage counts the requester's peers with the requester left
		// out, so holding the entitlement oneself is not peer support.
		f.AttrCov = s.AttrCoverage(user, id)
		if ps := s.Personas[p.AttrPersona]; ps != nil {
			f.PersonaName = ps.Name
		}
		f.UsageCov = s.UsageCoverage(user, id)
		if ps := s.Personas[p.UsagePersona]; ps != nil {
			f.UsageName = ps.Name
		}
		f.Manager = p.Manager
		f.ManagerCov = s.ManagerCoverage(user, id)
		f.History = s.History[features.PairKey{A: user, B: id}]
		f.Totals = s.PersonTotals[user]
		f.Employment = p.EmploymentType
		f.Contractor = contractorTypes[lower(p.EmploymentType)]
		f.OutlierScore = p.OutlierScore
		if !p.StartDate.IsZero() && !r.RequestedAt.IsZero() {
			// A start date after the request (a rehire, a typo) counts
			// as the first day.
			f.TenureDays = max(int(r.RequestedAt.Sub(p.StartDate)/(24*time.Hour)), 0)
		}
	}

	v[FPeerAttrGranted] = smoothShare(f.AttrCov.Granted, f.AttrCov.Members)
	v[FPeerAttrUsed] = smoothShare(f.AttrCov.Used, f.AttrCov.Members)
	v[FPeerUsageGranted] = smoothShare(f.UsageCov.Granted, f.UsageCov.Members)
	v[FPeerManagerGranted] = smoothShare(f.ManagerCov.Granted, f.ManagerCov.Members)

	v[FHistApproved] = math.Log1p(float64(f.History.Approved))
	v[FHistDenied] = math.Log1p(float64(f.History.Denied))
	v[FHistUsed] = float64(min(f.History.GrantsUsed, maxUsedGrants))

	decided := f.Ent.Approved + f.Ent.Denied
	v[FEntApprovalRate] = smoothRate(f.Ent.Approved, decided, 1-globalDeny, rateWeight)
	v[FEntUsedShare] = smoothRate(f.Ent.GrantsUsed, f.Ent.Grants, 0.5, rateWeight)
	v[FEntRequesters] = math.Log1p(float64(f.Ent.Requesters))

	v[FTier] = float64(max(r.Tier.Rank(), 0))
	if r.Duration > 0 && f.TypicalLength > 0 {
		ratio := float64(r.Duration) / float64(f.TypicalLength)
		v[FDurationExcess] = math.Min(math.Max(math.Log2(ratio), 0), maxDurationExcess)
	}
	if !r.RequestedAt.IsZero() {
		t := r.RequestedAt.UTC()
		f.Hour, f.Minute, f.Weekday = t.Hour(), t.Minute(), t.Weekday()
		if offHours(t) {
			v[FOffHours] = 1
		}
	}
	if f.TenureDays >= 0 {
		if f.TenureDays < newHireDays {
			v[FNewHire] = 1
		}
		v[FTenure] = math.Log1p(float64(f.TenureDays))
	} else {
		// Unknown start date, or no identity record at all: the median
		// tenure of a mid-sized org (about two years) keeps the feature
		// neutral. Leaving it 0 would make an unknown requester look like a
		// day-one starter, which the fitted tenure weight may read as safe;
		// the unknown_requester feature and guardrail carry that risk.
		v[FTenure] = math.Log1p(730)
	}
	if f.Contractor {
		v[FContractor] = 1
		if r.Tier.Rank() >= 2 {
			v[FContractorHighTier] = 1
		}
	}

	f.JustLen = len(r.Justification)
	f.Ticket = citesTicket(r.Justification)
	if blank(r.Justification) {
		v[FNoJustification] = 1
	}
	if f.Ticket {
		v[FTicket] = 1
	}
	v[FJustificationLen] = float64(lengthBucket(f.JustLen))

	v[FPersonUnused] = smoothRate(f.Totals.Grants-f.Totals.GrantsUsed, f.Totals.Grants, 0.2, 2)
	v[FPersonDenyRate] = smoothRate(f.Totals.Denied, f.Totals.Approved+f.Totals.Denied, globalDeny, rateWeight)

	entDeny := smoothRate(f.Ent.Denied, decided, globalDeny, rateWeight)
	v[FAttrDenyMax], v[FAttrDenyMean] = entDeny, entDeny
	if p != nil && len(attrs) > 0 {
		best, sum, n := -1.0, 0.0, 0
		for _, a := range attrs {
			val := p.Attributes[a]
			if val == "" {
				continue
			}
			key := a + "=" + val
			o := s.AttrStats[features.PairKey{A: key, B: id}]
			rate := smoothRate(o.Denied, o.Approved+o.Denied, entDeny, attrWeight)
			sum += rate
			n++
			if rate > best {
				best, f.AttrDeny, f.AttrDenyKey = rate, o, key
			}
		}
		if n > 0 {
			v[FAttrDenyMax], v[FAttrDenyMean] = best, sum/float64(n)
		}
	}

	if !f.Known {
		v[FUnknownRequester] = 1
	}
	if !f.EntSeen {
		v[FNewEntitlement] = 1
	}
	v[FOutlier] = f.OutlierScore
	return f
}

// smoothShare is (k + a·p0) / (n + a): a share of a group pulled toward a
// small prior share so that a two-person group counts for less than a
// fifty-person one.
func smoothShare(k, n int) float64 {
	return (float64(k) + peerPriorWeight*peerPriorShare) / (float64(max(n, 0)) + peerPriorWeight)
}

// smoothRate is the m-estimate (k + m·prior) / (n + m).
func smoothRate(k, n int, prior, m float64) float64 {
	if n < 0 {
		n = 0
	}
	k = min(max(k, 0), n)
	return (float64(k) + m*prior) / (float64(n) + m)
}

// offHours: a weekend, or before 08:00 or from 19:00 UTC.
// TODO(timezone): working hours are judged in UTC; an identity's location
// attribute could give the local day, which would matter for teams far
// from UTC.
func offHours(t time.Time) bool {
	wd := t.Weekday()
	return wd == time.Saturday || wd == time.Sunday || t.Hour() < 8 || t.Hour() >= 19
}

// lengthBucket: 0 empty, 1 under 20 bytes, 2 under 80, 3 longer.
func lengthBucket(n int) int {
	switch {
	case n == 0:
		return 0
	case n < 20:
		return 1
	case n < 80:
		return 2
	}
	return 3
}

func blank(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// citesTicket reports whether s contains a tracker reference such as
// OPS-1234 or INC-77: two or more capitals or digits starting with a
// capital, a hyphen, then digits.
func citesTicket(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '-' || i < 2 {
			continue
		}
		j := i - 1
		for j >= 0 && (isUpper(s[j]) || isDigit(s[j])) {
			j--
		}
		start := j + 1
		if i-start < 2 || !isUpper(s[start]) || (j >= 0 && isAlnum(s[j])) {
			continue
		}
		if i+1 < len(s) && isDigit(s[i+1]) {
			return true
		}
	}
	return false
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlnum(c byte) bool { return isUpper(c) || isDigit(c) || (c >= 'a' && c <= 'z') }

// lower lower-cases ASCII without allocating when s is already lower case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if isUpper(s[i]) {
			b := []byte(s)
			for j := range b {
				if isUpper(b[j]) {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
