package simulate

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/jitscore/jitscore/models"
)

// Write writes every file of the organisation under dir (created if
// needed) and returns the summary with file counts. Existing files of the
// same names are replaced. CloudTrail events are generated while writing,
// a day at a time, so memory stays bounded whatever the volume. Write may
// be called more than once; each call writes the same bytes.
func (o *Org) Write(ctx context.Context, dir string) (Summary, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Summary{}, fmt.Errorf("simulate output %s: %w", dir, err)
	}
	steps := []struct {
		name string
		fn   func(w io.Writer) error
	}{
		{"identities.csv", o.writeIdentitiesCSV},
		{"identities.ndjson", o.writeIdentitiesNDJSON},
		{"entitlements.csv", o.writeEntitlementsCSV},
		{"requests.csv", o.writeRequestsCSV},
		{"requests.ndjson", o.writeRequestsNDJSON},
		{"pending.ndjson", o.writePending},
	}
	for _, s := range steps {
		if err := writeFile(filepath.Join(dir, s.name), s.fn); err != nil {
			return Summary{}, err
		}
	}

	files, other, err := o.writeCloudTrail(ctx, dir)
	if err != nil {
		return Summary{}, err
	}
	if err := o.writeDigest(dir, files); err != nil {
		return Summary{}, err
	}
	if err := writeOther(dir, other); err != nil {
		return Summary{}, err
	}
	sum := o.Summary
	sum.Files = len(files)
	for _, f := range files {
		sum.Bytes += f.bytes
	}
	sum.OtherEvents = len(other)
	if err := writeFile(filepath.Join(dir, "truth.json"), func(w io.Writer) error {
		return o.writeTruth(w, sum)
	}); err != nil {
		return Summary{}, err
	}
	return sum, nil
}

