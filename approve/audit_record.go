package approve

import (
	"time"

	"github.com/jitscore/jitscore/models"
)

// AuditRecord is one row of the decisions audit table: the request as it
// arrived, the features and risk it was scored with, and what was answered.
// The justification itself is never stored; only whether one was given and
// its length, so the audit log holds no free text a requester typed.
type AuditRecord struct {
	DecisionID     string              `json:"decision_id"` // unique per answer
	DecidedAt      time.Time           `json:"decided_at"`
	Source         string              `json:"source"` // "serve", "score", "backtest"
	Request        models.ScoreRequest `json:"request"`
	Requester      string              `json:"requester"` // canonical user id, "" when unknown
	Tier           models.Tier         `json:"tier"`
	Features       map[string]float64  `json:"features"`
	Risk           float64             `json:"risk"`
	Decision       models.Decision     `json:"decision"`
	PolicyDecision models.Decision     `json:"policy_decision"`
	Reasons        []models.Reason     `json:"reasons"`
	ModelVersion   string              `json:"model_version"`
	PolicyVersion  string              `json:"policy_version"`
	Mode           string              `json:"mode"`
	Error          string              `json:"error,omitempty"` // why it could not be scored
}

// AuditSink receives every decision. Implementations must be safe for
// concurrent use and must not lose a record that Append accepted once Close
// has returned.
type AuditSink interface {
	Append(rec AuditRecord) error
	Close() error
}
