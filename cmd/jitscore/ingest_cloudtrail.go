package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/jitscore/jitscore/ingest"
	"github.com/jitscore/jitscore/models"
)

const ingestCloudTrailUsage = `ingest cloudtrail [flags] PATH|GLOB|DIR|s3://bucket/prefix ...

Loads CloudTrail in any shape it is delivered in (S3 delivery files, gzipped
or not, bare arrays, NDJSON, EventBridge envelopes, lookup-events output,
CloudTrail Lake exports). Files loaded before and unchanged are not read
again (their records count as duplicates); --rescan reads them anyway.`

// runIngestCloudTrail is `jitscore ingest cloudtrail`.
// ingestGoMemory is the Go runtime's soft memory limit during a CloudTrail
// load, unless GOMEMLIMIT sets one.
const ingestGoMemory = 512 << 20

func runIngestCloudTrail(ctx context.Context, env *Env, args []string) error {
	var c common
	fs := newFlagSet("ingest cloudtrail", ingestCloudTrailUsage, &c)
	since := fs.String("since", "", "load only events at or after this time: RFC 3339, YYYY-MM-DD, or an age such as 30d")
	endpoint := fs.String("endpoint-url", "", "S3-compatible endpoint for s3:// sources (path-style addressing)")
	region := fs.String("region", "", "S3 region (default: from the AWS configuration, else us-east-1)")
	rescan := fs.Bool("rescan", false, "read files again even when unchanged since they were loaded")
	concurrency := fs.Int("concurrency", 0, "files read at once (default: CPU count, 8 for S3)")
	batch := fs.Int("batch-events", 0, "events per transaction (default 122880, one DuckDB row group)")
	memLimit := fs.String("memory-limit", "512MB", "DuckDB memory limit for this load (DuckDB size syntax); empty keeps DuckDB's default of 80% of RAM")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the load to this file (for `go tool pprof`)")
	if err := parseFlags(fs, &c, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{"ingest cloudtrail: give at least one PATH, GLOB, DIR or s3://bucket/prefix"}
	}
	opts := ingest.CloudTrailOptions{
		EndpointURL: *endpoint,
		Region:      *region,
		Rescan:      *rescan,
		Concurrency: *concurrency,
		BatchEvents: *batch,
		Logger:      env.Logger,
	}
	if *since != "" {
		t, err := parseSince(*since, time.Now())
		if err != nil {
			return usageError{err.Error()}
		}
		opts.Since = t
	}
	if env.Terminal {
		var bar *progressbar.ProgressBar
		opts.Progress = func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total,
					progressbar.OptionSetWriter(env.Stderr),
					progressbar.OptionSetDescription("cloudtrail files"),
					progressbar.OptionShowCount(),
					progressbar.OptionClearOnFinish())
			}
			bar.Set(done)
		}
		defer func() {
			if bar != nil {
				bar.Finish()
			}
		}()
	}

	db, err := c.openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if *memLimit != "" {
		// DuckDB otherwise caches written blocks up to most of the
		// machine's memory; a scheduled ingest should stay small.
		if !memLimitRE.MatchString(*memLimit) {
			return usageError{fmt.Sprintf("--memory-limit %q: want a size such as 512MB or 2GiB", *memLimit)}
		}
		if _, err := db.ExecContext(ctx, "SET memory_limit = '"+*memLimit+"'"); err != nil {
			return usageError{fmt.Sprintf("--memory-limit %q: %v", *memLimit, err)}
		}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The load keeps about 250 MiB of Go heap live at 1,000,000
		// events (the batch being built, the one being stored, the set
		// of eventIDs); a soft limit has the collector run before the
		// heap doubles past that (peak RSS 0.9 GiB with DuckDB's 512MB).
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(ingestGoMemory))
	}
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	sum, err := ingest.LoadCloudTrail(ctx, db, fs.Args(), opts)
	if err != nil {
		return fmt.Errorf("ingest cloudtrail: %w", err)
	}
	fmt.Fprintf(env.Stderr, "cloudtrail: %d events loaded, %d duplicates, %d quarantined, %d files skipped, %d files (%d unchanged) in %.1fs\n",
		sum.EventsLoaded, sum.Duplicates, sum.Quarantined, sum.SkippedFiles, sum.Files, sum.UnchangedFiles, sum.Elapsed)
	if c.format == "json" {
		return writeJSON(env.Stdout, sum)
	}
	if len(sum.Skipped) > 0 {
		rows := make([][]any, len(sum.Skipped))
		for i, s := range sum.Skipped {
			rows[i] = []any{s.Source, s.Reason}
		}
		return writeRows(env.Stdout, "table", []string{"skipped", "reason"}, rows)
	}
	return nil
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile %s: %w", path, err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// memLimitRE accepts DuckDB sizes; checked because SET takes no parameter.
var memLimitRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?\s*([KMGT]i?B|B)$`)

// parseSince reads --since: an RFC 3339 time, a UTC date, or an age before
// now (30d, 12h, PT8H).
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	if d, err := models.ParseDuration(strings.TrimSpace(s)); err == nil && d > 0 {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("--since %q: want an RFC 3339 time, YYYY-MM-DD or an age such as 30d", s)
}
