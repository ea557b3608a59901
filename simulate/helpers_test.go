package simulate

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fixture is one small organisation written once and shared read-only by
// the tests of this package.
type fixture struct {
	dir   string
	org   *Org
	sum   Summary
	truth Truth
}

var (
	fixOnce sync.Once
	fix     fixture
	fixErr  error
	fixDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixDir != "" {
		os.RemoveAll(fixDir)
	}
	os.Exit(code)
}

// smallConfig is big enough to hold every kind of record and small enough
// to write in a fraction of a second. RecordsPerFile is low so that the
// trail has many files.
func smallConfig() Config {
	cfg := DefaultConfig()
	cfg.People, cfg.Days = 40, 30
	cfg.RecordsPerFile = 500
	cfg.OtherSample = 40
	return cfg
}

// shared returns the shared fixture, writing it on first use.
func shared(t *testing.T) *fixture {
	t.Helper()
	fixOnce.Do(func() {
		fixDir, fixErr = os.MkdirTemp("", "simulate-test-")
		if fixErr != nil {
			return
		}
		fix.dir = fixDir
		fix.org, fixErr = Generate(smallConfig())
		if fixErr != nil {
			return
		}
		fix.sum, fixErr = fix.org.Write(context.Background(), fixDir)
		if fixErr != nil {
			return
		}
		var b []byte
		b, fixErr = os.ReadFile(filepath.Join(fixDir, "truth.json"))
		if fixErr == nil {
			fixErr = json.Unmarshal(b, &fix.truth)
		}
	})
	if fixErr != nil {
		t.Fatalf("write fixture: %v", fixErr)
	}
	return &fix
}

// trailFiles lists the delivery files (not digests) under dir.
func trailFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join(dir, "cloudtrail"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(path, "/CloudTrail/") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk cloudtrail: %v", err)
	}
	return files
}

// readTrailFile decodes one gzipped {"Records":[...]} file.
func readTrailFile(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var doc struct {
		Records []map[string]any `json:"Records"`
	}
	dec := json.NewDecoder(zr)
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if doc.Records == nil {
		t.Fatalf("%s: no Records array", path)
	}
	return doc.Records
}

// allRecords reads every record of the trail under dir.
func allRecords(t *testing.T, dir string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, f := range trailFiles(t, dir) {
		out = append(out, readTrailFile(t, f)...)
	}
	return out
}

// readLines returns the non-empty lines of a file.
func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// str follows a path of object keys and returns the string there.
func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, k := range path {
		obj, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = obj[k]
	}
	s, _ := cur.(string)
	return s
}
