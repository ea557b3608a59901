package schema

// The decision audit log. A scoring server never writes the database (it
// must not hold the file while ingest and build run), so it appends its
// decisions to NDJSON segment files of its own; approve.FoldAudit copies
// them in here the next time a command opens the database for writing.
//
// audit_decisions  one row per answered decision, keyed by decision_id, so
//
//	folding a segment twice adds nothing. The requester's justification
//	is never stored, only its length. reasons and features are JSON.
//	segment and line say where in the audit store the row came from.
//
// audit_segments   how far each segment file has been folded, in bytes of
//
//	complete lines, so a fold reads only what is new.
//
// audit_rejects    lines of a segment that could not be read as a
//
//	decision, with their position and the reason, so that nothing in
//	the audit store disappears silently.
//
// decisions        the public view analysts query with `jitscore sql`.
func init() {
	Register(Step{Order: 60, Name: "audit", SQL: `
CREATE TABLE IF NOT EXISTS audit_decisions (
	decision_id          VARCHAR PRIMARY KEY,
	decided_at           TIMESTAMP,
	source               VARCHAR,
	request_id           VARCHAR,
	requester_input      VARCHAR,
	requester            VARCHAR,
	entitlement          VARCHAR,
	duration             VARCHAR,
	requested_at         VARCHAR,
	justification_length INTEGER,
	tier                 VARCHAR,
	risk                 DOUBLE,
	decision             VARCHAR,
	policy_decision      VARCHAR,
	mode                 VARCHAR,
	model_version        VARCHAR,
	policy_version       VARCHAR,
	reasons              JSON,
	features             JSON,
	error                VARCHAR,
	segment              VARCHAR,
	line                 BIGINT,
	folded_at            TIMESTAMP
);
CREATE TABLE IF NOT EXISTS audit_segments (
	segment      VARCHAR PRIMARY KEY,
	folded_bytes BIGINT NOT NULL,
	folded_lines BIGINT NOT NULL,
	folded_at    TIMESTAMP
);
CREATE TABLE IF NOT EXISTS audit_rejects (
	segment   VARCHAR,
	line      BIGINT,
	reason    VARCHAR,
	raw       VARCHAR,
	folded_at TIMESTAMP,
	PRIMARY KEY (segment, line)
);
CREATE OR REPLACE VIEW decisions AS
SELECT decision_id, decided_at, source, request_id, requester_input, requester,
       entitlement, duration, requested_at, justification_length, tier, risk,
       decision, policy_decision, mode, model_version, policy_version, reasons,
       features, error
FROM audit_decisions;`})
}
