package approve_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/models"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// quiet discards the server's logs in tests.
var quiet = slog.New(slog.DiscardHandler)

const (
	tokenA = "token-a-0123456789abcdef"
	tokenB = "token-b-0123456789abcdef"
)

// contractDecider follows the Decider contract without a model: known
// people asking for known entitlements get the risk in risks, anyone or
// anything unknown is reviewed with a reason.
type contractDecider struct {
	version string
	people  map[string]bool
	risks   map[string]float64 // by entitlement
	panics  bool
}

func newContractDecider(version string) *contractDecider {
	return &contractDecider{
		version: version,
		people:  map[string]bool{"alice@example.com": true, "bob@example.com": true},
		risks:   map[string]float64{"aws:111122223333:ReadOnly": 0.05, "aws:111122223333:AdministratorAccess": 0.9},
	}
}

func (d *contractDecider) Score(_ context.Context, req models.ScoreRequest) (models.ScoreResponse, approve.AuditRecord) {
	if d.panics {
		panic("broken model")
	}
	resp := models.ScoreResponse{
		RequestID: req.RequestID, Risk: 1, Decision: models.DecisionReview,
		PolicyDecision: models.DecisionReview, ModelVersion: d.version, PolicyVersion: "p1",
	}
	risk, known := d.risks[req.Entitlement]
	switch {
	case !d.people[req.Requester]:
		resp.Reasons = []models.Reason{{Factor: "unknown_requester", Contribution: 1, Detail: "no identity record"}}
	case !known:
		resp.Reasons = []models.Reason{{Factor: "new_entitlement", Contribution: 1, Detail: "never requested before"}}
	default:
		resp.Risk = risk
		resp.Tier = models.TierLow
		if risk < 0.15 {
			resp.Decision, resp.PolicyDecision = models.DecisionAutoApprove, models.DecisionAutoApprove
		}
		resp.Reasons = []models.Reason{{Factor: "peer_used", Contribution: risk - 0.5, Detail: "peers use it"}}
	}
	rec := approve.AuditRecord{
		Request: req, Requester: req.Requester, Tier: resp.Tier, Risk: resp.Risk,
		Decision: resp.Decision, PolicyDecision: resp.PolicyDecision, Reasons: resp.Reasons,
		ModelVersion: d.version, PolicyVersion: "p1", Mode: "enforce",
	}
	return resp, rec
}

func (d *contractDecider) Renewals(context.Context, approve.RenewalQuery) ([]models.Renewal, error) {
	return nil, fmt.Errorf("renewals: %w", approve.ErrNotImplemented)
}

// countingSink is an in-memory AuditSink for tests that look at the HTTP
// layer only; the real AuditLog is used where records must reach disk.
type countingSink struct {
	mu      sync.Mutex
	records []approve.AuditRecord
	fail    bool
}

func (c *countingSink) Append(rec approve.AuditRecord) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail {
		return approve.ErrAuditFull
	}
	c.records = append(c.records, rec)
	return nil
}

func (c *countingSink) Close() error { return nil }

func (c *countingSink) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.records)
}

type testServer struct {
	srv     *approve.Server
	url     string
	metrics *approve.Metrics
	reg     *prometheus.Registry
	sink    *countingSink
}

