package approve

import (
	"context"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
)

// PolicyDecider is the Decider of a running server: Decide over one config,
// one feature snapshot and one model, none of which it modifies. A reload
// builds a new PolicyDecider rather than changing one, so a request is
// decided entirely by the versions that were current when it arrived. It
// is safe for concurrent use; a decision is map lookups and arithmetic.
type PolicyDecider struct {
	cfg      *Config
	version  string
	snapshot *features.Snapshot
	model    *scoring.Model
	now      func() time.Time
}

// NewPolicyDecider returns a decider over cfg, snap and model. A nil snap or
// model is allowed: every request is then answered review with the reason
// "could not be scored", as Decide does.
func NewPolicyDecider(cfg *Config, snap *features.Snapshot, model *scoring.Model) *PolicyDecider {
	if cfg == nil {
		cfg = DefaultConfig()
	}
	return &PolicyDecider{
		cfg:      cfg,
		version:  cfg.PolicyVersion(),
		snapshot: snap,
		model:    model,
		now:      time.Now,
	}
}

// WithClock makes the decider read the decision time from now instead of
// the system clock (tests and replays), and returns it.
func (d *PolicyDecider) WithClock(now func() time.Time) *PolicyDecider {
	d.now = now
	return d
}

// PolicyVersion is the hash of the config this decider applies.
func (d *PolicyDecider) PolicyVersion() string { return d.version }

// Score decides req with Decide, as of now.
func (d *PolicyDecider) Score(_ context.Context, req models.ScoreRequest) (models.ScoreResponse, AuditRecord) {
	return Decide(Input{
		Config:        d.cfg,
		PolicyVersion: d.version,
		Snapshot:      d.snapshot,
		Model:         d.model,
		Request:       req,
		Now:           d.now(),
		Source:        "serve",
	})
}

// Renewals answers renewal review from the snapshot as of now, with
// ReviewRenewalQuery: the grants named by q, or every grant expiring within
// the window.
func (d *PolicyDecider) Renewals(_ context.Context, q RenewalQuery) ([]models.Renewal, error) {
	return ReviewRenewalQuery(d.cfg, d.snapshot, q, d.now())
}
