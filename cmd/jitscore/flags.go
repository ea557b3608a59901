package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"

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

// parseFlags parses args and checks --format against formats.
func parseFlags(fs *flag.FlagSet, c *common, args []string, formats ...string) error {
	if err := fs.Parse(args); err != nil {
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
// writer to finish.
func (c *common) openDB(ctx context.Context) (*sql.DB, error) {
	return schema.Open(ctx, c.db, schema.Options{})
}

// openDBReadOnly opens the database named by --db without the write lock.
func (c *common) openDBReadOnly(ctx context.Context) (*sql.DB, error) {
	return schema.Open(ctx, c.db, schema.Options{ReadOnly: true})
}

// writeJSON writes v as one line of JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
