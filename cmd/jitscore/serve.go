package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/ingest"
	"github.com/jitscore/jitscore/scoring"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

func init() {
	register(command{
		name:    "serve",
		summary: "serve the HTTP scoring API (POST /v1/score, /v1/score/batch, /v1/renewals)",
		run:     runServe,
	})
}

// serveUsage is the usage line of serve.
const serveUsage = "serve [--listen ADDR] [--insecure-no-auth] [--watch 10s] [--audit-dir DIR]"

// serveFlags are the flags of serve beyond the common ones.
type serveFlags struct {
	common
	listen          string
	insecureNoAuth  bool
	watch           time.Duration
	auditDir        string
	snapshot        string
	model           string
	shutdownTimeout time.Duration
}

// runServe loads the config, opens the server's own audit log, listens,
// loads the snapshot and model, and answers until SIGTERM or SIGINT; SIGHUP
// and a change of the config, snapshot or model file reload all three. It
// never opens the database: the next command that opens it for writing
// folds the audit log in.
func runServe(ctx context.Context, env *Env, args []string) error {
	var f serveFlags
	fs := newFlagSet("serve", serveUsage, &f.common, "json")
	fs.StringVar(&f.listen, "listen", "", "address to listen on (default: server.listen of the config)")
	fs.BoolVar(&f.insecureNoAuth, "insecure-no-auth", false,
		"serve without a bearer token when none is configured; only for a trusted loopback")
	fs.DurationVar(&f.watch, "watch", 10*time.Second, "poll the config, snapshot and model files this often; 0 disables")
	fs.StringVar(&f.auditDir, "audit-dir", "", "audit store directory (default: server.audit_dir, else DB.audit)")
	fs.StringVar(&f.snapshot, "snapshot", "", "feature snapshot file (default: DB.snapshot)")
	fs.StringVar(&f.model, "model", "", "model file (default: DB.model.json)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long to let requests in flight finish")
	if err := parseFlags(fs, &f.common, args, "json"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("serve: unexpected arguments %q", fs.Args())}
	}

	cfg, err := approve.LoadConfig(f.config)
	if err != nil {
		return err
	}
	if len(serverTokens(cfg, env.Getenv)) == 0 && !f.insecureNoAuth {
		return fmt.Errorf("serve: no bearer token configured: set $%s (server.token_env) or server.tokens, "+
			"or pass --insecure-no-auth to serve without authentication", tokenEnv(cfg))
	}
	// A token Install would refuse leaves the server unready for good, and
	// the environment does not change while it runs: stop now. LoadConfig
	// has already checked server.tokens.
	if err := checkEnvTokens(cfg, env.Getenv); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log := env.Logger.With(slog.String("component", "serve"))
	snapPath := orDefault(f.snapshot, features.SnapshotPath(f.db))
	modelPath := orDefault(f.model, scoring.ModelPath(f.db))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := approve.NewMetrics(reg)
	ingest.NewMetrics(reg) // the ingest counters, so one scrape shows the whole pipeline

	auditDir := auditDirFor(f.db, cfg, f.auditDir)
	audit, err := approve.OpenAuditLog(auditDir, approve.AuditOptions{Logger: env.Logger, Metrics: metrics})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv, err := approve.NewServer(approve.ServerOptions{
		Audit: audit, Metrics: metrics, Gatherer: reg, Logger: env.Logger, InsecureNoAuth: f.insecureNoAuth,
	})
	if err != nil {
		return errors.Join(err, audit.Close())
	}
	addr := orDefault(f.listen, cfg.Server.Listen)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return errors.Join(fmt.Errorf("serve: listen %s: %w", addr, err), audit.Close())
	}

	started := cfg.Server
	load := func(context.Context) (approve.State, error) {
		return loadServeState(f.config, snapPath, modelPath, env.Getenv, started, log)
	}
	rl := approve.NewReloader(srv, load)
	if err := rl.Reload(ctx, "start"); err != nil {
		log.Error("not ready: waiting for a valid config, snapshot and model",
			slog.String("snapshot", snapPath), slog.String("model", modelPath), slog.Any("error", err))
	}
	watched := []string{snapPath, modelPath}
	if f.config != "" {
		watched = append(watched, f.config)
	}
	go rl.Watch(ctx, f.watch, watched...)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = rl.Reload(ctx, "sighup")
			}
		}
	}()

	fmt.Fprintf(env.Stderr, "serve: listening on %s, audit log %s\n", ln.Addr(), audit.Path())
	err = srv.Run(ctx, ln, approve.HTTPOptions{
		ReadTimeout:     cfg.Server.ReadTimeout,
		WriteTimeout:    cfg.Server.WriteTimeout,
		IdleTimeout:     cfg.Server.IdleTimeout,
		ShutdownTimeout: f.shutdownTimeout,
		TLSCert:         cfg.Server.TLSCert,
		TLSKey:          cfg.Server.TLSKey,
	})
	fmt.Fprintf(env.Stderr, "serve: stopped; %d decisions recorded in %s\n", audit.Written(), audit.Path())
	return err
}

