package approve

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jitscore/jitscore/models"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Decider is the part of the scoring service that decides. The HTTP layer
// holds one inside the reloadable State and never looks past it, so that a
// reload swaps config, snapshot and model together.
//
// Score must answer every request: a request that cannot be scored (an
// unknown requester or entitlement, a model error) is answered review with
// the reason, never auto_approve, and the AuditRecord says why in Error.
// Score is called concurrently and must not block on I/O.
//
// Renewals answers renewal review for the grants named by q. It returns an
// error wrapping ErrNotImplemented while renewal review is not built.
type Decider interface {
	Score(ctx context.Context, req models.ScoreRequest) (models.ScoreResponse, AuditRecord)
	Renewals(ctx context.Context, q RenewalQuery) ([]models.Renewal, error)
}

// RenewalQuery is POST /v1/renewals after validation: either the grants
// named by request id, or every grant expiring within Within of At. A zero
// At means now; a zero Within means the configured renewal window.
type RenewalQuery struct {
	RequestIDs []string
	At         time.Time
	Within     time.Duration
}

// ErrNotImplemented reports a feature of the API that this build does not
// have yet; the server answers 501. It may arrive wrapped.
var ErrNotImplemented = errors.New("not implemented")

// Defaults of the request limits when a State leaves them zero.
const (
	DefaultMaxBodyBytes   = 1 << 20
	DefaultMaxBatch       = 1000
	DefaultRequestTimeout = 5 * time.Second
	// MinTokenLength is the shortest bearer token Install accepts; a
	// shorter one is guessable.
	MinTokenLength = 16
	// maxIDLength bounds request_id, requester and entitlement.
	maxIDLength = 1024
)

// State is everything a reload replaces at once: the decider (config,
// snapshot and model), the bearer tokens and the request limits. A State is
// installed whole with Server.Install and never modified afterwards.
type State struct {
	Decider Decider
	// Tokens are the accepted bearer tokens. Empty is refused unless the
	// server was built with InsecureNoAuth.
	Tokens []string
	// MaxBodyBytes bounds a request body; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxBatch bounds the requests of one batch and the grants of one
	// renewal query; 0 means DefaultMaxBatch.
	MaxBatch int
	// RequestTimeout is the deadline of a batch or a renewal query; a batch
	// that passes it is answered 503 with how far it got. 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// SnapshotAsOf, SnapshotVersion, ModelVersion and PolicyVersion
	// describe what is serving, for readyz, metrics and logs.
	SnapshotAsOf    time.Time
	SnapshotVersion string
	ModelVersion    string
	PolicyVersion   string
}

// serving is an installed State with its tokens hashed.
type serving struct {
	State
	tokenHashes [][sha256.Size]byte
}

// ServerOptions builds a Server.
type ServerOptions struct {
	// Audit receives every decision answered. Required. Run closes it
	// after the last request has finished.
	Audit AuditSink
	// Metrics is updated on every request; nil builds unregistered ones.
	Metrics *Metrics
	// Gatherer serves GET /metrics; nil answers 404 there.
	Gatherer prometheus.Gatherer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// InsecureNoAuth accepts requests without a bearer token. Only for a
	// server on a trusted loopback; it is logged at Warn on every install.
	InsecureNoAuth bool
}

// Server is the HTTP API of `jitscore serve`. Its handler is safe for
// concurrent use; Install swaps the serving State atomically, so a request
// runs entirely against the State that was current when it arrived.
type Server struct {
	opts     ServerOptions
	log      *slog.Logger
	metrics  *Metrics
	state    atomic.Pointer[serving]
	draining atomic.Bool
	metricsH http.Handler
}

// NewServer returns a server that is not ready until Install is called.
func NewServer(opts ServerOptions) (*Server, error) {
	if opts.Audit == nil {
		return nil, errors.New("new server: an audit sink is required")
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger.With(slog.String("component", "serve")),
		metrics: opts.Metrics,
	}
	if opts.Gatherer != nil {
		s.metricsH = promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{
			ErrorHandling: promhttp.ContinueOnError,
		})
	}
	return s, nil
}

