package approve_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/ingest/schema"
	"github.com/jitscore/jitscore/models"
)

// reviewAt is the instant every hand-made history is reviewed at.
var reviewAt = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

const (
	acctProd    = "111122223333"
	acctNoTrail = "999988887777"
	entRead     = "aws:" + acctProd + ":ReadOnly"
	entPower    = "aws:" + acctProd + ":PowerUser"
	entAdmin    = "aws:" + acctProd + ":OpsAdmin"
	entBilling  = "aws:" + acctProd + ":Billing"
	entDark     = "aws:" + acctNoTrail + ":ReadOnly"
	entApp      = "stripe:refunds"
)

// grantRow is one request of a hand-made history that produced a grant.
type grantRow struct {
	id, requester, ent string
	granted, expires   time.Time
}

// useRow is one usage_daily row: calls by person on ent on the UTC day d.
type useRow struct {
	person, ent string
	d           time.Time
	calls       int
}

// history is a hand-made world: people (all in persona Eng/Dev), a
// catalogue, grants and CloudTrail use.
type history struct {
	people    []string
	catalogue map[string]models.Tier
	grants    []grantRow
	uses      []useRow
}

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// daily is one call a day by person on ent for every day in [from, to].
func daily(person, ent, from, to string) []useRow {
	var out []useRow
	for d := date(from); !d.After(date(to)); d = d.AddDate(0, 0, 1) {
		out = append(out, useRow{person, ent, d, 3})
	}
	return out
}

