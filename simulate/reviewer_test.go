package simulate

import (
	"math"
	"sync"
	"testing"

	"github.com/jitscore/jitscore/models"
)

func TestReviewerProbabilityRisesWithEachRiskSignal(t *testing.T) {
	t.Parallel()
	base := Signals{Profile: ProfileRoutine, Tier: models.TierMedium, DurationRatio: 1, TenureDays: 400,
		PriorUsed: 1, PriorAWSGrants: 4, PriorUnused: 1}
	cases := []struct {
		name  string
		setup func(*Signals) // applied to both sides, nil for none
		edit  func(*Signals)
	}{
		{"occasional for the persona", nil, func(s *Signals) { s.Profile = ProfileOccasional }},
		{"outside the persona", nil, func(s *Signals) { s.Profile = ProfileNone }},
		{"higher tier", nil, func(s *Signals) { s.Tier = models.TierCritical }},
		{"four times the typical length", nil, func(s *Signals) { s.DurationRatio = 4 }},
		{"no justification", nil, func(s *Signals) { s.NoJustification = true }},
		{"new hire", nil, func(s *Signals) { s.TenureDays = 10 }},
		{"contractor on a high tier", func(s *Signals) { s.Tier = models.TierHigh }, func(s *Signals) { s.Contractor = true }},
		{"most earlier grants unused", nil, func(s *Signals) { s.PriorUnused = 4 }},
		{"off hours", nil, func(s *Signals) { s.OffHours = true }},
		{"no earlier use", nil, func(s *Signals) { s.PriorUsed = 0 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := base
			if tc.setup != nil {
				tc.setup(&s)
			}
			before := reviewerProbability(s)
			tc.edit(&s)
			if after := reviewerProbability(s); after <= before {
				t.Fatalf("p = %.3f, without the signal %.3f", after, before)
			}
		})
	}
	withTicket := base
	withTicket.Ticket = true
	if reviewerProbability(withTicket) >= reviewerProbability(base) {
		t.Error("a ticket reference did not lower the probability")
	}
}

var (
	largeOnce sync.Once
	largeOrg  *Org
	largeErr  error
)

// large is a history big enough for deny rates to be stable; nothing is
// written, so it takes well under a second.
func large(t *testing.T) *Org {
	t.Helper()
	largeOnce.Do(func() {
		cfg := DefaultConfig()
		cfg.People, cfg.Days, cfg.Seed = 400, 60, 3
		largeOrg, largeErr = Generate(cfg)
	})
	if largeErr != nil {
		t.Fatal(largeErr)
	}
	return largeOrg
}

func TestDenyRateDependsOnTheSignalsInALargeSample(t *testing.T) {
	t.Parallel()
	o := large(t)
	high := func(q *Request) bool { return q.Signals.Tier.Rank() >= 2 }
	cases := []struct {
		name          string
		risky, benign func(q *Request) bool
	}{
		{"without vs with justification",
			func(q *Request) bool { return q.Signals.NoJustification },
			func(q *Request) bool { return !q.Signals.NoJustification }},
		{"outside vs inside the persona's routine",
			func(q *Request) bool { return q.Signals.Profile == ProfileNone },
			func(q *Request) bool { return q.Signals.Profile == ProfileRoutine }},
		{"contractor vs employee on high tiers",
			func(q *Request) bool { return high(q) && q.Signals.Contractor },
			func(q *Request) bool { return high(q) && !q.Signals.Contractor }},
		{"off vs working hours",
			func(q *Request) bool { return q.Signals.OffHours },
			func(q *Request) bool { return !q.Signals.OffHours }},
		{"tenure under vs over 30 days",
			func(q *Request) bool { return q.Signals.TenureDays < 30 },
			func(q *Request) bool { return q.Signals.TenureDays >= 30 }},
		{"far above vs at the typical length",
			func(q *Request) bool { return q.Signals.DurationRatio > 4 },
			func(q *Request) bool { return q.Signals.DurationRatio <= 1 }},
		{"mostly unused vs mostly used earlier grants",
			func(q *Request) bool {
				return q.Signals.PriorAWSGrants >= 4 && q.Signals.PriorUnused*2 > q.Signals.PriorAWSGrants
			},
			func(q *Request) bool { return q.Signals.PriorAWSGrants >= 4 && q.Signals.PriorUnused == 0 }},
		{"no earlier use vs repeated use of this entitlement",
			func(q *Request) bool { return q.Signals.PriorUsed == 0 },
			func(q *Request) bool { return q.Signals.PriorUsed >= 4 }},
	}
	rate := func(keep func(q *Request) bool) (float64, int) {
		var n, denied int
		for _, q := range o.Requests {
			if keep(q) {
				n++
				if q.Denied {
					denied++
				}
			}
		}
		return float64(denied) / float64(max(n, 1)), n
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rr, nr := rate(tc.risky)
			rb, nb := rate(tc.benign)
			if nr < 100 || nb < 100 {
				t.Fatalf("sample too small: %d risky, %d benign", nr, nb)
			}
			if rr < rb+0.05 {
				t.Fatalf("deny rate %.3f (n=%d) vs %.3f (n=%d): want a clear difference", rr, nr, rb, nb)
			}
		})
	}
}

// The reviewer must depend on more than persona: its own probabilities fit
// its decisions clearly better than the deny rate of each persona and
// entitlement, even measured in sample where the baseline is flattered.
func TestReviewerBeatsAPersonaEntitlementBaseline(t *testing.T) {
	t.Parallel()
	o := large(t)
	persona := map[string]string{}
	for _, p := range o.People {
		persona[p.User] = p.Persona
	}
	type cell struct{ n, denied int }
	cells := map[[2]string]*cell{}
	for _, q := range o.Requests {
		k := [2]string{persona[q.User], q.Entitlement}
		if cells[k] == nil {
			cells[k] = &cell{}
		}
		cells[k].n++
		if q.Denied {
			cells[k].denied++
		}
	}
	logLoss := func(p float64, denied bool) float64 {
		p = clamp(p, 1e-6, 1-1e-6)
		if denied {
			return -math.Log(p)
		}
		return -math.Log(1 - p)
	}
	var truth, baseline float64
	for _, q := range o.Requests {
		c := cells[[2]string{persona[q.User], q.Entitlement}]
		truth += logLoss(q.Probability, q.Denied)
		baseline += logLoss(float64(c.denied)/float64(c.n), q.Denied)
	}
	n := float64(len(o.Requests))
	truth, baseline = truth/n, baseline/n
	t.Logf("log loss: reviewer %.4f, persona×entitlement baseline %.4f over %d requests", truth, baseline, len(o.Requests))
	if truth > baseline*0.9 {
		t.Fatalf("reviewer log loss %.4f is not clearly below the baseline's %.4f", truth, baseline)
	}
}

func TestUnusedGrantsAreMoreLikelyForSomePersonas(t *testing.T) {
	t.Parallel()
	o := large(t)
	persona := map[string]string{}
	for _, p := range o.People {
		persona[p.User] = p.Persona
	}
	share := func(name string) float64 {
		var n, unused int
		for _, g := range o.Grants {
			if persona[g.Requester] == name {
				n++
				if !g.Used {
					unused++
				}
			}
		}
		return float64(unused) / float64(max(n, 1))
	}
	sre, sales := share("Platform/SRE"), share("Sales/Account Executive")
	if sales < sre+0.15 {
		t.Fatalf("unused share: Sales/Account Executive %.2f, Platform/SRE %.2f; want sales clearly higher", sales, sre)
	}
}
