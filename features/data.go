package features

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jitscore/jitscore/models"
)

// DefaultGrantLength is the window assumed for a grant whose broker record
// gives neither an expiry nor a requested duration.
const DefaultGrantLength = 8 * time.Hour

// Data is the raw history in memory, as Load read it. Build reads it and
// never modifies it, so one Data can feed many Builds (one per as-of
// instant) concurrently.
type Data struct {
	Identities []models.Identity
	// Keys maps every lower-cased name of a person (user id, alias,
	// Identity Store id) to the canonical user id, as identity_keys holds.
	Keys map[string]string
	// Catalogue is the entitlement catalogue; entitlements seen only in
	// requests or usage are derived from their ids by Build.
	Catalogue []models.Entitlement
	// Requests in order of RequestedAt. Justifications are not loaded.
	Requests []models.Request
	// Grants in order of GrantedAt, from the grants view.
	Grants []models.Grant
	// Usage in order of Day, from usage_daily.
	Usage []UsageDay
}

// UsageDay is one row of usage_daily: what one person did with one
// entitlement on one UTC day, according to CloudTrail.
type UsageDay struct {
	Person      string // the events view's actor
	Entitlement string
	Day         time.Time // midnight UTC
	Calls       int
	Writes      int // calls CloudTrail marks as not read-only
	Errors      int // calls with an error code
	Services    int // distinct event sources
	FirstAt     time.Time
	LastAt      time.Time
	// Slots has bit i set when there were calls in the i-th half hour of
	// the day (UTC); 0 when unknown.
	Slots uint64
}

// Rollup rebuilds usage_daily from the events view in one SQL statement,
// grouping by actor, entitlement and UTC day. Events without an actor or an
// entitlement in use are left out: they cannot be tied to a grant. Writes
// count events whose read_only is false; an event that does not say is
// not counted as a write. It replaces the whole table, so it is idempotent.
func Rollup(ctx context.Context, db *sql.DB) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("usage rollup: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "DELETE FROM usage_daily"); err != nil {
		return 0, fmt.Errorf("usage rollup: %w", err)
	}
	res, err := tx.ExecContext(ctx, `
INSERT INTO usage_daily (person, entitlement, day, calls, writes, errors, services, first_at, last_at,
	active_slots)
SELECT actor, entitlement, CAST(event_time AS DATE),
	count(*),
	count(*) FILTER (WHERE read_only = false),
	count(*) FILTER (WHERE coalesce(error_code, '') <> ''),
	count(DISTINCT event_source),
	min(event_time), max(event_time),
	bit_or(CAST(1 AS BIGINT) << CAST(extract(hour FROM event_time) * 2 + extract(minute FROM event_time) // 30 AS INTEGER))
FROM events
WHERE coalesce(actor, '') <> '' AND coalesce(entitlement, '') <> ''
GROUP BY actor, entitlement, CAST(event_time AS DATE)`)
	if err != nil {
		return 0, fmt.Errorf("usage rollup: %w", err)
	}
	n, _ := res.RowsAffected()
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("usage rollup: %w", err)
	}
	return n, nil
}

// Load reads the history from the database: identities and their keys, the
// catalogue, requests, the grants view and usage_daily (run Rollup first to
// refresh it). It holds no lock beyond the queries themselves.
func Load(ctx context.Context, db *sql.DB) (*Data, error) {
	d := &Data{Keys: map[string]string{}}
	steps := []struct {
		name string
		fn   func(context.Context, *sql.DB) error
	}{
		{"identities", d.loadIdentities},
		{"identity_keys", d.loadKeys},
		{"entitlement_catalogue", d.loadCatalogue},
		{"requests", d.loadRequests},
		{"grants", d.loadGrants},
		{"usage_daily", d.loadUsage},
	}
	for _, s := range steps {
		if err := s.fn(ctx, db); err != nil {
			return nil, fmt.Errorf("load %s: %w", s.name, err)
		}
	}
	return d, nil
}

