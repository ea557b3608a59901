// Command jitscore is the risk-scoring auto-approval engine for just-in-time
// access. main only wires signals and turns an error into one line and a
// non-zero exit; each subcommand lives in a file of its own and registers
// itself in the commands table from an init function.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Version is set at build time through -ldflags "-X main.Version=...".
var Version = "dev"

// command is one subcommand. run receives the arguments after the
// subcommand's name and the shared environment.
type command struct {
	name    string // "ingest", "build", "config check" is "config"
	summary string
	run     func(ctx context.Context, env *Env, args []string) error
}

var commands = map[string]command{}

// register adds a subcommand; called from init functions.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("jitscore: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// Env is what every subcommand gets: its streams, a logger and whether
// stderr is a terminal (for progress bars).
type Env struct {
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Logger   *slog.Logger
	Terminal bool
	Getenv   func(string) string
}

// usageError is an error whose message should be followed by a hint.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Run dispatches args (without the program name) to a subcommand.
func Run(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		printUsage(env.Stderr)
		return usageError{"no command given"}
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		// Asked for: the usage is the output, so it goes to stdout.
		printUsage(env.Stdout)
		return nil
	}
	if args[0] == "version" || args[0] == "--version" {
		fmt.Fprintln(env.Stdout, "jitscore", Version)
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
	if err := c.run(ctx, env, args[1:]); err != nil && !errors.Is(err, errHelp) {
		return err
	}
	return nil
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: jitscore <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'jitscore <command> -h' for a command's flags.")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &Env{
		Stdin:    os.Stdin,
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Logger:   newLogger(os.Stderr),
		Terminal: isTerminal(os.Stderr),
		Getenv:   os.Getenv,
	}
	if err := Run(ctx, env, os.Args[1:]); err != nil {
		msg := strings.ReplaceAll(err.Error(), "\n", "; ")
		fmt.Fprintln(os.Stderr, "jitscore:", msg)
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintln(os.Stderr, "run 'jitscore help' for usage")
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// newLogger logs at info to w; JITSCORE_LOG=debug lowers the level and
// JITSCORE_LOG_FORMAT=json switches to JSON lines.
func newLogger(w io.Writer) *slog.Logger {
	level := slog.LevelWarn
	switch strings.ToLower(os.Getenv("JITSCORE_LOG")) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if os.Getenv("JITSCORE_LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	return fi.Mode()&os.ModeCharDevice != 0
}