// loadServeState reads config, snapshot and model afresh and builds the
// State they make. Anything missing or invalid is an error, and the
// serving State stays.
func loadServeState(
	configPath, snapPath, modelPath string,
	getenv func(string) string,
	started approve.ServerConfig,
	log *slog.Logger,
) (approve.State, error) {
	cfg, err := approve.LoadConfig(configPath)
	if err != nil {
		return approve.State{}, err
	}
	snap, err := features.ReadSnapshotFile(snapPath)
	if err != nil {
		return approve.State{}, err
	}
	model, err := scoring.LoadModel(modelPath)
	if err != nil {
		return approve.State{}, err
	}
	if restartOnly(started, cfg.Server) {
		log.Warn("server.listen, timeouts and TLS apply at the next restart, not on reload")
	}
	dec := approve.NewPolicyDecider(cfg, snap, model)
	return approve.State{
		Decider:         dec,
		Tokens:          serverTokens(cfg, getenv),
		MaxBodyBytes:    cfg.Server.MaxBodyBytes,
		RequestTimeout:  cfg.Server.RequestTimeout,
		SnapshotAsOf:    snap.AsOf,
		SnapshotVersion: snap.Version,
		ModelVersion:    model.Version,
		PolicyVersion:   dec.PolicyVersion(),
	}, nil
}

// restartOnly reports whether b changes a server setting that only a
// restart applies.
func restartOnly(a, b approve.ServerConfig) bool {
	return a.Listen != b.Listen || a.ReadTimeout != b.ReadTimeout || a.WriteTimeout != b.WriteTimeout ||
		a.IdleTimeout != b.IdleTimeout || a.TLSCert != b.TLSCert || a.TLSKey != b.TLSKey
}

func tokenEnv(cfg *approve.Config) string {
	return orDefault(cfg.Server.TokenEnv, "JITSCORE_TOKEN")
}

// serverTokens are the bearer tokens of cfg: server.tokens and the
// comma-separated tokens of the server.token_env variable (several, so a
// token can be rotated without a gap).
func serverTokens(cfg *approve.Config, getenv func(string) string) []string {
	var out []string
	for _, t := range cfg.Server.Tokens {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	if getenv != nil {
		for _, t := range strings.Split(getenv(tokenEnv(cfg)), ",") {
			if t = strings.TrimSpace(t); t != "" {
				out = append(out, t)
			}
		}
	}
	return out
}

// checkEnvTokens refuses tokens of the server.token_env variable shorter
// than approve.MinTokenLength, naming the variable and never the token.
func checkEnvTokens(cfg *approve.Config, getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	name := tokenEnv(cfg)
	toks := strings.Split(getenv(name), ",")
	for i, t := range toks {
		if t = strings.TrimSpace(t); t == "" || len(t) >= approve.MinTokenLength {
			continue
		}
		if len(toks) == 1 {
			return fmt.Errorf("$%s: token shorter than %d characters", name, approve.MinTokenLength)
		}
		return fmt.Errorf("$%s: token %d of %d shorter than %d characters", name, i+1, len(toks), approve.MinTokenLength)
	}
	return nil
}

// auditDirFor is the audit store of database db: the flag, else
// server.audit_dir, else DB.audit beside the database file.
func auditDirFor(db string, cfg *approve.Config, flagDir string) string {
	if flagDir != "" {
		return flagDir
	}
	if cfg != nil && cfg.Server.AuditDir != "" {
		return cfg.Server.AuditDir
	}
	return db + ".audit"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// foldAuditIfAny folds the decisions that `serve` (and `score`) appended to
// the audit store of c.db into its decisions table. Every command that
// opens the database for writing calls it right after opening, so the
// decisions view is current without the server ever holding the file. cfg
// may be nil (the default audit dir). A fold error leaves the segments in
// place for the next fold; callers may log it and carry on.
func foldAuditIfAny(ctx context.Context, env *Env, c *common, cfg *approve.Config, db *sql.DB) error {
	dir := auditDirFor(c.db, cfg, "")
	st, err := approve.FoldAudit(ctx, db, dir)
	if err != nil {
		return fmt.Errorf("fold audit log %s: %w", dir, err)
	}
	if st.Lines > 0 {
		env.Logger.Info("audit log folded", slog.String("dir", dir), slog.Int("decisions", st.Inserted),
			slog.Int("duplicates", st.Duplicates), slog.Int("rejected", st.Rejected))
	}
	if st.Rejected > 0 {
		env.Logger.Warn("audit lines could not be read; kept in audit_rejects", slog.Int("lines", st.Rejected))
	}
	return nil
}
