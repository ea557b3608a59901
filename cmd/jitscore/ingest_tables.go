package main

import (
	"context"
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
	if err := parseFlags(fs, &c, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Sprintf("ingest %s: want exactly one FILE, got %d", kind, fs.NArg())}
	}
	db, err := c.openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	sum, err := ingest.LoadTableFile(ctx, db, ingest.TableKind(kind), fs.Arg(0),
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
