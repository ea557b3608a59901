package schema

// CloudTrail tables come after the identity tables (Order 10) because the
// public events view joins identity_keys.
//
// ct_events      one row per distinct eventID; the normalised columns plus
//
//	the record as read (raw, compact JSON text). actor_raw is the actor as
//	the record itself names it (session name, IAM user name, Identity
//	Store user id, ...) and actor_key its lower-cased form, kept so that
//	the events view is a plain hash join on identity_keys.key.
//
// ct_files       what each loaded file or object was when it was read
//
//	(size, and mtime or ETag as version), how it was classified and how
//	many usable records it held. An unchanged file is not read again
//	unless a load asks for a rescan. A row is committed in the same
//	transaction as the file's last events, so after a crash a file is
//	either fully recorded or read again.
//
// quarantine     records or files that could not be used: the source
//
//	(path or s3://bucket/key), the position inside it ("line 7",
//	"record 3", "file"), the reason, a snippet of at most 512 bytes of
//	the input and when it was found.
//
// events         the public view. actor is the person behind the event:
//
//	the identities entry whose user id, alias or Identity Store id equals
//	actor_raw (case-insensitively), otherwise actor_raw itself. Loading
//	identities after CloudTrail therefore re-resolves actors without any
//	re-ingest.
func init() {
	Register(Step{Order: 20, Name: "events", SQL: `
CREATE TABLE IF NOT EXISTS ct_events (
	event_id         VARCHAR NOT NULL,
	event_time       TIMESTAMP NOT NULL,
	event_source     VARCHAR,
	event_name       VARCHAR,
	aws_region       VARCHAR,
	account_id       VARCHAR,
	read_only        BOOLEAN,
	error_code       VARCHAR,
	error_message    VARCHAR,
	source_ip        VARCHAR,
	source_ip_parsed VARCHAR,
	user_agent       VARCHAR,
	principal_type   VARCHAR,
	principal_arn    VARCHAR,
	principal_id     VARCHAR,
	on_behalf_of     VARCHAR,
	session_name     VARCHAR,
	actor_raw        VARCHAR,
	actor_key        VARCHAR,
	entitlement      VARCHAR,
	event_category   VARCHAR,
	event_type       VARCHAR,
	source           VARCHAR,
	raw              VARCHAR
);
CREATE TABLE IF NOT EXISTS ct_files (
	source      VARCHAR PRIMARY KEY,
	size        BIGINT,
	version     VARCHAR,
	kind        VARCHAR,
	records     BIGINT,
	quarantined BIGINT,
	note        VARCHAR,
	loaded_at   TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS quarantine (
	source    VARCHAR NOT NULL,
	position  VARCHAR NOT NULL,
	reason    VARCHAR NOT NULL,
	snippet   VARCHAR,
	loaded_at TIMESTAMP DEFAULT current_timestamp
);
CREATE OR REPLACE VIEW events AS
SELECT
	e.event_id,
	e.event_time,
	e.event_source,
	e.event_name,
	e.aws_region,
	e.account_id,
	e.read_only,
	e.error_code,
	e.error_message,
	e.source_ip,
	e.source_ip_parsed,
	e.user_agent,
	e.principal_type,
	e.principal_arn,
	e.principal_id,
	e.on_behalf_of,
	e.session_name,
	coalesce(k.user_id, e.actor_raw) AS actor,
	e.actor_raw,
	e.entitlement,
	e.event_category,
	e.event_type,
	e.source,
	CAST(e.raw AS JSON) AS raw
FROM ct_events e
LEFT JOIN identity_keys k ON k.key = e.actor_key;`})
}
