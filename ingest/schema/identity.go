package schema

// Identity tables come first: the events view maps CloudTrail actors through
// identity_keys, so it must exist before that view is created.
//
// identities      one row per person; attributes as a JSON object of text.
// identity_keys   every name a person is known by, lower-cased: the user id
//
//	itself, each alias, and the Identity Store user id. kind is
//	"user", "alias" or "identity_store_id".
func init() {
	Register(Step{Order: 10, Name: "identities", SQL: `
CREATE TABLE IF NOT EXISTS identities (
	user_id           VARCHAR PRIMARY KEY,
	aliases           VARCHAR[],
	identity_store_id VARCHAR,
	department        VARCHAR,
	title             VARCHAR,
	team              VARCHAR,
	manager           VARCHAR,
	location          VARCHAR,
	employment_type   VARCHAR,
	start_date        VARCHAR,
	attributes        JSON,
	loaded_at         TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS identity_keys (
	key     VARCHAR PRIMARY KEY,
	user_id VARCHAR NOT NULL,
	kind    VARCHAR NOT NULL
);`})
}
