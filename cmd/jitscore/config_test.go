package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheckPrintsEveryProblemWithItsLine(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("mode: loud\nthresholds:\n  auto_approve_max: 0.9\n  deny_min: 0.5\nbogus: 1\n"), 0o644)
	tests := []struct {
		name   string
		args   []string
		wantOK bool
		check  func(t *testing.T, stdout string)
	}{
		{"example config is ok", []string{"config", "check", filepath.Join("..", "..", "config.example.yaml")}, true,
			func(t *testing.T, out string) {
				if !strings.Contains(out, ": ok (mode shadow, policy version p-") {
					t.Errorf("stdout %q", out)
				}
			}},
		{"bad config lists problems", []string{"config", "check", bad}, false,
			func(t *testing.T, out string) {
				for _, want := range []string{
					bad + ":1: mode: want shadow or enforce",
					bad + ":3: thresholds.auto_approve_max: auto_approve_max (0.9) must be below deny_min (0.5)",
					bad + ":5: bogus: unknown key",
				} {
					if !strings.Contains(out, want) {
						t.Errorf("stdout lacks %q:\n%s", want, out)
					}
				}
			}},
		{"json format", []string{"config", "check", "--format", "json", bad}, false,
			func(t *testing.T, out string) {
				var v configCheck
				if err := json.Unmarshal([]byte(out), &v); err != nil {
					t.Fatal(err)
				}
				if v.OK || len(v.Problems) != 3 || v.Problems[0].Line != 1 {
					t.Errorf("json %+v", v)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env, stdout, _ := simulateEnv()
			err := Run(context.Background(), env, tt.args)
			if tt.wantOK != (err == nil) {
				t.Fatalf("err = %v, want ok %v", err, tt.wantOK)
			}
			if err != nil && !errors.Is(err, errConfigInvalid) {
				t.Errorf("error %v does not wrap errConfigInvalid", err)
			}
			tt.check(t, stdout.String())
		})
	}
}

func TestConfigCheckNeedsOneFile(t *testing.T) {
	t.Parallel()
	env, _, _ := simulateEnv()
	var ue usageError
	if err := Run(context.Background(), env, []string{"config", "check"}); !errors.As(err, &ue) {
		t.Errorf("no file: %v, want a usage error", err)
	}
	if err := Run(context.Background(), env, []string{"config", "lint", "x"}); !errors.As(err, &ue) {
		t.Errorf("unknown subcommand: %v, want a usage error", err)
	}
}

// TestConfigHelpPrintsUsageAndSucceeds pins that "config -h" and its
// spellings print the usage of config check and are not a usage error.
func TestConfigHelpPrintsUsageAndSucceeds(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "--help", "help"} {
		env, _, stderr := simulateEnv()
		if err := Run(context.Background(), env, []string{"config", arg}); err != nil {
			t.Errorf("config %s: %v, want success", arg, err)
		}
		if got := stderr.String(); !strings.Contains(got, "usage: jitscore config check") {
			t.Errorf("config %s printed %q, want the usage", arg, got)
		}
	}
}
