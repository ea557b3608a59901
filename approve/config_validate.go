package approve

import (
	"fmt"
	"math"
	"net"
	"strings"

	"github.com/jitscore/jitscore/models"
)

// Validate checks the whole config and returns a *ValidationError listing
// every problem, each with its field path and, for a config read from a
// file, the line of the value; nil when the config is usable. It never
// stops at the first problem.
func (c *Config) Validate() error {
	v := validator{c: c, ve: &ValidationError{File: c.source}}

	if c.Mode != ModeShadow && c.Mode != ModeEnforce {
		v.add("mode", "want shadow or enforce, got %q", c.Mode)
	}

	t := c.Thresholds
	v.unit("thresholds.auto_approve_max", t.AutoApproveMax)
	v.unit("thresholds.deny_min", t.DenyMin)
	if t.AutoApproveMax >= t.DenyMin {
		path := "thresholds.auto_approve_max"
		if c.Line(path) == 0 {
			path = "thresholds.deny_min"
		}
		v.add(path, "auto_approve_max (%g) must be below deny_min (%g)", t.AutoApproveMax, t.DenyMin)
	}

	for i, r := range c.Tiers {
		p := fmt.Sprintf("tiers[%d]", i)
		if err := checkGlob(r.Match); err != nil {
			v.add(p+".match", "%v", err)
		}
		v.tier(p+".tier", r.Tier)
	}

	g := c.Guardrails
	v.tiers("guardrails.never_auto_approve", g.NeverAutoApprove)
	for tier, d := range g.MaxDuration {
		p := "guardrails.max_duration." + string(tier)
		if tier.Rank() < 0 {
			v.add(p, "unknown tier %q (want low, medium, high or critical)", tier)
		}
		if d <= 0 {
			v.add(p, "must be a positive duration")
		}
	}
	v.guardDecision("guardrails.unknown_requester", g.UnknownRequester)
	v.guardDecision("guardrails.new_entitlement", g.NewEntitlement)
	v.tiers("guardrails.require_justification", g.RequireJustification)
	for i, e := range g.Contractors.EmploymentTypes {
		if strings.TrimSpace(e) == "" {
			v.add(fmt.Sprintf("guardrails.contractors.employment_types[%d]", i), "must not be empty")
		}
	}
	v.tiers("guardrails.contractors.never_auto_approve", g.Contractors.NeverAutoApprove)

	if len(c.Personas.Attributes) == 0 {
		v.add("personas.attributes", "name at least one identity attribute")
	}
	for i, a := range c.Personas.Attributes {
		if strings.TrimSpace(a) == "" {
			v.add(fmt.Sprintf("personas.attributes[%d]", i), "must not be empty")
		}
	}
	if c.Personas.MinMembers < 1 {
		v.add("personas.min_members", "must be at least 1, got %d", c.Personas.MinMembers)
	}
	v.positive("windows.peer", int64(c.Windows.Peer))
	v.positive("windows.usage", int64(c.Windows.Usage))

	r := c.Renewal
	if r.UnusedDays < 1 {
		v.add("renewal.unused_days", "must be at least 1, got %d", r.UnusedDays)
	}
	v.positive("renewal.within", int64(r.Within))
	if r.MinCalls < 0 {
		v.add("renewal.min_calls", "must not be negative, got %d", r.MinCalls)
	}
	v.tiers("renewal.review_tiers", r.ReviewTiers)
	if r.MinActiveDays < 1 {
		v.add("renewal.min_active_days", "must be at least 1, got %d", r.MinActiveDays)
	}
	v.positive("renewal.min_age", int64(r.MinAge))
	if r.UnusedDays >= 1 && int64(r.MinAge) > int64(r.UnusedDays)*int64(day) {
		v.add("renewal.min_age", "must not be longer than renewal.unused_days (%d days)", r.UnusedDays)
	}
	if r.Apply {
		// A missing field has no line of its own: name the line of
		// apply: true, which asks for it.
		if !strings.HasPrefix(r.IdentityCenterInstanceARN, "arn:") {
			v.addNear("renewal.identity_center_instance_arn", "renewal.apply",
				"apply: true needs the Identity Center instance ARN")
		}
		if r.IdentityStoreID == "" {
			v.addNear("renewal.identity_store_id", "renewal.apply", "apply: true needs the identity store id")
		}
	}

	s := c.Server
	if _, port, err := net.SplitHostPort(s.Listen); err != nil || port == "" {
		v.add("server.listen", "want host:port, got %q", s.Listen)
	}
	// The message never quotes a token: config check output ends up in
	// terminals and CI logs.
	for i, tok := range s.Tokens {
		switch p := fmt.Sprintf("server.tokens[%d]", i); {
		case strings.TrimSpace(tok) == "":
			v.add(p, "must not be empty")
		case len(tok) < MinTokenLength:
			v.add(p, "shorter than %d characters (serve refuses it)", MinTokenLength)
		}
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		v.add("server.tls_cert", "tls_cert and tls_key go together: set both or neither")
	}
	v.positive("server.max_body_bytes", s.MaxBodyBytes)
	v.positive("server.read_timeout", int64(s.ReadTimeout))
	v.positive("server.write_timeout", int64(s.WriteTimeout))
	v.positive("server.idle_timeout", int64(s.IdleTimeout))
	v.positive("server.request_timeout", int64(s.RequestTimeout))

	if !(c.Backtest.MinutesPerReview > 0) || math.IsInf(c.Backtest.MinutesPerReview, 0) {
		v.add("backtest.minutes_per_review", "must be a positive number of minutes")
	}
	v.positive("backtest.period", int64(c.Backtest.Period))

	if len(v.ve.Problems) == 0 {
		return nil
	}
	sortProblems(v.ve.Problems)
	return v.ve
}

