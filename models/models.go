// Package models holds the domain types that every other jitscore package
// shares: CloudTrail events, people, entitlements, access requests and the
// grants they produce, personas, and the decisions made about requests.
//
// The package imports only the standard library so that any layer may depend
// on it. Types here are plain data; behaviour lives in the packages that own
// it (ingest, features, scoring, approve).
package models

import "time"

// PrincipalType is the userIdentity.type of a CloudTrail event as recorded.
// It is kept as text because AWS adds types over time; the constants below
// are the ones jitscore resolves actors for.
type PrincipalType = string

// Principal types seen in CloudTrail userIdentity.type.
const (
	PrincipalAssumedRole        PrincipalType = "AssumedRole"
	PrincipalIAMUser            PrincipalType = "IAMUser"
	PrincipalIdentityCenterUser PrincipalType = "IdentityCenterUser"
	PrincipalFederatedUser      PrincipalType = "FederatedUser"
	PrincipalSAMLUser           PrincipalType = "SAMLUser"
	PrincipalWebIdentityUser    PrincipalType = "WebIdentityUser"
	PrincipalRoot               PrincipalType = "Root"
	PrincipalAWSService         PrincipalType = "AWSService"
	PrincipalAWSAccount         PrincipalType = "AWSAccount"
	PrincipalUnknown            PrincipalType = "Unknown"
)

// Event is one CloudTrail record after normalisation. Times are UTC.
// Optional fields are empty strings when the record does not carry them.
type Event struct {
	EventID       string
	EventTime     time.Time
	EventSource   string // e.g. "s3.amazonaws.com"
	EventName     string // e.g. "GetObject"
	AWSRegion     string
	AccountID     string // recipientAccountId, else userIdentity.accountId
	ReadOnly      *bool  // nil when the record does not say
	ErrorCode     string
	ErrorMessage  string
	SourceIP      string // sourceIPAddress exactly as given
	UserAgent     string
	PrincipalType PrincipalType
	PrincipalARN  string
	// PrincipalID is userIdentity.principalId; for Identity Center users it
	// is empty and OnBehalfOf holds the Identity Store user id.
	PrincipalID string
	OnBehalfOf  string
	// SessionName is the role session name of an assumed role, or the
	// federated user name; the raw material of actor resolution.
	SessionName string
	// Actor is the human or workload behind the event as far as the record
	// itself tells; the events view maps it through identities.
	Actor string
	// Entitlement is the entitlement in use, e.g. "aws:111122223333:PowerUser"
	// for an Identity Center permission set, or empty.
	Entitlement   string
	EventCategory string // Management, Data, Insight
	EventType     string // AwsApiCall, AwsConsoleSignIn, AwsServiceEvent, ...
	Raw           []byte // the record as read, compact JSON
}

// Identity is one person from the identities file.
type Identity struct {
	User            string            // canonical id (email or login)
	Aliases         []string          // other names: session names, IAM users
	IdentityStoreID string            // IAM Identity Center user id
	Attributes      map[string]string // team, department, title, manager, ...
}

// Tier is an entitlement's sensitivity.
type Tier string

// Tiers from least to most sensitive.
const (
	TierLow      Tier = "low"
	TierMedium   Tier = "medium"
	TierHigh     Tier = "high"
	TierCritical Tier = "critical"
)

// Rank orders tiers: low 0, medium 1, high 2, critical 3, unknown -1.
func (t Tier) Rank() int {
	switch t {
	case TierLow:
		return 0
	case TierMedium:
		return 1
	case TierHigh:
		return 2
	case TierCritical:
		return 3
	}
	return -1
}

// Entitlement is one row of the entitlement catalogue, or one derived from
// an entitlement id when there is no catalogue.
type Entitlement struct {
	ID          string // e.g. "aws:111122223333:AdministratorAccess"
	App         string // "aws" or the application name
	AWSAccount  string
	AWSRole     string // role or permission-set name
	Tier        Tier
	Owner       string
	Description string
}

// RequestStatus is the broker's status of a request.
type RequestStatus string

// Request statuses as the broker reports them.
const (
	StatusApproved RequestStatus = "approved"
	StatusDenied   RequestStatus = "denied"
	StatusPending  RequestStatus = "pending"
	StatusCanceled RequestStatus = "canceled"
	StatusExpired  RequestStatus = "expired"
	StatusRevoked  RequestStatus = "revoked"
)

