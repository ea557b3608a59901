package main

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/ingest/schema"
)

// buildRun runs one jitscore command and fails the test on error.
func buildRun(t *testing.T, args ...string) []byte {
	t.Helper()
	env, stdout, stderr := simulateEnv()
	if err := Run(context.Background(), env, args); err != nil {
		t.Fatalf("jitscore %v: %v\n%s", args, err, stderr)
	}
	return stdout.Bytes()
}

// TestSimulateIngestBuildAnswersInSQL runs the whole path on a simulated
// organisation: simulate, ingest every input, build as of a time after
// every grant has ended, and checks the public tables against what the
// simulator did by construction.
func TestSimulateIngestBuildAnswersInSQL(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: simulates, ingests and builds")
	}
	t.Parallel()
	db, truth := simulatedDB(t, 90, 40, "7")
	end, err := time.Parse(time.RFC3339, truth.End)
	if err != nil {
		t.Fatal(err)
	}
	// Extended grants expire within a week after the history ends.
	asOf := end.Add(30 * 24 * time.Hour)
	var sum buildSummary
	if err := json.Unmarshal(buildRun(t, "build", "--db", db, "--verify", "--as-of", asOf.Format(time.RFC3339),
		"--format", "json"), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.People != 90 || sum.Snapshot != features.SnapshotPath(db) {
		t.Errorf("summary = %+v", sum)
	}

	h, err := schema.Open(context.Background(), db, schema.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	t.Run("share of grants used matches the simulator", func(t *testing.T) {
		// CloudTrail cannot tell two overlapping grants of one permission
		// set apart, so a grant counts as used when the simulator put use
		// of that person and entitlement inside its window, whichever grant
		// the simulator drew the session for.
		type counts struct{ grants, used int }
		type span struct{ from, to time.Time }
		parse := func(s string) time.Time {
			v, _ := time.Parse(time.RFC3339, s)
			return v
		}
		uses := map[[2]string][]span{}
		for _, g := range truth.Grants {
			if g.Used && g.FirstUse != "" {
				k := [2]string{g.User, g.Entitlement}
				uses[k] = append(uses[k], span{parse(g.FirstUse), parse(g.LastUse)})
			}
		}
		want := map[string]*counts{}
		for _, g := range truth.Grants {
			if !g.CloudTrail {
				continue
			}
			c := want[g.Entitlement]
			if c == nil {
				c = &counts{}
				want[g.Entitlement] = c
			}
			c.grants++
			from, to := parse(g.GrantedAt), parse(g.ExpiresAt)
			if g.RevokedAt != "" && parse(g.RevokedAt).Before(to) {
				to = parse(g.RevokedAt)
			}
			for _, u := range uses[[2]string{g.User, g.Entitlement}] {
				if u.from.Before(to) && !u.to.Before(from) {
					c.used++
					break
				}
			}
		}
		rows, err := h.Query(`SELECT entitlement, grants, grants_used, used_share FROM entitlement_stats
			WHERE cloudtrail_backed AND grants > 0`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		seen := 0
		for rows.Next() {
			var ent string
			var grants, used int
			var share float64
			if err := rows.Scan(&ent, &grants, &used, &share); err != nil {
				t.Fatal(err)
			}
			w := want[ent]
			if w == nil {
				t.Errorf("%s: %d grants, simulator made none", ent, grants)
				continue
			}
			seen++
			if grants != w.grants {
				t.Errorf("%s: %d grants, simulator made %d", ent, grants, w.grants)
			}
			// The day rollup can take a same-day session of another grant
			// of the same entitlement for use; allow one grant in 50.
			if math.Abs(float64(used-w.used)) > math.Max(1, float64(w.grants)/50) {
				t.Errorf("%s: %d of %d grants used, simulator used %d", ent, used, grants, w.used)
			}
		}
		if seen != len(want) {
			t.Errorf("entitlement_stats has %d CloudTrail entitlements with grants, simulator %d", seen, len(want))
		}
	})

	t.Run("attribute personas are the simulated personas", func(t *testing.T) {
		size := map[string]int{}
		for _, p := range truth.People {
			size[p.Persona]++
		}
		got := map[string]string{}
		rows, err := h.Query(`SELECT user_id, persona_id FROM persona_members WHERE kind = 'attribute'`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var u, p string
			if err := rows.Scan(&u, &p); err != nil {
				t.Fatal(err)
			}
			got[u] = p
		}
		rows.Close()
		for _, p := range truth.People {
			if size[p.Persona] < 3 {
				continue
			}
			if got[p.User] != "attr:"+p.Persona {
				t.Errorf("%s in %q, simulated persona %q", p.User, got[p.User], p.Persona)
			}
		}
	})

	t.Run("usage personas group people of one simulated persona", func(t *testing.T) {
		persona := map[string]string{}
		for _, p := range truth.People {
			persona[p.User] = p.Persona
		}
		rows, err := h.Query(`SELECT persona_id, user_id FROM persona_members WHERE kind = 'usage'`)
		if err != nil {
			t.Fatal(err)
		}
		clusters := map[string]map[string]int{}
		n := 0
		for rows.Next() {
			var c, u string
			if err := rows.Scan(&c, &u); err != nil {
				t.Fatal(err)
			}
			if clusters[c] == nil {
				clusters[c] = map[string]int{}
			}
			clusters[c][persona[u]]++
			n++
		}
		rows.Close()
		if n != 90 {
			t.Fatalf("%d people in usage personas, want all 90", n)
		}
		majority := 0
		for _, c := range clusters {
			best := 0
			for _, k := range c {
				best = max(best, k)
			}
			majority += best
		}
		// Personas that share a job's access (an analytics engineer and a
		// data scientist) may merge; most people still sit with their own.
		if purity := float64(majority) / float64(n); purity < 0.7 {
			t.Errorf("usage persona purity %.2f, want at least 0.7 (%d clusters)", purity, len(clusters))
		}
	})

	t.Run("peer coverage agrees with a plain SQL count", func(t *testing.T) {
		// The same coverage, computed the slow way from grants and
		// persona_members, for every attribute persona and entitlement.
		q := `
WITH g AS (
	SELECT DISTINCT k.user_id, r.entitlement
	FROM grants r JOIN identity_keys k ON k.key = lower(r.requester)
	WHERE r.granted_at >= ? AND r.granted_at < ?
)
SELECT m.persona_id, g.entitlement, count(*) AS granted
FROM persona_members m JOIN g ON g.user_id = m.user_id
WHERE m.kind = 'attribute'
GROUP BY ALL
EXCEPT
SELECT group_id, entitlement, granted FROM peer_coverage WHERE group_kind = 'attribute' AND granted > 0`
		from := asOf.Add(-90 * 24 * time.Hour)
		var n int
		if err := h.QueryRow("SELECT count(*) FROM ("+q+")", from, asOf).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d (persona, entitlement) pairs differ between peer_coverage and SQL", n)
		}
		var pairs int
		if err := h.QueryRow("SELECT count(*) FROM peer_coverage WHERE group_kind = 'manager'").Scan(&pairs); err != nil || pairs == 0 {
			t.Errorf("manager coverage has %d rows (%v)", pairs, err)
		}
	})

	t.Run("snapshot file loads and matches the tables", func(t *testing.T) {
		snap, err := features.ReadSnapshotFile(sum.Snapshot)
		if err != nil {
			t.Fatal(err)
		}
		if snap.Version != sum.Version || !snap.AsOf.Equal(asOf) {
			t.Errorf("snapshot %s as of %v, build said %s as of %v", snap.Version, snap.AsOf, sum.Version, asOf)
		}
		var ent string
		var requests int
		if err := h.QueryRow("SELECT entitlement, requests FROM entitlement_stats ORDER BY requests DESC LIMIT 1").
			Scan(&ent, &requests); err != nil {
			t.Fatal(err)
		}
		if e, ok := snap.Entitlement(ent); !ok || e.Requests != requests {
			t.Errorf("snapshot %s requests = %d, table %d", ent, e.Requests, requests)
		}
	})
}
