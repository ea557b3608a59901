//go:build unix

package ingest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const ctGood = `{"eventID":"%s","eventTime":"2026-03-09T09:00:00Z","eventVersion":"1.09"}`

// writeEvent writes a one-event JSON lines file.
func writeEvent(t *testing.T, path, id string) {
	t.Helper()
	body := strings.Replace(ctGood, "%s", id, 1) + "\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadWithin loads srcs and fails the test if the load does not end
// within a minute (a load blocked on a pipe would never end).
func loadWithin(t *testing.T, srcs []string) (Summary, func(string) int) {
	t.Helper()
	db := ctOpenDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := LoadCloudTrail(ctx, db, srcs, CloudTrailOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return sum, func(q string) int { return ctCount(t, db, q) }
}

// TestNamedPipeIsQuarantinedNeverOpened pins that a FIFO, named directly or
// found in a directory, is quarantined as "not a regular file" under its
// path and the load finishes; a FIFO with no writer would block an open
// forever.
func TestNamedPipeIsQuarantinedNeverOpened(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "f.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	writeEvent(t, filepath.Join(dir, "good.json"), "e1")
	for name, srcs := range map[string][]string{"file": {fifo}, "dir": {dir}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sum, count := loadWithin(t, srcs)
			if sum.Quarantined != 1 {
				t.Errorf("quarantined = %d, want 1", sum.Quarantined)
			}
			if n := count(`SELECT count(*) FROM quarantine WHERE source LIKE '%f.json' AND reason LIKE 'not a regular file%'`); n != 1 {
				t.Errorf("quarantine rows naming the pipe as not a regular file = %d, want 1", n)
			}
		})
	}
}

// TestSymlinksInTreeAreFollowedOnce pins that links to files and to
// directories are followed, a file reached twice is read once, a link
// loop ends, and links to a missing file or a pipe are quarantined.
func TestSymlinksInTreeAreFollowedOnce(t *testing.T) {
	t.Parallel()
	outside, root := t.TempDir(), t.TempDir()
	writeEvent(t, filepath.Join(outside, "linked.json"), "e-linked")
	if err := os.Mkdir(filepath.Join(outside, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeEvent(t, filepath.Join(outside, "sub", "in-dir.json"), "e-dir")
	writeEvent(t, filepath.Join(root, "plain.json"), "e-plain")
	fifo := filepath.Join(outside, "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	links := map[string]string{
		"a-file.json":  filepath.Join(outside, "linked.json"),
		"b-again.json": filepath.Join(outside, "linked.json"),
		"c-dir":        filepath.Join(outside, "sub"),
		"d-loop":       root,
		"e-missing":    filepath.Join(outside, "missing.json"),
		"f-pipe.json":  fifo,
		"z-plain.json": filepath.Join(root, "plain.json"),
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := localObjects(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		rel, err := filepath.Rel(root, o.source)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, filepath.ToSlash(rel))
	}
	want := "a-file.json c-dir/in-dir.json d-loop e-missing f-pipe.json plain.json"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("objects = %s, want %s", got, want)
	}

	sum, count := loadWithin(t, []string{root})
	if sum.EventsLoaded != 3 || sum.Quarantined != 3 {
		t.Errorf("loaded/quarantined = %d/%d, want 3/3", sum.EventsLoaded, sum.Quarantined)
	}
	for pattern, reason := range map[string]string{
		"%/d-loop":      "symlink to a directory already walked%",
		"%/e-missing":   "follow symlink:%",
		"%/f-pipe.json": "not a regular file (named pipe)",
	} {
		q := "SELECT count(*) FROM quarantine WHERE source LIKE '" + pattern + "' AND reason LIKE '" + reason + "'"
		if n := count(q); n != 1 {
			t.Errorf("%s: %d rows, want 1", q, n)
		}
	}
	if n := count(`SELECT count(*) FROM events WHERE source LIKE '%/c-dir/in-dir.json'`); n != 1 {
		t.Errorf("events from the linked directory under its link path = %d, want 1", n)
	}
}
