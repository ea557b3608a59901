package scoring_test

import (
	"fmt"
	"time"

	"github.com/jitscore/jitscore/models"
	"github.com/jitscore/jitscore/scoring"
	st "github.com/jitscore/jitscore/scoring/scoringtest"
)

// Scoring one request against a snapshot with the cold-start prior, and
// reading the factors behind the risk.
func ExampleModel_Score() {
	m := scoring.PriorModel([]string{"department", "title"}, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	sc := m.Score(st.Org(), scoring.Request{
		Requester:     st.Alice,
		Entitlement:   st.Deploy,
		RequestedAt:   time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC),
		Duration:      2 * time.Hour,
		Justification: "deploy hotfix OPS-1234",
		Tier:          models.TierMedium,
	})
	fmt.Printf("risk %.3f\n", sc.Risk)
	for _, r := range sc.Reasons(3) {
		fmt.Printf("%+.2f %s: %s\n", r.Contribution, r.Factor, r.Detail)
	}
	// Output:
	// risk 0.005
	// -1.68 history_used: alice@example.com was granted this 4 times and used it each time
	// -0.33 attribute_deny_max: 1 of 36 requests for this from people with title=Backend Engineer were denied
	// -0.31 requester_deny_rate: alice@example.com had 0 of 10 decided requests denied
}

// The peer baseline and the model are compared with the same metrics.
func ExampleAutoShare() {
	risk := []float64{0.02, 0.03, 0.05, 0.2, 0.6, 0.9}
	denied := []bool{false, false, false, true, false, true}
	share, threshold := scoring.AutoShare(risk, denied, 0.01)
	fmt.Printf("auto-approvable %.0f%% at risk <= %.2f; AUC %.2f\n", 100*share, threshold, scoring.AUC(risk, denied))
	// Output:
	// auto-approvable 50% at risk <= 0.05; AUC 0.88
}
