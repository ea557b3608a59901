// Package schema owns the DuckDB database file that holds everything jitscore
// knows: its tables, the public views analysts query, and opening the file
// safely when several jitscore processes share it.
//
// Each area of the product registers its own DDL in a file of this package
// (events.go, broker.go, features.go, audit.go); Migrate runs every registered
// statement in order of its Order value. Statements are idempotent (CREATE ...
// IF NOT EXISTS, CREATE OR REPLACE VIEW), so Migrate may run them on any
// writable open; it skips them when the file says these very steps ran.
//
// The package imports the DuckDB driver but none of the readers or the AWS
// SDK, so that features can depend on it without pulling ingestion in.
package schema

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// DefaultPath is the database file used when --db is not given.
const DefaultPath = "jitscore.duckdb"

// Step is one piece of DDL. Steps run in ascending Order; steps of equal
// Order run in the order of their names.
type Step struct {
	Order int
	Name  string
	SQL   string
}

var (
	stepsMu sync.Mutex
	steps   []Step
)

// Register adds DDL to run on every writable open. It is meant to be called
// from init functions of this package's area files.
func Register(s Step) {
	stepsMu.Lock()
	defer stepsMu.Unlock()
	steps = append(steps, s)
}

// Steps returns the registered DDL in run order.
func Steps() []Step {
	stepsMu.Lock()
	defer stepsMu.Unlock()
	out := append([]Step(nil), steps...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Order != out[j].Order {
			return out[i].Order < out[j].Order
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Migrate runs every registered step against db, all in one transaction,
// so a step that fails leaves the file as it was. The file then records
// (table jitscore_schema) a fingerprint of the steps that ran and a digest
// of the tables and views they left; an open that finds its own steps'
// fingerprint and a catalog that still matches the digest runs none of
// them, which took about 60 ms per open of an up-to-date file. Anything
// else runs them all again, as they are idempotent: a build with other
// steps, an object dropped, or a view replaced by an older jitscore (which
// knows nothing of the fingerprint).
func Migrate(ctx context.Context, db *sql.DB) error {
	all := Steps()
	fp := fingerprint(all)
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var have sql.NullString
	// Fails on a file without the table: then there is work to do.
	if err := conn.QueryRowContext(ctx, `SELECT max(fingerprint) FROM jitscore_schema`).Scan(&have); err == nil {
		if now, err := catalogDigest(ctx, conn); err == nil && have.String == fp+"/"+now {
			return nil
		}
	}
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	run := func() error {
		for _, s := range all {
			if _, err := conn.ExecContext(ctx, s.SQL); err != nil {
				return fmt.Errorf("schema step %s: %w", s.Name, err)
			}
		}
		// The table is jitscore's own bookkeeping: made anew each time,
		// so that a damaged one (other columns, a view in its place) does
		// not fail every open.
		var views int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_views()
WHERE view_name = 'jitscore_schema' AND database_name = current_database() AND schema_name = 'main'`).Scan(&views); err != nil {
			return fmt.Errorf("schema fingerprint: %w", err)
		}
		drop := `DROP TABLE IF EXISTS jitscore_schema`
		if views > 0 {
			drop = `DROP VIEW jitscore_schema`
		}
		if _, err := conn.ExecContext(ctx, drop+`;
CREATE TABLE jitscore_schema (fingerprint VARCHAR NOT NULL, migrated_at TIMESTAMPTZ NOT NULL);`); err != nil {
			return fmt.Errorf("schema fingerprint: %w", err)
		}
		digest, err := catalogDigest(ctx, conn)
		if err != nil {
			return fmt.Errorf("schema fingerprint: %w", err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO jitscore_schema VALUES ($1, current_timestamp)`, fp+"/"+digest); err != nil {
			return fmt.Errorf("schema fingerprint: %w", err)
		}
		_, err = conn.ExecContext(ctx, "COMMIT")
		return err
	}
	if err := run(); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	return nil
}

// catalogDigest is an MD5 of the definitions of the file's own tables and
// views, as DuckDB keeps them.
func catalogDigest(ctx context.Context, conn *sql.Conn) (string, error) {
	var d string
	err := conn.QueryRowContext(ctx, `
SELECT md5(coalesce(string_agg(k, chr(10) ORDER BY k), '')) FROM (
	SELECT 'view ' || view_name || ' ' || coalesce(sql, '') AS k FROM duckdb_views()
	WHERE NOT internal AND database_name = current_database()
	UNION ALL
	SELECT 'table ' || schema_name || '.' || table_name || ' ' || coalesce(sql, '') FROM duckdb_tables()
	WHERE database_name = current_database())`).Scan(&d)
	return d, err
}

// fingerprint identifies a list of steps by their names and SQL.
func fingerprint(steps []Step) string {
	h := sha256.New()
	for _, s := range steps {
		fmt.Fprintf(h, "%d\x00%s\x00%d\x00%s\x00", s.Order, s.Name, len(s.SQL), s.SQL)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ErrLocked reports that another process holds the database file open for
// writing and it did not let go within the wait. It may arrive wrapped.
var ErrLocked = errors.New("database is in use by another jitscore process")

// Options controls Open.
type Options struct {
	// ReadOnly opens the file without taking the write lock and skips
	// migrations. The file must already exist.
	ReadOnly bool
	// Wait is how long to retry while another process holds the lock.
	// Zero means 30 seconds; a negative value means do not wait.
	Wait time.Duration
}

// Open opens (creating if needed) the DuckDB file at path. An empty path or
// ":memory:" opens a private in-memory database, which tests use. A writable
// open runs Migrate. When another process holds the file, Open retries until
// opts.Wait has passed and then returns an error wrapping ErrLocked, so two
// ingests on one file wait for each other instead of corrupting it. Every
// open registers jitscore's SQL functions (jitscore_raw, which the events
// view needs) on the database instance, visible to all its connections.
func Open(ctx context.Context, path string, opts Options) (*sql.DB, error) {
	dsn := path
	if path == ":memory:" {
		dsn = ""
	}
	if opts.ReadOnly && dsn != "" {
		dsn += "?access_mode=read_only"
	}
	wait := opts.Wait
	if wait == 0 {
		wait = 30 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		db, conn, err := openOnce(ctx, dsn)
		if err == nil {
			if err := registerFunctions(ctx, db, conn); err != nil {
				db.Close()
				return nil, fmt.Errorf("open %s: %w", path, err)
			}
			if !opts.ReadOnly {
				if err := Migrate(ctx, db); err != nil {
					db.Close()
					return nil, fmt.Errorf("migrate %s: %w", path, err)
				}
			}
			return db, nil
		}
		if !isLockError(err) {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("open %s: %w (%v)", path, ErrLocked, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// openOnce opens the database instance and returns its pool and its
// connector (which the pool closes, with the instance, on Close).
func openOnce(ctx context.Context, dsn string) (*sql.DB, *duckdb.Connector, error) {
	c, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return nil, nil, err
	}
	db := sql.OpenDB(c)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, c, nil
}

func isLockError(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "could not set lock") || strings.Contains(msg, "conflicting lock")
}