// Request is one access request from the broker's history, or an incoming
// request to score (then Status is empty or pending).
type Request struct {
	RequestID     string
	Requester     string
	Entitlement   string
	RequestedAt   time.Time
	Status        RequestStatus
	Duration      time.Duration // 0 when not given
	Justification string
	DecidedAt     time.Time // zero when not given
	DecidedBy     string    // "auto" for an automatic approval
	GrantedAt     time.Time
	ExpiresAt     time.Time
	RevokedAt     time.Time
	Attributes    map[string]string // unknown extra columns
}

// Grant is the access window a request produced.
type Grant struct {
	RequestID   string
	Requester   string
	Entitlement string
	GrantedAt   time.Time
	ExpiresAt   time.Time
	RevokedAt   time.Time // zero when not revoked
}

// End is when the grant stopped: the revocation if earlier than expiry.
func (g Grant) End() time.Time {
	if !g.RevokedAt.IsZero() && g.RevokedAt.Before(g.ExpiresAt) {
		return g.RevokedAt
	}
	return g.ExpiresAt
}

// PersonaKind tells how a persona was formed.
type PersonaKind string

// Persona kinds.
const (
	PersonaAttribute PersonaKind = "attribute"
	PersonaUsage     PersonaKind = "usage"
)

// Persona is a group of people who do the same job.
type Persona struct {
	ID      string // stable id, e.g. "attr:Payments/Backend Engineer"
	Kind    PersonaKind
	Name    string // readable, from the dominant attributes
	Members []string
}

// Decision is what the policy answers for a request.
type Decision string

// Decisions, from most to least permissive.
const (
	DecisionAutoApprove Decision = "auto_approve"
	DecisionReview      Decision = "review"
	DecisionDeny        Decision = "deny"
)

// Strictness orders decisions: auto_approve 0, review 1, deny 2. An unknown
// decision counts as review so that it can never loosen anything.
func (d Decision) Strictness() int {
	switch d {
	case DecisionAutoApprove:
		return 0
	case DecisionDeny:
		return 2
	}
	return 1
}

// Stricter returns the stricter of two decisions.
func Stricter(a, b Decision) Decision {
	if b.Strictness() > a.Strictness() {
		return b
	}
	return a
}

// Reason is one factor behind a decision: what it is, how much it moved the
// risk (positive raises it), and a sentence a reviewer understands.
type Reason struct {
	Factor       string  `json:"factor"`
	Contribution float64 `json:"contribution"`
	Detail       string  `json:"detail"`
}

// ScoreRequest is the body of POST /v1/score and one line of `jitscore score`.
type ScoreRequest struct {
	RequestID     string `json:"request_id"`
	Requester     string `json:"requester"`
	Entitlement   string `json:"entitlement"`
	Duration      string `json:"duration,omitempty"`
	Justification string `json:"justification,omitempty"`
	RequestedAt   string `json:"requested_at,omitempty"`
}

// ScoreResponse is the decision answered for one request.
type ScoreResponse struct {
	RequestID      string   `json:"request_id"`
	Risk           float64  `json:"risk"`
	Decision       Decision `json:"decision"`
	PolicyDecision Decision `json:"policy_decision"`
	Tier           Tier     `json:"tier,omitempty"`
	Reasons        []Reason `json:"reasons"`
	ModelVersion   string   `json:"model_version"`
	PolicyVersion  string   `json:"policy_version"`
}

// RenewalAction is what renewal review says about one expiring grant.
type RenewalAction string

// Renewal actions.
const (
	RenewalRenew  RenewalAction = "renew"
	RenewalRevoke RenewalAction = "revoke"
	RenewalReview RenewalAction = "review"
)

// Renewal is one renewal decision, the object of POST /v1/renewals actions
// and of each line of `jitscore renewals`.
type Renewal struct {
	RequestID   string        `json:"request_id"`
	Requester   string        `json:"requester"`
	Entitlement string        `json:"entitlement"`
	Action      RenewalAction `json:"action"`
	Reasons     []Reason      `json:"reasons"`
	ExpiresAt   time.Time     `json:"expires_at"`
}
