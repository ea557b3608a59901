package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

func init() {
	register(command{
		name:    "backtest",
		summary: "replay decided history under a config; threshold sweep; --plot FILE",
		run:     runBacktest,
	})
}

const backtestUsage = `backtest [flags]

Replays the decided request history period by period: each period is scored
by a model trained only on what was decided before it and by the features
as of its start, with the policy of --config (guardrails included), and
compared with what the reviewers decided and whether the grants were used.
Prints, per threshold pair, the share auto-approved, the share of those the
reviewers denied, the share of auto-approved grants never used and the
reviewer hours saved; and per period the AUC. Reads usage_daily as the last
'jitscore build' left it.

--format table prints the sweep and the periods; csv prints one of them
(--view); json prints one object with everything.`

// runBacktest is `jitscore backtest`.
func runBacktest(ctx context.Context, env *Env, args []string) error {
	var c common
	formats := []string{"table", "csv", "json"}
	fs := newFlagSet("backtest", backtestUsage, &c, formats...)
	fs.SetOutput(env.Stderr)
	plotPath := fs.String("plot", "", "write the auto-approval / false-approval chart to FILE (.png or .svg)")
	period := fs.String("period", "", "retraining period, e.g. 30d (default: the config's backtest.period)")
	from := fs.String("from", "", "start of the first period, RFC 3339 (default: the first request's day)")
	to := fs.String("to", "", "no period starts after this RFC 3339 time (default: the last request)")
	autoMax := fs.String("auto-approve-max", "", "comma-separated auto_approve_max values to sweep")
	denyMin := fs.String("deny-min", "", "comma-separated deny_min values to sweep")
	view := fs.String("view", "sweep", "what --format csv prints: sweep or periods")
	if err := parseFlags(fs, &c, args, formats...); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("backtest: unexpected arguments %q", fs.Args())}
	}
	if *view != "sweep" && *view != "periods" {
		return usageError{fmt.Sprintf("backtest: --view %q: want sweep or periods", *view)}
	}
	var opts approve.BacktestOptions
	var err error
	if *period != "" {
		if opts.Period, err = models.ParseDuration(*period); err != nil {
			return usageError{fmt.Sprintf("backtest: --period: %v", err)}
		}
	}
	if opts.From, err = parseTimeFlag("from", *from); err != nil {
		return err
	}
	if opts.To, err = parseTimeFlag("to", *to); err != nil {
		return err
	}
	if opts.AutoApproveMax, err = parseUnitList("auto-approve-max", *autoMax); err != nil {
		return err
	}
	if opts.DenyMin, err = parseUnitList("deny-min", *denyMin); err != nil {
		return err
	}
	plotFormat := ""
	if *plotPath != "" {
		if plotFormat, err = approve.PlotFormat(*plotPath); err != nil {
			return usageError{"backtest: --plot: " + err.Error()}
		}
	}
	cfg, err := approve.LoadConfig(c.config)
	if err != nil {
		return err
	}
	opts.Logger = env.Logger

	db, err := c.openDBReadOnly(ctx)
	if err != nil {
		return err
	}
	data, err := features.Load(ctx, db)
	if err == nil {
		opts.Justifications, err = loadJustifications(ctx, db)
	}
	db.Close()
	if err != nil {
		return err
	}

	began := time.Now()
	res, err := approve.Backtest(data, cfg, opts)
	if err != nil {
		return err
	}
	if *plotPath != "" {
		var buf bytes.Buffer
		if err := res.WritePlot(&buf, plotFormat); err != nil {
			return err
		}
		if err := os.WriteFile(*plotPath, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("backtest: write plot: %w", err)
		}
	}
	if err := writeBacktest(env.Stdout, c.format, *view, res); err != nil {
		return err
	}

	cur := backtestCurrent(res)
	fmt.Fprintf(env.Stderr, "backtest: %d periods, %d requests replayed (%d undecided skipped) in %.1fs; "+
		"at %.2f/%.2f: %s auto-approved, %s of them denied by reviewers, %.1f reviewer hours saved\n",
		len(res.Periods), len(res.Requests), res.Skipped, time.Since(began).Seconds(),
		cur.AutoApproveMax, cur.DenyMin, textPct(cur.AutoShare), textPct(cur.FalseApprovalRate), cur.HoursSaved)
	return nil
}

