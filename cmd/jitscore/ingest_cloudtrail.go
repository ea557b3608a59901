package main

import (
	"context"
	"errors"
)

// runIngestCloudTrail is a placeholder until the CloudTrail ingester lands.
func runIngestCloudTrail(ctx context.Context, env *Env, args []string) error {
	return errors.New("ingest cloudtrail: not built yet")
}
