package approve_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring/scoringtest"
)

// The real policy behind the real HTTP layer and the real audit log: each
// answer over loopback matches the policy, and after a fold the decisions
// view holds one row per answer with its guardrail reasons.
func TestServeWithThePolicyDeciderAnswersAndAuditsEveryDecision(t *testing.T) {
	t.Parallel()
	cfg := approve.DefaultConfig()
	cfg.Mode = approve.ModeEnforce
	dir := t.TempDir()
	audit, err := approve.OpenAuditLog(dir, approve.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := approve.NewServer(approve.ServerOptions{Audit: audit, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	dec := approve.NewPolicyDecider(cfg, scoringtest.Org(), scoringtest.ConstantModel(0.05)).WithClock(testClock)
	if err := srv.Install(approve.State{Decider: dec, Tokens: []string{tokenA}}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	body := func(req models.ScoreRequest) string {
		b, _ := json.Marshal(req)
		return string(b)
	}
	cases := []struct {
		name         string
		req          models.ScoreRequest
		wantDecision models.Decision
		wantFactor   string // a reason the answer must carry, "" for none
	}{
		{"routine low-tier request", scoringtest.Request("r1", scoringtest.Alice, scoringtest.ReadOnly, "8h", ""),
			models.DecisionAutoApprove, ""},
		{"unknown requester", scoringtest.Request("r2", "mallory@example.net", scoringtest.ReadOnly, "8h", ""),
			models.DecisionReview, approve.GuardUnknownRequester},
		{"entitlement never seen", scoringtest.Request("r3", scoringtest.Alice, "aws:444455556666:Billing", "1h", "x"),
			models.DecisionReview, approve.GuardNewEntitlement},
		{"critical tier", scoringtest.Request("r4", scoringtest.Alice, scoringtest.Admin, "1h", "incident 42"),
			models.DecisionReview, approve.GuardNeverAutoApprove},
	}
	for _, c := range cases {
		resp, a := scoreOK(t, hs.URL+"/v1/score", body(c.req))
		if a.code != 200 {
			continue
		}
		if resp.Decision != c.wantDecision || resp.PolicyDecision != c.wantDecision {
			t.Errorf("%s: decision %s/%s, want %s: %s", c.name, resp.Decision, resp.PolicyDecision, c.wantDecision, a.raw)
		}
		if resp.PolicyVersion != dec.PolicyVersion() || resp.ModelVersion != "m-constant" {
			t.Errorf("%s: versions %q %q", c.name, resp.PolicyVersion, resp.ModelVersion)
		}
		if c.wantFactor != "" && !strings.Contains(a.raw, `"factor":"`+c.wantFactor+`"`) {
			t.Errorf("%s: reasons lack %s: %s", c.name, c.wantFactor, a.raw)
		}
	}
	if err := audit.Close(); err != nil {
		t.Fatal(err)
	}

	db := openTestDB(t)
	st, err := approve.FoldAudit(context.Background(), db, dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Inserted != len(cases) {
		t.Errorf("folded %+v, want %d decisions", st, len(cases))
	}
	var decision, reasons, source string
	if err := db.QueryRow(`SELECT decision, reasons::VARCHAR, source FROM decisions WHERE request_id = 'r2'`).
		Scan(&decision, &reasons, &source); err != nil {
		t.Fatal(err)
	}
	if decision != "review" || source != "serve" || !strings.Contains(reasons, approve.GuardUnknownRequester) {
		t.Errorf("audit row of r2: %s %s %s", decision, source, reasons)
	}
}

func TestPolicyDeciderInShadowModeAnswersReviewAndRecordsThePolicy(t *testing.T) {
	t.Parallel()
	dec := approve.NewPolicyDecider(approve.DefaultConfig(), scoringtest.Org(), scoringtest.ConstantModel(0.05)).WithClock(testClock)
	resp, rec := dec.Score(context.Background(), scoringtest.Request("r1", scoringtest.Alice, scoringtest.ReadOnly, "8h", ""))
	if resp.Decision != models.DecisionReview || resp.PolicyDecision != models.DecisionAutoApprove {
		t.Errorf("shadow answered %s (policy %s), want review (policy auto_approve)", resp.Decision, resp.PolicyDecision)
	}
	if rec.Mode != string(approve.ModeShadow) || rec.PolicyDecision != models.DecisionAutoApprove {
		t.Errorf("audit record mode %q policy %s", rec.Mode, rec.PolicyDecision)
	}
}

func TestPolicyDeciderWithoutSnapshotOrModelReviewsEverything(t *testing.T) {
	t.Parallel()
	cfg := approve.DefaultConfig()
	cfg.Mode = approve.ModeEnforce
	dec := approve.NewPolicyDecider(cfg, nil, nil).WithClock(testClock)
	resp, rec := dec.Score(context.Background(), scoringtest.Request("r1", scoringtest.Alice, scoringtest.ReadOnly, "8h", ""))
	if resp.Decision != models.DecisionReview || rec.Error == "" {
		t.Errorf("answered %s with error %q, want review with the reason", resp.Decision, rec.Error)
	}
}

func TestRenewalsOverHTTPAnswerFromTheSnapshot(t *testing.T) {
	t.Parallel()
	srv, err := approve.NewServer(approve.ServerOptions{Audit: &countingSink{}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	dec := approve.NewPolicyDecider(approve.DefaultConfig(), scoringtest.Org(), scoringtest.ConstantModel(0.05)).WithClock(testClock)
	if err := srv.Install(approve.State{Decider: dec, Tokens: []string{tokenA}}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	a := post(t, hs.URL+"/v1/renewals", tokenA, `{"grants":[{"request_id":"no-such-grant"}]}`)
	var body struct{ Actions []models.Renewal }
	if err := json.Unmarshal([]byte(a.raw), &body); err != nil || a.code != 200 {
		t.Fatalf("renewals: %d %s (%v)", a.code, a.raw, err)
	}
	if len(body.Actions) != 1 || body.Actions[0].Action != models.RenewalReview ||
		body.Actions[0].Reasons[0].Factor != approve.RenewalUnknownGrant {
		t.Errorf("unknown grant answered %s, want review because it is unknown", a.raw)
	}
	if a := post(t, hs.URL+"/v1/renewals", tokenA, `{"at":"`+scoringtest.AsOfISO+`","within":"7d"}`); a.code != 200 ||
		!strings.HasPrefix(a.raw, `{"actions":[`) {
		t.Errorf("window query answered %d %s, want 200 with an actions array", a.code, a.raw)
	}
}

// testClock is the decision time of the fixture requests: the hour after
// scoringtest.RequestedAt, so that their times are plausible.
func testClock() time.Time {
	t, err := time.Parse(time.RFC3339, scoringtest.RequestedAt)
	if err != nil {
		panic(err)
	}
	return t.Add(time.Hour)
}
