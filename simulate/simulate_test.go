package simulate

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/models"
)

// readTree maps every file under dir to its bytes.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		files[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestSameSeedWritesIdenticalBytesWhateverTheWorkers(t *testing.T) {
	t.Parallel()
	write := func(workers int, seed uint64) map[string][]byte {
		cfg := smallConfig()
		cfg.Workers, cfg.Seed = workers, seed
		o, err := Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if _, err := o.Write(context.Background(), dir); err != nil {
			t.Fatal(err)
		}
		return readTree(t, dir)
	}
	a, b := write(1, 7), write(3, 7)
	if len(a) != len(b) {
		t.Fatalf("file count %d vs %d", len(a), len(b))
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("%s differs between two runs with seed 7", name)
		}
	}
	c := write(0, 8)
	if bytes.Equal(a["requests.csv"], c["requests.csv"]) {
		t.Error("seeds 7 and 8 wrote the same requests.csv")
	}
}

func TestConfigValidateNamesEachBadField(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"too few people", func(c *Config) { c.People = 2 }, "people"},
		{"one day", func(c *Config) { c.Days = 1 }, "days"},
		{"no start", func(c *Config) { c.Start = time.Time{} }, "start"},
		{"four accounts", func(c *Config) { c.Accounts = 4 }, "accounts"},
		{"zero request rate", func(c *Config) { c.RequestRate = 0 }, "request_rate"},
		{"zero event rate", func(c *Config) { c.EventRate = 0 }, "event_rate"},
		{"noise above half", func(c *Config) { c.NoiseShare = 0.7 }, "noise_share"},
		{"empty files", func(c *Config) { c.RecordsPerFile = 0 }, "records_per_file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			tc.edit(&cfg)
			_, err := Generate(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.field+":") {
				t.Fatalf("Generate error = %v, want one naming %q", err, tc.field)
			}
		})
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
}

// readCSV returns the header and rows of a CSV file.
func readCSV(t *testing.T, path string) ([]string, [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(rows) < 2 {
		t.Fatalf("%s: %d rows", path, len(rows))
	}
	return rows[0], rows[1:]
}

func TestTablesHaveTheDesignColumnsAndParse(t *testing.T) {
	t.Parallel()
	fx := shared(t)
	cases := []struct {
		file     string
		required []string
	}{
		{"identities.csv", []string{"user", "aliases", "identity_store_id", "team", "department", "title",
			"manager", "location", "employment_type", "start_date"}},
		{"entitlements.csv", []string{"entitlement", "app", "aws_account", "aws_role", "tier", "owner", "description"}},
		{"requests.csv", []string{"request_id", "requester", "entitlement", "requested_at", "status", "duration",
			"justification", "decided_at", "decided_by", "granted_at", "expires_at", "revoked_at"}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			header, rows := readCSV(t, filepath.Join(fx.dir, tc.file))
			for _, c := range tc.required {
				if !slices.Contains(header, c) {
					t.Errorf("%s: no column %q in %v", tc.file, c, header)
				}
			}
			for i, row := range rows {
				if len(row) != len(header) {
					t.Fatalf("%s line %d: %d fields, header has %d", tc.file, i+2, len(row), len(header))
				}
			}
			ndjson := strings.TrimSuffix(tc.file, ".csv") + ".ndjson"
			if _, err := os.Stat(filepath.Join(fx.dir, ndjson)); err == nil {
				if n := len(readLines(t, filepath.Join(fx.dir, ndjson))); n != len(rows) {
					t.Errorf("%s has %d lines, %s %d rows", ndjson, n, tc.file, len(rows))
				}
			}
		})
	}
}

