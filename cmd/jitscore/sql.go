package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

func init() {
	register(command{
		name:    "sql",
		summary: "run one read-only SQL query over the public schema",
		run:     runSQL,
	})
}

const sqlUsage = `sql [flags] "SELECT ..."

Runs one read-only query (SELECT, WITH ... SELECT, VALUES) against the
database, opened read-only. Anything else (DDL, DML, COPY, ATTACH, PRAGMA,
SET, several statements) is refused before it runs, and the query can read
nothing but the database: no local files, no URLs, no extensions.`

// runSQL is `jitscore sql`.
func runSQL(ctx context.Context, env *Env, args []string) error {
	var c common
	formats := []string{"table", "csv", "json"}
	fs := newFlagSet("sql", sqlUsage, &c, formats...)
	if err := parseFlags(fs, &c, args, formats...); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{`sql: give exactly one query, quoted: jitscore sql "SELECT ..."`}
	}
	query := fs.Arg(0)
	db, err := c.openDBReadOnly(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := confine(ctx, db); err != nil {
		return err
	}
	if err := checkReadOnlyQuery(ctx, db, query); err != nil {
		return err
	}
	query, jsonCols, err := jsonAsText(ctx, db, query)
	if err != nil {
		return fmt.Errorf("sql: %w", err)
	}
	n, err := printQuery(ctx, db, query, jsonCols, env.Stdout, c.format)
	if err != nil {
		return err
	}
	noun := "rows"
	if n == 1 {
		noun = "row"
	}
	fmt.Fprintf(env.Stderr, "sql: %d %s\n", n, noun)
	return nil
}

// confine limits db to the database file itself: no reading or writing of
// other local files (read_csv('/etc/passwd'), glob, COPY), no URLs, and no
// extension downloads, so an analyst's query can see the public schema and
// nothing else and never touches the network. The settings are locked, so
// the query cannot turn them back on. db is pinned to one connection, the
// one the settings apply to.
func confine(ctx context.Context, db *sql.DB) error {
	db.SetMaxOpenConns(1)
	for _, stmt := range []string{
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sql: confine the session (%s): %w", stmt, err)
		}
	}
	return nil
}

// errNotReadOnly reports a query that is not a single read-only statement.
var errNotReadOnly = errors.New("sql: only a single read-only query (SELECT, WITH, VALUES) is allowed")

// checkReadOnlyQuery asks DuckDB's own parser what query is:
// json_serialize_sql serialises SELECT statements only and reports an error
// for any other kind, so a statement that writes cannot pass, whatever its
// spelling. The database is opened read-only as well.
func checkReadOnlyQuery(ctx context.Context, db *sql.DB, query string) error {
	var out string
	if err := db.QueryRowContext(ctx, `SELECT CAST(json_serialize_sql($1) AS VARCHAR)`, query).Scan(&out); err != nil {
		return fmt.Errorf("sql: check query: %w", err)
	}
	var res struct {
		Error      bool              `json:"error"`
		Message    string            `json:"error_message"`
		Statements []json.RawMessage `json:"statements"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return fmt.Errorf("sql: check query: %w", err)
	}
	if res.Error {
		if strings.Contains(strings.ToLower(res.Message), "only select") {
			return errNotReadOnly
		}
		return fmt.Errorf("sql: %s", res.Message)
	}
	if len(res.Statements) != 1 {
		return errNotReadOnly
	}
	// Reading files, URLs and extensions is refused by confine, not here.
	return nil
}

// jsonAsText rewrites an already checked query so that its JSON columns
// come back as their text: the driver decodes a JSON value into Go maps,
// which would reorder an object's keys (the events view's raw is the
// record as delivered). It returns the rewritten query and the positions
// of those columns; a query without JSON columns is returned unchanged.
func jsonAsText(ctx context.Context, db *sql.DB, query string) (string, []int, error) {
	rows, err := db.QueryContext(ctx, "DESCRIBE "+query)
	if err != nil {
		return query, nil, nil // not describable: run it as it is
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", nil, err
	}
	var sel []string
	var jsonCols []int
	for i := 0; rows.Next(); i++ {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for j := range vals {
			ptrs[j] = &vals[j]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", nil, err
		}
		name, _ := vals[0].(string)
		typ, _ := vals[1].(string)
		ref := fmt.Sprintf("#%d", i+1)
		if typ == "JSON" {
			jsonCols = append(jsonCols, i)
			ref = fmt.Sprintf(`CAST(#%d AS VARCHAR) AS "%s"`, i+1, strings.ReplaceAll(name, `"`, `""`))
		}
		sel = append(sel, ref)
	}
	if err := rows.Err(); err != nil {
		return "", nil, err
	}
	if len(jsonCols) == 0 {
		return query, nil, nil
	}
	// Newlines keep a trailing line comment from swallowing the paren.
	return "SELECT " + strings.Join(sel, ", ") + " FROM (\n" + strings.TrimRight(strings.TrimSpace(query), ";") + "\n)", jsonCols, nil
}

// printQuery runs query and writes its rows to w in format as they
// arrive (csv and json stream; the table format holds them to size its
// columns), with the columns at jsonCols printed as JSON text. It returns
// the number of rows written.
//
// TODO(sql-memory): the driver still has DuckDB materialise the whole
// result before the first row arrives: `SELECT * FROM events` over
// 1,000,000 events (raw included) peaks at 2.9 GB in json or csv (9.9 GB
// at 840,000 events when the rows were also held in Go). A streaming
// DuckDB result would bound it.
func printQuery(ctx context.Context, db *sql.DB, query string, jsonCols []int, w io.Writer, format string) (int, error) {
	rs, err := db.QueryContext(ctx, query)
	if err != nil {
		return 0, fmt.Errorf("sql: %w", err)
	}
	defer rs.Close()
	columns, err := rs.Columns()
	if err != nil {
		return 0, fmt.Errorf("sql: %w", err)
	}
	types, err := rs.ColumnTypes()
	if err != nil {
		return 0, fmt.Errorf("sql: %w", err)
	}
	out, err := newRowWriter(w, format, columns)
	if err != nil {
		return 0, err
	}
	vals := make([]any, len(columns))
	ptrs := make([]any, len(columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return n, fmt.Errorf("sql: %w", err)
		}
		for i, v := range vals {
			vals[i] = asShown(types[i].DatabaseTypeName(), v)
		}
		for _, i := range jsonCols {
			if s, ok := vals[i].(string); ok {
				vals[i] = json.RawMessage(s)
			}
		}
		if err := out.write(vals); err != nil {
			return n, err
		}
		n++
	}
	if err := rs.Err(); err != nil {
		return n, fmt.Errorf("sql: %w", err)
	}
	return n, out.flush()
}

// asShown turns a value the driver scanned into what DuckDB's own client
// would print, where the Go value alone would mislead: a UUID arrives as
// its 16 bytes, a DATE or TIME as a time.Time with a zero clock or date.
func asShown(dbType string, v any) any {
	switch x := v.(type) {
	case []byte:
		if dbType == "UUID" && len(x) == 16 {
			u := duckdb.UUID(x)
			return u.String()
		}
	case duckdb.UUID:
		return x.String()
	case time.Time:
		switch dbType {
		case "DATE":
			return x.Format(time.DateOnly)
		case "TIME":
			return x.Format("15:04:05.999999")
		}
	}
	return v
}