// scanAll runs q and calls scan for each row.
func scanAll(ctx context.Context, db *sql.DB, q string, scan func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (d *Data) loadIdentities(ctx context.Context, db *sql.DB) error {
	return scanAll(ctx, db, `SELECT user_id, coalesce(array_to_string(aliases, chr(31)), ''),
		coalesce(identity_store_id, ''), coalesce(attributes::VARCHAR, '') FROM identities ORDER BY user_id`,
		func(r *sql.Rows) error {
			var id models.Identity
			var aliases, attrs string
			if err := r.Scan(&id.User, &aliases, &id.IdentityStoreID, &attrs); err != nil {
				return err
			}
			if aliases != "" {
				id.Aliases = splitUnit(aliases)
			}
			if attrs != "" {
				if err := json.Unmarshal([]byte(attrs), &id.Attributes); err != nil {
					return fmt.Errorf("attributes of %s: %w", id.User, err)
				}
			}
			d.Identities = append(d.Identities, id)
			return nil
		})
}

func splitUnit(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 31 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func (d *Data) loadKeys(ctx context.Context, db *sql.DB) error {
	return scanAll(ctx, db, `SELECT key, user_id FROM identity_keys`, func(r *sql.Rows) error {
		var k, u string
		if err := r.Scan(&k, &u); err != nil {
			return err
		}
		d.Keys[k] = u
		return nil
	})
}

func (d *Data) loadCatalogue(ctx context.Context, db *sql.DB) error {
	return scanAll(ctx, db, `SELECT entitlement, coalesce(app, ''), coalesce(aws_account, ''),
		coalesce(aws_role, ''), coalesce(tier, ''), coalesce(owner, ''), coalesce(description, '')
		FROM entitlement_catalogue ORDER BY entitlement`, func(r *sql.Rows) error {
		var e models.Entitlement
		var tier string
		if err := r.Scan(&e.ID, &e.App, &e.AWSAccount, &e.AWSRole, &tier, &e.Owner, &e.Description); err != nil {
			return err
		}
		e.Tier = models.Tier(tier)
		d.Catalogue = append(d.Catalogue, e)
		return nil
	})
}

func (d *Data) loadRequests(ctx context.Context, db *sql.DB) error {
	return scanAll(ctx, db, `SELECT request_id, requester, entitlement, requested_at, status,
		coalesce(duration_seconds, 0), decided_at, coalesce(decided_by, ''), granted_at, expires_at, revoked_at
		FROM requests ORDER BY requested_at, request_id`, func(r *sql.Rows) error {
		var q models.Request
		var status string
		var secs int64
		var decided, granted, expires, revoked sql.NullTime
		if err := r.Scan(&q.RequestID, &q.Requester, &q.Entitlement, &q.RequestedAt, &status, &secs,
			&decided, &q.DecidedBy, &granted, &expires, &revoked); err != nil {
			return err
		}
		q.RequestedAt = q.RequestedAt.UTC()
		q.Status = models.RequestStatus(status)
		q.Duration = time.Duration(secs) * time.Second
		q.DecidedAt, q.GrantedAt = utc(decided), utc(granted)
		q.ExpiresAt, q.RevokedAt = utc(expires), utc(revoked)
		d.Requests = append(d.Requests, q)
		return nil
	})
}

func (d *Data) loadGrants(ctx context.Context, db *sql.DB) error {
	return scanAll(ctx, db, `SELECT request_id, requester, entitlement, granted_at, expires_at, revoked_at
		FROM grants ORDER BY granted_at, request_id`, func(r *sql.Rows) error {
		var g models.Grant
		var expires, revoked sql.NullTime
		if err := r.Scan(&g.RequestID, &g.Requester, &g.Entitlement, &g.GrantedAt, &expires, &revoked); err != nil {
			return err
		}
		g.GrantedAt = g.GrantedAt.UTC()
		g.ExpiresAt, g.RevokedAt = utc(expires), utc(revoked)
		if g.ExpiresAt.IsZero() {
			g.ExpiresAt = g.GrantedAt.Add(DefaultGrantLength)
		}
		d.Grants = append(d.Grants, g)
		return nil
	})
}

func (d *Data) loadUsage(ctx context.Context, db *sql.DB) error {
	return scanAll(ctx, db, `SELECT person, entitlement, CAST(day AS TIMESTAMP), calls, writes, errors, services,
		first_at, last_at, coalesce(active_slots, 0) FROM usage_daily ORDER BY day, person, entitlement`, func(r *sql.Rows) error {
		var u UsageDay
		var slots int64
		if err := r.Scan(&u.Person, &u.Entitlement, &u.Day, &u.Calls, &u.Writes, &u.Errors, &u.Services,
			&u.FirstAt, &u.LastAt, &slots); err != nil {
			return err
		}
		u.Slots = uint64(slots)
		u.Day, u.FirstAt, u.LastAt = u.Day.UTC(), u.FirstAt.UTC(), u.LastAt.UTC()
		d.Usage = append(d.Usage, u)
		return nil
	})
}

func utc(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
