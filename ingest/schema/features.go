package schema

// Feature tables are written by `jitscore build` (package features), after
// the broker tables (15) and CloudTrail events (20). Every table but
// usage_daily is replaced whole by each build and carries the build's as_of:
// the features use only data from before that instant.
//
// usage_daily        per (person, entitlement, UTC day) from the events
//
//	view: calls, writes (read_only = false), errors (an error code),
//	distinct services (event sources), first and last call, and
//	active_slots: bit i set when there were calls in the i-th half hour of
//	the day (UTC), so that use can be placed inside a grant's window.
//
// personas           one row per persona: kind is "attribute" (from the
//
//	configured identity attributes) or "usage" (clusters of people by the
//	entitlements they were granted and used); name is readable.
//
// persona_members    one row per (persona, person); every person is in
//
//	exactly one persona of each kind.
//
// entitlement_stats  the reuse picture of each entitlement: requests,
//
//	distinct requesters, approval rate (approved / decided), re-request
//	rate (requesters who asked more than once / requesters) and the median
//	interval between one requester's requests, median granted duration,
//	grants, grants used in their window and their share, median time from
//	grant to first call, last use. Durations are in seconds.
//
// peer_coverage      per (group, entitlement): members, how many were
//
//	granted it within the peer window and how many used it within the
//	usage window, and those as shares. group_kind is "attribute", "usage"
//	(group_id a persona id) or "manager" (group_id the manager's user id,
//	members the manager's reports). Pairs nobody was granted or used are
//	left out. manager_coverage is the manager part as a view.
//
// requester_history  per (person, entitlement): earlier requests, approvals,
//
//	denials, grants, grants with use in their window, last grant and last
//	use. requester_totals is the same summed per person.
//
// outliers           per person: how far their access is from their
//
//	attribute persona's (0 alike, 1 nothing in common) and the
//	entitlements that make the difference.
//
// feature_builds     one row per build: version, as_of, when, sizes.
func init() {
	Register(Step{Order: 40, Name: "features", SQL: `
CREATE TABLE IF NOT EXISTS usage_daily (
	person      VARCHAR NOT NULL,
	entitlement VARCHAR NOT NULL,
	day         DATE NOT NULL,
	calls       BIGINT NOT NULL,
	writes      BIGINT NOT NULL,
	errors      BIGINT NOT NULL,
	services    BIGINT NOT NULL,
	first_at    TIMESTAMP NOT NULL,
	last_at     TIMESTAMP NOT NULL,
	active_slots BIGINT NOT NULL DEFAULT 0
);
ALTER TABLE usage_daily ADD COLUMN IF NOT EXISTS active_slots BIGINT DEFAULT 0;
CREATE TABLE IF NOT EXISTS personas (
	persona_id VARCHAR NOT NULL,
	kind       VARCHAR NOT NULL,
	name       VARCHAR NOT NULL,
	members    BIGINT NOT NULL,
	as_of      TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS persona_members (
	persona_id VARCHAR NOT NULL,
	kind       VARCHAR NOT NULL,
	user_id    VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS entitlement_stats (
	entitlement                VARCHAR NOT NULL,
	app                        VARCHAR,
	tier                       VARCHAR,
	catalogued                 BOOLEAN NOT NULL,
	cloudtrail_backed          BOOLEAN NOT NULL,
	requests                   BIGINT NOT NULL,
	requesters                 BIGINT NOT NULL,
	approved                   BIGINT NOT NULL,
	denied                     BIGINT NOT NULL,
	approval_rate              DOUBLE,
	re_request_rate            DOUBLE,
	median_interval_seconds    DOUBLE,
	median_duration_seconds    DOUBLE,
	grants                     BIGINT NOT NULL,
	grants_used                BIGINT NOT NULL,
	used_share                 DOUBLE,
	median_time_to_use_seconds DOUBLE,
	last_used_at               TIMESTAMP,
	as_of                      TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS peer_coverage (
	group_kind    VARCHAR NOT NULL,
	group_id      VARCHAR NOT NULL,
	entitlement   VARCHAR NOT NULL,
	members       BIGINT NOT NULL,
	granted       BIGINT NOT NULL,
	used          BIGINT NOT NULL,
	granted_share DOUBLE,
	used_share    DOUBLE,
	as_of         TIMESTAMP NOT NULL
);
CREATE OR REPLACE VIEW manager_coverage AS
SELECT group_id AS manager, entitlement, members, granted, used, granted_share, used_share, as_of
FROM peer_coverage WHERE group_kind = 'manager';
CREATE TABLE IF NOT EXISTS requester_history (
	user_id       VARCHAR NOT NULL,
	entitlement   VARCHAR NOT NULL,
	requests      BIGINT NOT NULL,
	approved      BIGINT NOT NULL,
	denied        BIGINT NOT NULL,
	grants        BIGINT NOT NULL,
	grants_used   BIGINT NOT NULL,
	last_grant_at TIMESTAMP,
	last_used_at  TIMESTAMP,
	as_of         TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS requester_totals (
	user_id       VARCHAR NOT NULL,
	requests      BIGINT NOT NULL,
	approved      BIGINT NOT NULL,
	denied        BIGINT NOT NULL,
	grants        BIGINT NOT NULL,
	grants_used   BIGINT NOT NULL,
	last_grant_at TIMESTAMP,
	last_used_at  TIMESTAMP,
	as_of         TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS outliers (
	user_id      VARCHAR NOT NULL,
	persona_id   VARCHAR,
	score        DOUBLE NOT NULL,
	entitlements BIGINT NOT NULL,
	unusual      VARCHAR[],
	as_of        TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS feature_builds (
	version              VARCHAR NOT NULL,
	as_of                TIMESTAMP NOT NULL,
	built_at             TIMESTAMP NOT NULL,
	people               BIGINT NOT NULL,
	personas             BIGINT NOT NULL,
	entitlements         BIGINT NOT NULL,
	peer_window_seconds  BIGINT NOT NULL,
	usage_window_seconds BIGINT NOT NULL
);`})
}
