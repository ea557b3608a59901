// Package features turns the loaded history (identities, the entitlement
// catalogue, requests, grants and CloudTrail usage) into the features the
// risk model scores with: personas, entitlement reuse, peer coverage,
// requester history and smoothed-statistics inputs.
//
// The flow is Load (read the history from DuckDB once), Build (a pure
// function of that history, a Config and an as-of instant, giving an
// immutable Snapshot that uses only data strictly before the instant),
// Write (the feature tables of the public schema) and Snapshot.WriteFile
// (the compact file that `jitscore serve` loads). Rollup, run before Load,
// refreshes the usage_daily table from the CloudTrail events view in SQL.
package features

import (
	"time"

	"github.com/jitscore/jitscore/models"
)

// Config is the features section of config.yaml: the personas and windows
// keys. The yaml tags name those keys; durations such as "90d" are parsed
// by the config package (approve.LoadConfig) with models.ParseDuration and
// copied in, since a YAML decoder alone reads only Go's "2160h" form.
type Config struct {
	Personas PersonaConfig `yaml:"personas" json:"personas"`
	Windows  WindowConfig  `yaml:"windows" json:"windows"`
	// Tier, when set, names the tier of an entitlement the catalogue does
	// not list (the config's tier patterns). Nil leaves such tiers empty.
	Tier func(entitlementID string) models.Tier `yaml:"-" json:"-"`
}

// PersonaConfig says how attribute personas are formed. Attributes are
// identity attribute names (department, title, team, ...), from the
// broadest to the finest. A group of people sharing every attribute becomes
// a persona once it has MinMembers people; smaller groups fall back to the
// attributes without the last one, and so on, down to the persona "other".
type PersonaConfig struct {
	Attributes []string `yaml:"attributes" json:"attributes"`
	MinMembers int      `yaml:"min_members" json:"min_members"`
}

// WindowConfig is how far back from the as-of instant peer coverage looks:
// Peer for grants (a grant starting within it counts), Usage for CloudTrail
// use (a day of use ending within it counts).
type WindowConfig struct {
	Peer  time.Duration `yaml:"peer" json:"peer"`
	Usage time.Duration `yaml:"usage" json:"usage"`
}

// DefaultConfig returns the built-in values: personas by department and
// title with at least 3 members, 90-day peer and usage windows.
func DefaultConfig() Config {
	return Config{
		Personas: PersonaConfig{Attributes: []string{"department", "title"}, MinMembers: 3},
		Windows:  WindowConfig{Peer: 90 * 24 * time.Hour, Usage: 90 * 24 * time.Hour},
	}
}

// withDefaults fills zero values with the defaults.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if len(c.Personas.Attributes) == 0 {
		c.Personas.Attributes = d.Personas.Attributes
	}
	if c.Personas.MinMembers <= 0 {
		c.Personas.MinMembers = d.Personas.MinMembers
	}
	if c.Windows.Peer <= 0 {
		c.Windows.Peer = d.Windows.Peer
	}
	if c.Windows.Usage <= 0 {
		c.Windows.Usage = d.Windows.Usage
	}
	return c
}