func TestRequestRowsParseAndResolveToIdentities(t *testing.T) {
	t.Parallel()
	fx := shared(t)
	header, rows := readCSV(t, filepath.Join(fx.dir, "requests.csv"))
	col := func(row []string, name string) string { return row[slices.Index(header, name)] }
	if !slices.Contains(header, "ticket") {
		t.Fatal("requests.csv lacks the extra ticket column")
	}

	_, ids := readCSV(t, filepath.Join(fx.dir, "identities.csv"))
	keys := map[string]bool{}
	for _, id := range ids {
		keys[strings.ToLower(id[0])] = true
		for _, a := range strings.Split(id[1], ";") {
			keys[strings.ToLower(a)] = true
		}
	}
	_, ents := readCSV(t, filepath.Join(fx.dir, "entitlements.csv"))
	catalogue := map[string]bool{}
	for _, e := range ents {
		catalogue[e[0]] = true
		if models.Tier(e[4]).Rank() < 0 {
			t.Errorf("entitlement %s: tier %q", e[0], e[4])
		}
	}

	var aliased, iso, seconds, tickets, empty int
	for i, row := range rows {
		line := i + 2
		if !keys[strings.ToLower(col(row, "requester"))] {
			t.Errorf("line %d: requester %q is no identity or alias", line, col(row, "requester"))
		}
		if col(row, "requester") != strings.ToLower(col(row, "requester")) || !strings.Contains(col(row, "requester"), "@example.com") {
			aliased++
		}
		if !catalogue[col(row, "entitlement")] {
			t.Errorf("line %d: entitlement %q not in the catalogue", line, col(row, "entitlement"))
		}
		for _, c := range []string{"requested_at", "decided_at", "granted_at", "expires_at", "revoked_at"} {
			if v := col(row, c); v != "" {
				if _, err := time.Parse(time.RFC3339, v); err != nil {
					t.Errorf("line %d: %s %q: %v", line, c, v, err)
				}
			}
		}
		d := col(row, "duration")
		if _, err := models.ParseDuration(d); err != nil {
			t.Errorf("line %d: duration: %v", line, err)
		}
		switch {
		case strings.HasPrefix(d, "PT"):
			iso++
		case !strings.ContainsAny(d, "hm"):
			seconds++
		}
		if col(row, "ticket") != "" {
			tickets++
		}
		if col(row, "justification") == "" {
			empty++
		}
		st := models.RequestStatus(col(row, "status"))
		granted := col(row, "granted_at") != ""
		if want := st == models.StatusApproved || st == models.StatusRevoked; granted != want {
			t.Errorf("line %d: status %s with granted_at %q", line, st, col(row, "granted_at"))
		}
	}
	for name, n := range map[string]int{"aliased or recased requesters": aliased, "ISO durations": iso,
		"durations in seconds": seconds, "tickets": tickets, "empty justifications": empty} {
		if n == 0 {
			t.Errorf("no %s in %d requests", name, len(rows))
		}
	}
}

func TestPendingFileHoldsTheLastDaysPendingRequests(t *testing.T) {
	t.Parallel()
	fx := shared(t)
	lines := readLines(t, filepath.Join(fx.dir, "pending.ndjson"))
	if len(lines) == 0 {
		t.Fatal("no pending requests")
	}
	byID := map[string]*Request{}
	for _, q := range fx.org.Requests {
		byID[q.RequestID] = q
	}
	lastDay := fx.org.End.Add(-24 * time.Hour)
	for i, l := range lines {
		var s models.ScoreRequest
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("pending.ndjson line %d: %v", i+1, err)
		}
		q := byID[s.RequestID]
		if q == nil || q.Status != models.StatusPending {
			t.Fatalf("line %d: %s is not a pending request", i+1, s.RequestID)
		}
		at, err := time.Parse(time.RFC3339, s.RequestedAt)
		if err != nil || at.Before(lastDay.Add(-24*time.Hour)) || !at.Before(fx.org.End) {
			t.Errorf("line %d: requested_at %q not near the end %s", i+1, s.RequestedAt, fx.org.End)
		}
		if s.Requester == "" || s.Entitlement == "" || s.Duration == "" {
			t.Errorf("line %d: missing fields in %+v", i+1, s)
		}
	}
}

func TestSomeGrantsExpireWithinAWeekAfterTheEnd(t *testing.T) {
	t.Parallel()
	fx := shared(t)
	var expiring, unused int
	for _, g := range fx.org.Grants {
		if g.ExpiresAt.After(fx.org.End) && g.ExpiresAt.Before(fx.org.End.Add(7*24*time.Hour)) {
			expiring++
			if g.CloudTrail && !g.Used {
				unused++
			}
		}
	}
	if expiring == 0 || expiring != fx.sum.ExpiringAfterEnd {
		t.Errorf("%d grants expire within a week after the end, summary says %d", expiring, fx.sum.ExpiringAfterEnd)
	}
	if unused == 0 {
		t.Log("no unused CloudTrail grant among the expiring ones in this seed")
	}
}

func TestTruthCountsMatchTheHistory(t *testing.T) {
	t.Parallel()
	fx := shared(t)
	tr := fx.truth
	if len(tr.People) != fx.sum.People || len(tr.Requests) != fx.sum.Requests || len(tr.Grants) != fx.sum.Grants {
		t.Fatalf("truth has %d people, %d requests, %d grants; summary %d, %d, %d",
			len(tr.People), len(tr.Requests), len(tr.Grants), fx.sum.People, fx.sum.Requests, fx.sum.Grants)
	}
	for _, q := range tr.Requests {
		if q.ReviewerProbability < 0 || q.ReviewerProbability > 1 {
			t.Errorf("%s: probability %g", q.RequestID, q.ReviewerProbability)
		}
		decided := q.Status == "approved" || q.Status == "revoked" || q.Status == "denied"
		if decided && (q.Status == "denied") != (q.ReviewerDecision == "denied") {
			t.Errorf("%s: status %s but reviewer decision %s", q.RequestID, q.Status, q.ReviewerDecision)
		}
	}
	personas := map[string]bool{}
	for _, p := range tr.People {
		personas[p.Persona] = true
	}
	if len(personas) != len(personaDefs) {
		t.Errorf("%d personas among %d people, want all %d", len(personas), len(tr.People), len(personaDefs))
	}
}
