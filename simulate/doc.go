// Package simulate generates a synthetic organisation in every input format
// jitscore reads, with the truth behind it, for tests, benchmarks, model
// evaluation and the demo.
//
// Generate builds the organisation from a Config; Org.Write writes it. The
// same Config (seed included) always gives byte-identical files, whatever
// the number of workers. CloudTrail events are drawn while writing, a day
// at a time, from a random stream per session, so memory stays bounded and
// the files do not depend on scheduling.
//
// # The organisation
//
// People belong to a persona (department and title: Payments/Backend
// Engineer, Platform/SRE, Data/Analytics Engineer, Security/Security
// Engineer, Support/Support Agent, Finance/Analyst, Sales/Account
// Executive, a few managers and leads), split by weight with every persona
// present when there are at least twelve people. Each has a manager, a
// location, an employment type (a persona-dependent share are
// contractors), a start date (about 8% join during the history), a login
// alias and sometimes an old email as a second alias, and an IAM Identity
// Center user id.
//
// Entitlements are IAM Identity Center permission sets per account
// (aws:<account>:<PermissionSet>, for ReadOnly, BillingReadOnly,
// SecurityAudit, DataScientist, PowerUser and AdministratorAccess in the
// prod 111122223333, staging 444455556666 and data 777788889999 accounts)
// and app entitlements with no CloudTrail (stripe:refunds, github:org-admin,
// okta:admin, salesforce:export, ...). Each persona requests some
// entitlements routinely, some occasionally, and each person also tries two
// entitlements outside the profile now and then.
//
// # Requests and the reviewer
//
// Each day, each person draws requests per entitlement at a rate set by the
// profile level, their own activity and the weekday (weekends are a tenth;
// the last day is always a working day, and its requests stay pending).
// Using a grant makes a person ask for it again; leaving it unused or being
// denied makes it rarer. Requesters are written as the canonical email,
// sometimes as an alias or with a capitalised first letter; durations as
// "8h", "PT8H" or seconds; justifications are sometimes empty and often
// cite a ticket, which also fills the extra ticket column. Extended-access
// requests (weeks long, about 30% of people) are made late in the history
// so that their grants expire within a week after its end.
//
// The simulated reviewer denies with probability sigmoid(z), where
//
//	z = -2.2
//	  + 0.9 if the entitlement is occasional for the persona, 2.0 if outside it
//	  + 0.35 * tier rank (low 0 ... critical 3)
//	  + 0.8 * min(log2(duration / typical), 3) when duration > 1.5 * typical
//	    (typical is the entitlement's usual length, or 30 days for extended access)
//	  + 1.3 without justification, or -0.5 with a ticket reference
//	  + 1.0 when the requester's tenure is under 30 days
//	  + 1.4 for a contractor on a high or critical tier
//	  + 2.0 * share of the requester's earlier ended AWS grants left unused
//	    (once there are at least two)
//	  + 0.8 off hours (weekends, before 08:00 or from 19:00 UTC)
//	  - 0.45 * min(earlier used grants of this entitlement, 4)
//	    (for apps, earlier grants, since their use cannot be seen)
//
// so a persona×entitlement deny rate cannot explain it. Of the requests not
// pending, 1.5% are canceled and 1% expire undecided; a low-tier approval
// of a requester with earlier use and a probability under 0.06 is decided
// by "auto", the others by the manager or the entitlement's owner. 4% of
// grants are revoked early.
//
// # Use and CloudTrail
//
// Whether a grant is used is drawn from the person's unused propensity
// (persona base times a personal factor), raised for occasional (+0.1) and
// out-of-profile (+0.25) entitlements and critical tiers (+0.05). A used AWS
// grant gets one or two sessions inside its window (extended access: a
// session on some working days, sometimes stopping weeks before the end);
// an unused one gets none. Session events are AssumedRole calls through
// AWSReservedSSO_<PermissionSet>_<16 hex> with the person's email or an
// alias as session name, calls fitting the permission set (read-heavy for
// ReadOnly, writes for PowerUser, iam and organizations for Admin; calls
// the set does not allow come back AccessDenied), sometimes preceded by
// IdentityCenterUser portal calls whose onBehalfOf.userId is the person's
// identity_store_id. Background noise (NoiseShare of events) is AWSService
// calls and pipeline runs of the IAM user ci-deployer.
//
// # Files under OUT
//
//	identities.csv, identities.ndjson   user, aliases (;-separated), identity_store_id,
//	                                    team, department, title, manager, location,
//	                                    employment_type, start_date
//	entitlements.csv                    entitlement, app, aws_account, aws_role, tier,
//	                                    owner, description
//	requests.csv, requests.ndjson       RequestColumns: the request-history columns
//	                                    plus ticket; NDJSON leaves empty fields out
//	pending.ndjson                      models.ScoreRequest per line, the pending requests
//	cloudtrail/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/
//	    <account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<16 random>.json.gz
//	                                    {"Records":[...]}, at most RecordsPerFile each,
//	                                    one file stream per account and region
//	cloudtrail/AWSLogs/<account>/CloudTrail-Digest/...   one digest file, to be skipped
//	cloudtrail-other/                   OtherSample copies of trail events (same
//	                                    eventID) as a bare array, NDJSON, EventBridge
//	                                    envelopes and lookup-events output
//	truth.json                          Truth
//
// truth.json holds the seed, the history's start and end, the Summary, and
// per person the persona by construction and traits; per request the
// canonical user, status, decided_by, the reviewer's probability, its
// decision ("approved" or "denied"; for pending, canceled and expired
// requests what it would have decided) and the signals it saw; per grant
// its window, whether CloudTrail can show its use, whether it was used, and
// its planned sessions, events (portal events included) and first and last
// use. A CloudTrail grant marked unused has no events at all.
package simulate
