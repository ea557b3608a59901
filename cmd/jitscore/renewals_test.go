package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/approve/ssoadmintest"
	"github.com/jitscore/jitscore/ingest/schema"
	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/simulate"
)

// simulatedDB simulates an organisation, ingests every input into a fresh
// database and returns the database path and the simulator's truth.
func simulatedDB(t *testing.T, people, days int, seed string) (string, simulate.Truth) {
	t.Helper()
	dir := t.TempDir()
	out := filepath.Join(dir, "org")
	db := filepath.Join(dir, "j.duckdb")
	buildRun(t, "simulate", out, "--people", strconv.Itoa(people), "--days", strconv.Itoa(days), "--seed", seed)
	for _, kind := range []string{"identities", "entitlements", "requests"} {
		buildRun(t, "ingest", kind, "--db", db, filepath.Join(out, kind+".csv"))
	}
	buildRun(t, "ingest", "cloudtrail", "--db", db, filepath.Join(out, "cloudtrail"))
	var truth simulate.Truth
	b, err := os.ReadFile(filepath.Join(out, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	return db, truth
}

// readRenewals parses `renewals --format json` output.
func readRenewals(t *testing.T, out []byte) []models.Renewal {
	t.Helper()
	var rs []models.Renewal
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r models.Renewal
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("renewal line %q: %v", sc.Text(), err)
		}
		rs = append(rs, r)
	}
	return rs
}

func truthEnd(t *testing.T, truth simulate.Truth) time.Time {
	t.Helper()
	end, err := time.Parse(time.RFC3339, truth.End)
	if err != nil {
		t.Fatal(err)
	}
	return end
}

// TestRenewalPrecisionRecall reviews, at the end of a simulated history,
// the grants expiring in the following week, and measures revoke against
// the simulator's truth: precision is the share of revoked grants the
// simulator left unused, recall the share of unused AWS grants revoked
// (app grants, whose use CloudTrail cannot show, are reviewed by design and
// counted apart). Run it with -v to see the figures.
func TestRenewalPrecisionRecall(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: simulates, ingests and reviews")
	}
	t.Parallel()
	db, truth := simulatedDB(t, 400, 60, "11")
	end := truthEnd(t, truth)
	rs := readRenewals(t, buildRun(t, "renewals", "--db", db, "--at", end.Format(time.RFC3339), "--within", "7d",
		"--format", "json"))

	grants := map[string]simulate.TruthGrant{}
	for _, g := range truth.Grants {
		grants[g.RequestID] = g
	}
	var tp, fp, fn, appUnused, appRevoked, expected int
	revoked := map[string]bool{}
	byID := map[string]models.Renewal{}
	for _, r := range rs {
		byID[r.RequestID] = r
		g, ok := grants[r.RequestID]
		if !ok {
			t.Fatalf("renewal for %s, which the simulator never granted", r.RequestID)
		}
		if r.Action == models.RenewalRevoke {
			revoked[r.RequestID] = true
			if !g.CloudTrail {
				appRevoked++
			}
			if g.Used {
				fp++
			} else {
				tp++
			}
		}
	}
	for _, g := range truth.Grants {
		exp, _ := time.Parse(time.RFC3339, g.ExpiresAt)
		if !exp.After(end) || exp.After(end.Add(7*24*time.Hour)) || g.RevokedAt != "" {
			continue
		}
		expected++
		if g.Used {
			continue
		}
		if !g.CloudTrail {
			appUnused++
		} else if !revoked[g.RequestID] {
			fn++
			if r, ok := byID[g.RequestID]; ok && len(r.Reasons) > 0 {
				t.Logf("unused, not revoked: %s %s: %s %s", g.RequestID, g.Entitlement, r.Action, r.Reasons[0].Detail)
			}
		}
	}
	if len(rs) != expected {
		t.Errorf("%d grants reviewed, the simulator has %d expiring in the week", len(rs), expected)
	}
	if appRevoked > 0 {
		t.Errorf("%d app grants revoked; CloudTrail cannot show their use", appRevoked)
	}
	precision := float64(tp) / float64(max(tp+fp, 1))
	recall := float64(tp) / float64(max(tp+fn, 1))
	t.Logf("renewal review at %s over %d expiring grants: %d revoked (%d unused, %d used), %d unused AWS grants not revoked, %d unused app grants reviewed",
		end.Format(time.RFC3339), len(rs), tp+fp, tp, fp, fn, appUnused)
	t.Logf("revoke precision %.3f recall %.3f", precision, recall)
	if tp+fn < 10 {
		t.Fatalf("only %d unused AWS grants in the window: too few to measure", tp+fn)
	}
	if precision < 0.9 || recall < 0.9 {
		t.Errorf("precision %.3f, recall %.3f; want at least 0.9 each", precision, recall)
	}
}

