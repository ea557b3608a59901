package main

import (
	"context"
	"errors"
)

// runIngestTable is a placeholder until the request-history ingester lands.
func runIngestTable(ctx context.Context, env *Env, kind string, args []string) error {
	return errors.New("ingest " + kind + ": not built yet")
}
