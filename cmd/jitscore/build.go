package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
)

func init() {
	register(command{
		name:    "build",
		summary: "derive features (personas, reuse, coverage, history) and write the snapshot",
		run:     runBuild,
	})
}

// buildSummary is what `jitscore build --format json` prints.
type buildSummary struct {
	Version        string    `json:"version"`
	AsOf           time.Time `json:"as_of"`
	People         int       `json:"people"`
	Personas       int       `json:"personas"`
	Entitlements   int       `json:"entitlements"`
	Requests       int       `json:"requests"`
	Grants         int       `json:"grants"`
	UsageRows      int64     `json:"usage_rows"`
	Snapshot       string    `json:"snapshot"`
	RollupSeconds  float64   `json:"rollup_seconds"`
	LoadSeconds    float64   `json:"load_seconds"`
	BuildSeconds   float64   `json:"build_seconds"`
	WriteSeconds   float64   `json:"write_seconds"`
	ElapsedSeconds float64   `json:"elapsed_seconds"`
	// SnapshotLoadSeconds is how long reading the snapshot back took, with
	// --verify; what a serving process pays at start and on reload.
	SnapshotLoadSeconds float64 `json:"snapshot_load_seconds,omitempty"`
}

// runBuild handles "build [--as-of TIME] [--snapshot FILE]": refresh the
// usage_daily rollup from the events view, load the history, build the
// features as of --as-of (default now), replace the feature tables and
// write the snapshot file that `jitscore serve` reads (default beside the
// database, "<db>.snapshot").
func runBuild(ctx context.Context, env *Env, args []string) error {
	var c common
	fs := newFlagSet("build", "build [--as-of TIME] [--snapshot FILE] [--verify]", &c)
	fs.SetOutput(env.Stderr)
	asOfText := fs.String("as-of", "", "use only data before this RFC 3339 time (default: now)")
	snapPath := fs.String("snapshot", "", "snapshot file to write (default: <db>.snapshot)")
	verify := fs.Bool("verify", false, "read the snapshot back and check its version")
	if err := parseFlags(fs, &c, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("build: unexpected arguments %q", fs.Args())}
	}
	began := time.Now()
	asOf, err := timeFlagOr("as-of", *asOfText, began)
	if err != nil {
		return err
	}
	ac, err := approve.LoadConfig(c.config)
	if err != nil {
		return err
	}
	cfg := ac.Features()
	if *snapPath == "" {
		*snapPath = features.SnapshotPath(c.db)
	}

	db, err := c.openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	sum := buildSummary{AsOf: asOf, Snapshot: *snapPath}
	t := time.Now()
	if sum.UsageRows, err = features.Rollup(ctx, db); err != nil {
		return err
	}
	sum.RollupSeconds = time.Since(t).Seconds()
	t = time.Now()
	data, err := features.Load(ctx, db)
	if err != nil {
		return err
	}
	sum.LoadSeconds = time.Since(t).Seconds()
	t = time.Now()
	snap, err := features.Build(data, cfg, asOf)
	if err != nil {
		return err
	}
	snap.BuiltAt = time.Now().UTC()
	sum.BuildSeconds = time.Since(t).Seconds()
	t = time.Now()
	if err := features.Write(ctx, db, snap); err != nil {
		return err
	}
	if err := snap.WriteFile(*snapPath); err != nil {
		return err
	}
	sum.WriteSeconds = time.Since(t).Seconds()
	sum.ElapsedSeconds = time.Since(began).Seconds()
	sum.Version = snap.Version
	if *verify {
		t = time.Now()
		back, err := features.ReadSnapshotFile(*snapPath)
		if err != nil {
			return err
		}
		if back.Version != snap.Version {
			return fmt.Errorf("build: snapshot %s reads back as version %s, wrote %s", *snapPath, back.Version, snap.Version)
		}
		sum.SnapshotLoadSeconds = time.Since(t).Seconds()
	}
	sum.People, sum.Personas, sum.Entitlements = len(snap.People), len(snap.Personas), len(snap.Entitlements)
	sum.Requests, sum.Grants = len(data.Requests), len(data.Grants)

	env.Logger.Info("features built", "version", sum.Version, "as_of", asOf, "people", sum.People,
		"personas", sum.Personas, "entitlements", sum.Entitlements, "elapsed_seconds", sum.ElapsedSeconds)
	if c.format == "json" {
		if err := writeJSON(env.Stdout, sum); err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stderr, "build: %d people, %d personas, %d entitlements as of %s in %.2fs; snapshot %s\n",
		sum.People, sum.Personas, sum.Entitlements, asOf.Format(time.RFC3339), sum.ElapsedSeconds, *snapPath)
	return nil
}
