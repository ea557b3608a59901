package schema

// Renewal plans: what `jitscore renewals` decided for each expiring grant,
// and, with --apply, every IAM Identity Center call it made.
//
// renewal_runs   one row per run: when it reviewed (reviewed_at, within), the
//
//	policy and snapshot versions it used, whether it applied, and the
//	count of each action.
//
// renewals       one row per (run, grant): the action, its reasons as JSON
//
//	(a list of {factor, contribution, detail}), the grant's expiry, and
//	for revocations under --apply whether the access is gone (applied)
//	and the result: deleted, already_absent, skipped or failed.
//
// renewal_calls  one row per sso-admin call of a run, in order: the
//
//	operation, its parameters as JSON (ARNs and ids, never credentials),
//	the outcome (ok, not_found, error) and a detail (status, error text).
func init() {
	Register(Step{Order: 65, Name: "renewals", SQL: `
CREATE TABLE IF NOT EXISTS renewal_runs (
	run_id           VARCHAR PRIMARY KEY,
	reviewed_at      TIMESTAMP NOT NULL,
	within_seconds   BIGINT NOT NULL,
	policy_version   VARCHAR,
	snapshot_version VARCHAR,
	apply            BOOLEAN NOT NULL,
	grants           BIGINT NOT NULL,
	renew            BIGINT NOT NULL,
	revoke           BIGINT NOT NULL,
	review           BIGINT NOT NULL,
	recorded_at      TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS renewals (
	run_id       VARCHAR NOT NULL,
	request_id   VARCHAR NOT NULL,
	requester    VARCHAR,
	entitlement  VARCHAR,
	action       VARCHAR NOT NULL,
	reasons      JSON,
	expires_at   TIMESTAMP,
	applied      BOOLEAN NOT NULL,
	apply_result VARCHAR,
	apply_detail VARCHAR,
	PRIMARY KEY (run_id, request_id)
);
CREATE TABLE IF NOT EXISTS renewal_calls (
	run_id     VARCHAR NOT NULL,
	seq        BIGINT NOT NULL,
	request_id VARCHAR,
	operation  VARCHAR NOT NULL,
	input      JSON,
	outcome    VARCHAR NOT NULL,
	detail     VARCHAR,
	called_at  TIMESTAMP NOT NULL,
	PRIMARY KEY (run_id, seq)
);`})
}
