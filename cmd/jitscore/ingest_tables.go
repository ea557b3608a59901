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
	files := fs.Args()
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
	if sum.RowsLoaded == 0 && sum.RowsRejected > 0 {
		// Every row failed: most likely the wrong kind of file, which should
		// not pass silently in a scheduled job.
		return fmt.Errorf("ingest %s: every row of %s was rejected (%d): is it a %s file?",
			kind, sum.Source, sum.RowsRejected, kind)
	}
	return nil
}
