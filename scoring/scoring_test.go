package scoring_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
	st "github.com/jitscore/jitscore/scoring/scoringtest"
)

var attrs = []string{"department", "title"}

func at(t *testing.T) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, st.RequestedAt)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func routine(t *testing.T) scoring.Request {
	t.Helper()
	return scoring.Request{Requester: st.Alice, Entitlement: st.Deploy, RequestedAt: at(t),
		Duration: 2 * time.Hour, Justification: "deploy hotfix OPS-1234", Tier: models.TierMedium}
}

// synthetic builds a decided history over the fixture org in which the
// reviewer's deny odds rise with the tier, a missing justification, a long
// duration and an unknown requester, and fall with a cited ticket.
func synthetic(n int, seed uint64) []models.Request {
	rng := rand.New(rand.NewPCG(seed, 7))
	people := []string{st.Alice, st.Bob, st.Carol, "dan@example.com", "erin@example.com", "stranger@example.com"}
	ents := []struct {
		id   string
		tier float64
	}{{st.ReadOnly, 0}, {st.Deploy, 1}, {st.Refunds, 2}, {st.Admin, 3}}
	start := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	out := make([]models.Request, 0, n)
	for i := 0; i < n; i++ {
		e := ents[rng.IntN(len(ents))]
		who := people[rng.IntN(len(people))]
		just := ""
		z := -2.5 + 0.9*e.tier
		switch rng.IntN(3) {
		case 0:
			z += 1.5
		case 1:
			just = "INC-" + fmt.Sprint(rng.IntN(900)+100) + " rollback"
			z -= 0.7
		default:
			just = "routine maintenance"
		}
		hours := []int{1, 2, 4, 8, 24}[rng.IntN(5)]
		if hours >= 24 {
			z += 1.2
		}
		if strings.HasPrefix(who, "stranger") {
			z += 1.5
		}
		status := models.StatusApproved
		if rng.Float64() < 1/(1+math.Exp(-z)) {
			status = models.StatusDenied
		}
		out = append(out, models.Request{
			RequestID:     fmt.Sprintf("r%05d", i),
			Requester:     who,
			Entitlement:   e.id,
			RequestedAt:   start.Add(time.Duration(i) * 150 * time.Minute),
			Status:        status,
			Duration:      time.Duration(hours) * time.Hour,
			Justification: just,
		})
	}
	return out
}

func fixtureSnapshots(asOf time.Time) (*features.Snapshot, error) {
	s := st.Org()
	s.AsOf = asOf
	return s, nil
}

func tierOf(id string, cat models.Tier) models.Tier {
	switch {
	case cat != "":
		return cat
	case id == st.Admin:
		return models.TierCritical
	case id == st.ReadOnly:
		return models.TierLow
	}
	return models.TierMedium
}

