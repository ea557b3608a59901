package ingest

import "github.com/prometheus/client_golang/prometheus"

// Row kinds of the table loaders, the values of the kind label.
const (
	KindRequests     = "requests"
	KindIdentities   = "identities"
	KindEntitlements = "entitlements"
)

// Skip reasons, the values of the reason label of FilesSkipped.
const (
	SkipDigest      = "digest"
	SkipNotEvents   = "not_events"
	SkipNotJSON     = "not_json"
	SkipEmpty       = "empty"
	SkipUnchanged   = "unchanged"
	SkipBeforeSince = "before_since"
)

// Metrics counts what ingestion did. Build it with NewMetrics; a nil
// *Metrics is valid and counts nothing. Labels are bounded: kind is one of
// the Kind constants and reason one of the Skip constants.
type Metrics struct {
	// EventsLoaded counts CloudTrail events stored (new eventIDs).
	EventsLoaded prometheus.Counter
	// EventsDuplicate counts records whose eventID was already stored.
	EventsDuplicate prometheus.Counter
	// RecordsQuarantined counts records or files put in quarantine.
	RecordsQuarantined prometheus.Counter
	// FilesRead counts CloudTrail files and objects read.
	FilesRead prometheus.Counter
	// FilesSkipped counts files not read or holding no events, by reason.
	FilesSkipped *prometheus.CounterVec
	// RowsLoaded counts rows stored by the table loaders, by kind.
	RowsLoaded *prometheus.CounterVec
	// RowsRejected counts rows the table loaders refused, by kind.
	RowsRejected *prometheus.CounterVec
}

// NewMetrics builds the ingestion metrics and registers them with reg
// (jitscore_ingest_*). A nil reg leaves them unregistered, which tests use.
// Registering twice with one registry panics, as prometheus.MustRegister.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "jitscore", Subsystem: "ingest", Name: name, Help: help,
		})
	}
	vec := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "jitscore", Subsystem: "ingest", Name: name, Help: help,
		}, []string{label})
	}
	m := &Metrics{
		EventsLoaded:       counter("events_loaded_total", "CloudTrail events stored."),
		EventsDuplicate:    counter("events_duplicate_total", "CloudTrail records whose eventID was already stored."),
		RecordsQuarantined: counter("records_quarantined_total", "CloudTrail records or files put in quarantine."),
		FilesRead:          counter("files_read_total", "CloudTrail files and objects read."),
		FilesSkipped:       vec("files_skipped_total", "CloudTrail files skipped or holding no events, by reason.", "reason"),
		RowsLoaded:         vec("rows_loaded_total", "Rows stored by the table loaders, by kind.", "kind"),
		RowsRejected:       vec("rows_rejected_total", "Rows refused by the table loaders, by kind.", "kind"),
	}
	for _, k := range []string{KindRequests, KindIdentities, KindEntitlements} {
		m.RowsLoaded.WithLabelValues(k)
		m.RowsRejected.WithLabelValues(k)
	}
	for _, r := range []string{SkipDigest, SkipNotEvents, SkipNotJSON, SkipEmpty, SkipUnchanged, SkipBeforeSince} {
		m.FilesSkipped.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.EventsLoaded, m.EventsDuplicate, m.RecordsQuarantined, m.FilesRead,
			m.FilesSkipped, m.RowsLoaded, m.RowsRejected)
	}
	return m
}

// events adds one batch's outcome.
func (m *Metrics) events(loaded, duplicate, quarantined int) {
	if m == nil {
		return
	}
	m.EventsLoaded.Add(float64(loaded))
	m.EventsDuplicate.Add(float64(duplicate))
	m.RecordsQuarantined.Add(float64(quarantined))
}

func (m *Metrics) fileRead() {
	if m != nil {
		m.FilesRead.Inc()
	}
}

func (m *Metrics) skipped(reason string) {
	if m != nil {
		m.FilesSkipped.WithLabelValues(reason).Inc()
	}
}
