package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

func init() {
	register(command{
		name:    "renewals",
		summary: "renew, revoke or review each grant expiring soon, from its CloudTrail use",
		run:     runRenewals,
	})
}

const renewalsUsage = `renewals [--at TIME] [--within 7d] [--format table|json|csv] [--apply --endpoint-url URL]

Reviews every grant expiring in (at, at+within] and prints one action per
grant: renew, revoke or review, with its reasons. The plan is recorded in
the renewals tables of the database. Nothing is changed in AWS unless
--apply is given (or renewal.apply is true in the config and --dry-run is
not given): then each revoke deletes the person's IAM Identity Center
account assignment, and every sso-admin call is recorded in renewal_calls.`

// renewalsSummary is the stderr line's content, also logged.
type renewalsSummary struct {
	RunID   string
	Grants  int
	Actions map[models.RenewalAction]int
	Applied map[string]int
}

// runRenewals is `jitscore renewals`.
func runRenewals(ctx context.Context, env *Env, args []string) error {
	var c common
	formats := []string{"table", "json", "csv"}
	fs := newFlagSet("renewals", renewalsUsage, &c, formats...)
	fs.SetOutput(env.Stderr)
	atText := fs.String("at", "", "review as of this RFC 3339 time (default: now)")
	withinText := fs.String("within", "", "review grants expiring within this long after --at, e.g. 7d (default: renewal.within)")
	apply := fs.Bool("apply", false, "revoke in IAM Identity Center (default: dry run)")
	dryRun := fs.Bool("dry-run", false, "never revoke, even when the config sets renewal.apply")
	endpoint := fs.String("endpoint-url", "", "sso-admin endpoint to send revocations to (default: the region's)")
	region := fs.String("region", "", "IAM Identity Center region (default: from the AWS configuration)")
	rollup := fs.Bool("rollup", true, "refresh usage_daily from the events before reviewing")
	if err := parseFlags(fs, &c, args, formats...); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("renewals: unexpected arguments %q", fs.Args())}
	}
	cfg, err := approve.LoadConfig(c.config)
	if err != nil {
		return err
	}
	at, err := timeFlagOr("at", *atText, time.Now())
	if err != nil {
		return err
	}
	within := cfg.Renewal.Within
	if *withinText != "" {
		if within, err = models.ParseDuration(*withinText); err != nil || within <= 0 {
			return usageError{fmt.Sprintf("renewals: --within %q: want a positive duration such as 7d", *withinText)}
		}
	}
	enforce := (*apply || cfg.Renewal.Apply) && !*dryRun
	if enforce && cfg.Renewal.IdentityCenterInstanceARN == "" {
		return usageError{"renewals: --apply needs renewal.identity_center_instance_arn in the config"}
	}

	db, err := c.openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if *rollup {
		if _, err := features.Rollup(ctx, db); err != nil {
			return fmt.Errorf("renewals: %w", err)
		}
	}
	data, err := features.Load(ctx, db)
	if err != nil {
		return fmt.Errorf("renewals: %w", err)
	}
	snap, err := features.Build(data, cfg.Features(), at)
	if err != nil {
		return fmt.Errorf("renewals: %w", err)
	}
	grants := snap.ExpiringGrants(at, within)
	actions := approve.ReviewRenewals(approve.RenewalInput{Config: cfg, Snapshot: snap, At: at, Grants: grants})
	plan := approve.RenewalPlan{RunID: approve.NewRunID(), At: at, Within: within,
		PolicyVersion: cfg.PolicyVersion(), SnapshotVersion: snap.Version, Apply: enforce, Actions: actions}

	if enforce {
		if os.Getenv("AWS_REGION") == "" && *region == "" {
			*region = "us-east-1"
		}
		client, err := approve.NewSSOAdminClient(ctx, *region, *endpoint)
		if err != nil {
			return fmt.Errorf("renewals: %w", err)
		}
		rev, err := approve.NewRevoker(client, approve.RevokerOptions{
			InstanceARN: cfg.Renewal.IdentityCenterInstanceARN, Logger: env.Logger})
		if err != nil {
			return fmt.Errorf("renewals: %w", err)
		}
		plan.Applied = approve.ApplyRevocations(ctx, rev, actions, grants)
	}
	// The plan is recorded even when applying failed part-way: the
	// results say which revocations took effect.
	if err := approve.SaveRenewalPlan(ctx, db, plan); err != nil {
		return fmt.Errorf("renewals: %w", err)
	}

	if err := writeRenewals(env, c.format, plan); err != nil {
		return err
	}
	sum := renewalsSummary{RunID: plan.RunID, Grants: len(actions), Actions: map[models.RenewalAction]int{},
		Applied: map[string]int{}}
	for _, r := range actions {
		sum.Actions[r.Action]++
	}
	for _, a := range plan.Applied {
		sum.Applied[a.Result]++
	}
	env.Logger.Info("renewal review", "run_id", sum.RunID, "at", at, "within", within.String(),
		"grants", sum.Grants, "renew", sum.Actions[models.RenewalRenew], "revoke", sum.Actions[models.RenewalRevoke],
		"review", sum.Actions[models.RenewalReview], "apply", enforce)
	mode := "dry run, nothing revoked (--apply revokes)"
	if enforce {
		mode = fmt.Sprintf("applied: %d deleted, %d already absent, %d skipped, %d failed",
			sum.Applied[approve.ApplyDeleted], sum.Applied[approve.ApplyAlreadyAbsent],
			sum.Applied[approve.ApplySkipped], sum.Applied[approve.ApplyFailed])
	}
	fmt.Fprintf(env.Stderr, "renewals: %d grants expiring in (%s, +%s]: %d renew, %d revoke, %d review; plan %s recorded; %s\n",
		sum.Grants, at.Format(time.RFC3339), models.FormatDuration(within), sum.Actions[models.RenewalRenew],
		sum.Actions[models.RenewalRevoke], sum.Actions[models.RenewalReview], plan.RunID, mode)
	if sum.Applied[approve.ApplyFailed] > 0 {
		return fmt.Errorf("renewals: %d revocations failed; see renewal_calls for run %s",
			sum.Applied[approve.ApplyFailed], plan.RunID)
	}
	return nil
}

// writeRenewals prints the plan: models.Renewal per line for json (the
// objects of POST /v1/renewals), else a table or CSV with the deciding
// reason and, when applying, the result.
func writeRenewals(env *Env, format string, plan approve.RenewalPlan) error {
	if format == "json" {
		for _, r := range plan.Actions {
			if err := writeJSON(env.Stdout, r); err != nil {
				return err
			}
		}
		return nil
	}
	cols := []string{"request_id", "requester", "entitlement", "action", "expires_at", "reason"}
	if plan.Apply {
		cols = append(cols, "applied")
	}
	rows := make([][]any, 0, len(plan.Actions))
	for _, r := range plan.Actions {
		reason := ""
		if len(r.Reasons) > 0 {
			reason = r.Reasons[0].Factor + ": " + r.Reasons[0].Detail
		}
		row := []any{r.RequestID, r.Requester, r.Entitlement, string(r.Action), r.ExpiresAt, reason}
		if plan.Apply {
			row = append(row, plan.Applied[r.RequestID].Result)
		}
		rows = append(rows, row)
	}
	return writeRows(env.Stdout, format, cols, rows)
}
