package main

import (
	"context"
	"fmt"
)

func init() {
	register(command{
		name:    "ingest",
		summary: "load cloudtrail, requests, identities or entitlements into the database",
		run:     runIngest,
	})
}

// runIngest dispatches "ingest KIND ...".
func runIngest(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usageError{"ingest: want cloudtrail, requests, identities or entitlements"}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(env.Stderr, `usage: jitscore ingest KIND [flags] SOURCE

kinds:
  cloudtrail PATH|GLOB|DIR|s3://bucket/prefix   CloudTrail in any delivered shape
  requests FILE                                 the broker's request history (CSV or NDJSON)
  identities FILE                               people, aliases and attributes (CSV or NDJSON)
  entitlements FILE                             the entitlement catalogue (CSV or NDJSON)

Run 'jitscore ingest KIND -h' for the flags of one kind.
`)
		return nil
	}
	switch args[0] {
	case "cloudtrail":
		return runIngestCloudTrail(ctx, env, args[1:])
	case "requests", "identities", "entitlements":
		return runIngestTable(ctx, env, args[0], args[1:])
	}
	return usageError{fmt.Sprintf("ingest: unknown kind %q: want cloudtrail, requests, identities or entitlements", args[0])}
}
