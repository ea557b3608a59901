package ingest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jitscore/jitscore/ingest/schema"
	"github.com/jitscore/jitscore/models"
)

// TableKind names one of the broker files a user loads with
// `jitscore ingest requests|identities|entitlements FILE`.
type TableKind string

// The broker file kinds and the tables they fill.
const (
	TableRequests     TableKind = KindRequests     // requests (and so the grants view)
	TableIdentities   TableKind = KindIdentities   // identities and identity_keys
	TableEntitlements TableKind = KindEntitlements // entitlement_catalogue
)

// TableRejection is one row of a broker file that was not loaded, or a
// warning about one that was: the line where the record starts and why.
// EndLine is the last line of a rejected record that spans several lines
// (an unbalanced CSV quote swallows the lines up to the next quote), and 0
// for a one-line record.
type TableRejection struct {
	Line    int    `json:"line"`
	EndLine int    `json:"end_line,omitempty"`
	Reason  string `json:"reason"`
}

// TableSummary reports one broker file load. RowsLoaded counts rows written
// (new or updated); Duplicates counts those among them whose key already
// existed (in the database or earlier in the same file), which replaced the
// earlier row instead of adding one. RowsRejected and Quarantined are equal:
// every rejected row is also written to the quarantine table.
type TableSummary struct {
	Kind         TableKind        `json:"kind"`
	Source       string           `json:"source"`
	Files        int              `json:"files"`
	RowsRead     int              `json:"rows_read"`
	RowsLoaded   int              `json:"rows_loaded"`
	RowsRejected int              `json:"rows_rejected"`
	Duplicates   int              `json:"duplicates"`
	Quarantined  int              `json:"quarantined"`
	SkippedFiles int              `json:"skipped_files"`
	Rejections   []TableRejection `json:"rejections"`
	// Warnings are about rows that loaded, e.g. an alias that already names
	// another person and so was not mapped to this one.
	Warnings []TableRejection `json:"warnings,omitempty"`
}

// TableOptions tunes LoadTable.
type TableOptions struct {
	// Logger receives the load summary; nil means slog.Default().
	Logger *slog.Logger
	// Metrics counts rows loaded and rejected by kind; nil counts nothing.
	Metrics *Metrics
}

// LoadTableFile loads the broker file at path; see LoadTable.
func LoadTableFile(ctx context.Context, db *sql.DB, kind TableKind, path string, opts TableOptions) (*TableSummary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ingest %s: %w", kind, err)
	}
	defer f.Close()
	return LoadTable(ctx, db, kind, path, f, opts)
}

