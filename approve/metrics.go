package approve

import (
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jitscore/jitscore/models"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric label values. Labels stay bounded: a decision, a tier, an endpoint
// from the fixed route table, a result; never a requester or entitlement.
const (
	tierUnknown = "unknown"

	resultOK     = "ok"
	resultFailed = "failed"

	authMissing = "missing"
	authInvalid = "invalid"
)

// Endpoint label values, one per route of the HTTP API; anything else is
// "other" so that a scanner probing paths cannot grow the label set.
const (
	endpointScore    = "score"
	endpointBatch    = "score_batch"
	endpointRenewals = "renewals"
	endpointHealthz  = "healthz"
	endpointReadyz   = "readyz"
	endpointMetrics  = "metrics"
	endpointOther    = "other"
)

var endpoints = []string{
	endpointScore, endpointBatch, endpointRenewals, endpointHealthz, endpointReadyz,
	endpointMetrics, endpointOther,
}

// metricDecisions and metricTiers are every value the decision counters are
// pre-initialised with, so each series exists at zero before the first
// request.
var (
	metricDecisions = []models.Decision{
		models.DecisionAutoApprove, models.DecisionReview, models.DecisionDeny,
	}
	metricTiers = []string{
		string(models.TierLow), string(models.TierMedium), string(models.TierHigh),
		string(models.TierCritical), tierUnknown,
	}
)

// Metrics is every Prometheus metric of the scoring service and its audit
// log. Build it with NewMetrics; the zero value is not usable. All methods
// are safe for concurrent use and cost a few atomic operations.
type Metrics struct {
	// Decisions counts answered decisions by decision and tier.
	Decisions *prometheus.CounterVec
	// PolicyDecisions counts what the policy decided by decision and tier;
	// in shadow mode it differs from Decisions, which is then all review.
	PolicyDecisions *prometheus.CounterVec
	// Requests counts HTTP requests by endpoint and status code.
	Requests *prometheus.CounterVec
	// RequestDuration observes the time from reading the request to
	// writing the answer, per endpoint.
	RequestDuration *prometheus.HistogramVec
	// AuthFailures counts requests refused with 401, by reason (missing,
	// invalid).
	AuthFailures *prometheus.CounterVec
	// Reloads counts reload attempts by result (ok, failed).
	Reloads *prometheus.CounterVec
	// Ready is 1 once a snapshot and model are loaded, else 0.
	Ready prometheus.Gauge
	// AuditQueueDepth is the number of records accepted by the audit log
	// and not yet written to disk.
	AuditQueueDepth prometheus.Gauge
	// AuditWritten counts records written and fsynced.
	AuditWritten prometheus.Counter
	// AuditDropped counts records the audit log could not keep. It must
	// stay 0; anything else is a lost decision record and an alert.
	AuditDropped prometheus.Counter
	// AuditFlushDuration observes one batch's write and fsync.
	AuditFlushDuration prometheus.Histogram

	// Children of the vectors above looked up once, so that the decision
	// path does not hash label values on every request.
	decided       [3][5]prometheus.Counter // [Strictness][tier index]
	policyDecided [3][5]prometheus.Counter
	durations     map[string]prometheus.Observer // by endpoint; read-only after NewMetrics
	answered200   map[string]prometheus.Counter  // by endpoint, code 200

	snapshotAsOf atomic.Int64 // unix nanoseconds of the loaded snapshot, 0 when none
	snapshotAge  prometheus.GaugeFunc
	now          func() time.Time
}

// NewMetrics builds the metrics and registers them on reg. A nil reg leaves
// them unregistered, which is what unit tests that do not look at metrics
// want. NewMetrics panics if a metric of the same name is already
// registered on reg, as prometheus.MustRegister does.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Decisions: metricCounterVec("approve", "decisions_total",
			"Decisions answered, by decision and entitlement tier.", "decision", "tier"),
		PolicyDecisions: metricCounterVec("approve", "policy_decisions_total",
			"Decisions of the policy (what enforce mode answers), by decision and tier.", "decision", "tier"),
		Requests: metricCounterVec("http", "requests_total",
			"HTTP requests answered, by endpoint and status code.", "endpoint", "code"),
		RequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "jitscore", Subsystem: "http", Name: "request_duration_seconds",
			Help: "Time to answer an HTTP request, by endpoint.",
			Buckets: []float64{
				.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5,
			},
		}, []string{"endpoint"}),
		AuthFailures: metricCounterVec("http", "auth_failures_total",
			"Requests refused with 401, by reason (missing or invalid token).", "reason"),
		Reloads: metricCounterVec("serve", "reloads_total",
			"Reloads of config, snapshot and model, by result (ok or failed).", "result"),
		Ready: prometheus.NewGauge(metricGaugeOpts("serve", "ready",
			"1 once a snapshot and model are loaded and requests are scored, else 0.")),
		AuditQueueDepth: prometheus.NewGauge(metricGaugeOpts("audit", "queue_depth",
			"Decision records accepted and not yet written to the audit log.")),
		AuditWritten: prometheus.NewCounter(metricCounterOpts("audit", "records_written_total",
			"Decision records written and fsynced to the audit log.")),
		AuditDropped: prometheus.NewCounter(metricCounterOpts("audit", "records_dropped_total",
			"Decision records the audit log could not keep; anything above 0 is lost audit.")),
		AuditFlushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "jitscore", Subsystem: "audit", Name: "flush_duration_seconds",
			Help:    "Time to write and fsync one batch of audit records.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
		}),
		now: time.Now,
	}
	m.snapshotAge = prometheus.NewGaugeFunc(metricGaugeOpts("serve", "snapshot_age_seconds",
		"Seconds since the as-of instant of the loaded feature snapshot; NaN before one is loaded."),
		m.snapshotAgeSeconds)

	for _, d := range metricDecisions {
		for ti, t := range metricTiers {
			m.decided[d.Strictness()][ti] = m.Decisions.WithLabelValues(string(d), t)
			m.policyDecided[d.Strictness()][ti] = m.PolicyDecisions.WithLabelValues(string(d), t)
		}
	}
	for _, r := range []string{authMissing, authInvalid} {
		m.AuthFailures.WithLabelValues(r)
	}
	for _, r := range []string{resultOK, resultFailed} {
		m.Reloads.WithLabelValues(r)
	}
	m.durations = make(map[string]prometheus.Observer, len(endpoints))
	m.answered200 = make(map[string]prometheus.Counter, len(endpoints))
	for _, e := range endpoints {
		m.durations[e] = m.RequestDuration.WithLabelValues(e)
		m.answered200[e] = m.Requests.WithLabelValues(e, "200")
	}

	if reg != nil {
		reg.MustRegister(m.collectors()...)
	}
	return m
}

