package approve

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

var btOrigin = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC) // a Monday

// btOrg is a synthetic history large enough for scoring.Train to fit a
// model: 36 people in three departments, each asking mostly for their own
// department's entitlement (approved, granted for 8 hours, usually used)
// and now and then for another department's (usually denied), about five
// requests a day for 150 days. It is deterministic.
func btOrg(t *testing.T) *features.Data {
	t.Helper()
	depts := []string{"Payments", "Data", "Platform"}
	ents := []string{"aws:111122223333:PaymentsDeploy", "aws:111122223333:DataAnalyst", "aws:111122223333:PlatformOps"}
	d := &features.Data{Keys: map[string]string{}}
	for i := 0; i < 36; i++ {
		u := fmt.Sprintf("p%02d@example.com", i)
		d.Identities = append(d.Identities, models.Identity{User: u, Attributes: map[string]string{
			"department": depts[i%3], "title": "Engineer", "employment_type": "employee",
		}})
		d.Keys[u] = u
	}
	rng := rand.New(rand.NewPCG(7, 11))
	n := 0
	for day := 0; day < 150; day++ {
		for k := 0; k < 5; k++ {
			n++
			who := rng.IntN(36)
			ent := who % 3
			if rng.Float64() < 0.3 {
				ent = (ent + 1 + rng.IntN(2)) % 3
			}
			at := btOrigin.Add(time.Duration(day)*24*time.Hour + time.Duration(9+k)*time.Hour)
			q := models.Request{
				RequestID:   fmt.Sprintf("r%04d", n),
				Requester:   d.Identities[who].User,
				Entitlement: ents[ent],
				RequestedAt: at,
				Duration:    8 * time.Hour,
				DecidedAt:   at.Add(20 * time.Minute),
				DecidedBy:   "reviewer@example.com",
			}
			own := ent == who%3
			approve := (own && rng.Float64() < 0.95) || (!own && rng.Float64() < 0.15)
			if !approve {
				q.Status = models.StatusDenied
				d.Requests = append(d.Requests, q)
				continue
			}
			q.Status = models.StatusExpired
			q.GrantedAt, q.ExpiresAt = q.DecidedAt, q.DecidedAt.Add(8*time.Hour)
			d.Requests = append(d.Requests, q)
			d.Grants = append(d.Grants, models.Grant{RequestID: q.RequestID, Requester: q.Requester,
				Entitlement: q.Entitlement, GrantedAt: q.GrantedAt, ExpiresAt: q.ExpiresAt})
			if own && rng.Float64() < 0.8 {
				f := q.GrantedAt.Add(time.Hour)
				d.Usage = append(d.Usage, features.UsageDay{Person: q.Requester, Entitlement: q.Entitlement,
					Day: midnight(f), Calls: 12, FirstAt: f, LastAt: f.Add(2 * time.Hour)})
			}
		}
	}
	return d
}

// poisonFrom returns a copy of d in which everything learnt at or after
// cut is impossible: every outcome is flipped and decided at once, every
// grant is revoked at once, a stranger floods the history with denied
// requests for every entitlement, and everyone calls everything every day.
// What each request asked for (who, what, when, how long) is untouched.
func poisonFrom(d *features.Data, cut time.Time) *features.Data {
	p := &features.Data{Identities: d.Identities, Keys: d.Keys, Catalogue: d.Catalogue}
	for _, q := range d.Requests {
		if !q.RequestedAt.Before(cut) {
			if q.Status == models.StatusDenied {
				q.Status, q.GrantedAt, q.ExpiresAt = models.StatusApproved, q.RequestedAt, q.RequestedAt.Add(1000*time.Hour)
			} else {
				q.Status, q.GrantedAt, q.ExpiresAt = models.StatusDenied, time.Time{}, time.Time{}
			}
			q.DecidedAt, q.DecidedBy = q.RequestedAt, "poison"
		}
		p.Requests = append(p.Requests, q)
	}
	for _, g := range d.Grants {
		if !g.GrantedAt.Before(cut) {
			g.RevokedAt = g.GrantedAt
		}
		p.Grants = append(p.Grants, g)
	}
	p.Usage = append(p.Usage, d.Usage...)
	ents := map[string]bool{}
	for _, q := range d.Requests {
		ents[q.Entitlement] = true
	}
	for day := cut; day.Before(cut.Add(200 * 24 * time.Hour)); day = day.Add(24 * time.Hour) {
		for e := range ents {
			p.Requests = append(p.Requests, models.Request{RequestID: "poison-" + e + day.Format(time.DateOnly),
				Requester: "stranger", Entitlement: e, RequestedAt: day, Status: models.StatusDenied,
				DecidedAt: day, DecidedBy: "poison"})
			for _, id := range d.Identities {
				p.Usage = append(p.Usage, features.UsageDay{Person: id.User, Entitlement: e, Day: day,
					Calls: 1e6, FirstAt: day, LastAt: day.Add(time.Hour)})
			}
		}
	}
	return p
}

