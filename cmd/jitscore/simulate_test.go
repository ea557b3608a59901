package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// simulateEnv is an Env whose streams the test reads.
func simulateEnv() (*Env, *bytes.Buffer, *bytes.Buffer) {
	var stdout, stderr bytes.Buffer
	return &Env{
		Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Getenv: func(string) string { return "" },
	}, &stdout, &stderr
}

func TestSimulateWritesEveryFileAndPrintsCounts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args func(out string) []string
	}{
		{"output first", func(out string) []string {
			return []string{"simulate", out, "--people", "20", "--days", "10", "--seed", "5", "--format", "json"}
		}},
		{"output last", func(out string) []string {
			return []string{"simulate", "--people", "20", "--days", "10", "--seed", "5", "--format", "json", out}
		}},
	}
	var first []byte
	for _, tc := range cases {
		out := t.TempDir()
		env, stdout, stderr := simulateEnv()
		if err := Run(context.Background(), env, tc.args(out)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var sum struct {
			People   int `json:"people"`
			Requests int `json:"requests"`
			Events   int `json:"events"`
			Files    int `json:"cloudtrail_files"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
			t.Fatalf("%s: stdout %q: %v", tc.name, stdout, err)
		}
		if sum.People != 20 || sum.Requests == 0 || sum.Events == 0 || sum.Files == 0 {
			t.Errorf("%s: counts %+v", tc.name, sum)
		}
		if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "simulate: 20 people") {
			t.Errorf("%s: stderr %q, want one summary line", tc.name, stderr)
		}
		for _, f := range []string{"identities.csv", "identities.ndjson", "entitlements.csv", "requests.csv",
			"requests.ndjson", "pending.ndjson", "truth.json", "cloudtrail-other/events.ndjson"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
		b, err := os.ReadFile(filepath.Join(out, "requests.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Errorf("%s: requests.csv differs for the same seed", tc.name)
		}
	}
}

func TestSimulateRejectsBadArguments(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no output", []string{"simulate", "--people", "20"}, true, "output directory"},
		{"two outputs", []string{"simulate", "a", "b"}, true, "unexpected arguments"},
		{"bad start", []string{"simulate", "out", "--start", "yesterday"}, true, "--start"},
		{"too few people", []string{"simulate", "out", "--people", "1"}, false, "people: 1"},
		{"bad format", []string{"simulate", "out", "--format", "xml"}, true, "--format"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env, _, _ := simulateEnv()
			args := append([]string(nil), tc.args...)
			for i, a := range args {
				if a == "out" || a == "a" || a == "b" {
					args[i] = filepath.Join(t.TempDir(), a)
				}
			}
			err := Run(context.Background(), env, args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			var ue usageError
			if errors.As(err, &ue) != tc.usage {
				t.Errorf("usage error = %v, want %v", !tc.usage, tc.usage)
			}
		})
	}
}
