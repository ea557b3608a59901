package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/ingest/schema"
)

// errHelp stops a command after -h printed its usage; Run turns it into
// success.
var errHelp = errors.New("help requested")

// common holds the flags every command takes.
type common struct {
	db     string
	config string
	format string
}

// newFlagSet returns a FlagSet for a subcommand with --db, --config and
// --format bound to c. formats lists the accepted --format values; the
// first is the default.
func newFlagSet(name, usage string, c *common, formats ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.db, "db", schema.DefaultPath, "DuckDB database file")
	fs.StringVar(&c.config, "config", "", "config file (default: built-in defaults)")
	if len(formats) == 0 {
		formats = []string{"table", "json"}
	}
	fs.StringVar(&c.format, "format", formats[0], fmt.Sprintf("output format: %v", formats))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: jitscore %s\n\nflags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and checks --format against formats. Flags may
// come before or after the positional arguments ("ingest cloudtrail DIR
// --db x" and "ingest cloudtrail --db x DIR" mean the same); "--" ends the
// flags.
func parseFlags(fs *flag.FlagSet, c *common, args []string, formats ...string) error {
	if err := fs.Parse(interspersed(fs, args)); err != nil {
		if err == flag.ErrHelp {
			return errHelp
		}
		return usageError{err.Error()}
	}
	if len(formats) == 0 {
		formats = []string{"table", "json"}
	}
	for _, f := range formats {
		if c.format == f {
			return nil
		}
	}
	return usageError{fmt.Sprintf("--format %q: want one of %v", c.format, formats)}
}

// openDB opens the database named by --db for writing, waiting for another
// writer to finish, and folds any decisions that serve or score appended to
// the audit store since the last writer (approve.FoldAudit is idempotent).
func (c *common) openDB(ctx context.Context) (*sql.DB, error) {
	db, err := schema.Open(ctx, c.db, schema.Options{})
	if err != nil {
		return nil, err
	}
	if err := c.foldAudit(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openDBReadOnly opens the database named by --db without the write lock.
// Before that it folds the audit store if it can take the write lock at
// once, so that `sql` and the reports see the latest decisions; when
// another process is writing, the fold is left to that writer.
func (c *common) openDBReadOnly(ctx context.Context) (*sql.DB, error) {
	if c.db != "" && c.db != ":memory:" {
		if _, err := os.Stat(c.auditDir()); err == nil {
			if db, err := schema.Open(ctx, c.db, schema.Options{Wait: -1}); err == nil {
				ferr := c.foldAudit(ctx, db)
				db.Close()
				if ferr != nil {
					return nil, ferr
				}
			}
		}
	}
	return schema.Open(ctx, c.db, schema.Options{ReadOnly: true})
}

// auditDir is where serve and score append decisions for this database:
// server.audit_dir of the config, else <db>.audit. A config that does not
// load falls back to the default; the command itself reports the config.
func (c *common) auditDir() string {
	cfg, err := approve.LoadConfig(c.config)
	if err != nil {
		cfg = nil
	}
	return auditDirFor(c.db, cfg, "")
}

// foldAudit folds the audit store of this database into db.
func (c *common) foldAudit(ctx context.Context, db *sql.DB) error {
	dir := c.auditDir()
	if _, err := approve.FoldAudit(ctx, db, dir); err != nil {
		return fmt.Errorf("fold audit log %s: %w", dir, err)
	}
	return nil
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// interspersed moves the flags in args ahead of the positional arguments,
// keeping both in order, so that the standard flag package (which stops at
// the first positional) sees all of them. A flag's value is the next
// argument unless the flag is boolean or written as -name=value.
func interspersed(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		f := fs.Lookup(name)
		if f == nil {
			continue // flag.Parse reports it
		}
		if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
			continue
		}
		if i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	if len(pos) == 0 {
		return flags
	}
	return append(append(flags, "--"), pos...)
}

// timeLayouts are the forms a time flag accepts, tried in order. A time
// without a zone is UTC.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly}

// timeFlagOr parses a time flag like parseTimeFlag and returns def (in
// UTC) when the flag was not given.
func timeFlagOr(name, v string, def time.Time) (time.Time, error) {
	t, err := parseTimeFlag(name, v)
	if err != nil || !t.IsZero() {
		return t, err
	}
	return def.UTC(), nil
}

// parseTimeFlag parses the value of a time flag (--as-of, --at, --from,
// ...): RFC 3339, a date (midnight UTC) or a date and time without a zone
// (UTC). An empty value gives the zero time and no error.
func parseTimeFlag(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, usageError{fmt.Sprintf("--%s %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z, or a date such as 2026-01-02", name, v)}
}
