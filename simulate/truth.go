package simulate

import (
	"encoding/json"
	"io"
	"math"
)

// Truth is the content of truth.json: what the simulation did by
// construction, for evaluating models and renewal review against it.
type Truth struct {
	Seed     uint64         `json:"seed"`
	Start    string         `json:"start"`
	End      string         `json:"end"`
	Summary  Summary        `json:"summary"`
	People   []TruthPerson  `json:"people"`
	Requests []TruthRequest `json:"requests"`
	Grants   []TruthGrant   `json:"grants"`
}

// TruthPerson is one person's persona and traits.
type TruthPerson struct {
	User             string  `json:"user"`
	Persona          string  `json:"persona"`
	EmploymentType   string  `json:"employment_type"`
	StartDate        string  `json:"start_date"`
	UnusedPropensity float64 `json:"unused_propensity"`
	Activity         float64 `json:"activity"`
}

// TruthRequest is the reviewer's view of one request. ReviewerDecision is
// "approved" or "denied": the decision recorded in the history when Status
// is approved, revoked or denied, and what the reviewer would have decided
// for pending, canceled and expired requests.
type TruthRequest struct {
	RequestID           string  `json:"request_id"`
	User                string  `json:"user"` // canonical requester
	Entitlement         string  `json:"entitlement"`
	Status              string  `json:"status"`
	DecidedBy           string  `json:"decided_by,omitempty"`
	Standing            bool    `json:"standing,omitempty"`
	ReviewerProbability float64 `json:"reviewer_probability"`
	ReviewerDecision    string  `json:"reviewer_decision"`
	Signals             Signals `json:"signals"`
}

// TruthGrant is one grant and its planned use.
type TruthGrant struct {
	RequestID   string `json:"request_id"`
	User        string `json:"user"`
	Entitlement string `json:"entitlement"`
	GrantedAt   string `json:"granted_at"`
	ExpiresAt   string `json:"expires_at"`
	RevokedAt   string `json:"revoked_at,omitempty"`
	CloudTrail  bool   `json:"cloudtrail"`
	Used        bool   `json:"used"`
	Sessions    int    `json:"sessions"`
	Events      int    `json:"events"`
	FirstUse    string `json:"first_use,omitempty"`
	LastUse     string `json:"last_use,omitempty"`
}

// Truth returns the organisation's truth with summary sum.
func (o *Org) Truth(sum Summary) Truth {
	t := Truth{
		Seed:    o.Config.Seed,
		Start:   timeText(o.Start),
		End:     timeText(o.End),
		Summary: sum,
	}
	round := func(x float64) float64 { return math.Round(x*1e4) / 1e4 }
	for _, p := range o.People {
		t.People = append(t.People, TruthPerson{
			User: p.User, Persona: p.Persona, EmploymentType: p.EmploymentType, StartDate: dateText(p.StartDate),
			UnusedPropensity: round(p.UnusedPropensity), Activity: round(p.Activity),
		})
	}
	for _, q := range o.Requests {
		d := "approved"
		if q.Denied {
			d = "denied"
		}
		t.Requests = append(t.Requests, TruthRequest{
			RequestID: q.RequestID, User: q.User, Entitlement: q.Entitlement, Status: string(q.Status),
			DecidedBy: q.DecidedBy, Standing: q.Standing, ReviewerProbability: round(q.Probability),
			ReviewerDecision: d, Signals: q.Signals,
		})
	}
	for _, g := range o.Grants {
		t.Grants = append(t.Grants, TruthGrant{
			RequestID: g.RequestID, User: g.Requester, Entitlement: g.Entitlement,
			GrantedAt: timeText(g.GrantedAt), ExpiresAt: timeText(g.ExpiresAt), RevokedAt: timeText(g.RevokedAt),
			CloudTrail: g.CloudTrail, Used: g.Used, Sessions: g.Sessions, Events: g.Events,
			FirstUse: timeText(g.FirstUse), LastUse: timeText(g.LastUse),
		})
	}
	return t
}

func (o *Org) writeTruth(w io.Writer, sum Summary) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(o.Truth(sum))
}
