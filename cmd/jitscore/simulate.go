package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jitscore/jitscore/simulate"
)

func init() {
	register(command{
		name:    "simulate",
		summary: "write a synthetic organisation in every input format",
		run:     runSimulate,
	})
}

// runSimulate handles "simulate OUT --people N --days D [--seed S]
// [--start DATE] [--event-rate X]". Flags may come before or after OUT.
func runSimulate(ctx context.Context, env *Env, args []string) error {
	var c common
	cfg := simulate.DefaultConfig()
	fs := newFlagSet("simulate", "simulate OUT [--people N] [--days D] [--seed S] [--start YYYY-MM-DD]", &c)
	fs.IntVar(&cfg.People, "people", cfg.People, "number of people")
	fs.IntVar(&cfg.Days, "days", cfg.Days, "days of history; the last day's requests stay pending")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed; the same seed gives the same files")
	start := fs.String("start", cfg.Start.Format(time.DateOnly), "first day of the history (YYYY-MM-DD or RFC 3339)")
	fs.IntVar(&cfg.Accounts, "accounts", cfg.Accounts, "AWS accounts, 2 or 3")
	fs.Float64Var(&cfg.RequestRate, "request-rate", cfg.RequestRate, "request volume factor (1 = about 0.55 per person and day)")
	fs.Float64Var(&cfg.EventRate, "event-rate", cfg.EventRate, "CloudTrail volume factor (1 = about 5.5 events per person and day)")
	fs.Float64Var(&cfg.NoiseShare, "noise", cfg.NoiseShare, "share of background CloudTrail events")
	fs.IntVar(&cfg.RecordsPerFile, "records-per-file", cfg.RecordsPerFile, "records per CloudTrail file")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "files compressed at once (0 = all cores)")

	// Accept OUT before the flags as well as after them.
	var out string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		out, args = args[0], args[1:]
	}
	if err := parseFlags(fs, &c, args); err != nil {
		return err
	}
	if rest := fs.Args(); out == "" && len(rest) == 1 {
		out = rest[0]
	} else if len(rest) > 0 {
		return usageError{fmt.Sprintf("simulate: unexpected arguments %q", rest)}
	}
	if out == "" {
		return usageError{"simulate: want an output directory"}
	}
	t, err := parseStart(*start)
	if err != nil {
		return usageError{"simulate: --start: " + err.Error()}
	}
	cfg.Start = t

	began := time.Now()
	org, err := simulate.Generate(cfg)
	if err != nil {
		return err
	}
	sum, err := org.Write(ctx, out)
	if err != nil {
		return err
	}
	took := time.Since(began)
	fmt.Fprintf(env.Stderr, "simulate: %d people, %d requests (%d pending), %d grants (%d unused of %d in CloudTrail), %d events in %d files to %s in %s\n",
		sum.People, sum.Requests, sum.Pending, sum.Grants, sum.GrantsUnused, sum.GrantsCloudTrail,
		sum.Events, sum.Files, out, took.Round(time.Millisecond))
	if c.format == "json" {
		return writeJSON(env.Stdout, sum)
	}
	return nil
}

// parseStart reads a date or an RFC 3339 time.
func parseStart(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want YYYY-MM-DD or RFC 3339", s)
	}
	return t, nil
}
