package approve

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
	st "github.com/jitscore/jitscore/scoring/scoringtest"
)

var now = time.Date(2026, 3, 3, 10, 0, 5, 0, time.UTC)

func enforce() *Config {
	c := DefaultConfig()
	c.Mode = ModeEnforce
	return c
}

// routine is a request no guardrail fires on: alice, a medium-tier
// entitlement she uses, within the tier's duration cap, with a reason.
func routine() models.ScoreRequest {
	return st.Request("r1", st.Alice, st.Deploy, "2h", "deploy hotfix OPS-1234")
}

func fired(resp models.ScoreResponse) []string {
	var out []string
	for _, r := range resp.Reasons {
		if strings.HasPrefix(r.Factor, "guardrail:") {
			out = append(out, r.Factor)
		}
	}
	return out
}

func TestDecideThresholds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		risk     float64
		autoDeny bool
		want     models.Decision
	}{
		{"low risk auto-approves", 0.05, false, models.DecisionAutoApprove},
		{"at auto_approve_max auto-approves", 0.15, false, models.DecisionAutoApprove},
		{"just above auto_approve_max reviews", 0.150001, false, models.DecisionReview},
		{"middle reviews", 0.5, false, models.DecisionReview},
		{"high risk reviews without auto_deny", 0.95, false, models.DecisionReview},
		{"high risk denies with auto_deny", 0.95, true, models.DecisionDeny},
		{"at deny_min denies with auto_deny", 0.85, true, models.DecisionDeny},
		{"just below deny_min reviews", 0.849999, true, models.DecisionReview},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := enforce()
			cfg.Thresholds.AutoDeny = tt.autoDeny
			resp, rec := Decide(Input{Config: cfg, Snapshot: st.Org(), Model: st.ConstantModel(tt.risk),
				Request: routine(), Now: now})
			if resp.PolicyDecision != tt.want || resp.Decision != tt.want {
				t.Errorf("risk %g: decision %s / policy %s, want %s (reasons %v)",
					tt.risk, resp.Decision, resp.PolicyDecision, tt.want, resp.Reasons)
			}
			if g := fired(resp); len(g) != 0 {
				t.Errorf("guardrails fired on a routine request: %v", g)
			}
			if rec.PolicyDecision != resp.PolicyDecision || rec.Risk != resp.Risk {
				t.Errorf("audit record %+v does not match response %+v", rec, resp)
			}
		})
	}
}

func TestDecideGuardrails(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		edit  func(*Config, *models.ScoreRequest)
		guard string
		want  models.Decision
	}{
		{"critical tier is never auto-approved", func(_ *Config, r *models.ScoreRequest) {
			r.Entitlement, r.Duration = st.Admin, "30m"
		}, GuardNeverAutoApprove, models.DecisionReview},
		{"duration over the tier cap", func(_ *Config, r *models.ScoreRequest) { r.Duration = "24h" },
			GuardMaxDuration, models.DecisionReview},
		{"unknown requester reviews", func(_ *Config, r *models.ScoreRequest) { r.Requester = "mallory@evil.test" },
			GuardUnknownRequester, models.DecisionReview},
		{"unknown requester denies when configured", func(c *Config, r *models.ScoreRequest) {
			r.Requester = "mallory@evil.test"
			c.Guardrails.UnknownRequester = models.DecisionDeny
		}, GuardUnknownRequester, models.DecisionDeny},
		{"never-seen entitlement reviews", func(_ *Config, r *models.ScoreRequest) { r.Entitlement = "github:org-owner" },
			GuardNewEntitlement, models.DecisionReview},
		{"high tier without justification", func(_ *Config, r *models.ScoreRequest) {
			r.Entitlement, r.Duration, r.Justification = st.Refunds, "1h", ""
		}, GuardNoJustification, models.DecisionReview},
		{"contractor on a high tier", func(_ *Config, r *models.ScoreRequest) {
			r.Requester, r.Entitlement, r.Duration = st.Bob, st.Refunds, "1h"
		}, GuardContractor, models.DecisionReview},
		{"unparsable duration", func(_ *Config, r *models.ScoreRequest) { r.Duration = "a while" },
			GuardUnparsableDuration, models.DecisionReview},
		{"unparsable time", func(_ *Config, r *models.ScoreRequest) { r.RequestedAt = "yesterday" },
			GuardUnparsableTime, models.DecisionReview},
		{"NaN duration cannot slip past the cap", func(_ *Config, r *models.ScoreRequest) { r.Duration = "NaN" },
			GuardUnparsableDuration, models.DecisionReview},
		{"overflowing duration cannot slip past the cap", func(_ *Config, r *models.ScoreRequest) { r.Duration = "PT99999999H" },
			GuardUnparsableDuration, models.DecisionReview},
		{"missing duration cannot be checked against the cap", func(_ *Config, r *models.ScoreRequest) { r.Duration = "" },
			GuardNoDuration, models.DecisionReview},
		{"requested far in the future", func(_ *Config, r *models.ScoreRequest) { r.RequestedAt = "2099-01-01T00:00:00Z" },
			GuardImplausibleTime, models.DecisionReview},
		{"requested decades ago", func(_ *Config, r *models.ScoreRequest) { r.RequestedAt = "1970-01-01T00:00:00Z" },
			GuardImplausibleTime, models.DecisionReview},
		{"empty requester", func(_ *Config, r *models.ScoreRequest) { r.Requester = " " },
			GuardInvalidRequest, models.DecisionReview},
		{"tier from config pattern", func(c *Config, r *models.ScoreRequest) {
			c.Tiers = append([]TierRule{{Match: "aws:*:Payments*", Tier: models.TierCritical}}, c.Tiers...)
		}, GuardNeverAutoApprove, models.DecisionReview},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, req := enforce(), routine()
			tt.edit(cfg, &req)
			resp, _ := Decide(Input{Config: cfg, Snapshot: st.Org(), Model: st.ConstantModel(0.01),
				Request: req, Now: now})
			if resp.PolicyDecision != tt.want {
				t.Errorf("policy decision %s, want %s (reasons %v)", resp.PolicyDecision, tt.want, resp.Reasons)
			}
			found := false
			for _, g := range fired(resp) {
				found = found || g == tt.guard
			}
			if !found {
				t.Errorf("guardrail %s did not fire; fired %v", tt.guard, fired(resp))
			}
			for _, r := range resp.Reasons {
				if r.Detail == "" {
					t.Errorf("reason %s has no detail", r.Factor)
				}
			}
		})
	}
}

