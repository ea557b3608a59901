package approve_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/scoring"
	"github.com/jitscore/jitscore/scoring/scoringtest"
)

// BenchmarkServeScore is one POST /v1/score through the whole handler (auth,
// decode, the real policy and prior model, audit append, metrics, encode)
// without the network, to show where a request's CPU goes.
func BenchmarkServeScore(b *testing.B) {
	audit, err := approve.OpenAuditLog(b.TempDir(), approve.AuditOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer audit.Close()
	srv, err := approve.NewServer(approve.ServerOptions{Audit: audit})
	if err != nil {
		b.Fatal(err)
	}
	model := scoring.PriorModel([]string{"department", "title"}, time.Now())
	dec := approve.NewPolicyDecider(approve.DefaultConfig(), scoringtest.Org(), model).WithClock(testClock)
	if err := srv.Install(approve.State{Decider: dec, Tokens: []string{tokenA}}); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	body := `{"request_id":"r1","requester":"alice@example.com","entitlement":"` + scoringtest.Deploy +
		`","duration":"8h","justification":"deploy the payments fix","requested_at":"` + scoringtest.RequestedAt + `"}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/v1/score", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tokenA)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != 200 {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
}
