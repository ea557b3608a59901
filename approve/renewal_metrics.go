package approve

import (
	"github.com/jitscore/jitscore/models"
	"github.com/prometheus/client_golang/prometheus"
)

// ssoAdminOperations are the sso-admin operations a Revoker calls, the
// values of the operation label.
var ssoAdminOperations = []string{
	"ListPermissionSets", "DescribePermissionSet", "ListAccountAssignments", "DeleteAccountAssignment",
}

// RenewalMetrics counts renewal review and its enforcement. Labels are
// bounded: an action, an apply result, an sso-admin operation and outcome;
// never a requester, an entitlement or an ARN. Every known label
// combination is pre-initialised, so each series exists at zero.
type RenewalMetrics struct {
	// Actions counts reviewed grants by action (renew, revoke, review).
	Actions *prometheus.CounterVec
	// Revocations counts applied revocations by result (deleted,
	// already_absent, skipped, failed).
	Revocations *prometheus.CounterVec
	// Calls counts sso-admin calls by operation and outcome (ok,
	// not_found, error).
	Calls *prometheus.CounterVec
}

// NewRenewalMetrics builds the metrics and registers them with reg; a nil
// reg leaves them unregistered, which tests use. It panics if reg already
// holds metrics of these names, as prometheus.MustRegister does.
func NewRenewalMetrics(reg prometheus.Registerer) *RenewalMetrics {
	m := &RenewalMetrics{
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "jitscore", Subsystem: "renewal", Name: "actions_total",
			Help: "Grants reviewed at renewal, by action.",
		}, []string{"action"}),
		Revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "jitscore", Subsystem: "renewal", Name: "revocations_total",
			Help: "Revocations applied in IAM Identity Center, by result.",
		}, []string{"result"}),
		Calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "jitscore", Subsystem: "renewal", Name: "ssoadmin_calls_total",
			Help: "IAM Identity Center sso-admin calls made to apply revocations, by operation and outcome.",
		}, []string{"operation", "outcome"}),
	}
	for _, a := range []models.RenewalAction{models.RenewalRenew, models.RenewalRevoke, models.RenewalReview} {
		m.Actions.WithLabelValues(string(a))
	}
	for _, r := range []string{ApplyDeleted, ApplyAlreadyAbsent, ApplySkipped, ApplyFailed} {
		m.Revocations.WithLabelValues(r)
	}
	for _, op := range ssoAdminOperations {
		for _, o := range []string{CallOK, CallNotFound, CallError} {
			m.Calls.WithLabelValues(op, o)
		}
	}
	if reg != nil {
		reg.MustRegister(m.Actions, m.Revocations, m.Calls)
	}
	return m
}

// Count adds a review's actions to Actions.
func (m *RenewalMetrics) Count(rs []models.Renewal) {
	for _, r := range rs {
		m.Actions.WithLabelValues(string(r.Action)).Inc()
	}
}