// Install validates st and makes it the serving state for every request
// that arrives afterwards; requests in flight finish on the state they
// started with. An invalid st is refused with an error and the current
// state stays.
func (s *Server) Install(st State) error {
	if st.Decider == nil {
		return errors.New("install: no decider")
	}
	if len(st.Tokens) == 0 && !s.opts.InsecureNoAuth {
		return errors.New("install: no bearer token configured (server.tokens or the server.token_env variable); " +
			"refusing to serve without authentication")
	}
	sv := &serving{State: st}
	for i, t := range st.Tokens {
		if len(t) < MinTokenLength {
			return fmt.Errorf("install: bearer token %d (of server.tokens and the server.token_env variable): shorter than %d characters", i+1, MinTokenLength)
		}
		sv.tokenHashes = append(sv.tokenHashes, sha256.Sum256([]byte(t)))
	}
	if sv.MaxBodyBytes <= 0 {
		sv.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if sv.MaxBatch <= 0 {
		sv.MaxBatch = DefaultMaxBatch
	}
	if sv.RequestTimeout <= 0 {
		sv.RequestTimeout = DefaultRequestTimeout
	}
	if s.opts.InsecureNoAuth && len(st.Tokens) == 0 {
		s.log.Warn("serving without authentication (--insecure-no-auth)")
	}
	s.state.Store(sv)
	s.metrics.SetSnapshotAsOf(st.SnapshotAsOf)
	s.metrics.Ready.Set(1)
	return nil
}

// Ready reports whether a state is installed and the server is not
// shutting down.
func (s *Server) Ready() bool { return s.state.Load() != nil && !s.draining.Load() }

// Current returns the installed State, or nil before the first Install.
func (s *Server) Current() *State {
	sv := s.state.Load()
	if sv == nil {
		return nil
	}
	st := sv.State
	return &st
}

// Handler returns the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// route is one endpoint of the API.
type route struct {
	label   string
	method  string
	auth    bool
	handler func(s *Server, w http.ResponseWriter, r *http.Request, sv *serving) int
}

// routes maps each path to its endpoint. Health, readiness and metrics are
// not authenticated: probes and scrapers carry no token, and none of them
// reveals a person or an entitlement.
var routes = map[string]route{
	"/v1/score":       {endpointScore, http.MethodPost, true, (*Server).handleScore},
	"/v1/score/batch": {endpointBatch, http.MethodPost, true, (*Server).handleBatch},
	"/v1/renewals":    {endpointRenewals, http.MethodPost, true, (*Server).handleRenewals},
	"/healthz":        {endpointHealthz, http.MethodGet, false, (*Server).handleHealthz},
	"/readyz":         {endpointReadyz, http.MethodGet, false, (*Server).handleReadyz},
	"/metrics":        {endpointMetrics, http.MethodGet, false, (*Server).handleMetrics},
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt, ok := routes[r.URL.Path]
	if !ok {
		code := writeError(w, http.StatusNotFound, "no such endpoint", "")
		s.metrics.observeRequest(endpointOther, code, time.Since(start))
		return
	}
	code := s.serveRoute(w, r, rt)
	s.metrics.observeRequest(rt.label, code, time.Since(start))
}

func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, rt route) int {
	if r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", rt.method)
		return writeError(w, http.StatusMethodNotAllowed, "use "+rt.method, "")
	}
	sv := s.state.Load()
	if rt.auth {
		if sv == nil {
			return writeError(w, http.StatusServiceUnavailable, "not ready: no snapshot and model loaded yet", "")
		}
		if code, ok := s.authenticate(w, r, sv); !ok {
			return code
		}
	}
	return rt.handler(s, w, r, sv)
}

