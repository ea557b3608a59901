package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

func init() {
	register(command{
		name:    "report",
		summary: "analyst reports: personas, entitlements, unused (table, csv, json, html)",
		run:     runReport,
	})
}

const reportUsage = `report personas|entitlements|unused [flags]

Reports for IAM analysts, computed from the loaded history as of --at
(default now), with requests and use counted over --window (default the
config's windows.usage). Reads usage_daily as the last 'jitscore build' left
it; the database is opened read-only.

  personas      members, dominant attributes, top entitlements with coverage
                and use, request volume, approval rate, outliers
  entitlements  reuse, tier, who uses it, unused share, candidates for
                auto-approval and for removal from standing access
  unused        grants and standing access with no use in the window, by
                persona and entitlement

--format html writes one self-contained page with all three reports and
their charts, whichever report is named.`

// runReport is `jitscore report`.
func runReport(ctx context.Context, env *Env, args []string) error {
	var c common
	formats := []string{"table", "csv", "json", "html"}
	fs := newFlagSet("report", reportUsage, &c, formats...)
	fs.SetOutput(env.Stderr)
	at := fs.String("at", "", "as-of time, RFC 3339 (default: now)")
	window := fs.String("window", "", "look-back window for requests and use, e.g. 90d")
	standing := fs.String("standing-min", "7d", "grants at least this long count as standing access")
	pos, err := parseReportArgs(fs, args)
	if err != nil {
		return err
	}
	if err := checkFormat(c.format, formats); err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"report: name one report: personas, entitlements or unused"}
	}
	kind := pos[0]
	if kind != "personas" && kind != "entitlements" && kind != "unused" {
		return usageError{fmt.Sprintf("report %q: want personas, entitlements or unused", kind)}
	}
	var opts approve.ReportOptions
	if opts.At, err = parseTimeFlag("at", *at); err != nil {
		return err
	}
	if *window != "" {
		if opts.Window, err = models.ParseDuration(*window); err != nil {
			return usageError{fmt.Sprintf("report: --window: %v", err)}
		}
	}
	if opts.StandingMin, err = models.ParseDuration(*standing); err != nil {
		return usageError{fmt.Sprintf("report: --standing-min: %v", err)}
	}
	cfg, err := approve.LoadConfig(c.config)
	if err != nil {
		return err
	}

	db, err := c.openDBReadOnly(ctx)
	if err != nil {
		return err
	}
	data, err := features.Load(ctx, db)
	db.Close()
	if err != nil {
		return err
	}
	rep, err := approve.BuildReport(data, cfg, opts)
	if err != nil {
		return err
	}

	switch {
	case c.format == "html":
		bw := bufio.NewWriter(env.Stdout)
		if err := rep.WriteHTML(bw); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	case kind == "personas":
		err = writeRows(env.Stdout, c.format, personaColumns, personaRows(rep))
	case kind == "entitlements":
		err = writeRows(env.Stdout, c.format, entitlementColumns, entitlementRows(rep))
	default:
		err = writeRows(env.Stdout, c.format, unusedColumns, unusedRows(rep))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "report %s: %d people, %d personas, %d entitlements, %d unused-access rows as of %s\n",
		kind, rep.People, len(rep.Personas), len(rep.Entitlements), len(rep.Unused), rep.AsOf.Format(time.RFC3339))
	return nil
}

// parseReportArgs parses flags that may come before or after the report
// name and returns the positional arguments.
func parseReportArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// checkFormat refuses a --format outside formats.
func checkFormat(format string, formats []string) error {
	for _, f := range formats {
		if f == format {
			return nil
		}
	}
	return usageError{fmt.Sprintf("--format %q: want one of %v", format, formats)}
}

var personaColumns = []string{"persona_id", "kind", "name", "members", "dominant_attributes",
	"top_entitlements", "requests", "approved", "denied", "approval_rate", "outliers"}

func personaRows(r *approve.Report) [][]any {
	rows := make([][]any, 0, len(r.Personas))
	for _, p := range r.Personas {
		rows = append(rows, []any{p.ID, string(p.Kind), p.Name, p.Members, p.Dominant, p.Top,
			p.Requests, p.Approved, p.Denied, cellRate(p.ApprovalRate), p.Outliers})
	}
	return rows
}

var entitlementColumns = []string{"entitlement", "app", "tier", "catalogued", "requests", "requesters",
	"approved", "denied", "approval_rate", "re_request_rate", "median_interval", "median_duration", "grants", "grants_used",
	"unused_share", "median_time_to_use", "last_used_at", "users", "top_users", "user_personas",
	"standing_holders", "standing_unused", "candidate", "candidate_reason"}

func entitlementRows(r *approve.Report) [][]any {
	rows := make([][]any, 0, len(r.Entitlements))
	for _, e := range r.Entitlements {
		var last any
		if !e.LastUsedAt.IsZero() {
			last = e.LastUsedAt
		}
		rows = append(rows, []any{e.ID, e.App, string(e.Tier), e.Catalogued, e.Requests, e.Requesters,
			e.Approved, e.Denied, cellRate(e.ApprovalRt), cellRate(&e.ReRequest), e.MedianEvery, e.MedianLen, e.Grants, e.GrantsUsed,
			cellRate(e.UnusedShare), e.MedianToUse, last, e.Users, e.TopUsers, e.UserPersonas,
			e.Standing, e.StandingUnused, e.Candidate, e.Why})
	}
	return rows
}

var unusedColumns = []string{"kind", "persona_id", "persona", "entitlement", "tier", "grants", "unused",
	"unused_share", "people_count", "people"}

func unusedRows(r *approve.Report) [][]any {
	rows := make([][]any, 0, len(r.Unused))
	for _, u := range r.Unused {
		rows = append(rows, []any{u.Kind, u.PersonaID, u.PersonaName, u.Entitlement, string(u.Tier),
			u.Grants, u.Unused, cellRate(&u.UnusedShare), u.PeopleCount, u.People})
	}
	return rows
}