// loadJustifications reads request justifications, which features.Load
// leaves out, so that the replay sees what the broker would have sent.
func loadJustifications(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx,
		`SELECT request_id, justification FROM requests WHERE coalesce(justification, '') <> ''`)
	if err != nil {
		return nil, fmt.Errorf("load justifications: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, j string
		if err := rows.Scan(&id, &j); err != nil {
			return nil, fmt.Errorf("load justifications: %w", err)
		}
		out[id] = j
	}
	return out, rows.Err()
}

// writeBacktest prints res in format.
func writeBacktest(w io.Writer, format, view string, res *approve.BacktestResult) error {
	switch format {
	case "json":
		return writeJSON(w, res)
	case "csv":
		if view == "periods" {
			return writeRows(w, format, backtestPeriodColumns, backtestPeriodRows(res))
		}
		return writeRows(w, format, backtestSweepColumns, backtestSweepRows(res))
	}
	fmt.Fprintf(w, "Threshold sweep (policy %s, %.0f min per review; * = config)\n", res.PolicyVersion,
		res.MinutesPerReview)
	if err := writeRows(w, "table", backtestSweepColumns, backtestSweepRows(res)); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nPeriods (overall AUC %s)\n", textRate3(res.AUC))
	return writeRows(w, "table", backtestPeriodColumns, backtestPeriodRows(res))
}

var backtestSweepColumns = []string{"auto_approve_max", "deny_min", "current", "scored", "auto_share",
	"false_approval_rate", "unused_grant_rate", "high_risk_share", "high_risk_approved_rate",
	"deny_share", "hours_saved"}

func backtestSweepRows(res *approve.BacktestResult) [][]any {
	rows := make([][]any, 0, len(res.Sweep))
	for _, s := range res.Sweep {
		mark := ""
		if s.Current {
			mark = "*"
		}
		rows = append(rows, []any{s.AutoApproveMax, s.DenyMin, mark, s.Scored, cellRate(s.AutoShare),
			cellRate(s.FalseApprovalRate), cellRate(s.UnusedGrantRate), cellRate(s.HighRiskShare),
			cellRate(s.HighRiskApprovedRate), cellRate(s.DenyShare), cellRound2(s.HoursSaved)})
	}
	return rows
}

var backtestPeriodColumns = []string{"period", "start", "end", "model", "cold_start", "train_decided",
	"scored", "human_denied", "auc", "auto_share", "false_approval_rate", "unused_grant_rate",
	"hours_saved"}

func backtestPeriodRows(res *approve.BacktestResult) [][]any {
	rows := make([][]any, 0, len(res.Periods))
	for _, p := range res.Periods {
		rows = append(rows, []any{p.Index, p.Start.Format(time.DateOnly), p.End.Format(time.DateOnly),
			p.ModelKind + " " + p.ModelVersion, p.ColdStart, p.TrainDecided, p.Scored, p.HumanDenied,
			cellRate(p.AUC), cellRate(p.Current.AutoShare), cellRate(p.Current.FalseApprovalRate),
			cellRate(p.Current.UnusedGrantRate), cellRound2(p.Current.HoursSaved)})
	}
	return rows
}

func backtestCurrent(res *approve.BacktestResult) approve.PairStats {
	for _, s := range res.Sweep {
		if s.Current {
			return s
		}
	}
	return approve.PairStats{ThresholdPair: res.Current}
}

// cellRate is a rate rounded to four decimals, nil (empty, null) when unknown.
func cellRate(v *float64) any {
	if v == nil {
		return nil
	}
	return float64(int64(*v*1e4+0.5)) / 1e4
}

func cellRound2(v float64) float64 { return float64(int64(v*100+0.5)) / 100 }

func textRate3(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v, 'f', 3, 64)
}

func textPct(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

// parseUnitList parses a comma-separated list of numbers in [0, 1].
func parseUnitList(name, v string) ([]float64, error) {
	if v == "" {
		return nil, nil
	}
	var out []float64
	for _, part := range strings.Split(v, ",") {
		f, err := strconv.ParseFloat(strings.TrimSpace(part), 64)
		if err != nil || f < 0 || f > 1 {
			return nil, usageError{fmt.Sprintf("--%s: %q is not a number in [0, 1]", name, part)}
		}
		out = append(out, f)
	}
	return out, nil
}
