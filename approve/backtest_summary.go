package approve

import (
	"sort"

	"github.com/jitscore/jitscore/models"
)

// PairStats is what one threshold pair would have done to a set of
// replayed requests. Counts are requests; rates are nil where their
// denominator is zero.
//
//	AutoShare            AutoApproved / Scored
//	FalseApprovalRate    FalseApprovals / AutoApproved: auto-approved, but the reviewer denied
//	UnusedGrantRate      UnusedGrants / AutoGrants: auto-approved grants CloudTrail can observe
//	                     (AWS entitlements) with no call in their window
//	DenyShare            Denied / Scored: the policy denies (only with auto_deny, or a guardrail
//	                     set to deny)
//	FalseDenialRate      FalseDenials / Denied: denied, but the reviewer approved
//	HighRiskShare        HighRisk / Scored: risk at or above deny_min, denied or flagged for
//	                     review whatever auto_deny says
//	HighRiskApprovedRate HighRiskApproved / HighRisk: of those, the reviewer approved
//	HoursSaved           (AutoApproved + Denied) × minutes per review / 60: reviews no human
//	                     would have done. A false approval still saves its review; its cost is
//	                     FalseApprovalRate, reported beside it.
type PairStats struct {
	ThresholdPair
	Current bool `json:"current"`

	Scored           int `json:"scored"`
	AutoApproved     int `json:"auto_approved"`
	FalseApprovals   int `json:"false_approvals"`
	AutoGrants       int `json:"auto_grants_observable"`
	UnusedGrants     int `json:"auto_grants_unused"`
	Reviewed         int `json:"reviewed"`
	Denied           int `json:"denied"`
	FalseDenials     int `json:"false_denials"`
	HighRisk         int `json:"high_risk"`
	HighRiskApproved int `json:"high_risk_approved"`

	AutoShare            *float64 `json:"auto_share"`
	FalseApprovalRate    *float64 `json:"false_approval_rate"`
	UnusedGrantRate      *float64 `json:"unused_grant_rate"`
	DenyShare            *float64 `json:"deny_share"`
	FalseDenialRate      *float64 `json:"false_denial_rate"`
	HighRiskShare        *float64 `json:"high_risk_share"`
	HighRiskApprovedRate *float64 `json:"high_risk_approved_rate"`
	HoursSaved           float64  `json:"hours_saved"`
}

// summarise applies pair to rows. It is a pure function of its arguments.
func summarise(rows []ReplayedRequest, pair ThresholdPair, current, autoDeny bool,
	minutesPerReview float64,
) PairStats {
	s := PairStats{ThresholdPair: pair, Current: current, Scored: len(rows)}
	for _, r := range rows {
		switch sweepDecision(r.Risk, r.Floor, pair, autoDeny) {
		case models.DecisionAutoApprove:
			s.AutoApproved++
			if r.HumanDenied {
				s.FalseApprovals++
			}
			if r.Granted && r.Observable {
				s.AutoGrants++
				if !r.Used {
					s.UnusedGrants++
				}
			}
		case models.DecisionDeny:
			s.Denied++
			if !r.HumanDenied {
				s.FalseDenials++
			}
		default:
			s.Reviewed++
		}
		if r.Risk >= pair.DenyMin {
			s.HighRisk++
			if !r.HumanDenied {
				s.HighRiskApproved++
			}
		}
	}
	s.AutoShare = share(s.AutoApproved, s.Scored)
	s.FalseApprovalRate = share(s.FalseApprovals, s.AutoApproved)
	s.UnusedGrantRate = share(s.UnusedGrants, s.AutoGrants)
	s.DenyShare = share(s.Denied, s.Scored)
	s.FalseDenialRate = share(s.FalseDenials, s.Denied)
	s.HighRiskShare = share(s.HighRisk, s.Scored)
	s.HighRiskApprovedRate = share(s.HighRiskApproved, s.HighRisk)
	s.HoursSaved = float64(s.AutoApproved+s.Denied) * minutesPerReview / 60
	return s
}

// sweepDecision is Decide's step 4 (the thresholds) combined with a
// guardrail floor: the policy decision for a request of this risk under
// pair. Backtest checks it against Decide on the config's own pair.
func sweepDecision(risk float64, floor models.Decision, pair ThresholdPair, autoDeny bool) models.Decision {
	th := models.DecisionReview
	switch {
	case risk <= pair.AutoApproveMax:
		th = models.DecisionAutoApprove
	case risk >= pair.DenyMin && autoDeny:
		th = models.DecisionDeny
	}
	return models.Stricter(th, floor)
}

// sweepPairs is the grid with the current pair added, without pairs whose
// auto_approve_max is not below deny_min, sorted and without repeats.
func sweepPairs(autoMax, denyMin []float64, current ThresholdPair) []ThresholdPair {
	seen := map[ThresholdPair]bool{current: true}
	out := []ThresholdPair{current}
	for _, a := range append(append([]float64(nil), autoMax...), current.AutoApproveMax) {
		for _, d := range append(append([]float64(nil), denyMin...), current.DenyMin) {
			p := ThresholdPair{AutoApproveMax: a, DenyMin: d}
			if a >= d || seen[p] {
				continue
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].AutoApproveMax != out[j].AutoApproveMax {
			return out[i].AutoApproveMax < out[j].AutoApproveMax
		}
		return out[i].DenyMin < out[j].DenyMin
	})
	return out
}

// curveSteps are the auto_approve_max values of BacktestResult.Curve.
func curveSteps() []float64 {
	out := make([]float64, 0, 99)
	for i := 1; i <= 99; i++ {
		out = append(out, float64(i)/100)
	}
	return out
}

// share is k/n, nil when n is 0.
func share(k, n int) *float64 {
	if n == 0 {
		return nil
	}
	v := float64(k) / float64(n)
	return &v
}
