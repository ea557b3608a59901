package schema

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Broker tables hold what the access broker and the identity provider know:
// the request history, the entitlement catalogue and the rows that could not
// be loaded. They come after the identity tables (Order 10) and before the
// CloudTrail events (Order 20).
//
// requests              one row per request_id; re-loading a file replaces
//
//	rows by request_id. duration_seconds is the requested length; attributes
//	holds the file's unknown extra columns as a JSON object of text.
//
// entitlement_catalogue the optional catalogue file, one row per entitlement.
//
// Rows of these files that cannot be loaded go to the quarantine table of
// events.go, with position "line N" and a reason starting with the kind
// ("requests: missing required field requester").
//
// The public views:
//
// grants        one row per request that produced access. granted_at is the
//
//	broker's granted_at, else the decision time (or request time) of a
//	request whose status says access was given (approved, revoked). An
//	expired request is a grant only with a granted_at: brokers also use
//	"expired" for a request that timed out undecided. expires_at is the broker's, else granted_at plus the requested
//	duration, else NULL (unknown end). ended_at is the earlier of expiry and
//	revocation.
//
// entitlements  the catalogue, plus every entitlement id seen in requests
//
//	that the catalogue lacks, with app, aws_account and aws_role derived
//	from "aws:<account>:<role>" ids and catalogued = false. tier is NULL
//	for uncatalogued entitlements: the config's tier patterns decide those.
func init() {
	Register(Step{Order: 15, Name: "broker", SQL: `
CREATE TABLE IF NOT EXISTS requests (
	request_id       VARCHAR PRIMARY KEY,
	requester        VARCHAR NOT NULL,
	entitlement      VARCHAR NOT NULL,
	requested_at     TIMESTAMP NOT NULL,
	status           VARCHAR NOT NULL,
	duration_seconds BIGINT,
	justification    VARCHAR,
	decided_at       TIMESTAMP,
	decided_by       VARCHAR,
	granted_at       TIMESTAMP,
	expires_at       TIMESTAMP,
	revoked_at       TIMESTAMP,
	attributes       JSON,
	source           VARCHAR,
	loaded_at        TIMESTAMP DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS entitlement_catalogue (
	entitlement VARCHAR PRIMARY KEY,
	app         VARCHAR,
	aws_account VARCHAR,
	aws_role    VARCHAR,
	tier        VARCHAR,
	owner       VARCHAR,
	description VARCHAR,
	attributes  JSON,
	loaded_at   TIMESTAMP DEFAULT current_timestamp
);
CREATE OR REPLACE VIEW grants AS
SELECT request_id, requester, entitlement, granted_at, expires_at, revoked_at,
	CASE WHEN revoked_at IS NOT NULL AND (expires_at IS NULL OR revoked_at < expires_at)
		THEN revoked_at ELSE expires_at END AS ended_at,
	status
FROM (
	SELECT request_id, requester, entitlement, status, revoked_at,
		COALESCE(granted_at, CASE WHEN status IN ('approved', 'revoked')
			THEN COALESCE(decided_at, requested_at) END) AS granted_at,
		COALESCE(expires_at, COALESCE(granted_at, CASE WHEN status IN ('approved', 'revoked')
			THEN COALESCE(decided_at, requested_at) END) + to_seconds(duration_seconds)) AS expires_at
	FROM requests
) g
WHERE granted_at IS NOT NULL;
CREATE OR REPLACE VIEW entitlements AS
SELECT entitlement, app, aws_account, aws_role, tier, owner, description, true AS catalogued
FROM entitlement_catalogue
UNION ALL
SELECT DISTINCT r.entitlement,
	CASE WHEN r.entitlement LIKE 'aws:%:%' THEN 'aws' ELSE split_part(r.entitlement, ':', 1) END,
	CASE WHEN r.entitlement LIKE 'aws:%:%' THEN split_part(r.entitlement, ':', 2) END,
	CASE WHEN r.entitlement LIKE 'aws:%:%' THEN substr(r.entitlement, length(split_part(r.entitlement, ':', 2)) + 6) END,
	NULL, NULL, NULL, false
FROM requests r
WHERE r.entitlement NOT IN (SELECT entitlement FROM entitlement_catalogue);`})
}

// AppendRows bulk-loads n rows into table through DuckDB's appender on
// conn, which is far faster than one INSERT per row. columns names the
// table's columns that row fills, in order; the others take their defaults.
// row(i) returns the values of row i: string, int64, float64, bool,
// time.Time, []any for a LIST column, or nil for NULL. The rows become
// visible when the appender closes, inside whatever transaction conn has
// open.
func AppendRows(
	ctx context.Context,
	conn *sql.Conn,
	table string,
	columns []string,
	n int,
	row func(i int) []driver.Value,
) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("append %s: connection is %T, not a driver connection", table, dc)
		}
		app, err := duckdb.NewAppenderWithColumns(c, "", "", table, columns)
		if err != nil {
			return fmt.Errorf("append %s: %w", table, err)
		}
		for i := 0; i < n; i++ {
			if i%4096 == 0 && ctx.Err() != nil {
				app.Close()
				return ctx.Err()
			}
			if err := app.AppendRow(row(i)...); err != nil {
				app.Close()
				return fmt.Errorf("append %s row %d: %w", table, i, err)
			}
		}
		if err := app.Close(); err != nil {
			return fmt.Errorf("append %s: %w", table, err)
		}
		return nil
	})
}

// NullString is s as an appender value, NULL when empty.
func NullString(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}

// NullTime is t as an appender value, NULL when zero.
func NullTime(t time.Time) driver.Value {
	if t.IsZero() {
		return nil
	}
	return t
}