// newTestServer starts the API on a loopback httptest server with st
// installed (unless install is false).
func newTestServer(t *testing.T, st approve.State, install bool) *testServer {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := approve.NewMetrics(reg)
	sink := &countingSink{}
	srv, err := approve.NewServer(approve.ServerOptions{Audit: sink, Metrics: m, Gatherer: reg, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if install {
		if err := srv.Install(st); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testServer{srv: srv, url: hs.URL, metrics: m, reg: reg, sink: sink}
}

func defaultState() approve.State {
	return approve.State{Decider: newContractDecider("m1"), Tokens: []string{tokenA, tokenB}, ModelVersion: "m1"}
}

type answer struct {
	code int
	body map[string]any
	raw  string
}

func post(t *testing.T, url, token, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func get(t *testing.T, url string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{code: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// runOnLoopback installs the default state on srv and runs it on a real
// 127.0.0.1 listener; stop cancels Run and returns its error.
func runOnLoopback(t *testing.T, srv *approve.Server, opts approve.HTTPOptions) (addr string, stop func() error) {
	t.Helper()
	if err := srv.Install(defaultState()); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln, opts) }()
	return ln.Addr().String(), func() error {
		cancel()
		return <-done
	}
}

// scoreOK posts body to url as a score request with tokenA and decodes the
// answer, failing the test unless it is 200.
func scoreOK(t *testing.T, url, body string) (models.ScoreResponse, answer) {
	t.Helper()
	a := post(t, url, tokenA, body)
	var resp models.ScoreResponse
	if a.code != 200 {
		t.Errorf("status %d: %s", a.code, a.raw)
		return resp, a
	}
	if err := json.Unmarshal([]byte(a.raw), &resp); err != nil {
		t.Fatalf("answer is not a decision: %v: %s", err, a.raw)
	}
	return resp, a
}

const okBody = `{"request_id":"r1","requester":"alice@example.com","entitlement":"aws:111122223333:ReadOnly","duration":"8h"}`

func TestServerAuthenticatesBearerTokens(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	cases := []struct {
		name     string
		header   string
		wantCode int
		wantMsg  string
	}{
		{"no header", "", 401, "missing bearer token"},
		{"basic scheme", "Basic " + tokenA, 401, "missing bearer token"},
		{"bearer without token", "Bearer ", 401, "missing bearer token"},
		{"wrong token", "Bearer nope-nope-nope-nope-nope", 401, "invalid bearer token"},
		{"prefix of a right token", "Bearer " + tokenA[:len(tokenA)-1], 401, "invalid bearer token"},
		{"right token with a suffix", "Bearer " + tokenA + "x", 401, "invalid bearer token"},
		{"first token", "Bearer " + tokenA, 200, ""},
		{"second token, lower-case scheme", "bearer " + tokenB, 200, ""},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(http.MethodPost, ts.url+"/v1/score", strings.NewReader(okBody))
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		a := do(t, req)
		if a.code != c.wantCode {
			t.Errorf("%s: status %d, want %d (%s)", c.name, a.code, c.wantCode, a.raw)
		}
		if c.wantMsg != "" && a.body["error"] != c.wantMsg {
			t.Errorf("%s: error %q, want %q", c.name, a.body["error"], c.wantMsg)
		}
		if strings.Contains(a.raw, tokenA[:10]) {
			t.Errorf("%s: answer echoes the token: %s", c.name, a.raw)
		}
	}
	if got := testutil.ToFloat64(ts.metrics.AuthFailures.WithLabelValues("missing")); got != 3 {
		t.Errorf("auth failures missing = %v, want 3", got)
	}
	if got := testutil.ToFloat64(ts.metrics.AuthFailures.WithLabelValues("invalid")); got != 3 {
		t.Errorf("auth failures invalid = %v, want 3", got)
	}
	if got := ts.sink.len(); got != 2 {
		t.Errorf("%d audit records, want 2 (only authenticated requests are decided)", got)
	}
}

func TestInstallRefusesUnauthenticatedOrWeakTokens(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		tokens   []string
		insecure bool
		wantErr  string
	}{
		{"no token", nil, false, "no bearer token"},
		{"short token", []string{"short"}, false, "shorter than 16"},
		{"no token with insecure-no-auth", nil, true, ""},
	}
	for _, c := range cases {
		srv, err := approve.NewServer(approve.ServerOptions{Audit: &countingSink{}, InsecureNoAuth: c.insecure, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		err = srv.Install(approve.State{Decider: newContractDecider("m1"), Tokens: c.tokens})
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: Install = %v, want nil", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: Install = %v, want an error about %q", c.name, err, c.wantErr)
		case c.wantErr != "" && srv.Ready():
			t.Errorf("%s: server is ready after a refused Install", c.name)
		}
	}
}

func TestServerWithoutAuthServesWhenInsecureNoAuth(t *testing.T) {
	t.Parallel()
	srv, err := approve.NewServer(approve.ServerOptions{Audit: &countingSink{}, InsecureNoAuth: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Install(approve.State{Decider: newContractDecider("m1")}); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	if a := post(t, hs.URL+"/v1/score", "", okBody); a.code != 200 {
		t.Errorf("status %d, want 200: %s", a.code, a.raw)
	}
}

func TestServerRefusesMalformedBodiesNamingTheField(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	cases := []struct {
		name      string
		path      string
		body      string
		wantCode  int
		wantField string
		wantMsg   string
	}{
		{"requester missing", "/v1/score", `{"request_id":"r","entitlement":"e"}`, 400, "requester", "required"},
		{"entitlement missing", "/v1/score", `{"request_id":"r","requester":"a"}`, 400, "entitlement", "required"},
		{"request id missing", "/v1/score", `{"requester":"a","entitlement":"e"}`, 400, "request_id", "required"},
		{"requester a number", "/v1/score", `{"request_id":"r","requester":7,"entitlement":"e"}`, 400, "requester", "want a JSON string"},
		{"duration unparsable", "/v1/score", `{"request_id":"r","requester":"a","entitlement":"e","duration":"soon"}`, 400, "duration", ""},
		{"requester given twice", "/v1/score", `{"request_id":"r","requester":"a","requester":"b","entitlement":"e"}`, 400, "requester", "given twice"},
		{"requested_at not RFC 3339", "/v1/score", `{"request_id":"r","requester":"a","entitlement":"e","requested_at":"yesterday"}`, 400, "requested_at", "RFC 3339"},
		{"requester too long", "/v1/score", `{"request_id":"r","requester":"` + strings.Repeat("a", 2000) + `","entitlement":"e"}`, 400, "requester", "longer than"},
		{"not JSON", "/v1/score", `{"request_id":`, 400, "", "body ends inside"},
		{"syntax error", "/v1/score", `{"request_id" "r"}`, 400, "", "not valid JSON"},
		{"empty body", "/v1/score", ``, 400, "", "body is empty"},
		{"array instead of object", "/v1/score", `[1,2]`, 400, "(body)", "want a JSON object"},
		{"two objects", "/v1/score", okBody + okBody, 400, "", "data after the JSON object"},
		{"batch without requests", "/v1/score/batch", `{}`, 400, "requests", "required"},
		{"batch item field", "/v1/score/batch", `{"requests":[` + okBody + `,{"request_id":"r2","requester":"a"}]}`, 400, "requests[1].entitlement", "required"},
		{"renewal grant without id", "/v1/renewals", `{"grants":[{"request_id":""}]}`, 400, "grants[0].request_id", "required"},
		{"renewal window unparsable", "/v1/renewals", `{"at":"2026-01-02T00:00:00Z","within":"a week"}`, 400, "within", ""},
	}
	for _, c := range cases {
		a := post(t, ts.url+c.path, tokenA, c.body)
		if a.code != c.wantCode {
			t.Errorf("%s: status %d, want %d: %s", c.name, a.code, c.wantCode, a.raw)
			continue
		}
		if got, _ := a.body["field"].(string); got != c.wantField {
			t.Errorf("%s: field %q, want %q (%s)", c.name, got, c.wantField, a.raw)
		}
		if msg, _ := a.body["error"].(string); !strings.Contains(msg, c.wantMsg) {
			t.Errorf("%s: error %q, want it to contain %q", c.name, msg, c.wantMsg)
		}
	}
	if got := ts.sink.len(); got != 0 {
		t.Errorf("%d audit records after only malformed requests, want 0", got)
	}
}

// TestServerDurationProblemSaysWhatItWantsOnce pins that an unparsable
// duration or renewal window is answered with one "want e.g." hint, and
// one is added when the parse error itself has none.
func TestServerDurationProblemSaysWhatItWantsOnce(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	cases := []struct{ path, body string }{
		{"/v1/score", `{"request_id":"r","requester":"a","entitlement":"e","duration":"forever"}`},
		{"/v1/score", `{"request_id":"r","requester":"a","entitlement":"e","duration":"-5"}`},
		{"/v1/renewals", `{"at":"2026-01-02T00:00:00Z","within":"a week"}`},
	}
	for _, c := range cases {
		a := post(t, ts.url+c.path, tokenA, c.body)
		msg, _ := a.body["error"].(string)
		if a.code != http.StatusBadRequest || strings.Count(msg, "want e.g.") != 1 {
			t.Errorf("%s: %d %q, want 400 with one \"want e.g.\"", c.body, a.code, msg)
		}
	}
}

func TestServerEnforcesBodyAndBatchLimits(t *testing.T) {
	t.Parallel()
	st := defaultState()
	st.MaxBodyBytes = 4096
	st.MaxBatch = 3
	ts := newTestServer(t, st, true)
	batch := func(n int) string {
		items := make([]string, n)
		for i := range items {
			items[i] = strings.Replace(okBody, `"r1"`, fmt.Sprintf(`"r%d"`, i), 1)
		}
		return `{"requests":[` + strings.Join(items, ",") + `]}`
	}
	cases := []struct {
		name      string
		path      string
		body      string
		wantCode  int
		wantField string
	}{
		{"body over the limit", "/v1/score", `{"request_id":"r","requester":"a","entitlement":"e","justification":"` +
			strings.Repeat("x", 5000) + `"}`, 413, ""},
		{"batch at the limit", "/v1/score/batch", batch(3), 200, ""},
		{"batch over the limit", "/v1/score/batch", batch(4), 413, "requests"},
		{"renewal grants over the limit", "/v1/renewals", `{"grants":[{"request_id":"a"},{"request_id":"b"},{"request_id":"c"},{"request_id":"d"}]}`, 413, "grants"},
	}
	for _, c := range cases {
		a := post(t, ts.url+c.path, tokenA, c.body)
		if a.code != c.wantCode {
			t.Errorf("%s: status %d, want %d: %.200s", c.name, a.code, c.wantCode, a.raw)
		}
		if got, _ := a.body["field"].(string); got != c.wantField {
			t.Errorf("%s: field %q, want %q", c.name, got, c.wantField)
		}
	}
	if a := post(t, ts.url+"/v1/score/batch", tokenA, batch(3)); len(a.body["decisions"].([]any)) != 3 {
		t.Errorf("batch of 3 answered %s", a.raw)
	}
}

func TestServerAnswersUnknownRequesterOrEntitlementWithReview(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	cases := []struct {
		name, body   string
		wantDecision string
		wantFactor   string
	}{
		{"known and routine", okBody, "auto_approve", "peer_used"},
		{"unknown requester", `{"request_id":"r2","requester":"mallory@example.com","entitlement":"aws:111122223333:ReadOnly"}`, "review", "unknown_requester"},
		{"unknown entitlement", `{"request_id":"r3","requester":"bob@example.com","entitlement":"stripe:refunds"}`, "review", "new_entitlement"},
	}
	for _, c := range cases {
		resp, a := scoreOK(t, ts.url+"/v1/score", c.body)
		if a.code != 200 {
			continue
		}
		if string(resp.Decision) != c.wantDecision || len(resp.Reasons) == 0 || resp.Reasons[0].Factor != c.wantFactor {
			t.Errorf("%s: answered %s, want %s because of %s", c.name, a.raw, c.wantDecision, c.wantFactor)
		}
	}
}

func TestServerAnswersReviewWhenTheDeciderPanics(t *testing.T) {
	t.Parallel()
	st := defaultState()
	st.Decider = &contractDecider{panics: true}
	ts := newTestServer(t, st, true)
	a := post(t, ts.url+"/v1/score", tokenA, okBody)
	if a.code != 200 || a.body["decision"] != "review" || a.body["policy_decision"] != "review" {
		t.Fatalf("answered %d %s, want 200 review", a.code, a.raw)
	}
	if recs := ts.sink.records; len(recs) != 1 || !strings.Contains(recs[0].Error, "panicked") {
		t.Errorf("audit records %+v, want one naming the panic", recs)
	}
}

func TestServerAnswersUnavailableWhenTheAuditLogRefuses(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	ts.sink.mu.Lock()
	ts.sink.fail = true
	ts.sink.mu.Unlock()
	if a := post(t, ts.url+"/v1/score", tokenA, okBody); a.code != 503 {
		t.Errorf("status %d, want 503 when the decision cannot be recorded: %s", a.code, a.raw)
	}
	if got := testutil.ToFloat64(ts.metrics.Decisions.WithLabelValues("auto_approve", "low")); got != 0 {
		t.Errorf("an unrecorded decision was counted: %v", got)
	}
}

func TestRenewalsAnswerNotImplementedWhenTheDeciderHasNone(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	a := post(t, ts.url+"/v1/renewals", tokenA, `{"at":"2026-01-02T00:00:00Z","within":"7d"}`)
	if a.code != 501 || a.body["error"] == nil {
		t.Errorf("renewals answered %d %s, want 501 with a JSON error", a.code, a.raw)
	}
}

func TestReadyzTurnsReadyOnceAStateIsInstalled(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, approve.State{}, false)
	if a := get(t, ts.url+"/healthz"); a.code != 200 {
		t.Errorf("healthz before load: %d, want 200 (alive)", a.code)
	}
	if a := get(t, ts.url+"/readyz"); a.code != 503 || a.body["status"] != "loading" {
		t.Errorf("readyz before load: %d %s, want 503 loading", a.code, a.raw)
	}
	if a := post(t, ts.url+"/v1/score", tokenA, okBody); a.code != 503 {
		t.Errorf("score before load: %d, want 503", a.code)
	}
	if got := testutil.ToFloat64(ts.metrics.Ready); got != 0 {
		t.Errorf("ready gauge before load = %v", got)
	}
	st := defaultState()
	st.SnapshotVersion, st.SnapshotAsOf = "s1", time.Now().Add(-time.Hour)
	if err := ts.srv.Install(st); err != nil {
		t.Fatal(err)
	}
	if a := get(t, ts.url+"/readyz"); a.code != 200 || a.body["snapshot_version"] != "s1" {
		t.Errorf("readyz after load: %d %s, want 200 with snapshot s1", a.code, a.raw)
	}
	if got := testutil.ToFloat64(ts.metrics.Ready); got != 1 {
		t.Errorf("ready gauge after load = %v", got)
	}
}

func TestServerAnswersUnknownPathsAndWrongMethods(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	if a := get(t, ts.url+"/v1/score"); a.code != 405 {
		t.Errorf("GET /v1/score: %d, want 405", a.code)
	}
	if a := get(t, ts.url+"/admin"); a.code != 404 {
		t.Errorf("GET /admin: %d, want 404", a.code)
	}
	if got := testutil.ToFloat64(ts.metrics.Requests.WithLabelValues("other", "404")); got != 1 {
		t.Errorf("unknown path counted as %v under endpoint other, want 1", got)
	}
}

// versionLoader alternates between two model versions, or fails.
type versionLoader struct {
	n    atomic.Int64
	fail atomic.Bool
}

func (l *versionLoader) load(context.Context) (approve.State, error) {
	if l.fail.Load() {
		return approve.State{}, errors.New("config.yaml:3: thresholds.deny_min: must be above auto_approve_max")
	}
	v := fmt.Sprintf("m%d", l.n.Add(1)%2)
	return approve.State{Decider: newContractDecider(v), Tokens: []string{tokenA}, ModelVersion: v}, nil
}

func TestReloadUnderLoadFailsNoRequest(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	loader := &versionLoader{}
	rl := approve.NewReloader(ts.srv, loader.load)

	const clients = 6
	stop := make(chan struct{})
	var answered, failed atomic.Int64
	versions := sync.Map{}
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	for range clients {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, ts.url+"/v1/score", strings.NewReader(okBody))
				req.Header.Set("Authorization", "Bearer "+tokenA)
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				var body models.ScoreResponse
				err = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
					continue
				}
				versions.Store(body.ModelVersion, true)
				answered.Add(1)
			}
		})
	}
	const reloads = 40
	for range reloads {
		if err := rl.Reload(context.Background(), "test"); err != nil {
			t.Errorf("reload: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	wg.Wait()

	if failed.Load() != 0 {
		t.Errorf("%d requests failed during %d reloads (%d answered)", failed.Load(), reloads, answered.Load())
	}
	if answered.Load() == 0 {
		t.Fatal("no request answered")
	}
	for _, v := range []string{"m0", "m1"} {
		if _, ok := versions.Load(v); !ok {
			t.Errorf("no answer came from model %s; reloads did not take effect", v)
		}
	}
	if got := testutil.ToFloat64(ts.metrics.Reloads.WithLabelValues("ok")); got != reloads {
		t.Errorf("reloads ok = %v, want %d", got, reloads)
	}
	if got := int64(ts.sink.len()); got != answered.Load() {
		t.Errorf("%d audit records for %d answers", got, answered.Load())
	}
}

func TestInvalidReloadIsRefusedCountedAndTheOldStateStays(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	loader := &versionLoader{}
	loader.fail.Store(true)
	rl := approve.NewReloader(ts.srv, loader.load)
	if err := rl.Reload(context.Background(), "sighup"); err == nil {
		t.Fatal("reload of an invalid config succeeded")
	}
	// A state without tokens is refused at install as well.
	rlNoTokens := approve.NewReloader(ts.srv, func(context.Context) (approve.State, error) {
		return approve.State{Decider: newContractDecider("m9")}, nil
	})
	if err := rlNoTokens.Reload(context.Background(), "sighup"); err == nil {
		t.Fatal("reload to a state without tokens succeeded")
	}
	if got := testutil.ToFloat64(ts.metrics.Reloads.WithLabelValues("failed")); got != 2 {
		t.Errorf("reloads failed = %v, want 2", got)
	}
	a := post(t, ts.url+"/v1/score", tokenB, okBody)
	if a.code != 200 || a.body["model_version"] != "m1" {
		t.Errorf("after refused reloads answered %d %s, want the old state (m1, token b)", a.code, a.raw)
	}
}

func TestWatchReloadsWhenAWatchedFileChanges(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	path := filepath.Join(t.TempDir(), "model.json")
	if err := os.WriteFile(path, []byte("v1"), 0o600); err != nil {
		t.Fatal(err)
	}
	loader := &versionLoader{}
	rl := approve.NewReloader(ts.srv, loader.load)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rl.Watch(ctx, 10*time.Millisecond, path)

	time.Sleep(50 * time.Millisecond)
	if got := testutil.ToFloat64(ts.metrics.Reloads.WithLabelValues("ok")); got != 0 {
		t.Fatalf("reloaded %v times without a change", got)
	}
	if err := os.WriteFile(path, []byte("version two"), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(ts.metrics.Reloads.WithLabelValues("ok")) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no reload within 5s of the file changing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if got := testutil.ToFloat64(ts.metrics.Reloads.WithLabelValues("ok")); got != 1 {
		t.Errorf("one change reloaded %v times, want 1", got)
	}
}

func TestShutdownDrainsTheAuditLogOfEveryAnsweredRequest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := approve.NewMetrics(nil)
	audit, err := approve.OpenAuditLog(dir, approve.AuditOptions{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := approve.NewServer(approve.ServerOptions{Audit: audit, Metrics: m, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := runOnLoopback(t, srv, approve.HTTPOptions{ShutdownTimeout: 10 * time.Second})
	url := "http://" + addr

	var answered atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				req, _ := http.NewRequest(http.MethodPost, url+"/v1/score/batch", strings.NewReader(
					`{"requests":[`+okBody+`,`+okBody+`]}`))
				req.Header.Set("Authorization", "Bearer "+tokenA)
				resp, err := client.Do(req)
				if err != nil {
					return // the listener has closed
				}
				var body struct{ Decisions []models.ScoreResponse }
				err = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 {
					answered.Add(int64(len(body.Decisions)))
				}
			}
		})
	}
	time.Sleep(400 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	wg.Wait()

	if answered.Load() == 0 {
		t.Fatal("no request answered before shutdown")
	}
	lines := segmentLines(t, dir)
	if int64(len(lines)) != answered.Load() {
		t.Errorf("audit holds %d records, %d decisions were answered", len(lines), answered.Load())
	}
	if got := testutil.ToFloat64(m.AuditDropped); got != 0 {
		t.Errorf("records dropped = %v", got)
	}
}

func TestMetricsAreExposedWithConventionalNamesAndValues(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, defaultState(), true)
	post(t, ts.url+"/v1/score", tokenA, okBody)
	post(t, ts.url+"/v1/score", tokenA, `{"request_id":"r2","requester":"mallory@example.com","entitlement":"x"}`)
	post(t, ts.url+"/v1/score", "", okBody)

	a := get(t, ts.url+"/metrics")
	if a.code != 200 {
		t.Fatalf("metrics: %d", a.code)
	}
	for _, want := range []string{
		`jitscore_approve_decisions_total{decision="auto_approve",tier="low"} 1`,
		`jitscore_approve_decisions_total{decision="review",tier="unknown"} 1`,
		`jitscore_approve_decisions_total{decision="deny",tier="critical"} 0`,
		`jitscore_approve_policy_decisions_total{decision="auto_approve",tier="low"} 1`,
		`jitscore_http_auth_failures_total{reason="missing"} 1`,
		`jitscore_http_auth_failures_total{reason="invalid"} 0`,
		`jitscore_http_requests_total{code="200",endpoint="score"} 2`,
		`jitscore_http_request_duration_seconds_count{endpoint="score"} 3`,
		`jitscore_serve_reloads_total{result="failed"} 0`,
		`jitscore_serve_ready 1`,
		`jitscore_audit_records_dropped_total 0`,
		`jitscore_serve_snapshot_age_seconds NaN`,
	} {
		if !strings.Contains(a.raw, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}

	problems, err := testutil.GatherAndLint(ts.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	if n := testutil.CollectAndCount(ts.metrics.Decisions); n != 15 {
		t.Errorf("%d decision series, want 15 (3 decisions x 5 tiers, pre-initialised)", n)
	}
}

func TestSnapshotAgeCountsFromTheInstalledSnapshot(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, approve.State{}, false)
	st := defaultState()
	st.SnapshotAsOf = time.Now().Add(-2 * time.Hour)
	if err := ts.srv.Install(st); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	a := get(t, ts.url+"/metrics")
	buf.WriteString(a.raw)
	var age float64
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "jitscore_serve_snapshot_age_seconds "); ok {
			fmt.Sscan(v, &age)
		}
	}
	if age < 7190 || age > 7300 {
		t.Errorf("snapshot age %v s, want about 7200", age)
	}
}

// writeTestCert writes a self-signed certificate for 127.0.0.1 and its key
// as PEM files and returns their paths and a pool that trusts it.
func writeTestCert(t *testing.T) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "jitscore test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}

func TestRunServesTLSWhenACertificateIsConfigured(t *testing.T) {
	t.Parallel()
	certPath, keyPath, pool := writeTestCert(t)
	srv, err := approve.NewServer(approve.ServerOptions{Audit: &countingSink{}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := runOnLoopback(t, srv, approve.HTTPOptions{TLSCert: certPath, TLSKey: keyPath})
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	req, _ := http.NewRequest(http.MethodPost, "https://"+addr+"/v1/score", strings.NewReader(okBody))
	req.Header.Set("Authorization", "Bearer "+tokenA)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("score over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("score over TLS: status %d, tls %v", resp.StatusCode, resp.TLS != nil)
	}
	plain, err := http.Get("http://" + addr + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Error("plain HTTP was answered 200 on the TLS listener")
		}
	}
}

func TestRunRefusesAMissingCertificateAndClosesTheAuditLog(t *testing.T) {
	t.Parallel()
	audit, err := approve.OpenAuditLog(t.TempDir(), approve.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := approve.NewServer(approve.ServerOptions{Audit: audit, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = srv.Run(context.Background(), ln, approve.HTTPOptions{TLSCert: "/nonexistent/cert.pem", TLSKey: "/nonexistent/key.pem"})
	if err == nil || !strings.Contains(err.Error(), "server.tls_cert") {
		t.Errorf("Run with a missing certificate = %v, want an error naming server.tls_cert", err)
	}
	if err := audit.Append(testRecord(1)); !errors.Is(err, approve.ErrAuditClosed) {
		t.Errorf("audit log still open after Run failed: %v", err)
	}
}

func TestEveryMetricPassesTheLinter(t *testing.T) {
	t.Parallel()
	m := approve.NewMetrics(nil)
	for _, c := range []prometheus.Collector{
		m.Decisions, m.PolicyDecisions, m.Requests, m.RequestDuration, m.AuthFailures, m.Reloads,
		m.Ready, m.AuditQueueDepth, m.AuditWritten, m.AuditDropped, m.AuditFlushDuration,
	} {
		problems, err := testutil.CollectAndLint(c)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("metric %s: %s", p.Metric, p.Text)
		}
	}
}
