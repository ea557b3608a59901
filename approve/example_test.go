package approve_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
	st "github.com/jitscore/jitscore/scoring/scoringtest"
)

// Deciding one request in enforce mode: a routine request auto-approves,
// and the same person asking for the admin role is reviewed, with every
// guardrail that fired among the reasons.
func ExampleDecide() {
	cfg, err := approve.ParseConfig(strings.NewReader("mode: enforce\n"), "config.yaml")
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 3, 10, 0, 5, 0, time.UTC)
	model := scoring.PriorModel([]string{"department", "title"}, now)
	for _, req := range []models.ScoreRequest{
		st.Request("r1", st.Alice, st.Deploy, "2h", "deploy hotfix OPS-1234"),
		st.Request("r2", st.Alice, st.Admin, "4h", ""),
	} {
		resp, _ := approve.Decide(approve.Input{Config: cfg, Snapshot: st.Org(), Model: model, Request: req, Now: now})
		fmt.Printf("%s: %s (risk %.3f, tier %s)\n", resp.RequestID, resp.Decision, resp.Risk, resp.Tier)
		for _, r := range resp.Reasons {
			if strings.HasPrefix(r.Factor, "guardrail:") {
				fmt.Printf("  %s: %s\n", r.Factor, r.Detail)
			}
		}
	}
	// Output:
	// r1: auto_approve (risk 0.005, tier medium)
	// r2: review (risk 0.894, tier critical)
	//   guardrail:never_auto_approve: tier critical is never auto-approved
	//   guardrail:max_duration: requested 4h; tier critical allows at most 1h without review
	//   guardrail:new_entitlement: entitlement "aws:111122223333:AdministratorAccess" has no history and no catalogue entry
	//   guardrail:require_justification: tier critical needs a justification
}

// Checking a config file: every problem at once, each with its line.
func ExampleParseConfig() {
	_, err := approve.ParseConfig(strings.NewReader(`mode: enforce
thresholds:
  auto_approve_max: 0.9
  deny_min: 0.5
guardrails:
  max_duration: {high: 4 hours}
`), "config.yaml")
	if ve, ok := approve.IsValidationError(err); ok {
		for _, p := range ve.Problems {
			fmt.Println(ve.Format(p))
		}
	}
	// Output:
	// config.yaml:3: thresholds.auto_approve_max: auto_approve_max (0.9) must be below deny_min (0.5)
	// config.yaml:6: guardrails.max_duration.high: duration "4 hours": want e.g. 8h, 90d, PT8H or seconds
}