// snapshotOf writes h into a fresh DuckDB file and builds the snapshot as of
// at, the way `jitscore renewals` does.
func snapshotOf(t *testing.T, h history, at time.Time) *features.Snapshot {
	t.Helper()
	ctx := context.Background()
	db, err := schema.Open(ctx, filepath.Join(t.TempDir(), "renewal.duckdb"), schema.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for i, u := range h.people {
		exec(`INSERT INTO identities (user_id, identity_store_id, department, title, attributes)
			VALUES (?, ?, 'Eng', 'Dev', '{"department":"Eng","title":"Dev"}')`, u, fmt.Sprintf("ids-%d", i))
		exec(`INSERT INTO identity_keys VALUES (?, ?, 'user')`, strings.ToLower(u), u)
	}
	for ent, tier := range h.catalogue {
		e := models.DeriveEntitlement(ent)
		exec(`INSERT INTO entitlement_catalogue (entitlement, app, aws_account, aws_role, tier)
			VALUES (?, ?, ?, ?, ?)`, ent, e.App, e.AWSAccount, e.AWSRole, string(tier))
	}
	for _, g := range h.grants {
		exec(`INSERT INTO requests (request_id, requester, entitlement, requested_at, status, decided_at,
			granted_at, expires_at) VALUES (?, ?, ?, ?, 'approved', ?, ?, ?)`,
			g.id, g.requester, g.ent, g.granted.Add(-time.Minute), g.granted, g.granted, g.expires)
	}
	for _, u := range h.uses {
		exec(`INSERT INTO usage_daily (person, entitlement, day, calls, writes, errors, services, first_at, last_at)
			VALUES (?, ?, ?, ?, 0, 0, 1, ?, ?)`, u.person, u.ent, u.d, u.calls,
			u.d.Add(10*time.Hour), u.d.Add(11*time.Hour))
	}
	return buildSnapshot(t, db, at)
}

func buildSnapshot(t testing.TB, db *sql.DB, at time.Time) *features.Snapshot {
	t.Helper()
	data, err := features.Load(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := features.Build(data, approve.DefaultConfig().Features(), at)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// handMade is the history the exact-action tests review. A background user
// uses the prod account every day, so its CloudTrail covers the whole time;
// account 999988887777 has no CloudTrail at all.
func handMade() history {
	soon := reviewAt.Add(3 * 24 * time.Hour)
	h := history{
		people: []string{"alice@x.io", "bob@x.io", "carol@x.io", "dave@x.io", "erin@x.io", "frank@x.io",
			"grace@x.io", "heidi@x.io", "ivan@x.io", "judy@x.io", "bg@x.io"},
		catalogue: map[string]models.Tier{entRead: models.TierLow, entPower: models.TierMedium,
			entAdmin: models.TierHigh, entBilling: models.TierLow, entApp: models.TierHigh, entDark: models.TierLow},
		grants: []grantRow{
			{"used-yesterday", "alice@x.io", entRead, date("2026-01-15"), soon},
			{"unused-40-days", "bob@x.io", entPower, date("2026-01-01"), soon},
			{"never-used-45-days", "bob@x.io", entRead, date("2026-01-15"), soon},
			{"high-tier-rarely-used", "carol@x.io", entAdmin, date("2026-02-01"), soon},
			{"low-tier-rarely-used", "dave@x.io", entRead, date("2026-02-01"), soon},
			{"app-entitlement", "erin@x.io", entApp, date("2026-01-01"), soon},
			{"no-identity-record", "ghost@x.io", entRead, date("2026-01-01"), soon},
			{"account-without-cloudtrail", "frank@x.io", entDark, date("2026-01-01"), soon},
			{"too-new", "grace@x.io", entRead, reviewAt.Add(-48 * time.Hour), soon},
			{"shared-assignment", "heidi@x.io", entRead, date("2026-01-01"), soon},
			{"shared-assignment-later", "heidi@x.io", entRead, date("2026-02-20"), reviewAt.AddDate(0, 0, 20)},
			{"unusual-for-persona", "ivan@x.io", entBilling, date("2026-02-01"), soon},
			{"expires-after-window", "judy@x.io", entRead, date("2026-01-01"), reviewAt.AddDate(0, 0, 30)},
			{"expired-before", "judy@x.io", entRead, date("2026-01-01"), reviewAt.Add(-time.Hour)},
		},
	}
	h.uses = append(h.uses, daily("bg@x.io", entRead, "2025-12-01", "2026-02-28")...)
	h.uses = append(h.uses, daily("alice@x.io", entRead, "2026-02-10", "2026-02-28")...)
	h.uses = append(h.uses, daily("bob@x.io", entPower, "2026-01-10", "2026-01-19")...)
	h.uses = append(h.uses,
		useRow{"carol@x.io", entAdmin, date("2026-02-20"), 2},
		useRow{"dave@x.io", entRead, date("2026-02-20"), 2})
	h.uses = append(h.uses, daily("ivan@x.io", entBilling, "2026-02-10", "2026-02-27")...)
	return h
}

func TestReviewRenewalsExactActionsOnHandMadeHistory(t *testing.T) {
	t.Parallel()
	snap := snapshotOf(t, handMade(), reviewAt)
	got := approve.ReviewRenewals(approve.RenewalInput{
		Config: approve.DefaultConfig(), Snapshot: snap, At: reviewAt,
		Grants: snap.ExpiringGrants(reviewAt, 7*24*time.Hour),
	})
	byID := map[string]models.Renewal{}
	for _, r := range got {
		byID[r.RequestID] = r
	}
	tests := []struct {
		id     string
		action models.RenewalAction
		factor string // the deciding reason, first in the list
	}{
		{"used-yesterday", models.RenewalRenew, approve.RenewalInUse},
		{"unused-40-days", models.RenewalRevoke, approve.RenewalUnused},
		{"never-used-45-days", models.RenewalRevoke, approve.RenewalUnused},
		{"high-tier-rarely-used", models.RenewalReview, approve.RenewalRarelyUsed},
		{"low-tier-rarely-used", models.RenewalRenew, approve.RenewalInUse},
		{"app-entitlement", models.RenewalReview, approve.RenewalNoCloudTrail},
		{"no-identity-record", models.RenewalReview, approve.RenewalNoIdentity},
		{"account-without-cloudtrail", models.RenewalReview, approve.RenewalTrailGap},
		{"too-new", models.RenewalReview, approve.RenewalTooNew},
		{"shared-assignment", models.RenewalReview, approve.RenewalHeldByOther},
		{"unusual-for-persona", models.RenewalReview, approve.RenewalOutlierRule},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			r, ok := byID[tc.id]
			if !ok {
				t.Fatalf("no renewal for %s among %d", tc.id, len(got))
			}
			t.Logf("%s: %s %+v", tc.id, r.Action, r.Reasons)
			if r.Action != tc.action || r.Reasons[0].Factor != tc.factor {
				t.Errorf("%s: %s by %s, want %s by %s; reasons %+v", tc.id, r.Action, r.Reasons[0].Factor,
					tc.action, tc.factor, r.Reasons)
			}
			if r.ExpiresAt.IsZero() || r.Entitlement == "" || r.Requester == "" {
				t.Errorf("%s: incomplete renewal %+v", tc.id, r)
			}
			for _, f := range []string{approve.RenewalUsage, approve.RenewalLastUse, approve.RenewalTier,
				approve.RenewalPeerUse, approve.RenewalOutlier} {
				if !hasFactor(r, f) {
					t.Errorf("%s: reason %s missing from %+v", tc.id, f, r.Reasons)
				}
			}
		})
	}
	for _, id := range []string{"expires-after-window", "expired-before", "shared-assignment-later"} {
		if _, ok := byID[id]; ok {
			t.Errorf("%s is outside (at, at+7d] but was reviewed", id)
		}
	}
	if len(got) != len(tests) {
		t.Errorf("%d renewals, want %d", len(got), len(tests))
	}
}

func hasFactor(r models.Renewal, factor string) bool {
	for _, x := range r.Reasons {
		if x.Factor == factor {
			return true
		}
	}
	return false
}

func TestReviewRenewalsRevokeOnlyCloudTrailBackedAWSWithTrail(t *testing.T) {
	t.Parallel()
	snap := snapshotOf(t, handMade(), reviewAt)
	// Review every grant in effect, whatever its expiry, under a config
	// that would revoke as much as possible.
	cfg := approve.DefaultConfig()
	cfg.Renewal.UnusedDays, cfg.Renewal.MinAge, cfg.Renewal.ReviewTiers = 1, time.Hour, nil
	got := approve.ReviewRenewals(approve.RenewalInput{Config: cfg, Snapshot: snap, At: reviewAt,
		Grants: snap.Renewal.Grants})
	revoked := 0
	for _, r := range got {
		if r.Action != models.RenewalRevoke {
			continue
		}
		revoked++
		e := models.DeriveEntitlement(r.Entitlement)
		if e.App != "aws" || e.AWSAccount == acctNoTrail {
			t.Errorf("%s revoked %s, which CloudTrail does not cover", r.RequestID, r.Entitlement)
		}
		if _, known := snap.Person(r.Requester); !known {
			t.Errorf("%s revoked for %s, who has no identity record", r.RequestID, r.Requester)
		}
	}
	if revoked == 0 {
		t.Fatal("nothing revoked; the property was not exercised")
	}
}

func TestReviewRenewalsMeasuresUseOnlyUpToTheSnapshot(t *testing.T) {
	t.Parallel()
	// The snapshot is ten days older than the review: the ten days
	// after it are unknown and must not count as idle time.
	h := history{
		people:    []string{"alice@x.io", "bg@x.io"},
		catalogue: map[string]models.Tier{entRead: models.TierLow},
		grants:    []grantRow{{"g", "alice@x.io", entRead, date("2026-01-01"), reviewAt.AddDate(0, 0, 3)}},
		uses: append(daily("bg@x.io", entRead, "2025-12-01", "2026-02-18"),
			useRow{"alice@x.io", entRead, date("2026-01-25"), 5}),
	}
	asOf := reviewAt.AddDate(0, 0, -10) // alice's last use is 24 days before it
	snap := snapshotOf(t, h, asOf)
	got := approve.ReviewRenewals(approve.RenewalInput{Snapshot: snap, At: reviewAt,
		Grants: snap.ExpiringGrants(reviewAt, 7*24*time.Hour)})
	if len(got) != 1 || got[0].Action != models.RenewalRenew {
		t.Fatalf("got %+v, want one renew (24 days idle as of the snapshot)", got)
	}
}

func TestReviewRenewalQueryAnswersUnknownGrantsReview(t *testing.T) {
	t.Parallel()
	snap := snapshotOf(t, handMade(), reviewAt)
	tests := []struct {
		name string
		snap *features.Snapshot
		ids  []string
		want []models.RenewalAction
	}{
		{"known and unknown in the order asked", snap, []string{"no-such-grant", "used-yesterday", "unused-40-days"},
			[]models.RenewalAction{models.RenewalReview, models.RenewalRenew, models.RenewalRevoke}},
		{"expired grant is unknown", snap, []string{"expired-before"}, []models.RenewalAction{models.RenewalReview}},
		{"no snapshot reviews every id", nil, []string{"used-yesterday"}, []models.RenewalAction{models.RenewalReview}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := approve.ReviewRenewalQuery(nil, tc.snap, approve.RenewalQuery{RequestIDs: tc.ids}, reviewAt)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d renewals %+v, want %d", len(got), got, len(tc.want))
			}
			for i, r := range got {
				if r.RequestID != tc.ids[i] || r.Action != tc.want[i] {
					t.Errorf("[%d] = %s %s, want %s %s", i, r.RequestID, r.Action, tc.ids[i], tc.want[i])
				}
			}
		})
	}
	if _, err := approve.ReviewRenewalQuery(nil, nil, approve.RenewalQuery{At: reviewAt}, reviewAt); err == nil {
		t.Error("a window query without a snapshot answered no error")
	}
	win, err := approve.ReviewRenewalQuery(nil, snap, approve.RenewalQuery{At: reviewAt}, time.Time{})
	if err != nil || len(win) != 11 {
		t.Errorf("window query: %d renewals, err %v; want the 11 grants expiring within renewal.within", len(win), err)
	}
}