func TestDecideEveryGuardrailIsReported(t *testing.T) {
	t.Parallel()
	req := st.Request("r2", st.Bob, st.Refunds, "48h", "")
	resp, _ := Decide(Input{Config: enforce(), Snapshot: st.Org(), Model: st.ConstantModel(0.01), Request: req, Now: now})
	want := []string{GuardMaxDuration, GuardNoJustification, GuardContractor}
	got := fired(resp)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("fired %v, want all of %v", got, want)
	}
}

func TestDecideCannotScoreReviews(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    Input
		error string
	}{
		{"no model", Input{Snapshot: st.Org()}, "no model"},
		{"no snapshot", Input{Model: st.ConstantModel(0.01)}, "no feature snapshot"},
		{"no entitlement", Input{Snapshot: st.Org(), Model: st.ConstantModel(0.01),
			Request: models.ScoreRequest{Requester: st.Alice}}, "entitlement is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.in.Config, tt.in.Now = enforce(), now
			if tt.in.Request.Requester == "" {
				tt.in.Request = routine()
			}
			resp, rec := Decide(tt.in)
			if resp.PolicyDecision != models.DecisionReview || resp.Decision != models.DecisionReview {
				t.Errorf("decision %s / %s, want review", resp.Decision, resp.PolicyDecision)
			}
			if !strings.Contains(rec.Error, tt.error) {
				t.Errorf("audit error %q, want %q", rec.Error, tt.error)
			}
			if resp.Risk != 1 {
				t.Errorf("unscored risk %g, want 1", resp.Risk)
			}
			if resp.PolicyVersion == "" {
				t.Error("no policy version")
			}
		})
	}
}

func TestDecideShadowAnswersReview(t *testing.T) {
	t.Parallel()
	for _, risk := range []float64{0.01, 0.5, 0.99} {
		cfg := DefaultConfig() // shadow
		cfg.Thresholds.AutoDeny = true
		shadow, srec := Decide(Input{Config: cfg, Snapshot: st.Org(), Model: st.ConstantModel(risk), Request: routine(), Now: now})
		cfg2 := DefaultConfig()
		cfg2.Thresholds.AutoDeny = true
		cfg2.Mode = ModeEnforce
		enf, _ := Decide(Input{Config: cfg2, Snapshot: st.Org(), Model: st.ConstantModel(risk), Request: routine(), Now: now})
		if shadow.Decision != models.DecisionReview {
			t.Errorf("risk %g: shadow answered %s", risk, shadow.Decision)
		}
		if shadow.PolicyDecision != enf.PolicyDecision || enf.Decision != enf.PolicyDecision {
			t.Errorf("risk %g: shadow policy %s, enforce %s/%s", risk, shadow.PolicyDecision, enf.Decision, enf.PolicyDecision)
		}
		if srec.Mode != "shadow" || srec.PolicyDecision != shadow.PolicyDecision {
			t.Errorf("shadow audit record %+v", srec)
		}
	}
}

