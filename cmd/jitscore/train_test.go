package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jitscore/jitscore/ingest/schema"
	"github.com/jitscore/jitscore/scoring"
)

// TestTrainFitsOnSimulatedHistoryAndStoresTheModel simulates an
// organisation, ingests its history, trains, and checks the model file, the
// models row and that the model beats the peer baseline on AUC.
func TestTrainFitsOnSimulatedHistoryAndStoresTheModel(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: simulates, ingests and trains")
	}
	t.Parallel()
	dir := t.TempDir()
	org, db := filepath.Join(dir, "org"), filepath.Join(dir, "j.duckdb")
	buildRun(t, "simulate", org, "--people", "120", "--days", "75", "--seed", "5")
	for _, kind := range []string{"identities", "entitlements", "requests"} {
		buildRun(t, "ingest", kind, "--db", db, filepath.Join(org, kind+".csv"))
	}
	buildRun(t, "ingest", "cloudtrail", "--db", db, filepath.Join(org, "cloudtrail"))

	var sum trainSummary
	if err := json.Unmarshal(buildRun(t, "train", "--db", db, "--holdout", "14d", "--format", "json"), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.ColdStart || sum.Kind != scoring.KindLogistic {
		t.Fatalf("cold start on a simulated history: %+v", sum)
	}
	if sum.Model.AUC <= sum.Baseline.AUC {
		t.Errorf("model AUC %.3f does not beat the peer baseline %.3f", sum.Model.AUC, sum.Baseline.AUC)
	}
	m, err := scoring.LoadModel(scoring.ModelPath(db))
	if err != nil || m.Version != sum.Version {
		t.Fatalf("model file: %v (version %v, want %s)", err, m, sum.Version)
	}
	sdb, err := schema.Open(context.Background(), db, schema.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	var n int
	var auc float64
	if err := sdb.QueryRow(`SELECT count(*), max(auc) FROM models WHERE version = ?`, sum.Version).Scan(&n, &auc); err != nil || n != 1 {
		t.Fatalf("models row: %d, %v", n, err)
	}
	if auc != sum.Model.AUC {
		t.Errorf("stored AUC %g, printed %g", auc, sum.Model.AUC)
	}
}

func TestTrainWithThinHistoryStoresThePrior(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db := filepath.Join(dir, "j.duckdb")
	reqs := filepath.Join(dir, "requests.csv")
	os.WriteFile(reqs, []byte("request_id,requester,entitlement,requested_at,status\n"+
		"r1,alice@example.com,aws:111122223333:ReadOnly,2026-01-05T10:00:00Z,approved\n"+
		"r2,bob@example.com,aws:111122223333:ReadOnly,2026-01-06T10:00:00Z,denied\n"), 0o644)
	buildRun(t, "ingest", "requests", "--db", db, reqs)
	env, stdout, stderr := simulateEnv()
	if err := Run(context.Background(), env, []string{"train", "--db", db, "--format", "json"}); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr)
	}
	var sum trainSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatal(err)
	}
	if !sum.ColdStart || sum.Kind != scoring.KindPrior || sum.Why == "" || sum.Decided != 2 {
		t.Errorf("thin history: %+v", sum)
	}
	if _, err := scoring.LoadModel(scoring.ModelPath(db)); err != nil {
		t.Errorf("prior not written: %v", err)
	}
	if !strings.Contains(stderr.String(), "too little decided history") {
		t.Errorf("stderr %q", stderr)
	}
}