func train(t *testing.T, n int) *scoring.TrainResult {
	t.Helper()
	res, err := scoring.Train(synthetic(n, 1), scoring.TrainOptions{
		Snapshots:  fixtureSnapshots,
		TierOf:     tierOf,
		Attributes: attrs,
		Now:        time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTrainFitsCalibratedModel(t *testing.T) {
	t.Parallel()
	res := train(t, 3000)
	if res.ColdStart {
		t.Fatalf("cold start: %s", res.Why)
	}
	m := res.Model.Metrics
	if m.AUC < 0.7 {
		t.Errorf("test AUC %.3f, want >= 0.7 on a learnable history", m.AUC)
	}
	if m.ECE > 0.08 {
		t.Errorf("test ECE %.3f, want <= 0.08", m.ECE)
	}
	if m.NTrain+m.NCalib+m.NTest != 3000 || m.NTest != 450 {
		t.Errorf("slices %d/%d/%d", m.NTrain, m.NCalib, m.NTest)
	}
	if res.Model.Kind != scoring.KindLogistic || !strings.HasPrefix(res.Model.Version, "m-") {
		t.Errorf("model %s %s", res.Model.Kind, res.Model.Version)
	}
	if !(res.Model.CalibA > 0) {
		t.Errorf("calibration slope %g", res.Model.CalibA)
	}
}

func TestTrainHoldsCoefficientSigns(t *testing.T) {
	t.Parallel()
	m := train(t, 3000).Model
	for i, name := range m.Features {
		s := scoring.MonotoneSign(scoring.Feature(i))
		if s*m.Coef[i] < 0 {
			t.Errorf("coefficient of %s = %g, sign must be %+g", name, m.Coef[i], s)
		}
	}
}

func TestTrainColdStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		history []models.Request
		why     string
	}{
		{"no history", nil, "no decided requests"},
		{"thin history", synthetic(120, 2), "need 200"},
		{"only pending", []models.Request{{RequestID: "p", Requester: st.Alice, Entitlement: st.Deploy,
			RequestedAt: time.Now(), Status: models.StatusPending}}, "no decided requests"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := scoring.Train(tt.history, scoring.TrainOptions{Snapshots: fixtureSnapshots, Attributes: attrs})
			if err != nil {
				t.Fatal(err)
			}
			if !res.ColdStart || res.Model.Kind != scoring.KindPrior || !strings.Contains(res.Why, tt.why) {
				t.Errorf("cold start %v kind %s why %q, want prior because %q", res.ColdStart, res.Model.Kind, res.Why, tt.why)
			}
		})
	}
}

func TestPriorModelIsNotApproveAll(t *testing.T) {
	t.Parallel()
	m := scoring.PriorModel(attrs, time.Now())
	s := st.Org()
	r := routine(t)
	if risk := m.Score(s, r).Risk; risk > 0.15 {
		t.Errorf("routine request risk %.3f under the prior, want auto-approvable", risk)
	}
	for _, tt := range []struct {
		name string
		edit func(*scoring.Request)
	}{
		{"unknown requester", func(r *scoring.Request) { r.Requester = "nobody@example.com" }},
		{"new entitlement", func(r *scoring.Request) { r.Entitlement = "github:org-owner" }},
		{"admin no peer holds", func(r *scoring.Request) { r.Entitlement, r.Tier = st.Admin, models.TierCritical }},
	} {
		q := r
		tt.edit(&q)
		if risk := m.Score(s, q).Risk; risk <= 0.3 {
			t.Errorf("%s: prior risk %.3f, want well above the 0.15 auto-approve threshold", tt.name, risk)
		}
	}
}

func TestScoreIsDeterministic(t *testing.T) {
	t.Parallel()
	m := train(t, 3000).Model
	r := routine(t)
	first := m.Score(st.Org(), r)
	for i := 0; i < 50; i++ {
		again := m.Score(st.Org(), r)
		if again.Risk != first.Risk || again.Contrib != first.Contrib {
			t.Fatalf("run %d: risk %v, first %v", i, again.Risk, first.Risk)
		}
	}
	again := m.Score(st.Org(), r)
	if fmt.Sprint(first.Reasons(5)) != fmt.Sprint(again.Reasons(5)) {
		t.Error("reasons differ between runs")
	}
}