// TestGuardrailsOnlyTighten decides many random requests twice, with every
// guardrail on and with all of them off, and checks the guarded decision is
// never looser.
func TestGuardrailsOnlyTighten(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	people := []string{st.Alice, st.Bob, st.Carol, "stranger@example.com", ""}
	ents := []string{st.Deploy, st.Admin, st.Refunds, st.ReadOnly, "new:thing"}
	durs := []string{"", "30m", "2h", "8h", "48h", "bogus"}
	justs := []string{"", "deploy", "INC-42 rollback"}
	open := enforce()
	open.Guardrails = Guardrails{}
	for i := 0; i < 2000; i++ {
		guarded := enforce()
		guarded.Thresholds.AutoDeny = rng.IntN(2) == 0
		open.Thresholds.AutoDeny = guarded.Thresholds.AutoDeny
		if rng.IntN(2) == 0 {
			guarded.Guardrails.UnknownRequester = models.DecisionDeny
		}
		req := models.ScoreRequest{
			RequestID:     fmt.Sprint(i),
			Requester:     people[rng.IntN(len(people))],
			Entitlement:   ents[rng.IntN(len(ents))],
			Duration:      durs[rng.IntN(len(durs))],
			Justification: justs[rng.IntN(len(justs))],
			RequestedAt:   st.RequestedAt,
		}
		var model *scoring.Model
		if rng.IntN(10) > 0 {
			model = st.ConstantModel(rng.Float64()*0.98 + 0.01)
		}
		g, _ := Decide(Input{Config: guarded, Snapshot: st.Org(), Model: model, Request: req, Now: now})
		o, _ := Decide(Input{Config: open, Snapshot: st.Org(), Model: model, Request: req, Now: now})
		if g.PolicyDecision.Strictness() < o.PolicyDecision.Strictness() {
			t.Fatalf("request %+v: guarded %s looser than unguarded %s", req, g.PolicyDecision, o.PolicyDecision)
		}
		if g.Risk != o.Risk {
			t.Fatalf("guardrails changed the risk: %g vs %g", g.Risk, o.Risk)
		}
	}
}

func TestDecideWithModelQuotesFactors(t *testing.T) {
	t.Parallel()
	m := scoring.PriorModel([]string{"department", "title"}, now)
	resp, rec := Decide(Input{Config: enforce(), Snapshot: st.Org(), Model: m, Request: routine(), Now: now})
	if resp.ModelVersion != m.Version || resp.PolicyVersion != enforce().PolicyVersion() {
		t.Errorf("versions %q %q", resp.ModelVersion, resp.PolicyVersion)
	}
	if len(resp.Reasons) == 0 || len(resp.Reasons) > DefaultMaxReasons {
		t.Fatalf("reasons %v", resp.Reasons)
	}
	var text []string
	for _, r := range resp.Reasons {
		text = append(text, r.Detail)
	}
	all := strings.Join(text, " | ")
	// Alice is left out of her own peer group: 6 of the other 8 hold it.
	if !strings.Contains(all, "6 of 8 people in Payments / Backend Engineer were granted this") {
		t.Errorf("no peer sentence in %q", all)
	}
	if len(rec.Features) != len(scoring.FeatureNames()) {
		t.Errorf("audit features %d, want %d", len(rec.Features), len(scoring.FeatureNames()))
	}
	if rec.Requester != st.Alice {
		t.Errorf("audit requester %q", rec.Requester)
	}
}

func TestDecideIsDeterministic(t *testing.T) {
	t.Parallel()
	m := scoring.PriorModel([]string{"department", "title"}, now)
	a, _ := Decide(Input{Config: enforce(), Snapshot: st.Org(), Model: m, Request: routine(), Now: now})
	for i := 0; i < 20; i++ {
		b, _ := Decide(Input{Config: enforce(), Snapshot: st.Org(), Model: m, Request: routine(), Now: now})
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("same input, different answers:\n%v\n%v", a, b)
		}
	}
}

// BenchmarkDecide is one whole decision from the in-memory snapshot:
// parsing the request, the tier, the model's risk with five reasons, every
// guardrail and the audit record.
func BenchmarkDecide(b *testing.B) {
	m := scoring.PriorModel([]string{"department", "title"}, now)
	in := Input{Config: enforce(), Snapshot: st.Org(), Model: m, Request: routine(), Now: now}
	in.PolicyVersion = in.Config.PolicyVersion()
	b.ReportAllocs()
	for b.Loop() {
		Decide(in)
	}
}
