package features

import (
	"strings"
	"time"

	"github.com/jitscore/jitscore/models"
)

// Snapshot is the immutable, in-memory view of every feature as of one
// instant. The scorer reads it with map lookups only: no query and no I/O
// happens while a request is scored. A Snapshot is safe for concurrent
// readers; nothing may modify it after Build returns it.
//
// Every count in a Snapshot is computed from data strictly before AsOf, so
// a model trained on snapshots taken at each request's time cannot see the
// future.
type Snapshot struct {
	AsOf    time.Time // features use only data before this instant
	BuiltAt time.Time
	Version string // content hash, changes whenever any feature changes

	// Windows used when the snapshot was built.
	PeerWindow  time.Duration
	UsageWindow time.Duration

	People       map[string]*Person          // by canonical user id
	Keys         map[string]string           // lower-cased alias, user id or identity store id -> user id
	Personas     map[string]*models.Persona  // by persona id
	Entitlements map[string]*EntitlementStat // by entitlement id

	// Peer coverage of an entitlement within a group, keyed by group id and
	// entitlement id. Group ids are persona ids for PeerAttr and PeerUsage
	// and the manager's user id for PeerManager.
	PeerAttr    map[PairKey]Coverage
	PeerUsage   map[PairKey]Coverage
	PeerManager map[PairKey]Coverage

	// History of one person with one entitlement, keyed by user id and
	// entitlement id.
	History map[PairKey]History

	// PersonTotals summarises a person's history over all entitlements.
	PersonTotals map[string]History

	// AttrStats counts decided requests per (attribute=value, entitlement),
	// for smoothed target statistics. Key.A is "department=Payments".
	AttrStats map[PairKey]Outcomes

	// Global outcome counts over all decided requests before AsOf.
	Global Outcomes

	// ManagerSize is the number of people reporting to each manager (by the
	// manager's user id), the Members of PeerManager groups.
	ManagerSize map[string]int

	// Renewal holds the grants in effect at AsOf with their use, for
	// renewal review (see renewal.go).
	Renewal Renewal
}

// PairKey keys a statistic by two ids.
type PairKey struct{ A, B string }

// Person is what the snapshot knows of one identity.
type Person struct {
	User           string
	Attributes     map[string]string
	AttrPersona    string // persona id of kind attribute, "" when none
	UsagePersona   string // persona id of kind usage, "" when none
	Manager        string
	EmploymentType string
	StartDate      time.Time // zero when unknown
	Entitlements   int       // distinct entitlements granted in the peer window
	OutlierScore   float64   // 0 = like the persona, 1 = nothing in common
	// Unusual lists up to three entitlements the person holds that fewer
	// than a fifth of their attribute persona's other members hold.
	Unusual []string
}

// Coverage is the share of a group that holds or uses an entitlement.
type Coverage struct {
	Members int // people in the group
	Granted int // members granted the entitlement within the peer window
	Used    int // members with CloudTrail use of it within the usage window
}

// History is one requester's past with an entitlement (or with all of them,
// in PersonTotals).
type History struct {
	Requests    int
	Approved    int
	Denied      int
	Grants      int       // grants made
	GrantsUsed  int       // grants with any CloudTrail use inside their window
	LastGrantAt time.Time // zero when none
	LastUsedAt  time.Time // zero when never used
}

// Outcomes counts decided requests.
type Outcomes struct {
	Approved int
	Denied   int
}

// EntitlementStat is the reuse picture of one entitlement.
type EntitlementStat struct {
	ID               string
	App              string
	Tier             models.Tier // from the catalogue, else Config.Tier, else ""
	Catalogued       bool
	Requests         int
	Requesters       int
	Approved         int
	Denied           int
	ReRequestRate    float64       // share of requesters who asked more than once
	MedianInterval   time.Duration // between one requester's requests
	MedianDuration   time.Duration // typical granted length
	Grants           int
	GrantsUsed       int           // grants with CloudTrail use in their window
	MedianTimeToUse  time.Duration // grant start to first call
	LastUsedAt       time.Time
	CloudTrailBacked bool // an AWS entitlement whose use CloudTrail can show
}

// Resolve maps any name of a person (user id, alias, Identity Store id; any
// case) to the canonical user id. ok is false for an unknown requester.
func (s *Snapshot) Resolve(name string) (string, bool) {
	if _, ok := s.People[name]; ok {
		return name, true
	}
	u, ok := s.Keys[strings.ToLower(strings.TrimSpace(name))]
	return u, ok
}
