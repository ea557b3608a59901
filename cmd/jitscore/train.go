package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
)

func init() {
	register(command{
		name:    "train",
		summary: "fit the risk model on decided history; prints its metrics",
		run:     runTrain,
	})
}

const trainUsage = "train [--as-of TIME] [--holdout 30d] [--min-decided N] [--l2 X] [--model FILE] [--format table|json]"

// trainSummary is what `jitscore train --format json` prints.
type trainSummary struct {
	Version    string          `json:"version"`
	Kind       string          `json:"kind"`
	ColdStart  bool            `json:"cold_start"`
	Why        string          `json:"cold_start_reason,omitempty"`
	Decided    int             `json:"decided"`
	Model      scoring.Metrics `json:"model"`
	Baseline   scoring.Metrics `json:"baseline"`
	Prior      scoring.Metrics `json:"prior"`
	ModelFile  string          `json:"model_file"`
	Seconds    float64         `json:"elapsed_seconds"`
	Features   []string        `json:"features"`
	Attributes []string        `json:"attributes"`
}

// runTrain fits the model on the decided requests before --as-of, each
// featurised as of the start of its week, stores it in the models table and
// writes <db>.model.json for `score` and `serve`. With too little decided
// history it says so and stores the cold-start prior instead.
func runTrain(ctx context.Context, env *Env, args []string) error {
	var c common
	fs := newFlagSet("train", trainUsage, &c)
	fs.SetOutput(env.Stderr)
	asOfText := fs.String("as-of", "", "train on requests made before this RFC 3339 time (default: now)")
	holdoutText := fs.String("holdout", "", "test on the requests of this last stretch, e.g. 30d (default: the latest 15%)")
	minDecided := fs.Int("min-decided", 200, "decided requests needed to fit; fewer stores the cold-start prior")
	modelPath := fs.String("model", "", "model file to write (default: <db>.model.json)")
	l2 := fs.Float64("l2", 0.01, "ridge penalty on the standardised coefficients")
	if err := parseFlags(fs, &c, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("train: unexpected arguments %q", fs.Args())}
	}
	began := time.Now()
	asOf, err := timeFlagOr("as-of", *asOfText, began)
	if err != nil {
		return err
	}
	var holdout time.Duration
	if *holdoutText != "" {
		d, err := models.ParseDuration(*holdoutText)
		if err != nil {
			return usageError{fmt.Sprintf("train: --holdout: %v", err)}
		}
		holdout = d
	}
	if *modelPath == "" {
		*modelPath = scoring.ModelPath(c.db)
	}
	cfg, err := approve.LoadConfig(c.config)
	if err != nil {
		return err
	}

	db, err := c.openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := foldAuditIfAny(ctx, env, &c, cfg, db); err != nil {
		env.Logger.Warn("audit log not folded; it stays for the next command", "error", err)
	}
	data, err := features.Load(ctx, db)
	if err != nil {
		return err
	}
	var history []models.Request
	for _, r := range data.Requests {
		if r.RequestedAt.Before(asOf) {
			history = append(history, r)
		}
	}
	fcfg := cfg.Features()
	res, err := scoring.Train(history, scoring.TrainOptions{
		Snapshots: func(at time.Time) (*features.Snapshot, error) {
			return features.Build(data, fcfg, at)
		},
		TierOf:     cfg.TierOf,
		Attributes: features.AttrStatAttributes,
		Holdout:    holdout,
		MinDecided: *minDecided,
		L2:         *l2,
		Now:        began,
	})
	if err != nil {
		return err
	}
	m := res.Model
	if err := scoring.SaveModel(*modelPath, m); err != nil {
		return err
	}
	if err := scoring.StoreModel(ctx, db, m, res.Why); err != nil {
		return err
	}

	sum := trainSummary{
		Version: m.Version, Kind: m.Kind, ColdStart: res.ColdStart, Why: res.Why,
		Model: m.Metrics, Baseline: res.Baseline, Prior: res.PriorOnTest, ModelFile: *modelPath,
		Seconds: time.Since(began).Seconds(), Features: m.Features, Attributes: m.Attributes,
	}
	for _, r := range history {
		if ok, _ := scoring.Decided(r); ok {
			sum.Decided++
		}
	}
	env.Logger.Info("model trained", "version", m.Version, "kind", m.Kind, "cold_start", res.ColdStart,
		"auc", m.Metrics.AUC, "ece", m.Metrics.ECE, "n_test", m.Metrics.NTest)
	if c.format == "json" {
		if err := writeJSON(env.Stdout, sum); err != nil {
			return err
		}
	} else {
		printTrain(env, &sum)
	}
	if res.ColdStart {
		fmt.Fprintf(env.Stderr, "train: too little decided history (%s); stored the cold-start prior %s in %s\n",
			res.Why, m.Version, *modelPath)
		return nil
	}
	fmt.Fprintf(env.Stderr, "train: model %s: AUC %.3f, ECE %.3f on %d held-out requests; written to %s\n",
		m.Version, m.Metrics.AUC, m.Metrics.ECE, m.Metrics.NTest, *modelPath)
	return nil
}

func printTrain(env *Env, s *trainSummary) {
	w := env.Stdout
	day := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Format(time.DateOnly)
	}
	fmt.Fprintf(w, "model      %s (%s)\n", s.Version, s.Kind)
	if s.ColdStart {
		fmt.Fprintf(w, "cold start %s\n", s.Why)
	}
	fmt.Fprintf(w, "decided    %d requests, %s to %s\n", s.Decided, day(s.Model.WindowStart), day(s.Model.WindowEnd))
	fmt.Fprintf(w, "slices     fit %d, calibrate %d, test %d (test from %s)\n",
		s.Model.NTrain, s.Model.NCalib, s.Model.NTest, day(s.Model.TestStart))
	fmt.Fprintf(w, "\n%-18s %6s %6s %6s   %s\n", "on the test slice", "AUC", "ECE", "Brier",
		"auto-approvable with at most 1% / 2% / 5% of them denied")
	row := func(name string, m scoring.Metrics) {
		fmt.Fprintf(w, "%-18s %6.3f %6.3f %6.3f   %5.1f%% / %5.1f%% / %5.1f%%\n", name, m.AUC, m.ECE, m.Brier,
			100*m.AutoShare, 100*m.AutoShare2, 100*m.AutoShare5)
	}
	row("model", s.Model)
	row("peer baseline", s.Baseline)
	if !s.ColdStart {
		row("cold-start prior", s.Prior)
	}
	fmt.Fprintf(w, "\ndeny rate  %.1f%% of test requests\n", 100*s.Model.DenyRate)
}