// writeFile creates path and lets fn fill it through a buffer.
func writeFile(path string, fn func(w io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	err = fn(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}

type countWriter struct {
	w *bufio.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// timeText is t in RFC 3339, or "" for the zero time.
func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func dateText(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// IdentityColumns are the columns of identities.csv, in order.
var IdentityColumns = []string{
	"user", "aliases", "identity_store_id", "team", "department", "title",
	"manager", "location", "employment_type", "start_date",
}

func (p *Person) row() []string {
	return []string{
		p.User, strings.Join(p.Aliases, ";"), p.IdentityStoreID, p.Team, p.Department, p.Title,
		p.Manager, p.Location, p.EmploymentType, dateText(p.StartDate),
	}
}

func (o *Org) writeIdentitiesCSV(w io.Writer) error {
	rows := [][]string{IdentityColumns}
	for _, p := range o.People {
		rows = append(rows, p.row())
	}
	return csv.NewWriter(w).WriteAll(rows)
}

// writeNDJSON writes one object per row, keys from cols, leaving out
// empty values.
func writeNDJSON(w io.Writer, cols []string, rows func(yield func([]string) error) error) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return rows(func(row []string) error {
		obj := make(orderedObject, 0, len(cols))
		for i, c := range cols {
			if row[i] != "" {
				obj = append(obj, [2]string{c, row[i]})
			}
		}
		return enc.Encode(obj)
	})
}

// orderedObject is a JSON object of strings that keeps its key order, so
// NDJSON lines read like the CSV rows.
type orderedObject [][2]string

// MarshalJSON writes the pairs as one object.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, kv := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, kv[0])
		b = append(b, ':')
		b = appendString(b, kv[1])
	}
	return append(b, '}'), nil
}

func (o *Org) writeIdentitiesNDJSON(w io.Writer) error {
	return writeNDJSON(w, IdentityColumns, func(yield func([]string) error) error {
		for _, p := range o.People {
			if err := yield(p.row()); err != nil {
				return err
			}
		}
		return nil
	})
}

// EntitlementColumns are the columns of entitlements.csv, in order.
var EntitlementColumns = []string{"entitlement", "app", "aws_account", "aws_role", "tier", "owner", "description"}

func (o *Org) writeEntitlementsCSV(w io.Writer) error {
	rows := [][]string{EntitlementColumns}
	for _, e := range o.Entitlements {
		rows = append(rows, []string{e.ID, e.App, e.AWSAccount, e.AWSRole, string(e.Tier), e.Owner, e.Description})
	}
	return csv.NewWriter(w).WriteAll(rows)
}

// RequestColumns are the columns of requests.csv, in order: the columns of
// the request-history contract, then the extra ticket column.
var RequestColumns = []string{
	"request_id", "requester", "entitlement", "requested_at", "status", "duration",
	"justification", "decided_at", "decided_by", "granted_at", "expires_at", "revoked_at",
	"ticket",
}

func (q *Request) row() []string {
	return []string{
		q.RequestID, q.Requester, q.Entitlement, timeText(q.RequestedAt), string(q.Status), q.DurationText,
		q.Justification, timeText(q.DecidedAt), q.DecidedBy, timeText(q.GrantedAt), timeText(q.ExpiresAt),
		timeText(q.RevokedAt), q.Ticket,
	}
}

func (o *Org) writeRequestsCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(RequestColumns); err != nil {
		return err
	}
	for _, q := range o.Requests {
		if err := cw.Write(q.row()); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func (o *Org) writeRequestsNDJSON(w io.Writer) error {
	return writeNDJSON(w, RequestColumns, func(yield func([]string) error) error {
		for _, q := range o.Requests {
			if err := yield(q.row()); err != nil {
				return err
			}
		}
		return nil
	})
}

// Pending returns the requests still pending at the end of the history in
// the shape the scorer takes.
func (o *Org) Pending() []models.ScoreRequest {
	var out []models.ScoreRequest
	for _, q := range o.Requests {
		if q.Status != models.StatusPending {
			continue
		}
		out = append(out, models.ScoreRequest{
			RequestID:     q.RequestID,
			Requester:     q.Requester,
			Entitlement:   q.Entitlement,
			Duration:      q.DurationText,
			Justification: q.Justification,
			RequestedAt:   timeText(q.RequestedAt),
		})
	}
	return out
}

func (o *Org) writePending(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, s := range o.Pending() {
		if err := enc.Encode(s); err != nil {
			return err
		}
	}
	return nil
}

// writeDigest writes one CloudTrail-Digest file for the first account,
// listing its first delivery files, which an ingester must skip.
func (o *Org) writeDigest(dir string, files []trailResult) error {
	acct := accountIDs[0]
	var logs []map[string]any
	var oldest, newest int64
	for _, f := range files {
		if f.account != acct || f.region != "us-east-1" || len(logs) == 10 {
			continue
		}
		if oldest == 0 || f.oldest < oldest {
			oldest = f.oldest
		}
		newest = max(newest, f.newest)
		logs = append(logs, map[string]any{
			"s3Bucket": "org-trail-logs", "s3Object": strings.TrimPrefix(f.rel, "cloudtrail/"),
			"hashValue": f.sha256, "hashAlgorithm": "SHA-256",
			"oldestEventTime": timeText(time.Unix(f.oldest, 0)), "newestEventTime": timeText(time.Unix(f.newest, 0)),
		})
	}
	if len(logs) == 0 {
		return nil
	}
	end := time.Unix(newest, 0).UTC().Add(time.Hour).Truncate(time.Hour)
	rel := fmt.Sprintf("cloudtrail/AWSLogs/%s/CloudTrail-Digest/us-east-1/%s/%s_CloudTrail-Digest_us-east-1_org-trail_us-east-1_%s.json.gz",
		acct, end.Format("2006/01/02"), acct, end.Format("20060102T150405Z"))
	digest := map[string]any{
		"awsAccountId":                acct,
		"digestStartTime":             timeText(time.Unix(oldest, 0).Truncate(time.Hour)),
		"digestEndTime":               timeText(end),
		"digestS3Bucket":              "org-trail-logs",
		"digestS3Object":              strings.TrimPrefix(rel, "cloudtrail/"),
		"digestPublicKeyFingerprint":  "0123456789abcdef0123456789abcdef",
		"digestSignatureAlgorithm":    "SHA256withRSA",
		"newestEventTime":             timeText(time.Unix(newest, 0)),
		"oldestEventTime":             timeText(time.Unix(oldest, 0)),
		"previousDigestS3Bucket":      nil,
		"previousDigestS3Object":      nil,
		"previousDigestHashValue":     nil,
		"previousDigestHashAlgorithm": nil,
		"previousDigestSignature":     nil,
		"logFiles":                    logs,
	}
	data, err := json.Marshal(digest)
	if err != nil {
		return err
	}
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	_, err = writeGzipFile(zw, filepath.Join(dir, filepath.FromSlash(rel)), rel, data)
	return err
}

// otherEvent is a record copied into cloudtrail-other, with what its
// envelopes need.
type otherEvent struct {
	record   []byte
	t        time.Time
	account  string
	region   string
	source   string
	name     string
	readOnly bool
	id       string
	username string
}

func newOtherEvent(e *event) otherEvent {
	return otherEvent{
		record:   appendRecord(nil, e),
		t:        time.Unix(e.t, 0).UTC(),
		account:  e.recordAccount(),
		region:   e.recordRegion(),
		source:   e.op.source,
		name:     e.op.name,
		readOnly: e.op.readOnly,
		id:       uuidString(e.id),
		username: e.ctx.username,
	}
}

// Files of cloudtrail-other/, one per shape; event i goes to shape i mod 4.
const (
	OtherArray       = "cloudtrail-other/events-array.json"
	OtherNDJSON      = "cloudtrail-other/events.ndjson"
	OtherEventBridge = "cloudtrail-other/eventbridge.ndjson"
	OtherLookup      = "cloudtrail-other/lookup-events.json"
)

// writeOther writes the sampled events in the four other shapes. They are
// copies of events in cloudtrail/ (same eventID), so loading both changes
// nothing but the duplicate count.
func writeOther(dir string, evs []otherEvent) error {
	if err := os.MkdirAll(filepath.Join(dir, "cloudtrail-other"), 0o755); err != nil {
		return fmt.Errorf("write cloudtrail-other: %w", err)
	}
	shapes := make([][]otherEvent, 4)
	for i, e := range evs {
		shapes[i%4] = append(shapes[i%4], e)
	}
	write := func(rel string, fn func(w io.Writer) error) error {
		return writeFile(filepath.Join(dir, filepath.FromSlash(rel)), fn)
	}
	if err := write(OtherArray, func(w io.Writer) error {
		b := []byte{'['}
		for i, e := range shapes[0] {
			if i > 0 {
				b = append(b, ",\n"...)
			}
			b = append(b, e.record...)
		}
		_, err := w.Write(append(b, "]\n"...))
		return err
	}); err != nil {
		return err
	}
	if err := write(OtherNDJSON, func(w io.Writer) error {
		for _, e := range shapes[1] {
			if _, err := w.Write(append(e.record, '\n')); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := write(OtherEventBridge, func(w io.Writer) error {
		for _, e := range shapes[2] {
			svc, _, _ := strings.Cut(e.source, ".")
			b := fmt.Appendf(nil, `{"version":"0","id":"%s","detail-type":"AWS API Call via CloudTrail","source":"aws.%s","account":"%s","time":"%s","region":"%s","resources":[],"detail":`,
				eventBridgeID(e.id), svc, e.account, e.t.Format(ctTime), e.region)
			b = append(b, e.record...)
			if _, err := w.Write(append(b, "}\n"...)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	return write(OtherLookup, func(w io.Writer) error {
		type lookupEvent struct {
			EventID         string   `json:"EventId"`
			EventName       string   `json:"EventName"`
			ReadOnly        string   `json:"ReadOnly"`
			EventTime       string   `json:"EventTime"`
			EventSource     string   `json:"EventSource"`
			Username        string   `json:"Username,omitempty"`
			Resources       []string `json:"Resources"`
			CloudTrailEvent string   `json:"CloudTrailEvent"`
		}
		out := struct {
			Events []lookupEvent `json:"Events"`
		}{Events: []lookupEvent{}}
		for _, e := range shapes[3] {
			out.Events = append(out.Events, lookupEvent{
				EventID: e.id, EventName: e.name, ReadOnly: fmt.Sprint(e.readOnly),
				EventTime: e.t.Format("2006-01-02T15:04:05-07:00"), EventSource: e.source,
				Username: e.username, Resources: []string{}, CloudTrailEvent: string(e.record),
			})
		}
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "    ")
		return enc.Encode(out)
	})
}

// eventBridgeID derives the envelope's own id from the event id, so that
// it differs from it but stays reproducible.
func eventBridgeID(id string) string {
	return "eb" + id[2:]
}
