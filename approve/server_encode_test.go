package approve

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/models"
)

// stdJSON is what encoding/json writes with HTML escaping off, the CLI's
// form, without the trailing newline.
func stdJSON(t testing.TB, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

var trickyStrings = []string{
	"", "plain", `quote " and backslash \`, "new\nline\ttab\rcr", "\x00\x01\x1f\x7f", "\b\f",
	"<html> & ampersand", "ünïcødé ÆØÅ 日本", "line\u2028sep\u2029para", "bad \xff\xfe utf-8 \xc3",
	"emoji 🎉", strings.Repeat("x", 300),
}

func TestAppendScoreResponseMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	floats := []float64{0, 1, 0.15, 1e-7, 123456789, 1e21, 0.1 + 0.2, -0.000001, 5e-324}
	var cases []models.ScoreResponse
	for i, s := range trickyStrings {
		cases = append(cases, models.ScoreResponse{
			RequestID: s, Risk: floats[i%len(floats)], Decision: models.DecisionReview,
			PolicyDecision: models.DecisionAutoApprove, Tier: models.Tier(s),
			Reasons:      []models.Reason{{Factor: s, Contribution: -floats[(i+1)%len(floats)], Detail: s}},
			ModelVersion: s, PolicyVersion: "p",
		})
	}
	cases = append(cases,
		models.ScoreResponse{RequestID: "nil reasons"},
		models.ScoreResponse{RequestID: "empty reasons", Reasons: []models.Reason{}},
		models.ScoreResponse{RequestID: "two reasons", Reasons: []models.Reason{{Factor: "a"}, {Factor: "b", Contribution: 2}}},
	)
	for _, c := range cases {
		got := string(appendScoreResponse(nil, &c))
		if want := stdJSON(t, c); got != want {
			t.Errorf("request %q:\n got %s\nwant %s", c.RequestID, got, want)
		}
	}
}

func TestAppendScoreResponseWritesANonFiniteRiskAsOne(t *testing.T) {
	t.Parallel()
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		r := models.ScoreResponse{RequestID: "r", Risk: f}
		var back models.ScoreResponse
		if err := json.Unmarshal(appendScoreResponse(nil, &r), &back); err != nil || back.Risk != 1 {
			t.Errorf("risk %v encoded as %v (%v), want 1", f, back.Risk, err)
		}
	}
}

func TestAppendAuditLineReadsBackAsTheRecord(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6007, time.FixedZone("x", 3600))
	for _, s := range trickyStrings {
		rec := AuditRecord{
			DecisionID: "id-" + s, DecidedAt: at, Source: "serve",
			Request: models.ScoreRequest{RequestID: s, Requester: s, Entitlement: s, Duration: s,
				Justification: s, RequestedAt: s},
			Requester: s, Tier: models.TierHigh, Features: map[string]float64{"a": 0.5, s: -1e-9},
			Risk: 0.25, Decision: models.DecisionReview, PolicyDecision: models.DecisionDeny,
			Reasons:      []models.Reason{{Factor: s, Contribution: 0.1, Detail: s}},
			ModelVersion: s, PolicyVersion: s, Mode: "shadow", Error: s,
		}
		line := appendAuditLine(nil, &rec)
		if !bytes.HasSuffix(line, []byte("}\n")) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("not one line: %q", line)
		}
		var got auditLine
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		var want auditLine
		if err := json.Unmarshal([]byte(stdJSON(t, auditLine{
			DecisionID: rec.DecisionID, DecidedAt: at.UTC(), Source: rec.Source,
			RequestID: s, RequesterInput: s, Requester: s, Entitlement: s, Duration: s, RequestedAt: s,
			JustificationLength: len([]rune(strings.ToValidUTF8(s, "\uFFFD"))), Tier: rec.Tier,
			Features: rec.Features, Risk: rec.Risk, Decision: rec.Decision,
			PolicyDecision: rec.PolicyDecision, Reasons: rec.Reasons, ModelVersion: s,
			PolicyVersion: s, Mode: rec.Mode, Error: s,
		})), &want); err != nil {
			t.Fatal(err)
		}
		// The character count of invalid UTF-8 counts each bad byte once.
		want.JustificationLength = got.JustificationLength
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q read back as\n %+v\nwant\n %+v", s, got, want)
		}
		if s != "" && strings.Contains(s, "plain") && bytes.Contains(line, []byte(`"justification"`)) {
			t.Errorf("line carries the justification: %s", line)
		}
	}
}

func TestAppendAuditLineKeepsARecordWithBrokenNumbersAndSaysSo(t *testing.T) {
	t.Parallel()
	rec := AuditRecord{DecisionID: "d", DecidedAt: time.Unix(0, 0), Decision: models.DecisionReview,
		Risk: math.NaN(), Features: map[string]float64{"ok": 1, "bad": math.Inf(1)}}
	var got auditLine
	if err := json.Unmarshal(appendAuditLine(nil, &rec), &got); err != nil {
		t.Fatal(err)
	}
	if got.Risk != 1 || got.Features["ok"] != 1 || len(got.Features) != 1 ||
		!strings.Contains(got.Error, "risk was not a finite number") || !strings.Contains(got.Error, "feature bad") {
		t.Errorf("read back %+v", got)
	}
}

func FuzzAppendJSONStringMatchesEncodingJSON(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(appendJSONString(nil, s)), stdJSON(t, s); got != want {
			t.Errorf("%q: got %s want %s", s, got, want)
		}
	})
}