// LoadTable reads a CSV or NDJSON broker file (the format is detected from
// the content) and upserts its rows by key: request_id for requests, user for
// identities, entitlement for the catalogue. Columns are those of the design
// document; unknown columns are kept in the attributes JSON column. A row
// with a missing required field, an unknown status or tier, or an unparsable
// time or duration, a cell that is not valid UTF-8, or a JSON array or
// object in a column that holds text is rejected with its line and reason
// and recorded in the quarantine table; the other rows still load. A record
// that spans several lines and is rejected (an unbalanced quote) names its
// span, so that the rows it swallowed are reported too. A CSV header
// without a required column fails the load at once, naming the column. source names the file in
// rejections and errors. The load is one transaction: an error returned
// here means nothing of the file was written.
func LoadTable(
	ctx context.Context,
	db *sql.DB,
	kind TableKind,
	source string,
	r io.Reader,
	opts TableOptions,
) (*TableSummary, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	var parse func(map[string]string) (brokerRecord, error)
	var columns map[string]bool
	switch kind {
	case TableRequests:
		parse, columns = parseRequestRow, requestColumns
	case TableIdentities:
		parse, columns = parseIdentityRow, identityColumns
	case TableEntitlements:
		parse, columns = parseEntitlementRow, entitlementColumns
	default:
		return nil, fmt.Errorf("ingest: unknown table kind %q", kind)
	}
	sum := &TableSummary{Kind: kind, Source: source, Files: 1, Rejections: []TableRejection{}}
	tr, err := newTableReader(r)
	if err != nil {
		return nil, fmt.Errorf("ingest %s %s: %w", kind, source, err)
	}
	// A CSV header without a required column would reject every row for
	// the same reason: say it once.
	if cr, ok := tr.(*csvReader); ok {
		if err := cr.requireColumns(requiredColumns[kind]); err != nil {
			return nil, fmt.Errorf("ingest %s %s: %w", kind, source, err)
		}
	}

	// Parse everything first; a later row with the same key replaces the
	// earlier one, as a re-load would.
	var recs []brokerRecord
	byKey := map[string]int{}
	for {
		row, err := tr.next()
		if err == io.EOF {
			break
		}
		var re *rowError
		if errors.As(err, &re) {
			sum.RowsRead++
			sum.RowsRejected++
			sum.Rejections = append(sum.Rejections, TableRejection{Line: re.line, EndLine: re.endLine, Reason: re.reason})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("ingest %s %s: %w", kind, source, err)
		}
		sum.RowsRead++
		if f := textOnly(row, columns); f != "" {
			sum.reject(row.line, fmt.Sprintf("field %s: a JSON array or object where a string is expected", f))
			continue
		}
		rec, perr := parse(row.fields)
		if perr != nil {
			sum.reject(row.line, perr.Error())
			continue
		}
		rec.line = row.line
		if i, dup := byKey[rec.key]; dup {
			recs[i] = rec
			sum.Duplicates++
			continue
		}
		byKey[rec.key] = len(recs)
		recs = append(recs, rec)
	}

	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest %s %s: %w", kind, source, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return nil, fmt.Errorf("ingest %s %s: begin: %w", kind, source, err)
	}
	if err := writeBrokerRecords(ctx, conn, kind, source, recs, sum); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return nil, fmt.Errorf("ingest %s %s: %w", kind, source, err)
	}
	if err := writeRejections(ctx, conn, kind, source, sum.Rejections); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		return nil, fmt.Errorf("ingest %s %s: %w", kind, source, err)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, fmt.Errorf("ingest %s %s: commit: %w", kind, source, err)
	}
	sum.RowsLoaded = sum.RowsRead - sum.RowsRejected
	sum.Quarantined = sum.RowsRejected
	if m := opts.Metrics; m != nil {
		m.RowsLoaded.WithLabelValues(string(kind)).Add(float64(sum.RowsLoaded))
		m.RowsRejected.WithLabelValues(string(kind)).Add(float64(sum.RowsRejected))
	}
	log.Info("broker file loaded", "kind", string(kind), "source", source,
		"rows_loaded", sum.RowsLoaded, "rows_rejected", sum.RowsRejected, "duplicates", sum.Duplicates)
	return sum, nil
}

func (s *TableSummary) reject(line int, reason string) {
	s.RowsRejected++
	s.Rejections = append(s.Rejections, TableRejection{Line: line, Reason: reason})
}