// authenticate checks the bearer token against every configured token in
// constant time: each comparison is of two SHA-256 digests, so neither the
// length nor the content of a token leaks through timing, and the loop
// does not stop at the first match.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, sv *serving) (int, bool) {
	if len(sv.tokenHashes) == 0 && s.opts.InsecureNoAuth {
		return 0, true
	}
	h := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(h, " ")
	if h == "" || !found || !strings.EqualFold(scheme, "Bearer") || token == "" {
		s.metrics.AuthFailures.WithLabelValues(authMissing).Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="jitscore"`)
		return writeError(w, http.StatusUnauthorized, "missing bearer token", ""), false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	match := 0
	for i := range sv.tokenHashes {
		match |= subtle.ConstantTimeCompare(got[:], sv.tokenHashes[i][:])
	}
	if match != 1 {
		s.metrics.AuthFailures.WithLabelValues(authInvalid).Inc()
		s.log.Debug("bearer token refused", slog.String("remote", r.RemoteAddr))
		w.Header().Set("WWW-Authenticate", `Bearer realm="jitscore", error="invalid_token"`)
		return writeError(w, http.StatusUnauthorized, "invalid bearer token", ""), false
	}
	return 0, true
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request, _ *serving) int {
	return writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyBody is the answer of GET /readyz.
type readyBody struct {
	Status          string    `json:"status"`
	SnapshotVersion string    `json:"snapshot_version,omitempty"`
	SnapshotAsOf    time.Time `json:"snapshot_as_of,omitzero"`
	ModelVersion    string    `json:"model_version,omitempty"`
	PolicyVersion   string    `json:"policy_version,omitempty"`
}

func (s *Server) handleReadyz(w http.ResponseWriter, _ *http.Request, sv *serving) int {
	switch {
	case sv == nil:
		return writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "loading"})
	case s.draining.Load():
		return writeJSON(w, http.StatusServiceUnavailable, readyBody{Status: "shutting down"})
	}
	return writeJSON(w, http.StatusOK, readyBody{
		Status:          "ready",
		SnapshotVersion: sv.SnapshotVersion,
		SnapshotAsOf:    sv.SnapshotAsOf,
		ModelVersion:    sv.ModelVersion,
		PolicyVersion:   sv.PolicyVersion,
	})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ *serving) int {
	if s.metricsH == nil {
		return writeError(w, http.StatusNotFound, "metrics are not served", "")
	}
	rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
	s.metricsH.ServeHTTP(rec, r)
	return rec.code
}

// statusRecorder remembers the status code a wrapped handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

// WriteHeader records code and passes it on.
func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// scoreOne decides one validated request and appends its audit record. The
// decision is only answered once the audit log has accepted its record.
func (s *Server) scoreOne(ctx context.Context, sv *serving, req models.ScoreRequest) (models.ScoreResponse, error) {
	resp, rec := safeScore(ctx, sv.Decider, req)
	if rec.Source == "" {
		rec.Source = "serve"
	}
	if err := s.opts.Audit.Append(rec); err != nil {
		s.log.Error("decision not recorded; answering unavailable",
			slog.String("request_id", req.RequestID), slog.Any("error", err))
		return resp, err
	}
	s.metrics.observeDecision(&resp)
	return resp, nil
}

// safeScore calls the decider and holds it to its contract: a panic or a
// decision that is not one of the three becomes review, so nothing that
// failed is ever auto-approved.
func safeScore(ctx context.Context, d Decider, req models.ScoreRequest) (resp models.ScoreResponse, rec AuditRecord) {
	defer func() {
		if p := recover(); p != nil {
			resp, rec = failedDecision(req, fmt.Sprintf("decider panicked: %v", p))
		}
	}()
	resp, rec = d.Score(ctx, req)
	if !knownDecision(resp.Decision) || !knownDecision(resp.PolicyDecision) {
		why := fmt.Sprintf("decider answered decision %q, policy decision %q", resp.Decision, resp.PolicyDecision)
		resp.Decision, resp.PolicyDecision = models.DecisionReview, models.DecisionReview
		rec.Decision, rec.PolicyDecision = models.DecisionReview, models.DecisionReview
		rec.Error = joinError(rec.Error, why)
	}
	if rec.Request == (models.ScoreRequest{}) {
		rec.Request = req
	}
	resp.RequestID = req.RequestID
	return resp, rec
}

// failedDecision is the answer for a request that could not be scored.
func failedDecision(req models.ScoreRequest, why string) (models.ScoreResponse, AuditRecord) {
	reasons := []models.Reason{{Factor: "error", Detail: "could not be scored; a person must review it"}}
	resp := models.ScoreResponse{
		RequestID:      req.RequestID,
		Risk:           1,
		Decision:       models.DecisionReview,
		PolicyDecision: models.DecisionReview,
		Reasons:        reasons,
	}
	rec := AuditRecord{
		Request:        req,
		Risk:           1,
		Decision:       models.DecisionReview,
		PolicyDecision: models.DecisionReview,
		Reasons:        reasons,
		Error:          why,
	}
	return resp, rec
}
