// Package scoringtest builds small, hand-made feature snapshots for tests
// and examples of the scoring and approve packages, so that a decision can
// be checked against counts a reader can verify by eye.
package scoringtest

import (
	"math"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
)

// Fixture ids.
const (
	Persona     = "attr:Payments/Backend Engineer"
	Deploy      = "aws:111122223333:PaymentsDeploy"      // routine for the persona, medium
	Admin       = "aws:111122223333:AdministratorAccess" // critical by the default patterns
	Refunds     = "stripe:refunds"                       // high in the catalogue, rarely granted
	ReadOnly    = "aws:111122223333:ViewOnlyReadOnly"    // low by the default patterns
	Alice       = "alice@example.com"                    // staff, long history with Deploy
	Bob         = "bob@example.com"                      // contractor in the same persona
	Carol       = "carol@example.com"                    // new hire, no history
	AsOfISO     = "2026-03-02T00:00:00Z"
	RequestedAt = "2026-03-03T10:00:00Z" // a Tuesday morning
)

// AsOf is the fixture snapshot's as-of time.
var AsOf = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// Org returns a fresh snapshot of a nine-person Payments / Backend Engineer
// persona: seven of the nine were granted Deploy in the last 90 days and
// six used it (so six of alice's eight peers were granted it and five used
// it); alice was granted it four times and used it each time; one
// of the nine holds Refunds and none ever requested the admin role. The
// caller may modify the result.
func Org() *features.Snapshot {
	members := []string{Alice, Bob, Carol, "dan@example.com", "erin@example.com",
		"frank@example.com", "grace@example.com", "heidi@example.com", "ivan@example.com"}
	s := &features.Snapshot{
		AsOf:        AsOf,
		BuiltAt:     AsOf,
		Version:     "s-fixture",
		PeerWindow:  90 * 24 * time.Hour,
		UsageWindow: 90 * 24 * time.Hour,
		People:      map[string]*features.Person{},
		Keys:        map[string]string{},
		Personas: map[string]*models.Persona{
			Persona: {ID: Persona, Kind: models.PersonaAttribute, Name: "Payments / Backend Engineer", Members: members},
		},
		Entitlements: map[string]*features.EntitlementStat{
			Deploy: {ID: Deploy, App: "aws", Requests: 60, Requesters: 8, Approved: 57, Denied: 3,
				Grants: 57, GrantsUsed: 52, MedianDuration: 4 * time.Hour, CloudTrailBacked: true},
			Refunds: {ID: Refunds, App: "stripe", Tier: models.TierHigh, Catalogued: true, Requests: 10,
				Requesters: 6, Approved: 4, Denied: 6, Grants: 4, GrantsUsed: 2, MedianDuration: time.Hour},
			ReadOnly: {ID: ReadOnly, App: "aws", Requests: 30, Requesters: 9, Approved: 30, Grants: 30,
				GrantsUsed: 28, MedianDuration: 8 * time.Hour, CloudTrailBacked: true},
		},
		PeerAttr: map[features.PairKey]features.Coverage{
			{A: Persona, B: Deploy}:   {Members: 9, Granted: 7, Used: 6},
			{A: Persona, B: Refunds}:  {Members: 9, Granted: 1, Used: 1},
			{A: Persona, B: ReadOnly}: {Members: 9, Granted: 9, Used: 8},
		},
		PeerUsage:   map[features.PairKey]features.Coverage{},
		PeerManager: map[features.PairKey]features.Coverage{},
		History: map[features.PairKey]features.History{
			{A: Alice, B: Deploy}: {Requests: 4, Approved: 4, Grants: 4, GrantsUsed: 4,
				LastGrantAt: AsOf.Add(-72 * time.Hour), LastUsedAt: AsOf.Add(-70 * time.Hour)},
			{A: Bob, B: Deploy}: {Requests: 2, Approved: 2, Grants: 2, GrantsUsed: 2},
		},
		PersonTotals: map[string]features.History{
			Alice: {Requests: 10, Approved: 10, Grants: 10, GrantsUsed: 9},
			Bob:   {Requests: 3, Approved: 2, Denied: 1, Grants: 2, GrantsUsed: 2},
		},
		AttrStats: map[features.PairKey]features.Outcomes{
			{A: "department=Payments", B: Deploy}:    {Approved: 40, Denied: 1},
			{A: "department=Payments", B: Refunds}:   {Approved: 2, Denied: 5},
			{A: "title=Backend Engineer", B: Deploy}: {Approved: 35, Denied: 1},
		},
		Global: features.Outcomes{Approved: 400, Denied: 60},
	}
	for _, u := range members {
		p := &features.Person{
			User:           u,
			Attributes:     map[string]string{"department": "Payments", "title": "Backend Engineer"},
			AttrPersona:    Persona,
			Manager:        "mallory@example.com",
			EmploymentType: "employee",
			StartDate:      AsOf.AddDate(-2, 0, 0),
		}
		s.People[u] = p
		s.Keys[u] = u
	}
	s.People[Bob].EmploymentType = "contractor"
	s.People[Carol].StartDate = AsOf.AddDate(0, 0, -10)
	s.Keys["alice"] = Alice
	return s
}

// Request is a well-formed score request at RequestedAt.
func Request(id, requester, entitlement, duration, justification string) models.ScoreRequest {
	return models.ScoreRequest{
		RequestID:     id,
		Requester:     requester,
		Entitlement:   entitlement,
		Duration:      duration,
		Justification: justification,
		RequestedAt:   RequestedAt,
	}
}

// ConstantModel returns a prepared model that gives every request the same
// risk, for tests of the policy's thresholds. Its reasons are empty: no
// feature moves it.
func ConstantModel(risk float64) *scoring.Model {
	n := len(scoring.FeatureNames())
	m := &scoring.Model{
		Version:   "m-constant",
		Kind:      scoring.KindPrior,
		Features:  scoring.FeatureNames(),
		Mean:      make([]float64, n),
		Scale:     make([]float64, n),
		Coef:      make([]float64, n),
		Intercept: math.Log(risk / (1 - risk)),
		CalibA:    1,
	}
	for i := range m.Scale {
		m.Scale[i] = 1
	}
	if err := m.Prepare(); err != nil {
		panic(err)
	}
	return m
}
