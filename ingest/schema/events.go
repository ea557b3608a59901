package schema

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/klauspost/compress/s2"
)

// CloudTrail tables come after the identity tables (Order 10) because the
// public events view joins identity_keys.
//
// ct_events      one row per distinct eventID; the normalised columns plus
//
//	the record as read (raw: the compact JSON text, compressed by PackRaw,
//	so the file stores about half the bytes). actor_raw is the actor as
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
//	re-ingest. Its raw column is the JSON text again, unpacked by the
//	jitscore_raw function that Open registers: the view (and ct_events.raw)
//	is therefore readable through jitscore (jitscore sql, the Go API) and
//	not by a plain DuckDB client, which fails to bind the view.
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
	raw              BLOB
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
	CAST(jitscore_raw(e.raw) AS JSON) AS raw
FROM ct_events e
LEFT JOIN identity_keys k ON k.key = e.actor_key;`})
}

// packedS2 opens a packed record: an S2 block follows. JSON text never
// starts with this byte, so a value without it is plain JSON text.
const packedS2 = 0x01

// PackRaw appends to dst the stored form of one record's JSON text, as the
// ct_events.raw column holds it: the byte 0x01 and an S2 (Snappy-family)
// block of the text, about half its size. S2 rather than zstd: per ~1 KB
// record zstd's table building costs ~10x more CPU, which the load's
// throughput cannot afford. Safe for concurrent use.
func PackRaw(dst, raw []byte) []byte {
	n := len(dst)
	need := 1 + s2.MaxEncodedLen(len(raw))
	if cap(dst)-n < need {
		grown := make([]byte, n, 2*cap(dst)+need)
		copy(grown, dst)
		dst = grown
	}
	dst = append(dst, packedS2)
	enc := s2.Encode(dst[n+1:n+need], raw)
	return dst[:n+1+len(enc)]
}

// UnpackRaw returns the JSON text of a stored ct_events.raw value. A value
// that does not start with the packed tag is returned as it is (plain JSON
// text). Safe for concurrent use.
func UnpackRaw(stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != packedS2 {
		return stored, nil
	}
	out, err := s2.Decode(nil, stored[1:])
	if err != nil {
		return nil, fmt.Errorf("unpack raw record: %w", err)
	}
	return out, nil
}

// rawFunc is jitscore_raw(BLOB) -> VARCHAR, UnpackRaw as SQL.
type rawFunc struct{ in, out duckdb.TypeInfo }

func (f rawFunc) Config() duckdb.ScalarFuncConfig {
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{f.in}, ResultTypeInfo: f.out}
}

func (f rawFunc) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: func(v []driver.Value) (any, error) {
		var b []byte
		switch x := v[0].(type) {
		case []byte:
			b = x
		case string:
			b = []byte(x)
		default:
			return nil, fmt.Errorf("jitscore_raw: want BLOB, got %T", v[0])
		}
		out, err := UnpackRaw(b)
		if err != nil {
			return nil, err
		}
		return string(out), nil
	}}
}

// registerFunctions adds jitscore's SQL functions to the database instance
// behind db. DuckDB keeps them in the instance's catalog, so every
// connection of db sees them; they must exist before Migrate creates views
// that call them. Registering twice on one instance is not an error.
func registerFunctions(ctx context.Context, db *sql.DB) error {
	in, err := duckdb.NewTypeInfo(duckdb.TYPE_BLOB)
	if err != nil {
		return err
	}
	out, err := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	if err != nil {
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := duckdb.RegisterScalarUDF(conn, "jitscore_raw", rawFunc{in, out}); err != nil &&
		!strings.Contains(strings.ToLower(err.Error()), "already exists") {
		return fmt.Errorf("register jitscore_raw: %w", err)
	}
	return nil
}