func TestSnapshotFileKeepsRenewalGrants(t *testing.T) {
	t.Parallel()
	snap := snapshotOf(t, handMade(), reviewAt)
	path := filepath.Join(t.TempDir(), "s.snapshot")
	if err := snap.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := features.ReadSnapshotFile(path)
	if err != nil {
		t.Fatal(err)
	}
	in := func(s *features.Snapshot) []models.Renewal {
		return approve.ReviewRenewals(approve.RenewalInput{Snapshot: s, At: reviewAt,
			Grants: s.ExpiringGrants(reviewAt, 7*24*time.Hour)})
	}
	a, b := in(snap), in(back)
	if len(a) == 0 || fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("renewals differ after a snapshot file round trip:\n%v\n%v", a, b)
	}
}

func TestValidateRejectsRenewalKnobsOutOfRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  func(*approve.RenewalConfig)
		path string
	}{
		{"min_age longer than unused_days", func(r *approve.RenewalConfig) { r.MinAge = 31 * 24 * time.Hour }, "renewal.min_age"},
		{"min_age zero", func(r *approve.RenewalConfig) { r.MinAge = 0 }, "renewal.min_age"},
		{"min_active_days zero", func(r *approve.RenewalConfig) { r.MinActiveDays = 0 }, "renewal.min_active_days"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := approve.DefaultConfig()
			tc.set(&cfg.Renewal)
			ve, ok := approve.IsValidationError(cfg.Validate())
			if !ok || len(ve.Problems) != 1 || ve.Problems[0].Path != tc.path {
				t.Errorf("Validate = %v, want one problem at %s", ve, tc.path)
			}
		})
	}
	if err := approve.DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}
