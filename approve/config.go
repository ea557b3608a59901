package approve

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

// Mode says whether policy decisions are answered or only recorded.
type Mode string

// Modes. ModeShadow answers review to everything and records what enforce
// would have answered; ModeEnforce answers the policy's decision.
const (
	ModeShadow  Mode = "shadow"
	ModeEnforce Mode = "enforce"
)

// Config is the whole of config.yaml: one struct whose yaml keys are the
// file's keys. DefaultConfig holds the built-in values; a file parsed by
// ParseConfig names only what it changes. Each package reads its own
// section: features takes Personas and Windows, the policy Thresholds,
// Tiers and Guardrails, renewal review Renewal, the HTTP service Server and
// backtest Backtest. A Config is a value: once loaded, nothing modifies it,
// so it is safe to share between goroutines.
type Config struct {
	Mode       Mode                   `yaml:"mode" json:"mode"`
	Thresholds Thresholds             `yaml:"thresholds" json:"thresholds"`
	Tiers      []TierRule             `yaml:"tiers" json:"tiers"`
	Guardrails Guardrails             `yaml:"guardrails" json:"guardrails"`
	Personas   features.PersonaConfig `yaml:"personas" json:"personas"`
	Windows    features.WindowConfig  `yaml:"windows" json:"windows"`
	Renewal    RenewalConfig          `yaml:"renewal" json:"renewal"`
	Server     ServerConfig           `yaml:"server" json:"server"`
	Backtest   BacktestConfig         `yaml:"backtest" json:"backtest"`

	// source names the file the config came from ("" for defaults) and
	// lines maps a field path ("thresholds.deny_min", "tiers[0].match") to
	// the line of its value in that file, so that Validate can name lines.
	source string
	lines  map[string]int
}

// Thresholds turn a risk in [0, 1] into a decision: risk <= AutoApproveMax
// auto-approves, risk >= DenyMin denies when AutoDeny is set and reviews
// otherwise, and anything between is reviewed. AutoApproveMax must be below
// DenyMin.
type Thresholds struct {
	AutoApproveMax float64 `yaml:"auto_approve_max" json:"auto_approve_max"`
	DenyMin        float64 `yaml:"deny_min" json:"deny_min"`
	AutoDeny       bool    `yaml:"auto_deny" json:"auto_deny"`
}

// TierRule assigns Tier to every entitlement id matching the glob Match, in
// which * matches any run of characters (":" included) and ? exactly one.
// Rules are tried in order and the first match wins; the entitlement
// catalogue's own tier takes precedence over every rule.
type TierRule struct {
	Match string      `yaml:"match" json:"match"`
	Tier  models.Tier `yaml:"tier" json:"tier"`
}

// Guardrails are rules evaluated before the thresholds. Each can only make
// a decision stricter, never looser.
type Guardrails struct {
	// NeverAutoApprove lists tiers that always go to a human.
	NeverAutoApprove []models.Tier `yaml:"never_auto_approve" json:"never_auto_approve"`
	// MaxDuration caps the requested length per tier; a longer request is
	// reviewed. A tier absent from the map has no cap.
	MaxDuration map[models.Tier]time.Duration `yaml:"max_duration" json:"max_duration"`
	// UnknownRequester is the decision for a requester with no identity
	// record: review or deny.
	UnknownRequester models.Decision `yaml:"unknown_requester" json:"unknown_requester"`
	// NewEntitlement is the decision for an entitlement with no history
	// and no catalogue entry: review or deny.
	NewEntitlement models.Decision `yaml:"new_entitlement" json:"new_entitlement"`
	// RequireJustification lists tiers whose requests without a
	// justification are reviewed.
	RequireJustification []models.Tier `yaml:"require_justification" json:"require_justification"`
	// Contractors holds the rules for people whose employment_type marks
	// them as not staff.
	Contractors ContractorRules `yaml:"contractors" json:"contractors"`
}

// ContractorRules apply to requesters whose employment_type attribute is
// one of EmploymentTypes (compared without regard to case).
type ContractorRules struct {
	EmploymentTypes  []string      `yaml:"employment_types" json:"employment_types"`
	NeverAutoApprove []models.Tier `yaml:"never_auto_approve" json:"never_auto_approve"`
}

