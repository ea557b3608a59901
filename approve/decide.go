package approve

import (
	"fmt"
	"strings"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
)

// DefaultMaxReasons is how many model factors a decision quotes when Input
// does not say.
const DefaultMaxReasons = 5

// Guardrail factor names, as they appear in Reason.Factor. Every fired
// guardrail is quoted, whatever the decision.
const (
	GuardNotScored          = "guardrail:not_scored"
	GuardInvalidRequest     = "guardrail:invalid_request"
	GuardUnparsableTime     = "guardrail:unparsable_time"
	GuardUnparsableDuration = "guardrail:unparsable_duration"
	GuardNeverAutoApprove   = "guardrail:never_auto_approve"
	GuardMaxDuration        = "guardrail:max_duration"
	GuardNoDuration         = "guardrail:no_duration"
	GuardImplausibleTime    = "guardrail:implausible_time"
	GuardUnknownRequester   = "guardrail:unknown_requester"
	GuardNewEntitlement     = "guardrail:new_entitlement"
	GuardNoJustification    = "guardrail:require_justification"
	GuardContractor         = "guardrail:contractor"
)

// Limits on requested_at relative to the decision time; see Decide.
const (
	MaxClockSkew  = time.Hour
	MaxRequestAge = 30 * 24 * time.Hour
)

// Input is everything one decision depends on. Decide reads nothing else:
// no clock, no file, no network.
type Input struct {
	// Config is the policy; nil means DefaultConfig (shadow mode).
	Config *Config
	// PolicyVersion is Config.PolicyVersion(), passed in so that a server
	// computes it once per config load; "" computes it here.
	PolicyVersion string
	// Snapshot and Model score the request; either nil means the request
	// cannot be scored and is reviewed.
	Snapshot *features.Snapshot
	Model    *scoring.Model
	Request  models.ScoreRequest
	// Now is when the decision is made, and the request time when the
	// request does not carry requested_at.
	Now time.Time
	// Source goes into the audit record ("serve", "score", "backtest").
	Source string
	// MaxReasons caps the model factors quoted (DefaultMaxReasons when 0).
	MaxReasons int
}

