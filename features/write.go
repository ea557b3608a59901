package features

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sort"
	"time"

	"github.com/jitscore/jitscore/ingest/schema"
)

// Write replaces the feature tables of the public schema (personas,
// persona_members, entitlement_stats, peer_coverage, requester_history,
// requester_totals, outliers) with the snapshot's content, as of snap.AsOf,
// and appends a row to feature_builds; all in one transaction, so a reader
// sees the previous build or this one.
func Write(ctx context.Context, db *sql.DB, snap *Snapshot) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("write features: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return fmt.Errorf("write features: %w", err)
	}
	if err := writeTables(ctx, conn, snap); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return fmt.Errorf("write features: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return fmt.Errorf("write features: commit: %w", err)
	}
	return nil
}

// table is one feature table's rows.
type table struct {
	name string
	cols []string
	n    int
	row  func(i int) []driver.Value
}

func writeTables(ctx context.Context, conn *sql.Conn, s *Snapshot) error {
	asOf := s.AsOf
	personas := sortedKeys(s.Personas)
	type member struct{ persona, kind, user string }
	var members []member
	for _, id := range personas {
		p := s.Personas[id]
		for _, u := range p.Members {
			members = append(members, member{id, string(p.Kind), u})
		}
	}
	ents := sortedKeys(s.Entitlements)
	type cov struct {
		kind string
		key  PairKey
		c    Coverage
	}
	var covs []cov
	for _, g := range []struct {
		kind string
		m    map[PairKey]Coverage
	}{{"attribute", s.PeerAttr}, {"usage", s.PeerUsage}, {"manager", s.PeerManager}} {
		for k, c := range g.m {
			covs = append(covs, cov{g.kind, k, c})
		}
	}
	hist := make([]PairKey, 0, len(s.History))
	for k := range s.History {
		hist = append(hist, k)
	}
	sort.Slice(hist, func(i, j int) bool {
		if hist[i].A != hist[j].A {
			return hist[i].A < hist[j].A
		}
		return hist[i].B < hist[j].B
	})
	totals := sortedKeys(s.PersonTotals)
	people := sortedKeys(s.People)
	access := s.accessCounts()

	tables := []table{
		{"personas", []string{"persona_id", "kind", "name", "members", "as_of"}, len(personas),
			func(i int) []driver.Value {
				p := s.Personas[personas[i]]
				return []driver.Value{p.ID, string(p.Kind), p.Name, int64(len(p.Members)), asOf}
			}},
		{"persona_members", []string{"persona_id", "kind", "user_id"}, len(members),
			func(i int) []driver.Value {
				m := members[i]
				return []driver.Value{m.persona, m.kind, m.user}
			}},
		{"entitlement_stats", []string{"entitlement", "app", "tier", "catalogued", "cloudtrail_backed",
			"requests", "requesters", "approved", "denied", "approval_rate", "re_request_rate",
			"median_interval_seconds", "median_duration_seconds", "grants", "grants_used", "used_share",
			"median_time_to_use_seconds", "last_used_at", "as_of"}, len(ents),
			func(i int) []driver.Value {
				e := s.Entitlements[ents[i]]
				return []driver.Value{e.ID, schema.NullString(e.App), schema.NullString(string(e.Tier)), e.Catalogued,
					e.CloudTrailBacked, int64(e.Requests), int64(e.Requesters), int64(e.Approved),
					int64(e.Denied), ratio(e.Approved, e.Approved+e.Denied), ratio1(e.ReRequestRate, e.Requesters),
					durSecs(e.MedianInterval), durSecs(e.MedianDuration), int64(e.Grants), int64(e.GrantsUsed),
					ratio(e.GrantsUsed, e.Grants), durSecs(e.MedianTimeToUse), schema.NullTime(e.LastUsedAt), asOf}
			}},
		{"peer_coverage", []string{"group_kind", "group_id", "entitlement", "members", "granted", "used",
			"granted_share", "used_share", "as_of"}, len(covs),
			func(i int) []driver.Value {
				c := covs[i]
				return []driver.Value{c.kind, c.key.A, c.key.B, int64(c.c.Members), int64(c.c.Granted),
					int64(c.c.Used), ratio(c.c.Granted, c.c.Members), ratio(c.c.Used, c.c.Members), asOf}
			}},
		{"requester_history", []string{"user_id", "entitlement", "requests", "approved", "denied", "grants",
			"grants_used", "last_grant_at", "last_used_at", "as_of"}, len(hist),
			func(i int) []driver.Value {
				k := hist[i]
				return append([]driver.Value{k.A, k.B}, historyValues(s.History[k], asOf)...)
			}},
		{"requester_totals", []string{"user_id", "requests", "approved", "denied", "grants",
			"grants_used", "last_grant_at", "last_used_at", "as_of"}, len(totals),
			func(i int) []driver.Value {
				return append([]driver.Value{totals[i]}, historyValues(s.PersonTotals[totals[i]], asOf)...)
			}},
		{"outliers", []string{"user_id", "persona_id", "score", "entitlements", "unusual", "as_of"}, len(people),
			func(i int) []driver.Value {
				p := s.People[people[i]]
				unusual := make([]any, len(p.Unusual))
				for j, e := range p.Unusual {
					unusual[j] = e
				}
				return []driver.Value{p.User, schema.NullString(p.AttrPersona), p.OutlierScore,
					int64(access[p.User]), unusual, asOf}
			}},
	}
	for _, t := range tables {
		if _, err := conn.ExecContext(ctx, "DELETE FROM "+t.name); err != nil {
			return fmt.Errorf("clear %s: %w", t.name, err)
		}
		if err := schema.AppendRows(ctx, conn, t.name, t.cols, t.n, t.row); err != nil {
			return err
		}
	}
	_, err := conn.ExecContext(ctx, `INSERT INTO feature_builds (version, as_of, built_at, people, personas,
		entitlements, peer_window_seconds, usage_window_seconds) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.Version, asOf, s.BuiltAt, len(s.People), len(s.Personas), len(s.Entitlements),
		int64(s.PeerWindow/time.Second), int64(s.UsageWindow/time.Second))
	if err != nil {
		return fmt.Errorf("record build: %w", err)
	}
	return nil
}

// accessCounts counts per person the entitlements they were granted in the
// peer window or used in the usage window, from their history.
func (s *Snapshot) accessCounts() map[string]int {
	out := map[string]int{}
	peerFrom, usageFrom := s.AsOf.Add(-s.PeerWindow), s.AsOf.Add(-s.UsageWindow)
	for k, h := range s.History {
		if (!h.LastGrantAt.IsZero() && !h.LastGrantAt.Before(peerFrom)) ||
			(!h.LastUsedAt.IsZero() && !h.LastUsedAt.Before(usageFrom)) {
			out[k.A]++
		}
	}
	return out
}

func historyValues(h History, asOf time.Time) []driver.Value {
	return []driver.Value{int64(h.Requests), int64(h.Approved), int64(h.Denied), int64(h.Grants),
		int64(h.GrantsUsed), schema.NullTime(h.LastGrantAt), schema.NullTime(h.LastUsedAt), asOf}
}

// ratio is part / whole, NULL when whole is 0 (no basis, not zero).
func ratio(part, whole int) driver.Value {
	if whole <= 0 {
		return nil
	}
	return float64(part) / float64(whole)
}

func ratio1(v float64, basis int) driver.Value {
	if basis <= 0 {
		return nil
	}
	return v
}

// durSecs is d in seconds, NULL for 0 (not measured).
func durSecs(d time.Duration) driver.Value {
	if d <= 0 {
		return nil
	}
	return d.Seconds()
}