// RenewalConfig drives renewal review of grants coming up for expiry.
type RenewalConfig struct {
	// UnusedDays: a grant with no use in this many days is a revoke
	// candidate.
	UnusedDays int `yaml:"unused_days" json:"unused_days"`
	// Within is how far ahead of now expiring grants are reviewed.
	Within time.Duration `yaml:"within" json:"within"`
	// MinCalls is the number of calls in the grant's window that counts as
	// use.
	MinCalls int `yaml:"min_calls" json:"min_calls"`
	// ReviewTiers: grants of these tiers are renewed without a human only
	// when used on at least MinActiveDays days; rarely used ones go to
	// review. Unused ones are revoked like any other (see
	// approve.ReviewRenewals).
	ReviewTiers []models.Tier `yaml:"review_tiers" json:"review_tiers"`
	// MinActiveDays is the number of days with use a grant of a review
	// tier needs to be renewed without a human.
	MinActiveDays int `yaml:"min_active_days" json:"min_active_days"`
	// MinAge: a grant not used yet is judged unused only once held this
	// long; a younger one goes to review as too new to judge.
	MinAge time.Duration `yaml:"min_age" json:"min_age"`
	// Apply carries revocations out in IAM Identity Center; false only
	// reports them.
	Apply                     bool   `yaml:"apply" json:"apply"`
	IdentityCenterInstanceARN string `yaml:"identity_center_instance_arn" json:"identity_center_instance_arn"`
	IdentityStoreID           string `yaml:"identity_store_id" json:"identity_store_id"`
}

// ServerConfig configures `jitscore serve`. Tokens holds bearer tokens
// written into the file; TokenEnv names an environment variable holding
// one more. Both may be used; with neither, the server refuses to start.
type ServerConfig struct {
	Listen         string        `yaml:"listen" json:"listen"`
	TokenEnv       string        `yaml:"token_env" json:"token_env"`
	Tokens         []string      `yaml:"tokens" json:"tokens"`
	TLSCert        string        `yaml:"tls_cert" json:"tls_cert"`
	TLSKey         string        `yaml:"tls_key" json:"tls_key"`
	MaxBodyBytes   int64         `yaml:"max_body_bytes" json:"max_body_bytes"`
	ReadTimeout    time.Duration `yaml:"read_timeout" json:"read_timeout"`
	WriteTimeout   time.Duration `yaml:"write_timeout" json:"write_timeout"`
	IdleTimeout    time.Duration `yaml:"idle_timeout" json:"idle_timeout"`
	RequestTimeout time.Duration `yaml:"request_timeout" json:"request_timeout"`
	// AuditDir is where the server keeps its own audit store; "" means
	// beside the database file.
	AuditDir string `yaml:"audit_dir" json:"audit_dir"`
}

// BacktestConfig sets what `jitscore backtest` assumes: how long a human
// review takes (for the hours-saved figure) and how much history it
// replays.
type BacktestConfig struct {
	MinutesPerReview float64       `yaml:"minutes_per_review" json:"minutes_per_review"`
	Period           time.Duration `yaml:"period" json:"period"`
}

const day = 24 * time.Hour

// DefaultConfig returns the built-in configuration, the values documented
// in DESIGN.md and config.example.yaml. Each call returns a fresh value
// whose slices and maps the caller may change.
func DefaultConfig() *Config {
	return &Config{
		Mode:       ModeShadow,
		Thresholds: Thresholds{AutoApproveMax: 0.15, DenyMin: 0.85, AutoDeny: false},
		Tiers: []TierRule{
			{Match: "aws:*:AdministratorAccess", Tier: models.TierCritical},
			{Match: "aws:*:*ReadOnly*", Tier: models.TierLow},
		},
		Guardrails: Guardrails{
			NeverAutoApprove: []models.Tier{models.TierCritical},
			MaxDuration: map[models.Tier]time.Duration{
				models.TierLow:      24 * time.Hour,
				models.TierMedium:   12 * time.Hour,
				models.TierHigh:     4 * time.Hour,
				models.TierCritical: 1 * time.Hour,
			},
			UnknownRequester:     models.DecisionReview,
			NewEntitlement:       models.DecisionReview,
			RequireJustification: []models.Tier{models.TierHigh, models.TierCritical},
			Contractors: ContractorRules{
				EmploymentTypes:  []string{"contractor", "vendor"},
				NeverAutoApprove: []models.Tier{models.TierHigh, models.TierCritical},
			},
		},
		Personas: features.DefaultConfig().Personas,
		Windows:  features.DefaultConfig().Windows,
		Renewal: RenewalConfig{
			UnusedDays:    30,
			Within:        7 * day,
			MinCalls:      1,
			ReviewTiers:   []models.Tier{models.TierHigh, models.TierCritical},
			MinActiveDays: 3,
			MinAge:        7 * day,
		},
		Server: ServerConfig{
			Listen:         "127.0.0.1:8080",
			TokenEnv:       "JITSCORE_TOKEN",
			MaxBodyBytes:   1 << 20,
			ReadTimeout:    10 * time.Second,
			WriteTimeout:   15 * time.Second,
			IdleTimeout:    60 * time.Second,
			RequestTimeout: 5 * time.Second,
		},
		Backtest: BacktestConfig{MinutesPerReview: 10, Period: 30 * day},
	}
}

