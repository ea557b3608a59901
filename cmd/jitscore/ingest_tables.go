package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/jitscore/jitscore/ingest"
)

// runIngestTable loads one requests, identities or entitlements file (CSV
// or NDJSON, detected from the content) and reports what loaded and what
// was rejected. Rejected rows do not fail the command: they are listed
// (with --format json, in "rejections") and kept in the quarantine table.
func runIngestTable(ctx context.Context, env *Env, kind string, args []string) error {
	var c common
	fs := newFlagSet("ingest "+kind, "ingest "+kind+" [flags] FILE", &c)
	fs.SetOutput(env.Stderr)
	files, err := parseInterleaved(fs, &c, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usageError{fmt.Sprintf("ingest %s: want exactly one FILE, got %d", kind, len(files))}
	}
	db, err := c.openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	sum, err := ingest.LoadTableFile(ctx, db, ingest.TableKind(kind), files[0],
		ingest.TableOptions{Logger: env.Logger})
	if err != nil {
		return err
	}
	if c.format == "json" {
		if err := writeJSON(env.Stdout, sum); err != nil {
			return err
		}
	} else {
		for _, r := range sum.Rejections {
			fmt.Fprintf(env.Stdout, "%s:%d: rejected: %s\n", sum.Source, r.Line, r.Reason)
		}
		for _, w := range sum.Warnings {
			fmt.Fprintf(env.Stdout, "%s:%d: warning: %s\n", sum.Source, w.Line, w.Reason)
		}
	}
	fmt.Fprintf(env.Stderr, "ingest %s: %d rows loaded (%d updated existing keys), %d rejected, from %s\n",
		kind, sum.RowsLoaded, sum.Duplicates, sum.RowsRejected, sum.Source)
	return nil
}

// parseInterleaved parses flags that may come before or after the
// positional arguments ("ingest requests FILE --format json") and returns
// the positional ones.
func parseInterleaved(fs *flag.FlagSet, c *common, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, c, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}