// TestRenewalsCommandOutputsRecordsAndApplies runs the command as an
// operator would: a dry run in each format, which changes nothing in AWS
// and records the plan, then --apply against a local sso-admin server,
// which deletes exactly the revoked grants' assignments, and a second
// --apply, which finds nothing left to delete.
func TestRenewalsCommandOutputsRecordsAndApplies(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: simulates, ingests and reviews")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ACCESS_KEY_ID", ssoadmintest.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	db, truth := simulatedDB(t, 120, 50, "5")
	at := truthEnd(t, truth).Format(time.RFC3339)

	rs := readRenewals(t, buildRun(t, "renewals", "--db", db, "--at", at, "--format", "json"))
	revokes := map[string]models.Renewal{}
	for _, r := range rs {
		if r.Action == models.RenewalRevoke {
			revokes[r.RequestID] = r
		}
		if r.RequestID == "" || r.Requester == "" || r.Entitlement == "" || r.ExpiresAt.IsZero() || len(r.Reasons) == 0 {
			t.Errorf("incomplete renewal %+v", r)
		}
	}
	if len(revokes) == 0 {
		t.Fatal("no revoke in the simulated week; the apply path would not be exercised")
	}

	tests := []struct{ format, first string }{{"csv", "request_id"}, {"table", "request_id"}}
	for _, tc := range tests {
		out := string(buildRun(t, "renewals", "--db", db, "--at", at, "--format", tc.format))
		if !strings.HasPrefix(out, tc.first) || strings.Count(out, "\n") != len(rs)+1 {
			t.Errorf("--format %s: %d lines, want a header and %d rows:\n%s", tc.format, strings.Count(out, "\n"), len(rs), out)
		}
		if tc.format == "csv" {
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil || len(recs) != len(rs)+1 || recs[0][3] != "action" {
				t.Errorf("csv does not parse with an action column: %v", err)
			}
		}
	}

	// Every person's identity_store_id holds each permission set it was
	// granted, so that Identity Center has something to revoke.
	s := ssoadmintest.New(t, "ReadOnly", "BillingReadOnly", "SecurityAudit", "DataScientist", "PowerUser",
		"AdministratorAccess")
	h, err := schema.Open(context.Background(), db, schema.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	stores := map[string]string{}
	rows, err := h.Query(`SELECT user_id, identity_store_id FROM identities`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var u, id string
		if err := rows.Scan(&u, &id); err != nil {
			t.Fatal(err)
		}
		stores[u] = id
	}
	rows.Close()
	h.Close()
	for _, g := range truth.Grants {
		if e := models.DeriveEntitlement(g.Entitlement); e.App == "aws" {
			s.Assign(e.AWSAccount, e.AWSRole, stores[g.User])
		}
	}
	before := s.Assignments()

	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("renewal:\n  identity_center_instance_arn: \""+ssoadmintest.Instance+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	apply := func() []ssoadmintest.Call {
		t.Helper()
		buildRun(t, "renewals", "--db", db, "--config", cfg, "--at", at, "--format", "json", "--apply",
			"--endpoint-url", s.URL())
		return s.TakeCalls()
	}
	deletes := 0
	for _, c := range apply() {
		if c.Op == "DeleteAccountAssignment" {
			deletes++
		}
	}
	// Two revoked grants may share one assignment; the second finds it gone.
	if deletes == 0 || deletes > len(revokes) || before-s.Assignments() != deletes {
		t.Errorf("%d deletions for %d revokes; assignments went from %d to %d", deletes, len(revokes), before, s.Assignments())
	}
	for _, c := range apply() {
		if c.Op == "DeleteAccountAssignment" {
			t.Errorf("second apply deleted again: %v", c.Body)
		}
	}

	h, err = schema.Open(context.Background(), db, schema.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var runs, applied, planned, calls int
	if err := h.QueryRow(`SELECT count(*), count(*) FILTER (WHERE apply) FROM renewal_runs`).Scan(&runs, &applied); err != nil {
		t.Fatal(err)
	}
	if err := h.QueryRow(`SELECT count(*) FROM renewals r JOIN renewal_runs u USING (run_id)
		WHERE u.apply AND r.action = 'revoke' AND r.applied`).Scan(&planned); err != nil {
		t.Fatal(err)
	}
	if err := h.QueryRow(`SELECT count(*) FROM renewal_calls WHERE operation = 'DeleteAccountAssignment'`).Scan(&calls); err != nil {
		t.Fatal(err)
	}
	if runs != 5 || applied != 2 || planned != 2*len(revokes) || calls != deletes {
		t.Errorf("recorded %d runs (%d applied), %d applied revokes, %d delete calls; want 5, 2, %d, %d",
			runs, applied, planned, calls, 2*len(revokes), deletes)
	}
}

func TestRenewalsRejectsBadArguments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unparsable at", []string{"--at", "tomorrow"}, "--at"},
		{"unparsable within", []string{"--within", "a week"}, "--within"},
		{"bad format", []string{"--format", "xml"}, "--format"},
		{"apply without an instance", []string{"--apply"}, "identity_center_instance_arn"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"renewals", "--db", filepath.Join(t.TempDir(), "j.duckdb")}, tc.args...)
			_, _, err := ctRun(t, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}