// LoadConfig reads and validates the config file at path. An empty path
// returns DefaultConfig. Problems come back as a *ValidationError naming
// the file and the line of each.
func LoadConfig(path string) (*Config, error) {
	if path == "" {
		return DefaultConfig(), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	return ParseConfig(f, path)
}

// Features is the features section (personas and windows) as
// features.Build takes it, with the tier of an uncatalogued entitlement
// taken from the config's patterns.
func (c *Config) Features() features.Config {
	fc := features.Config{Personas: c.Personas, Windows: c.Windows}
	fc.Personas.Attributes = append([]string(nil), c.Personas.Attributes...)
	tiers := append([]TierRule(nil), c.Tiers...)
	fc.Tier = func(id string) models.Tier {
		cc := Config{Tiers: tiers}
		return cc.TierOf(id, "")
	}
	return fc
}

// Source is the file the config was read from, "" for the defaults.
func (c *Config) Source() string { return c.source }

// Line is the line of path's value in the config file, 0 when the file did
// not set it.
func (c *Config) Line(path string) int { return c.lines[path] }

// Problem is one thing wrong with a config: the field path
// ("thresholds.deny_min", "tiers[2].match"), the line of the file it is on
// (0 when the value came from the defaults) and what is wrong.
type Problem struct {
	Path string `json:"path"`
	Line int    `json:"line"`
	Msg  string `json:"message"`
}

// ValidationError lists every problem found in one config. ParseConfig,
// LoadConfig and Validate return it (as *ValidationError), so that callers
// can print each problem with errors.As.
type ValidationError struct {
	File     string    `json:"file"`
	Problems []Problem `json:"problems"`
}

// Error gives one "FILE:LINE: path: message" line per problem.
func (e *ValidationError) Error() string {
	s := ""
	for i, p := range e.Problems {
		if i > 0 {
			s += "\n"
		}
		s += e.Format(p)
	}
	return s
}

// Format writes one problem the way `jitscore config check` prints it.
func (e *ValidationError) Format(p Problem) string {
	file := e.File
	if file == "" {
		file = "config"
	}
	loc := file
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", file, p.Line)
	}
	if p.Path == "" {
		return loc + ": " + p.Msg
	}
	return loc + ": " + p.Path + ": " + p.Msg
}

// IsValidationError reports whether err is or wraps a *ValidationError and
// returns it.
func IsValidationError(err error) (*ValidationError, bool) {
	var ve *ValidationError
	ok := errors.As(err, &ve)
	return ve, ok
}

// Redacted returns a copy safe to log or print: every bearer token is
// replaced by "REDACTED" (their number is kept), and nothing else changes.
func (c *Config) Redacted() *Config {
	r := c.clone()
	for i := range r.Server.Tokens {
		r.Server.Tokens[i] = "REDACTED"
	}
	return r
}

// PolicyVersion is a short hash (12 hex digits) of the effective config:
// the canonical JSON of the redacted view, so two configs that decide alike
// share a version whatever their file's layout, comments or key order,
// and no token reaches the hash.
func (c *Config) PolicyVersion() string {
	b, err := json.Marshal(c.Redacted())
	if err != nil {
		// Every field is a plain value json can encode; reaching here
		// is a programmer error in this file.
		panic(fmt.Sprintf("approve: encode config: %v", err))
	}
	sum := sha256.Sum256(b)
	return "p-" + hex.EncodeToString(sum[:6])
}

// clone deep-copies the slices and maps of c.
func (c *Config) clone() *Config {
	r := *c
	r.Tiers = append([]TierRule(nil), c.Tiers...)
	r.Guardrails.NeverAutoApprove = append([]models.Tier(nil), c.Guardrails.NeverAutoApprove...)
	r.Guardrails.RequireJustification = append([]models.Tier(nil), c.Guardrails.RequireJustification...)
	r.Guardrails.Contractors.EmploymentTypes = append([]string(nil), c.Guardrails.Contractors.EmploymentTypes...)
	r.Guardrails.Contractors.NeverAutoApprove = append([]models.Tier(nil), c.Guardrails.Contractors.NeverAutoApprove...)
	if c.Guardrails.MaxDuration != nil {
		r.Guardrails.MaxDuration = make(map[models.Tier]time.Duration, len(c.Guardrails.MaxDuration))
		for k, v := range c.Guardrails.MaxDuration {
			r.Guardrails.MaxDuration[k] = v
		}
	}
	r.Personas.Attributes = append([]string(nil), c.Personas.Attributes...)
	r.Renewal.ReviewTiers = append([]models.Tier(nil), c.Renewal.ReviewTiers...)
	r.Server.Tokens = append([]string(nil), c.Server.Tokens...)
	return &r
}
