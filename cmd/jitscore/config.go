package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/jitscore/jitscore/approve"
)

func init() {
	register(command{
		name:    "config",
		summary: "check a config file: every problem with its line",
		run:     runConfig,
	})
}

// configCheck is what `jitscore config check --format json` prints.
type configCheck struct {
	File          string            `json:"file"`
	OK            bool              `json:"ok"`
	Problems      []approve.Problem `json:"problems"`
	PolicyVersion string            `json:"policy_version,omitempty"`
	Mode          approve.Mode      `json:"mode,omitempty"`
}

// errConfigInvalid makes `config check` exit non-zero after it printed the
// problems.
var errConfigInvalid = errors.New("config has problems")

// runConfig handles "config check FILE": it prints each problem as
// FILE:LINE: path: message (or one JSON object with --format json) and
// fails when there is any; a valid file gets one ok line with its policy
// version. "config -h" (or --help, help) prints the usage and succeeds.
func runConfig(ctx context.Context, env *Env, args []string) error {
	var c common
	fs := newFlagSet("config check", "config check [--format table|json] FILE", &c)
	fs.SetOutput(env.Stderr)
	if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help", "help":
			fs.Usage()
			return errHelp
		}
	}
	if len(args) == 0 || args[0] != "check" {
		return usageError{"config: want 'config check FILE'"}
	}
	if err := parseFlags(fs, &c, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{"config check: want exactly one FILE"}
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config check: %w", err)
	}
	defer f.Close()

	out := configCheck{File: path, Problems: []approve.Problem{}}
	cfg, err := approve.ParseConfig(f, path)
	ve, isVE := approve.IsValidationError(err)
	switch {
	case err != nil && !isVE:
		return fmt.Errorf("config check: %w", err)
	case isVE:
		out.Problems = ve.Problems
	default:
		out.OK, out.PolicyVersion, out.Mode = true, cfg.PolicyVersion(), cfg.Mode
	}

	if c.format == "json" {
		if err := writeJSON(env.Stdout, out); err != nil {
			return err
		}
	} else if out.OK {
		fmt.Fprintf(env.Stdout, "%s: ok (mode %s, policy version %s)\n", path, out.Mode, out.PolicyVersion)
	} else {
		for _, p := range ve.Problems {
			fmt.Fprintln(env.Stdout, ve.Format(p))
		}
	}
	if !out.OK {
		return fmt.Errorf("%w: %s: %d problem(s)", errConfigInvalid, path, len(out.Problems))
	}
	fmt.Fprintf(env.Stderr, "config check: %s: ok\n", path)
	return nil
}