// TestRaisingRiskSignalNeverLowersRisk checks, for the prior and for a fitted
// model, that each monotone signal moved toward risk never lowers it.
func TestRaisingRiskSignalNeverLowersRisk(t *testing.T) {
	t.Parallel()
	models_ := map[string]*scoring.Model{
		"prior":  scoring.PriorModel(attrs, time.Now()),
		"fitted": train(t, 3000).Model,
	}
	type change struct {
		name string
		edit func(s *features.Snapshot, r *scoring.Request, step int)
	}
	changes := []change{
		{"higher tier", func(_ *features.Snapshot, r *scoring.Request, step int) {
			r.Tier = []models.Tier{models.TierLow, models.TierMedium, models.TierHigh, models.TierCritical}[step%4]
		}},
		{"fewer peers granted", func(s *features.Snapshot, _ *scoring.Request, step int) {
			k := features.PairKey{A: st.Persona, B: st.Deploy}
			c := s.PeerAttr[k]
			c.Granted, c.Used = max(7-step, 0), max(6-step, 0)
			s.PeerAttr[k] = c
		}},
		{"more earlier denials", func(s *features.Snapshot, _ *scoring.Request, step int) {
			k := features.PairKey{A: st.Alice, B: st.Deploy}
			h := s.History[k]
			h.Denied = step
			s.History[k] = h
			pt := s.PersonTotals[st.Alice]
			pt.Denied = step
			s.PersonTotals[st.Alice] = pt
		}},
		{"longer duration", func(_ *features.Snapshot, r *scoring.Request, step int) {
			r.Duration = time.Duration(1<<step) * time.Hour
		}},
		{"more attribute denials", func(s *features.Snapshot, _ *scoring.Request, step int) {
			k := features.PairKey{A: "department=Payments", B: st.Deploy}
			o := s.AttrStats[k]
			o.Denied = 1 + 5*step
			s.AttrStats[k] = o
		}},
	}
	for name, m := range models_ {
		for _, c := range changes {
			t.Run(name+"/"+c.name, func(t *testing.T) {
				prev := -1.0
				for step := 0; step < 4; step++ {
					s, r := st.Org(), routine(t)
					for k := 0; k <= step; k++ {
						c.edit(s, &r, k)
					}
					risk := m.Score(s, r).Risk
					if risk < prev-1e-12 {
						t.Fatalf("step %d: risk fell from %.6f to %.6f", step, prev, risk)
					}
					prev = risk
				}
			})
		}
	}
}

func TestReasonsQuoteCounts(t *testing.T) {
	t.Parallel()
	m := scoring.PriorModel(attrs, time.Now())
	sc := m.Score(st.Org(), routine(t))
	want := map[scoring.Feature]string{
		scoring.FPeerAttrGranted: "6 of 8 people in Payments / Backend Engineer were granted this in the last 90 days",
		scoring.FPeerAttrUsed:    "5 of 8 people in Payments / Backend Engineer used this in the last 90 days",
		scoring.FHistApproved:    "alice@example.com was granted this 4 times and used it each time",
		scoring.FEntApprovalRate: "57 of 60 decided requests for this entitlement were approved",
	}
	for f, w := range want {
		if got := sc.Detail(f); got != w {
			t.Errorf("%s: %q, want %q", f, got, w)
		}
	}
	long := routine(t)
	long.Duration = 24 * time.Hour
	lsc := m.Score(st.Org(), long)
	if got := lsc.Detail(scoring.FDurationExcess); got !=
		"requested 1d; this entitlement is usually granted for 4h" {
		t.Errorf("duration sentence %q", got)
	}
	rs := sc.Reasons(5)
	for i := 1; i < len(rs); i++ {
		if math.Abs(rs[i].Contribution) > math.Abs(rs[i-1].Contribution) {
			t.Errorf("reasons not ordered by |contribution|: %v", rs)
		}
	}
	// Base + contributions = logit(risk).
	z := sc.Base
	for _, c := range sc.Contrib {
		z += c
	}
	if math.Abs(1/(1+math.Exp(-z))-sc.Risk) > 1e-12 {
		t.Errorf("contributions do not add up to the risk")
	}
}

