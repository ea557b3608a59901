package simulate

import (
	"math"

	"github.com/jitscore/jitscore/models"
)

// Profile levels: how an entitlement fits the requester's persona.
const (
	ProfileRoutine    = "routine"
	ProfileOccasional = "occasional"
	ProfileNone       = "none"
)

// Signals are what the simulated reviewer looked at for one request. All
// of them can be recovered from the written files (identities, catalogue,
// request history and CloudTrail) by a model, though not all from persona.
type Signals struct {
	Profile         string      `json:"profile"` // routine, occasional or none
	Tier            models.Tier `json:"tier"`
	DurationRatio   float64     `json:"duration_ratio"` // requested / typical length
	NoJustification bool        `json:"no_justification"`
	Ticket          bool        `json:"ticket"` // justification cites a ticket
	TenureDays      int         `json:"tenure_days"`
	Contractor      bool        `json:"contractor"`
	OffHours        bool        `json:"off_hours"` // weekend, or before 08:00 or from 19:00 UTC
	// PriorUsed counts the requester's earlier grants of this entitlement
	// that ended and were used (for apps, that were granted).
	PriorUsed int `json:"prior_used"`
	// PriorAWSGrants and PriorUnused count the requester's earlier AWS
	// grants of any entitlement that ended, and those of them never used.
	PriorAWSGrants int `json:"prior_aws_grants"`
	PriorUnused    int `json:"prior_unused"`
}

// Reviewer weights on the log-odds of a denial. See the package doc for
// the formula; tests pin that each signal moves the deny rate.
const (
	revBase          = -2.2
	revOccasional    = 0.9
	revNone          = 2.0
	revTier          = 0.35 // per tier rank
	revDuration      = 0.8  // per doubling above 1.5x typical, up to three
	revNoJustify     = 1.3
	revTicket        = -0.5
	revNewHire       = 1.0 // tenure under 30 days
	revContractor    = 1.4 // contractor on a high or critical tier
	revUnusedRecord  = 2.0 // times the share of earlier AWS grants unused
	revOffHours      = 0.8
	revPriorUse      = -0.45 // per earlier used grant, up to four
	revMinUnusedBase = 2     // earlier AWS grants needed before the share counts
)

// reviewerProbability is the simulated reviewer's probability of denying
// a request with signals s.
func reviewerProbability(s Signals) float64 {
	z := revBase
	switch s.Profile {
	case ProfileOccasional:
		z += revOccasional
	case ProfileNone:
		z += revNone
	}
	rank := max(s.Tier.Rank(), 0)
	z += revTier * float64(rank)
	if s.DurationRatio > 1.5 {
		z += revDuration * math.Min(math.Log2(s.DurationRatio), 3)
	}
	if s.NoJustification {
		z += revNoJustify
	} else if s.Ticket {
		z += revTicket
	}
	if s.TenureDays < 30 {
		z += revNewHire
	}
	if s.Contractor && rank >= 2 {
		z += revContractor
	}
	if s.PriorAWSGrants >= revMinUnusedBase {
		z += revUnusedRecord * float64(s.PriorUnused) / float64(s.PriorAWSGrants)
	}
	if s.OffHours {
		z += revOffHours
	}
	z += revPriorUse * float64(min(s.PriorUsed, 4))
	return sigmoid(z)
}