// metricOpts names a jitscore metric; counters and gauges share the type.
func metricOpts(subsystem, name, help string) prometheus.Opts {
	return prometheus.Opts{Namespace: "jitscore", Subsystem: subsystem, Name: name, Help: help}
}

func metricCounterOpts(subsystem, name, help string) prometheus.CounterOpts {
	return prometheus.CounterOpts(metricOpts(subsystem, name, help))
}

func metricGaugeOpts(subsystem, name, help string) prometheus.GaugeOpts {
	return prometheus.GaugeOpts(metricOpts(subsystem, name, help))
}

func metricCounterVec(subsystem, name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(metricCounterOpts(subsystem, name, help), labels)
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.Decisions, m.PolicyDecisions, m.Requests, m.RequestDuration, m.AuthFailures,
		m.Reloads, m.Ready, m.snapshotAge, m.AuditQueueDepth, m.AuditWritten,
		m.AuditDropped, m.AuditFlushDuration,
	}
}

// SetSnapshotAsOf records the as-of instant of the snapshot now serving; the
// snapshot age gauge counts from it. A zero t clears it.
func (m *Metrics) SetSnapshotAsOf(t time.Time) {
	if m == nil {
		return
	}
	if t.IsZero() {
		m.snapshotAsOf.Store(0)
		return
	}
	m.snapshotAsOf.Store(t.UnixNano())
}

func (m *Metrics) snapshotAgeSeconds() float64 {
	ns := m.snapshotAsOf.Load()
	if ns == 0 {
		return math.NaN()
	}
	return m.now().Sub(time.Unix(0, ns)).Seconds()
}

// observeDecision counts one answered decision. An unexpected decision
// counts as review and an unexpected tier as unknown, so the label set
// stays bounded.
func (m *Metrics) observeDecision(resp *models.ScoreResponse) {
	tier := resp.Tier.Rank()
	if tier < 0 {
		tier = len(metricTiers) - 1
	}
	m.decided[resp.Decision.Strictness()][tier].Inc()
	m.policyDecided[resp.PolicyDecision.Strictness()][tier].Inc()
}

// observeRequest counts one HTTP answer and its duration. endpoint is one
// of endpoints.
func (m *Metrics) observeRequest(endpoint string, code int, d time.Duration) {
	if c, ok := m.answered200[endpoint]; ok && code == 200 {
		c.Inc()
	} else {
		m.Requests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
	}
	m.durations[endpoint].Observe(d.Seconds())
}