func TestModelFileRoundTrip(t *testing.T) {
	t.Parallel()
	m := train(t, 3000).Model
	path := filepath.Join(t.TempDir(), "jitscore.duckdb.model.json")
	if err := scoring.SaveModel(path, m); err != nil {
		t.Fatal(err)
	}
	back, err := scoring.LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	r := routine(t)
	if back.Score(st.Org(), r).Risk != m.Score(st.Org(), r).Risk || back.Version != m.Version {
		t.Error("loaded model scores differently")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}

	// A model from another feature layout is refused.
	data, _ := os.ReadFile(path)
	bad := strings.Replace(string(data), `"peer_attr_granted"`, `"peer_granted"`, 1)
	os.WriteFile(path, []byte(bad), 0o644)
	if _, err := scoring.LoadModel(path); !errors.Is(err, scoring.ErrModelFormat) {
		t.Errorf("LoadModel of a foreign layout: %v, want ErrModelFormat", err)
	}
	if _, err := scoring.LoadModel(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	risk := []float64{0.1, 0.2, 0.3, 0.4, 0.8, 0.9}
	den := []bool{false, false, true, false, true, true}
	if got := scoring.AUC(risk, den); math.Abs(got-8.0/9) > 1e-12 {
		t.Errorf("AUC %g, want 8/9", got)
	}
	if got := scoring.AUC([]float64{0.5, 0.5}, []bool{true, false}); got != 0.5 {
		t.Errorf("AUC of a tie %g, want 0.5", got)
	}
	if !math.IsNaN(scoring.AUC([]float64{0.1}, []bool{true})) {
		t.Error("AUC of one class should be NaN")
	}
	share, th := scoring.AutoShare(risk, den, 0.01)
	if share != 2.0/6 || th != 0.2 {
		t.Errorf("AutoShare %g at %g, want 1/3 at 0.2", share, th)
	}
	if ece := scoring.ECE([]float64{0.25, 0.25, 0.25, 0.25}, []bool{true, false, false, false}); ece != 0 {
		t.Errorf("ECE of a calibrated bin %g", ece)
	}
	if b := scoring.Brier([]float64{1, 0}, []bool{true, false}); b != 0 {
		t.Errorf("Brier %g", b)
	}
}

func TestWeekStart(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"2026-03-04T15:00:00Z": "2026-03-02T00:00:00Z", // Wednesday
		"2026-03-02T00:00:00Z": "2026-03-02T00:00:00Z", // Monday midnight
		"2026-03-08T23:59:00Z": "2026-03-02T00:00:00Z", // Sunday
	} {
		tm, _ := time.Parse(time.RFC3339, in)
		if got := scoring.WeekStart(tm).Format(time.RFC3339); got != want {
			t.Errorf("WeekStart(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestDurationSentence(t *testing.T) {
	t.Parallel()
	m := scoring.PriorModel(attrs, time.Now())
	for d, want := range map[time.Duration]string{
		30 * time.Minute: "requested 30m;",
		90 * time.Minute: "requested 1h30m;",
		8 * time.Hour:    "requested 8h;",
		48 * time.Hour:   "requested 2d;",
	} {
		r := routine(t)
		r.Duration = d
		sc := m.Score(st.Org(), r)
		if got := sc.Detail(scoring.FDurationExcess); !strings.HasPrefix(got, want) {
			t.Errorf("%v: %q, want prefix %q", d, got, want)
		}
	}
}

func TestTrainFeaturisesEachRequestAsOfItsWeekStart(t *testing.T) {
	t.Parallel()
	history := synthetic(400, 3)
	var asked []time.Time
	_, err := scoring.Train(history, scoring.TrainOptions{
		Snapshots: func(asOf time.Time) (*features.Snapshot, error) {
			asked = append(asked, asOf)
			return fixtureSnapshots(asOf)
		},
		Attributes: attrs,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[time.Time]bool{}
	for _, r := range history {
		want[scoring.WeekStart(r.RequestedAt)] = true
	}
	seen := map[time.Time]bool{}
	for i, a := range asked {
		if !want[a] || seen[a] {
			t.Fatalf("snapshot %d as of %s: not a week start of the history, or asked twice", i, a)
		}
		if i > 0 && !a.After(asked[i-1]) {
			t.Errorf("snapshots not in time order: %s after %s", a, asked[i-1])
		}
		seen[a] = true
	}
	if len(seen) != len(want) {
		t.Errorf("asked %d snapshots, want one per week (%d)", len(seen), len(want))
	}
}