// validator collects problems against one config.
type validator struct {
	c  *Config
	ve *ValidationError
}

func (v *validator) add(path, format string, args ...any) {
	v.ve.Problems = append(v.ve.Problems, Problem{
		Path: path,
		Line: v.c.Line(path),
		Msg:  fmt.Sprintf(format, args...),
	})
}

// addNear adds a problem at path with the line of path, or when the file
// does not set path, the line of near, or else of the section holding it.
func (v *validator) addNear(path, near, format string, args ...any) {
	line := v.c.Line(path)
	if line == 0 {
		line = v.c.Line(near)
	}
	if i := strings.LastIndexByte(near, '.'); line == 0 && i > 0 {
		line = v.c.Line(near[:i])
	}
	v.ve.Problems = append(v.ve.Problems, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) unit(path string, x float64) {
	if !(x >= 0 && x <= 1) {
		v.add(path, "must be in [0, 1], got %g", x)
	}
}

func (v *validator) positive(path string, x int64) {
	if x <= 0 {
		v.add(path, "must be positive")
	}
}

func (v *validator) tier(path string, t models.Tier) {
	if t.Rank() < 0 {
		v.add(path, "unknown tier %q (want low, medium, high or critical)", t)
	}
}

func (v *validator) tiers(path string, ts []models.Tier) {
	for i, t := range ts {
		v.tier(fmt.Sprintf("%s[%d]", path, i), t)
	}
}

// guardDecision accepts only decisions at least as strict as review: a
// guardrail may never answer auto_approve.
func (v *validator) guardDecision(path string, d models.Decision) {
	if d != models.DecisionReview && d != models.DecisionDeny {
		v.add(path, "want review or deny, got %q", d)
	}
}

// checkGlob accepts a tier pattern: non-empty, with * and ? as the only
// special characters. Brackets, braces and backslashes are refused rather
// than taken literally, since a reader would expect them to mean a class or
// an escape.
func checkGlob(p string) error {
	if strings.TrimSpace(p) == "" {
		return fmt.Errorf("empty pattern")
	}
	if i := strings.IndexAny(p, `[]{}\`); i >= 0 {
		return fmt.Errorf("pattern %q: %q is not supported; only * and ? are special", p, p[i])
	}
	return nil
}

// globMatch reports whether s matches pattern, where * matches any run of
// characters (":" included, empty too) and ? matches exactly one byte. It
// runs in O(len(pattern)·len(s)) at worst, without allocating.
func globMatch(pattern, s string) bool {
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(pattern) && (pattern[pi] == '?' || pattern[pi] == s[si]):
			pi++
			si++
		case pi < len(pattern) && pattern[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

// TierOf gives the tier of an entitlement: the catalogue's tier when it has
// one, else the tier of the first rule in Tiers whose pattern matches id,
// else medium.
func (c *Config) TierOf(id string, catalogue models.Tier) models.Tier {
	if catalogue.Rank() >= 0 {
		return catalogue
	}
	for _, r := range c.Tiers {
		if globMatch(r.Match, id) {
			return r.Tier
		}
	}
	return models.TierMedium
}