func TestBacktestNeverSeesTheFuture(t *testing.T) {
	t.Parallel()
	data := btOrg(t)
	cfg := DefaultConfig()
	cfg.Backtest.Period = 28 * 24 * time.Hour
	clean, err := Backtest(data, cfg, BacktestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const k = 3 // a period with a fitted model and periods before it
	if len(clean.Periods) <= k {
		t.Fatalf("got %d periods, want more than %d", len(clean.Periods), k)
	}
	cut := clean.Periods[k].Start
	if clean.Periods[k].ColdStart {
		t.Fatalf("period %d is a cold start (%s); the test needs a fitted model", k, clean.Periods[k].ColdStartWhy)
	}
	for _, p := range clean.Periods {
		if !p.SnapshotAsOf.Equal(p.Start) {
			t.Errorf("period %d: snapshot as of %s, want its start %s", p.Index, p.SnapshotAsOf, p.Start)
		}
		if !p.TrainedThrough.IsZero() && !p.TrainedThrough.Before(p.Start) {
			t.Errorf("period %d: trained on a decision at %s, not before its start %s", p.Index, p.TrainedThrough, p.Start)
		}
	}

	poisoned, err := Backtest(poisonFrom(data, cut), cfg, BacktestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		period int
		id     string
	}
	after := map[key]ReplayedRequest{}
	for _, r := range poisoned.Requests {
		after[key{r.Period, r.RequestID}] = r
	}
	compared := 0
	for _, r := range clean.Requests {
		if r.Period > k {
			continue
		}
		got, ok := after[key{r.Period, r.RequestID}]
		if !ok {
			t.Errorf("period %d: request %s not replayed on poisoned data", r.Period, r.RequestID)
			continue
		}
		if got.Risk != r.Risk || got.Floor != r.Floor || got.Decision != r.Decision {
			t.Errorf("period %d request %s: clean risk %v floor %s decision %s, poisoned %v %s %s",
				r.Period, r.RequestID, r.Risk, r.Floor, r.Decision, got.Risk, got.Floor, got.Decision)
		}
		compared++
	}
	if compared < 100 {
		t.Fatalf("compared only %d requests", compared)
	}
	for i := 0; i <= k; i++ {
		c, p := clean.Periods[i], poisoned.Periods[i]
		// TODO(backtest): a cold-start prior's version is not compared:
		// scoring.PriorModel sums its intercept over a map, so its last bits
		// (and so its hash) vary from run to run; the risks, rounded to six
		// decimals, do not.
		if (!c.ColdStart && c.ModelVersion != p.ModelVersion) || c.SnapshotVersion != p.SnapshotVersion {
			t.Errorf("period %d: model %s / snapshot %s clean, %s / %s poisoned", i,
				c.ModelVersion, c.SnapshotVersion, p.ModelVersion, p.SnapshotVersion)
		}
	}
	// The poison is visible from the next period on, so the test can tell.
	if clean.Periods[k+1].SnapshotVersion == poisoned.Periods[k+1].SnapshotVersion {
		t.Errorf("period %d: poison did not reach the features after the cut", k+1)
	}
}

func TestBacktestLearnsTheOrganisation(t *testing.T) {
	t.Parallel()
	data := btOrg(t)
	cfg := DefaultConfig()
	res, err := Backtest(data, cfg, BacktestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 150 days from a Monday in 30-day periods: starts at days 0, 30, ... 120.
	if len(res.Periods) != 5 {
		t.Fatalf("got %d periods, want 5", len(res.Periods))
	}
	scored := 0
	for _, p := range res.Periods {
		scored += p.Scored
	}
	if scored != 750 || len(res.Requests) != 750 || res.Skipped != 0 {
		t.Errorf("scored %d (rows %d, skipped %d), want all 750 requests", scored, len(res.Requests), res.Skipped)
	}
	if !res.Periods[0].ColdStart || res.Periods[0].TrainDecided != 0 {
		t.Errorf("period 0 should start cold with no history: %+v", res.Periods[0])
	}
	last := res.Periods[len(res.Periods)-1]
	if last.ColdStart || last.AUC == nil || *last.AUC < 0.8 {
		t.Errorf("last period: cold %v (%s), AUC %v; want a fitted model with AUC >= 0.8",
			last.ColdStart, last.ColdStartWhy, last.AUC)
	}
	if res.Periods[2].TrainDecided != 300 {
		t.Errorf("period 2 trained on %d decided requests, want the 300 of the first 60 days",
			res.Periods[2].TrainDecided)
	}
	var cur *PairStats
	for i := range res.Sweep {
		if res.Sweep[i].Current {
			if cur != nil {
				t.Fatal("two sweep rows marked current")
			}
			cur = &res.Sweep[i]
		}
	}
	if cur == nil || cur.AutoApproveMax != 0.15 || cur.DenyMin != 0.85 {
		t.Fatalf("current pair %+v, want 0.15/0.85", cur)
	}
	// A wider auto-approve threshold never approves fewer requests.
	prev := -1
	for _, s := range res.Curve {
		if s.AutoApproved < prev {
			t.Errorf("auto_approve_max %v approves %d, fewer than %d below it", s.AutoApproveMax, s.AutoApproved, prev)
		}
		prev = s.AutoApproved
	}
}

func TestSummariseCountsEveryOutcome(t *testing.T) {
	t.Parallel()
	const (
		auto   = models.DecisionAutoApprove
		review = models.DecisionReview
		deny   = models.DecisionDeny
	)
	rows := []ReplayedRequest{
		{Risk: 0.05, Floor: auto, Granted: true, Observable: true, Used: true}, // auto, used
		{Risk: 0.10, Floor: auto, Granted: true, Observable: true},             // auto, unused
		{Risk: 0.10, Floor: auto, Granted: true},                               // auto, not observable
		{Risk: 0.12, Floor: auto, HumanDenied: true},                           // false approval
		{Risk: 0.05, Floor: review, Granted: true, Observable: true},           // guardrail: review
		{Risk: 0.50, Floor: auto, Granted: true},                               // review band
		{Risk: 0.90, Floor: auto, HumanDenied: true},                           // high risk, denied
		{Risk: 0.95, Floor: auto, Granted: true},                               // high risk, approved
		{Risk: 0.30, Floor: deny, HumanDenied: true},                           // guardrail: deny
	}
	tests := []struct {
		name     string
		pair     ThresholdPair
		autoDeny bool
		want     PairStats
	}{
		{"review mode", ThresholdPair{0.15, 0.85}, false, PairStats{
			Scored: 9, AutoApproved: 4, FalseApprovals: 1, AutoGrants: 2, UnusedGrants: 1,
			Reviewed: 4, Denied: 1, FalseDenials: 0, HighRisk: 2, HighRiskApproved: 1, HoursSaved: 5 * 10.0 / 60,
		}},
		{"auto deny", ThresholdPair{0.15, 0.85}, true, PairStats{
			Scored: 9, AutoApproved: 4, FalseApprovals: 1, AutoGrants: 2, UnusedGrants: 1,
			Reviewed: 2, Denied: 3, FalseDenials: 1, HighRisk: 2, HighRiskApproved: 1, HoursSaved: 7 * 10.0 / 60,
		}},
		{"tight", ThresholdPair{0.06, 0.92}, true, PairStats{
			Scored: 9, AutoApproved: 1, FalseApprovals: 0, AutoGrants: 1, UnusedGrants: 0,
			Reviewed: 6, Denied: 2, FalseDenials: 1, HighRisk: 1, HighRiskApproved: 1, HoursSaved: 3 * 10.0 / 60,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := summarise(rows, tc.pair, false, tc.autoDeny, 10)
			w := tc.want
			if got.Scored != w.Scored || got.AutoApproved != w.AutoApproved || got.FalseApprovals != w.FalseApprovals ||
				got.AutoGrants != w.AutoGrants || got.UnusedGrants != w.UnusedGrants || got.Reviewed != w.Reviewed ||
				got.Denied != w.Denied || got.FalseDenials != w.FalseDenials || got.HighRisk != w.HighRisk ||
				got.HighRiskApproved != w.HighRiskApproved || math.Abs(got.HoursSaved-w.HoursSaved) > 1e-9 {
				t.Errorf("got %+v\nwant %+v", got, w)
			}
			wantRate(t, "auto share", got.AutoShare, float64(w.AutoApproved)/9)
			wantRate(t, "false approval", got.FalseApprovalRate, float64(w.FalseApprovals)/float64(w.AutoApproved))
		})
	}
	empty := summarise(nil, ThresholdPair{0.15, 0.85}, false, false, 10)
	if empty.AutoShare != nil || empty.FalseApprovalRate != nil || empty.UnusedGrantRate != nil {
		t.Errorf("rates over nothing should be nil: %+v", empty)
	}
}

func wantRate(t *testing.T, name string, got *float64, want float64) {
	t.Helper()
	if got == nil || math.Abs(*got-want) > 1e-9 {
		t.Errorf("%s: got %v, want %v", name, got, want)
	}
}

func TestSweepPairsAddsCurrentAndDropsInvalid(t *testing.T) {
	t.Parallel()
	got := sweepPairs([]float64{0.1, 0.9}, []float64{0.8}, ThresholdPair{0.15, 0.85})
	want := []ThresholdPair{{0.1, 0.8}, {0.1, 0.85}, {0.15, 0.8}, {0.15, 0.85}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestVisibleAtHidesLaterFacts(t *testing.T) {
	t.Parallel()
	cut := btOrigin.Add(10 * 24 * time.Hour)
	d := &features.Data{
		Requests: []models.Request{
			{RequestID: "before", RequestedAt: cut.Add(-2 * time.Hour), Status: models.StatusRevoked,
				DecidedAt: cut.Add(-time.Hour), GrantedAt: cut.Add(-time.Hour), ExpiresAt: cut.Add(7 * time.Hour),
				RevokedAt: cut.Add(time.Hour)},
			{RequestID: "straddle", RequestedAt: cut.Add(-time.Minute), Status: models.StatusDenied,
				DecidedAt: cut.Add(time.Minute), DecidedBy: "reviewer"},
			{RequestID: "after", RequestedAt: cut, Status: models.StatusApproved},
		},
		Grants: []models.Grant{
			{RequestID: "before", GrantedAt: cut.Add(-time.Hour), ExpiresAt: cut.Add(7 * time.Hour), RevokedAt: cut.Add(time.Hour)},
			{RequestID: "after", GrantedAt: cut},
		},
		Usage: []features.UsageDay{
			{Person: "a", LastAt: cut.Add(-time.Second)},
			{Person: "b", LastAt: cut},
		},
	}
	v := visibleAt(d, cut, map[string]string{"before": "OPS-1 deploy"})
	if len(v.Requests) != 2 || len(v.Grants) != 1 || len(v.Usage) != 1 || v.Usage[0].Person != "a" {
		t.Fatalf("visible: %d requests, %d grants, %d usage rows", len(v.Requests), len(v.Grants), len(v.Usage))
	}
	b, s := v.Requests[0], v.Requests[1]
	if b.Status != models.StatusApproved || !b.RevokedAt.IsZero() || b.Justification != "OPS-1 deploy" {
		t.Errorf("request before the cut: %+v; want approved, no revocation yet, justification filled", b)
	}
	if s.Status != models.StatusPending || !s.DecidedAt.IsZero() || s.DecidedBy != "" {
		t.Errorf("request decided after the cut: %+v; want pending", s)
	}
	if !v.Grants[0].RevokedAt.IsZero() {
		t.Errorf("grant revoked after the cut still shows the revocation")
	}
	if d.Requests[0].Status != models.StatusRevoked || d.Grants[0].RevokedAt.IsZero() {
		t.Errorf("visibleAt modified its input")
	}
}

func TestBacktestRejectsEmptyHistory(t *testing.T) {
	t.Parallel()
	_, err := Backtest(&features.Data{}, nil, BacktestOptions{})
	if err == nil || !strings.Contains(err.Error(), "no requests") {
		t.Errorf("got %v, want a no-requests error", err)
	}
	if errors.Is(err, ErrBacktestInconsistent) {
		t.Errorf("empty history is not an inconsistency")
	}
}
