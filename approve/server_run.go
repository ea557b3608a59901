package approve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// HTTPOptions are the listener settings that a reload cannot change: they
// are fixed for the life of Run.
type HTTPOptions struct {
	ReadTimeout  time.Duration // whole request, body included; default 10s
	WriteTimeout time.Duration // default 10s
	IdleTimeout  time.Duration // keep-alive; default 120s
	// ShutdownTimeout bounds how long Run waits for requests in flight
	// after ctx is cancelled; default 30s.
	ShutdownTimeout time.Duration
	// TLSCert and TLSKey are PEM files; both empty serves plain HTTP.
	TLSCert string
	TLSKey  string
}

func (o HTTPOptions) withDefaults() HTTPOptions {
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 120 * time.Second
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 30 * time.Second
	}
	return o
}

// Run serves the API on ln until ctx is cancelled, then shuts down
// gracefully: readyz turns 503, the listener closes, requests in flight
// finish (up to ShutdownTimeout), and the audit sink is closed, which
// writes every record it accepted. Run returns nil after a clean shutdown,
// or the error that stopped it; a failure to close the audit sink is
// returned too, since it means decisions were lost.
func (s *Server) Run(ctx context.Context, ln net.Listener, opts HTTPOptions) error {
	opts = opts.withDefaults()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: min(opts.ReadTimeout, 5*time.Second),
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	tlsOn := opts.TLSCert != "" || opts.TLSKey != ""
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return errors.Join(fmt.Errorf("load server.tls_cert and server.tls_key: %w", err), s.opts.Audit.Close())
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}

	errc := make(chan error, 1)
	go func() {
		var err error
		if tlsOn {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	s.log.Info("serving", slog.String("addr", ln.Addr().String()), slog.Bool("tls", tlsOn))

	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
		s.draining.Store(true)
		s.metrics.Ready.Set(0)
		s.log.Info("shutting down", slog.Duration("timeout", opts.ShutdownTimeout))
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
		if err := srv.Shutdown(sctx); err != nil {
			serveErr = fmt.Errorf("shutdown: %w", err)
			srv.Close()
		}
		cancel()
		<-errc
	}

	// No handler runs any more (or Shutdown gave up on it); everything the
	// audit log accepted is written before Run returns.
	if err := s.opts.Audit.Close(); err != nil {
		s.log.Error("audit log close failed", slog.Any("error", err))
		return errors.Join(serveErr, fmt.Errorf("close audit log: %w", err))
	}
	s.log.Info("stopped")
	return serveErr
}

// Loader builds a complete State from its sources (config, snapshot and
// model files). It is called on every reload; an error leaves the serving
// State in place.
type Loader func(ctx context.Context) (State, error)

// Reloader serialises reloads of a Server from one Loader, counts them and
// logs them. It is safe for concurrent use.
type Reloader struct {
	srv  *Server
	load Loader
	mu   sync.Mutex
}

// NewReloader returns a Reloader of srv from load.
func NewReloader(srv *Server, load Loader) *Reloader {
	return &Reloader{srv: srv, load: load}
}

// Reload loads a new State and installs it. A load or install error is
// logged at Warn, counted as a failed reload and returned; the old State
// keeps serving. why says what triggered it, for the log ("start",
// "sighup", "file change").
func (r *Reloader) Reload(ctx context.Context, why string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, log := r.srv.metrics, r.srv.log
	st, err := r.load(ctx)
	if err == nil {
		err = r.srv.Install(st)
	}
	if err != nil {
		m.Reloads.WithLabelValues(resultFailed).Inc()
		if r.srv.Current() != nil {
			log.Warn("reload refused; the current state keeps serving",
				slog.String("trigger", why), slog.Any("error", err))
		}
		return err
	}
	m.Reloads.WithLabelValues(resultOK).Inc()
	log.Info("loaded", slog.String("trigger", why),
		slog.String("snapshot_version", st.SnapshotVersion),
		slog.Time("snapshot_as_of", st.SnapshotAsOf),
		slog.String("model_version", st.ModelVersion),
		slog.String("policy_version", st.PolicyVersion))
	return nil
}

// Watch polls paths every interval and reloads when one of them changed
// (size, modification time, appeared or disappeared) and then stayed the
// same for one more poll, so that a file still being written is not read
// half-way. A path that does not exist is watched for appearing. Watch
// returns when ctx is done.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration, paths ...string) {
	if interval <= 0 || len(paths) == 0 {
		return
	}
	loaded := fingerprint(paths)
	pending := ""
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := fingerprint(paths)
		switch {
		case now == loaded:
			pending = ""
		case now != pending:
			pending = now // changed; wait for it to settle
		default:
			// Failed or not, this version has been tried; the next change
			// triggers the next attempt.
			_ = r.Reload(ctx, "file change")
			loaded, pending = now, ""
		}
	}
}

func fingerprint(paths []string) string {
	out := make([]byte, 0, 64*len(paths))
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			out = append(out, "-|"...)
			continue
		}
		out = fmt.Appendf(out, "%d:%d|", fi.Size(), fi.ModTime().UnixNano())
	}
	return string(out)
}