// textOnly returns the first (by name) of the kind's own columns that row
// holds as a JSON array or object, "" when none does. Only aliases may be
// an array; the extra columns kept as attributes may be anything.
func textOnly(row tableRow, columns map[string]bool) string {
	var bad []string
	for f := range row.nonText {
		if columns[f] && f != "aliases" {
			bad = append(bad, f)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	sort.Strings(bad)
	return bad[0]
}

// requiredColumns are the fields every row of a kind must have.
var requiredColumns = map[TableKind][]string{
	TableRequests:     {"request_id", "requester", "entitlement", "requested_at", "status"},
	TableIdentities:   {"user"},
	TableEntitlements: {"entitlement"},
}

// brokerRecord is one parsed row of any kind, with its key.
type brokerRecord struct {
	line int
	key  string
	req  models.Request
	id   models.Identity
	ent  models.Entitlement
	// attrs holds the extra columns of an entitlement row.
	attrs map[string]string
}

// requestColumns are the columns of a requests file that have a place of
// their own; every other column becomes an attribute.
var requestColumns = map[string]bool{
	"request_id": true, "requester": true, "entitlement": true, "requested_at": true,
	"status": true, "duration": true, "justification": true, "decided_at": true,
	"decided_by": true, "granted_at": true, "expires_at": true, "revoked_at": true,
}

func parseRequestRow(f map[string]string) (brokerRecord, error) {
	if err := requireFields(f, requiredColumns[TableRequests]...); err != nil {
		return brokerRecord{}, err
	}
	req := models.Request{
		RequestID:     f["request_id"],
		Requester:     f["requester"],
		Entitlement:   f["entitlement"],
		Status:        models.RequestStatus(strings.ToLower(f["status"])),
		Justification: f["justification"],
		DecidedBy:     f["decided_by"],
	}
	switch req.Status {
	case models.StatusApproved, models.StatusDenied, models.StatusPending,
		models.StatusCanceled, models.StatusExpired, models.StatusRevoked:
	default:
		return brokerRecord{}, fmt.Errorf("status %q: want approved, denied, pending, canceled, expired or revoked", f["status"])
	}
	times := []struct {
		name string
		dst  *time.Time
	}{
		{"requested_at", &req.RequestedAt},
		{"decided_at", &req.DecidedAt},
		{"granted_at", &req.GrantedAt},
		{"expires_at", &req.ExpiresAt},
		{"revoked_at", &req.RevokedAt},
	}
	for _, t := range times {
		s, ok := f[t.name]
		if !ok {
			continue
		}
		v, err := parseTableTime(t.name, s)
		if err != nil {
			return brokerRecord{}, err
		}
		*t.dst = v
	}
	if s, ok := f["duration"]; ok {
		d, err := models.ParseDuration(s)
		if err != nil {
			return brokerRecord{}, fmt.Errorf("duration: %v", err)
		}
		req.Duration = d
	}
	req.Attributes = extraColumns(f, requestColumns)
	return brokerRecord{key: req.RequestID, req: req}, nil
}

// identityColumns are the identity columns that are not attributes.
var identityColumns = map[string]bool{"user": true, "aliases": true, "identity_store_id": true}

func parseIdentityRow(f map[string]string) (brokerRecord, error) {
	if err := requireFields(f, requiredColumns[TableIdentities]...); err != nil {
		return brokerRecord{}, err
	}
	id := models.Identity{
		User:            f["user"],
		IdentityStoreID: f["identity_store_id"],
		Attributes:      extraColumns(f, identityColumns),
	}
	for _, a := range strings.Split(f["aliases"], ";") {
		if a = strings.TrimSpace(a); a != "" {
			id.Aliases = append(id.Aliases, a)
		}
	}
	return brokerRecord{key: id.User, id: id}, nil
}

// entitlementColumns are the catalogue columns with a place of their own.
var entitlementColumns = map[string]bool{
	"entitlement": true, "app": true, "aws_account": true, "aws_role": true,
	"tier": true, "owner": true, "description": true,
}

func parseEntitlementRow(f map[string]string) (brokerRecord, error) {
	if err := requireFields(f, requiredColumns[TableEntitlements]...); err != nil {
		return brokerRecord{}, err
	}
	e := models.DeriveEntitlement(f["entitlement"])
	if v, ok := f["app"]; ok {
		e.App = v
	}
	if v, ok := f["aws_account"]; ok {
		e.AWSAccount = v
	}
	if v, ok := f["aws_role"]; ok {
		e.AWSRole = v
	}
	e.Owner = f["owner"]
	e.Description = f["description"]
	if v, ok := f["tier"]; ok {
		e.Tier = models.Tier(strings.ToLower(v))
		if e.Tier.Rank() < 0 {
			return brokerRecord{}, fmt.Errorf("tier %q: want low, medium, high or critical", v)
		}
	}
	return brokerRecord{key: e.ID, ent: e, attrs: extraColumns(f, entitlementColumns)}, nil
}

func requireFields(f map[string]string, names ...string) error {
	var missing []string
	for _, n := range names {
		if f[n] == "" {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required field %s", strings.Join(missing, ", "))
	}
	return nil
}

// extraColumns returns the fields not in known, nil when there are none.
func extraColumns(f map[string]string, known map[string]bool) map[string]string {
	var out map[string]string
	for k, v := range f {
		if known[k] {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

// writeBrokerRecords upserts recs into the kind's table and counts in sum
// the records whose key was already in the database.
func writeBrokerRecords(
	ctx context.Context,
	conn *sql.Conn,
	kind TableKind,
	source string,
	recs []brokerRecord,
	sum *TableSummary,
) error {
	table, keyCol := "requests", "request_id"
	switch kind {
	case TableIdentities:
		table, keyCol = "identities", "user_id"
	case TableEntitlements:
		table, keyCol = "entitlement_catalogue", "entitlement"
	}
	existing, err := existingKeys(ctx, conn, table, keyCol)
	if err != nil {
		return err
	}
	for _, r := range recs {
		if existing[r.key] {
			sum.Duplicates++
		}
	}

	// Stage the rows, then replace by key in one statement: the appender is
	// fast but cannot update, INSERT OR REPLACE can.
	stage := "stage_" + table
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(
		"CREATE OR REPLACE TEMP TABLE %s AS SELECT * FROM %s LIMIT 0", stage, table)); err != nil {
		return fmt.Errorf("stage %s: %w", table, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+stage)
	cols, row := brokerColumns(kind, source, recs)
	if err := schema.AppendRows(ctx, conn, stage, cols, len(recs), row); err != nil {
		return err
	}
	colList := strings.Join(cols, ", ")
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(
		"INSERT OR REPLACE INTO %s (%s) SELECT %s FROM %s", table, colList, colList, stage)); err != nil {
		return fmt.Errorf("upsert %s: %w", table, err)
	}
	if kind == TableIdentities {
		return rebuildIdentityKeys(ctx, conn, recs, sum)
	}
	return nil
}

// brokerColumns returns the table columns a kind fills and the row values.
func brokerColumns(kind TableKind, source string, recs []brokerRecord) ([]string, func(int) []driver.Value) {
	switch kind {
	case TableIdentities:
		return []string{"user_id", "aliases", "identity_store_id", "department", "title", "team",
				"manager", "location", "employment_type", "start_date", "attributes"},
			func(i int) []driver.Value {
				id := recs[i].id
				aliases := make([]any, len(id.Aliases))
				for j, a := range id.Aliases {
					aliases[j] = a
				}
				a := id.Attributes
				return []driver.Value{id.User, aliases, schema.NullString(id.IdentityStoreID),
					schema.NullString(a["department"]), schema.NullString(a["title"]), schema.NullString(a["team"]),
					schema.NullString(a["manager"]), schema.NullString(a["location"]), schema.NullString(a["employment_type"]),
					schema.NullString(a["start_date"]), jsonAttrs(a)}
			}
	case TableEntitlements:
		return []string{"entitlement", "app", "aws_account", "aws_role", "tier", "owner",
				"description", "attributes"},
			func(i int) []driver.Value {
				e := recs[i].ent
				return []driver.Value{e.ID, schema.NullString(e.App), schema.NullString(e.AWSAccount),
					schema.NullString(e.AWSRole), schema.NullString(string(e.Tier)), schema.NullString(e.Owner),
					schema.NullString(e.Description), jsonAttrs(recs[i].attrs)}
			}
	}
	return []string{"request_id", "requester", "entitlement", "requested_at", "status",
			"duration_seconds", "justification", "decided_at", "decided_by", "granted_at",
			"expires_at", "revoked_at", "attributes", "source"},
		func(i int) []driver.Value {
			q := recs[i].req
			var dur driver.Value
			if q.Duration > 0 {
				dur = int64(q.Duration / time.Second)
			}
			return []driver.Value{q.RequestID, q.Requester, q.Entitlement, q.RequestedAt,
				string(q.Status), dur, schema.NullString(q.Justification), schema.NullTime(q.DecidedAt),
				schema.NullString(q.DecidedBy), schema.NullTime(q.GrantedAt), schema.NullTime(q.ExpiresAt),
				schema.NullTime(q.RevokedAt), jsonAttrs(q.Attributes), source}
		}
}

func existingKeys(ctx context.Context, conn *sql.Conn, table, col string) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s", col, table))
	if err != nil {
		return nil, fmt.Errorf("read %s keys: %w", table, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("read %s keys: %w", table, err)
		}
		out[k] = true
	}
	return out, rows.Err()
}

// rebuildIdentityKeys rewrites identity_keys so that every lower-cased name
// of a person (user id, alias, Identity Store id) maps to that person. The
// people in recs replace their earlier keys. A user id always names its own
// person; an alias or Identity Store id that already names someone else is
// kept for the first holder and reported as a warning, since mapping one
// CloudTrail actor to two people would blur whose activity it was.
func rebuildIdentityKeys(ctx context.Context, conn *sql.Conn, recs []brokerRecord, sum *TableSummary) error {
	type owner struct{ user, kind string }
	reloaded := make(map[string]bool, len(recs))
	for _, r := range recs {
		reloaded[r.id.User] = true
	}
	keys := map[string]owner{}
	rows, err := conn.QueryContext(ctx, "SELECT key, user_id, kind FROM identity_keys")
	if err != nil {
		return fmt.Errorf("read identity_keys: %w", err)
	}
	for rows.Next() {
		var k, u, kind string
		if err := rows.Scan(&k, &u, &kind); err != nil {
			rows.Close()
			return fmt.Errorf("read identity_keys: %w", err)
		}
		if !reloaded[u] {
			keys[k] = owner{u, kind}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read identity_keys: %w", err)
	}
	for _, r := range recs {
		keys[strings.ToLower(r.id.User)] = owner{r.id.User, "user"}
	}
	claim := func(r brokerRecord, name, kind string) {
		k := strings.ToLower(name)
		if o, taken := keys[k]; taken && o.user != r.id.User {
			sum.Warnings = append(sum.Warnings, TableRejection{Line: r.line, Reason: fmt.Sprintf(
				"%s %q of %s already names %s; left with %s", kind, name, r.id.User, o.user, o.user)})
			return
		} else if taken {
			return
		}
		keys[k] = owner{r.id.User, kind}
	}
	for _, r := range recs {
		for _, a := range r.id.Aliases {
			claim(r, a, "alias")
		}
		if r.id.IdentityStoreID != "" {
			claim(r, r.id.IdentityStoreID, "identity_store_id")
		}
	}
	if _, err := conn.ExecContext(ctx, "DELETE FROM identity_keys"); err != nil {
		return fmt.Errorf("rewrite identity_keys: %w", err)
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	return schema.AppendRows(ctx, conn, "identity_keys", []string{"key", "user_id", "kind"}, len(names),
		func(i int) []driver.Value {
			o := keys[names[i]]
			return []driver.Value{names[i], o.user, o.kind}
		})
}

// writeRejections records rejected rows in the quarantine table, with
// position "line N" and the kind ahead of the reason. A re-load of the same
// file first drops what the previous load of it recorded, so quarantine
// shows the file's current problems once.
func writeRejections(ctx context.Context, conn *sql.Conn, kind TableKind, source string, rej []TableRejection) error {
	if _, err := conn.ExecContext(ctx,
		"DELETE FROM quarantine WHERE source = ? AND starts_with(reason, ?)", source, string(kind)+": "); err != nil {
		return fmt.Errorf("quarantine rejections: %w", err)
	}
	return schema.AppendRows(ctx, conn, "quarantine", []string{"source", "position", "reason"},
		len(rej), func(i int) []driver.Value {
			return []driver.Value{source, "line " + strconv.Itoa(rej[i].Line), string(kind) + ": " + rej[i].Reason}
		})
}

// jsonAttrs passes attributes to the appender, which encodes a JSON column
// itself; NULL when there are none.
func jsonAttrs(a map[string]string) driver.Value {
	if len(a) == 0 {
		return nil
	}
	return a
}