// Decide turns one request into a decision. It is a pure function of in.
//
// Order of evaluation, all of it always run so that the reasons are
// complete:
//  1. the request is read: requested_at (RFC 3339, or Now when absent) and
//     duration (models.ParseDuration, 0 when absent); a value that does not
//     parse fires a guardrail and the rest is still scored;
//  2. the tier: the catalogue's, else the first matching config pattern,
//     else medium;
//  3. the model's risk, when a model and a snapshot are given;
//  4. the thresholds: risk <= auto_approve_max auto-approves, risk >=
//     deny_min denies (reviews unless auto_deny), the rest reviews; a
//     request that could not be scored reviews;
//  5. every guardrail, each of which can only raise the decision to review
//     (or to deny, for unknown_requester and new_entitlement set to deny).
//
// The policy decision is the strictest of steps 4 and 5. In shadow mode the
// answered decision is review and PolicyDecision carries the policy's; in
// enforce mode they are equal. A request without a duration, for a tier
// with a max_duration, is reviewed: its length cannot be checked. A
// requested_at more than MaxClockSkew after Now, or more than MaxRequestAge
// before it, is reviewed too: such a request is a replay, a clock fault or
// a forgery, and its time-of-day features cannot be trusted.
func Decide(in Input) (models.ScoreResponse, AuditRecord) {
	cfg := in.Config
	if cfg == nil {
		cfg = DefaultConfig()
	}
	pv := in.PolicyVersion
	if pv == "" {
		pv = cfg.PolicyVersion()
	}
	req := in.Request
	d := decision{decision: models.DecisionAutoApprove}

	// 1. The request.
	at := in.Now
	if s := strings.TrimSpace(req.RequestedAt); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			d.guard(GuardUnparsableTime, models.DecisionReview,
				fmt.Sprintf("requested_at %q is not an RFC 3339 time; scored as of now", s))
		} else {
			at = t
			if !in.Now.IsZero() && (t.After(in.Now.Add(MaxClockSkew)) || t.Before(in.Now.Add(-MaxRequestAge))) {
				d.guard(GuardImplausibleTime, models.DecisionReview,
					fmt.Sprintf("requested_at %s is implausibly far from the decision time %s",
						t.UTC().Format(time.RFC3339), in.Now.UTC().Format(time.RFC3339)))
			}
		}
	}
	var dur time.Duration
	if s := strings.TrimSpace(req.Duration); s != "" {
		v, err := models.ParseDuration(s)
		if err != nil {
			d.guard(GuardUnparsableDuration, models.DecisionReview, fmt.Sprintf("duration: %v", err))
		} else {
			dur = v
		}
	}
	invalid := ""
	switch {
	case strings.TrimSpace(req.Requester) == "":
		invalid = "requester is empty"
	case strings.TrimSpace(req.Entitlement) == "":
		invalid = "entitlement is empty"
	}
	if invalid != "" {
		d.guard(GuardInvalidRequest, models.DecisionReview, invalid)
	}

	// 2. The tier.
	snap := in.Snapshot
	var ent *features.EntitlementStat
	var catalogue models.Tier
	if snap != nil {
		ent = snap.Entitlements[req.Entitlement]
		if ent != nil && ent.Catalogued {
			catalogue = ent.Tier
		}
	}
	tier := cfg.TierOf(req.Entitlement, catalogue)

	// 3. The risk.
	rec := AuditRecord{
		DecidedAt:     in.Now.UTC(),
		Source:        in.Source,
		Request:       req, // the audit sink keeps only the justification's length
		Tier:          tier,
		PolicyVersion: pv,
		Mode:          string(cfg.Mode),
	}
	risk := 1.0
	var sc scoring.Score
	scored := false
	switch {
	case invalid != "":
		rec.Error = invalid
	case in.Model == nil:
		rec.Error = "no model loaded"
	case snap == nil:
		rec.Error = "no feature snapshot loaded"
	default:
		in.Model.ScoreInto(snap, scoring.Request{
			Requester:     req.Requester,
			Entitlement:   req.Entitlement,
			RequestedAt:   at,
			Duration:      dur,
			Justification: req.Justification,
			Tier:          tier,
		}, &sc)
		rec.Features = sc.Features()
		rec.ModelVersion = in.Model.Version
		if sc.Risk >= 0 && sc.Risk <= 1 {
			risk, scored = roundRisk(sc.Risk), true
		} else {
			rec.Error = "the model gave no usable risk"
		}
	}
	if !scored {
		d.guard(GuardNotScored, models.DecisionReview, "could not be scored: "+rec.Error+"; a human decides")
	}

	// 4. The thresholds.
	th := models.DecisionReview
	if scored {
		switch {
		case risk <= cfg.Thresholds.AutoApproveMax:
			th = models.DecisionAutoApprove
		case risk >= cfg.Thresholds.DenyMin && cfg.Thresholds.AutoDeny:
			th = models.DecisionDeny
		}
	}
	d.decision = models.Stricter(d.decision, th)

	// 5. The guardrails.
	g := cfg.Guardrails
	if hasTier(g.NeverAutoApprove, tier) {
		d.guard(GuardNeverAutoApprove, models.DecisionReview,
			fmt.Sprintf("tier %s is never auto-approved", tier))
	}
	if limit, ok := g.MaxDuration[tier]; ok {
		switch {
		case dur > limit:
			d.guard(GuardMaxDuration, models.DecisionReview,
				fmt.Sprintf("requested %s; tier %s allows at most %s without review",
					scoring.ShortDuration(dur), tier, scoring.ShortDuration(limit)))
		case dur == 0:
			d.guard(GuardNoDuration, models.DecisionReview,
				fmt.Sprintf("no usable duration given; tier %s allows at most %s without review",
					tier, scoring.ShortDuration(limit)))
		}
	}
	var person *features.Person
	if snap != nil && invalid == "" {
		if u, ok := snap.Resolve(req.Requester); ok {
			person = snap.People[u]
			rec.Requester = u
		}
		if person == nil {
			d.guard(GuardUnknownRequester, g.UnknownRequester,
				fmt.Sprintf("requester %q has no identity record", req.Requester))
		}
		if (ent == nil || (ent.Requests == 0 && !ent.Catalogued)) && catalogue == "" {
			d.guard(GuardNewEntitlement, g.NewEntitlement,
				fmt.Sprintf("entitlement %q has no history and no catalogue entry", req.Entitlement))
		}
	}
	if hasTier(g.RequireJustification, tier) && strings.TrimSpace(req.Justification) == "" {
		d.guard(GuardNoJustification, models.DecisionReview,
			fmt.Sprintf("tier %s needs a justification", tier))
	}
	if person != nil && isContractor(g.Contractors.EmploymentTypes, person.EmploymentType) &&
		hasTier(g.Contractors.NeverAutoApprove, tier) {
		d.guard(GuardContractor, models.DecisionReview,
			fmt.Sprintf("%s is a %s; tier %s is not auto-approved for contractors", rec.Requester,
				person.EmploymentType, tier))
	}

	// The answer.
	n := in.MaxReasons
	if n <= 0 {
		n = DefaultMaxReasons
	}
	reasons := d.reasons
	if scored {
		reasons = append(reasons, sc.Reasons(n)...)
	}
	if reasons == nil {
		reasons = []models.Reason{}
	}
	answer := d.decision
	if cfg.Mode != ModeEnforce {
		answer = models.DecisionReview
	}
	resp := models.ScoreResponse{
		RequestID:      req.RequestID,
		Risk:           roundRisk(risk),
		Decision:       answer,
		PolicyDecision: d.decision,
		Tier:           tier,
		Reasons:        reasons,
		ModelVersion:   rec.ModelVersion,
		PolicyVersion:  pv,
	}
	rec.Risk = resp.Risk
	rec.Decision = resp.Decision
	rec.PolicyDecision = resp.PolicyDecision
	rec.Reasons = resp.Reasons
	return resp, rec
}

// decision accumulates the policy decision and the guardrails that fired.
type decision struct {
	decision models.Decision
	reasons  []models.Reason
}

// guard records a fired guardrail and raises the decision to at least
// floor; it can never lower it.
func (d *decision) guard(factor string, floor models.Decision, detail string) {
	if floor.Strictness() < models.DecisionReview.Strictness() {
		// Validate refuses auto_approve as a guardrail decision; a
		// config built in code that sets it still only gets review.
		floor = models.DecisionReview
	}
	d.decision = models.Stricter(d.decision, floor)
	d.reasons = append(d.reasons, models.Reason{Factor: factor, Detail: detail})
}

func hasTier(ts []models.Tier, t models.Tier) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

func isContractor(types []string, employment string) bool {
	e := strings.TrimSpace(employment)
	if e == "" {
		return false
	}
	for _, t := range types {
		if strings.EqualFold(t, e) {
			return true
		}
	}
	return false
}

// roundRisk keeps six decimals: enough to compare with any threshold a
// config can name, and stable in JSON.
func roundRisk(r float64) float64 {
	return float64(int64(r*1e6+0.5)) / 1e6
}
