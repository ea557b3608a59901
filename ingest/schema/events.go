package schema

// CloudTrail tables come after the identity tables (Order 10) because the
// public events view joins identity_keys.
//
// ct_events      one row per distinct eventID: the normalised columns, and
//
//	the eventID itself in one of two columns: event_uuid when it is a
//	UUID in CloudTrail's canonical form (lower-case hex, hyphenated, as
//	DuckDB prints a UUID back, so the text round-trips exactly), else
//	event_id. A 16-byte UUID costs DuckDB a fifth of what 36 characters
//	of unique text cost to store (0.2 s against 0.9 s per million rows).
//
//	where the record's JSON text is kept: raw_blob names a ct_raw row,
//	raw_off and raw_len the record's bytes inside that blob's content.
//	Who acted is principal_key, a ct_principals row.
//
// ct_principals  one row per distinct principal as the records name it:
//
//	type, ARN, principal id, session name, on-behalf-of, the resolved
//	actor_raw (the actor as the record itself names it: session name,
//	IAM user name, Identity Store user id, ...) and entitlement. A
//	trail repeats a few thousand principals across millions of events;
//	keeping those seven strings once instead of on every row took about
//	a third of DuckDB's work out of the load.
//
// ct_actions     likewise each distinct (event_source, event_name,
//
//	event_type, event_category), and ct_clients each distinct
//	(source_ip, user_agent and source_ip_parsed), and ct_places each
//	distinct (account_id, aws_region).
//
// ct_raw         the inputs the records came from, one row per file or
//
//	object that contributed events: its source (path or s3://bucket/key)
//	and its content, stored as delivered when it was gzip (codec 'gzip':
//	CloudTrail's own compression, kept byte for byte) and otherwise
//	S2-compressed (codec 's2'). Records that are not a plain slice of
//	the input (pretty-printed ones, which are compacted, and events
//	embedded as JSON strings, which are unescaped) are appended after
//	the input's bytes before it is compressed. Keeping the original
//	costs the load nothing; per-record compression made DuckDB write
//	about 900 bytes per event and was most of the load's time.
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
//	re-ingest. Its raw column is the record's JSON text, cut out of its
//	ct_raw blob by the jitscore_raw function that Open registers: the
//	view is therefore readable through jitscore (jitscore sql, the Go
//	API) and not by a plain DuckDB client, which fails to bind it.
func init() {
	Register(Step{Order: 19, Name: "events-version", SQL: `
SELECT error('ct_events was written by an older jitscore that stored raw records inline; load the CloudTrail files into a new database file')
FROM duckdb_tables() t
WHERE t.database_name = current_database() AND t.schema_name = 'main' AND t.table_name = 'ct_events'
-- The table's CREATE statement names its columns: reading it is cheap, where
-- duckdb_columns() took 75 ms, most of a new file's schema setup.
AND t.sql NOT LIKE '%place_key%';`})
	Register(Step{Order: 20, Name: "events", SQL: `
CREATE TABLE IF NOT EXISTS ct_events (
	event_uuid       UUID,
	event_id         VARCHAR,
	event_time       TIMESTAMP NOT NULL,
	place_key        INTEGER NOT NULL,
	read_only        BOOLEAN,
	error_code       VARCHAR,
	error_message    VARCHAR,
	action_key       INTEGER NOT NULL,
	client_key       INTEGER NOT NULL,
	principal_key    INTEGER NOT NULL,
	raw_blob         INTEGER NOT NULL,
	raw_off          BIGINT NOT NULL,
	raw_len          INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ct_principals (
	principal_key  INTEGER PRIMARY KEY,
	principal_type VARCHAR,
	principal_arn  VARCHAR,
	principal_id   VARCHAR,
	on_behalf_of   VARCHAR,
	session_name   VARCHAR,
	actor_raw      VARCHAR,
	entitlement    VARCHAR
);
CREATE TABLE IF NOT EXISTS ct_actions (
	action_key     INTEGER PRIMARY KEY,
	event_source   VARCHAR,
	event_name     VARCHAR,
	event_type     VARCHAR,
	event_category VARCHAR
);
CREATE TABLE IF NOT EXISTS ct_clients (
	client_key       INTEGER PRIMARY KEY,
	source_ip        VARCHAR,
	user_agent       VARCHAR,
	source_ip_parsed VARCHAR
);
CREATE TABLE IF NOT EXISTS ct_places (
	place_key  INTEGER PRIMARY KEY,
	account_id VARCHAR,
	aws_region VARCHAR
);
CREATE TABLE IF NOT EXISTS ct_raw (
	blob_id INTEGER PRIMARY KEY,
	source  VARCHAR NOT NULL,
	codec   VARCHAR NOT NULL,
	-- already compressed: DuckDB's own zstd would spend time for nothing
	data    BLOB USING COMPRESSION uncompressed NOT NULL
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
	coalesce(e.event_id, CAST(e.event_uuid AS VARCHAR)) AS event_id,
	e.event_time,
	a.event_source,
	a.event_name,
	l.aws_region,
	l.account_id,
	e.read_only,
	e.error_code,
	e.error_message,
	c.source_ip,
	c.source_ip_parsed,
	c.user_agent,
	coalesce(p.principal_type, 'Unknown') AS principal_type,
	p.principal_arn,
	p.principal_id,
	p.on_behalf_of,
	p.session_name,
	coalesce(k.user_id, p.actor_raw) AS actor,
	p.actor_raw,
	p.entitlement,
	a.event_category,
	a.event_type,
	r.source,
	CAST(jitscore_raw(e.raw_blob, e.raw_off, e.raw_len) AS JSON) AS raw
FROM ct_events e
JOIN ct_raw r ON r.blob_id = e.raw_blob
JOIN ct_principals p ON p.principal_key = e.principal_key
JOIN ct_actions a ON a.action_key = e.action_key
JOIN ct_clients c ON c.client_key = e.client_key
JOIN ct_places l ON l.place_key = e.place_key
LEFT JOIN identity_keys k ON k.key = lower(p.actor_raw);`})
}
