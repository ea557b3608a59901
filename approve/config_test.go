package approve

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/models"
)

func parse(t *testing.T, text string) (*Config, *ValidationError) {
	t.Helper()
	cfg, err := ParseConfig(strings.NewReader(text), "test.yaml")
	if err == nil {
		return cfg, nil
	}
	ve, ok := IsValidationError(err)
	if !ok {
		t.Fatalf("ParseConfig error is %T, want *ValidationError: %v", err, err)
	}
	return nil, ve
}

func TestExampleConfigParsesToDefaults(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := ParseConfig(f, "config.example.yaml")
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	want := DefaultConfig()
	if got, w := cfg.PolicyVersion(), want.PolicyVersion(); got != w {
		t.Errorf("example policy version %s, defaults %s", got, w)
	}
	cfg.source, cfg.lines = "", nil
	// The example writes tokens: [] where the default is nil.
	cfg.Server.Tokens = nil
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("example config differs from DefaultConfig:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestExampleConfigCommentsEveryKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		s := strings.TrimSpace(l)
		// Blank lines, comments, commented values and section headers
		// (whose keys below carry the comments) pass.
		if s == "" || strings.Contains(s, "#") || strings.HasSuffix(s, ":") {
			continue
		}
		t.Errorf("config.example.yaml:%d: key without a comment: %s", i+1, s)
	}
}

func TestEmptyConfigIsDefaults(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "\n", "# only a comment\n", "---\n"} {
		cfg, ve := parse(t, text)
		if ve != nil {
			t.Fatalf("%q: %v", text, ve)
		}
		if cfg.PolicyVersion() != DefaultConfig().PolicyVersion() {
			t.Errorf("%q: policy version differs from defaults", text)
		}
	}
}

func TestConfigFileNamesOnlyWhatItChanges(t *testing.T) {
	t.Parallel()
	cfg, ve := parse(t, `
mode: enforce
thresholds: {deny_min: 0.9}
guardrails:
  max_duration: {high: 2h}
windows: {peer: 30d}
`)
	if ve != nil {
		t.Fatal(ve)
	}
	if cfg.Mode != ModeEnforce {
		t.Errorf("mode %q", cfg.Mode)
	}
	if cfg.Thresholds.DenyMin != 0.9 || cfg.Thresholds.AutoApproveMax != 0.15 {
		t.Errorf("thresholds %+v: want deny_min changed and auto_approve_max kept", cfg.Thresholds)
	}
	md := cfg.Guardrails.MaxDuration
	if md[models.TierHigh] != 2*time.Hour || md[models.TierLow] != 24*time.Hour || md[models.TierCritical] != time.Hour {
		t.Errorf("max_duration %v: want high changed and the rest kept", md)
	}
	if cfg.Windows.Peer != 30*24*time.Hour || cfg.Windows.Usage != 90*24*time.Hour {
		t.Errorf("windows %+v", cfg.Windows)
	}
	if len(cfg.Tiers) != 2 {
		t.Errorf("tiers %v: want the defaults kept", cfg.Tiers)
	}
	if DefaultConfig().Guardrails.MaxDuration[models.TierHigh] != 4*time.Hour {
		t.Error("parsing changed the defaults")
	}
}

func TestConfigListsReplaceDefaults(t *testing.T) {
	t.Parallel()
	cfg, ve := parse(t, `
tiers:
  - {match: "stripe:*", tier: high}
guardrails:
  never_auto_approve: []
`)
	if ve != nil {
		t.Fatal(ve)
	}
	if len(cfg.Tiers) != 1 || cfg.Tiers[0].Tier != models.TierHigh {
		t.Errorf("tiers %v", cfg.Tiers)
	}
	if len(cfg.Guardrails.NeverAutoApprove) != 0 {
		t.Errorf("never_auto_approve %v: want emptied", cfg.Guardrails.NeverAutoApprove)
	}
}

func TestConfigProblemsNameLineAndPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []Problem // path and line; Msg must contain the given text
	}{
		{
			name: "unknown top-level key",
			text: "mode: shadow\nthreshold: {}\n",
			want: []Problem{{Path: "threshold", Line: 2, Msg: "unknown key"}},
		},
		{
			name: "unknown nested key",
			text: "thresholds:\n  auto_approve_max: 0.1\n  deny: 0.9\n",
			want: []Problem{{Path: "thresholds.deny", Line: 3, Msg: "unknown key"}},
		},
		{
			name: "thresholds crossed",
			text: "thresholds:\n  auto_approve_max: 0.9\n  deny_min: 0.5\n",
			want: []Problem{{Path: "thresholds.auto_approve_max", Line: 2, Msg: "must be below deny_min"}},
		},
		{
			name: "threshold out of range",
			text: "thresholds: {deny_min: 1.5}\n",
			want: []Problem{{Path: "thresholds.deny_min", Line: 1, Msg: "[0, 1]"}},
		},
		{
			name: "not a number",
			text: "thresholds:\n  deny_min: high\n",
			want: []Problem{{Path: "thresholds.deny_min", Line: 2, Msg: "want a number"}},
		},
		{
			name: "unknown tier and bad glob",
			text: "tiers:\n  - {match: \"aws:*\", tier: extreme}\n  - match: \"aws:[0-9]*\"\n    tier: low\n",
			want: []Problem{
				{Path: "tiers[0].tier", Line: 2, Msg: "unknown tier"},
				{Path: "tiers[1].match", Line: 3, Msg: "not supported"},
			},
		},
		{
			name: "bad duration",
			text: "guardrails:\n  max_duration:\n    high: forever\n",
			want: []Problem{{Path: "guardrails.max_duration.high", Line: 3, Msg: "duration"}},
		},
		{
			name: "unknown tier in max_duration",
			text: "guardrails:\n  max_duration: {urgent: 1h}\n",
			want: []Problem{{Path: "guardrails.max_duration.urgent", Line: 2, Msg: "unknown tier"}},
		},
		{
			name: "guardrail may not auto-approve",
			text: "guardrails: {unknown_requester: auto_approve}\n",
			want: []Problem{{Path: "guardrails.unknown_requester", Line: 1, Msg: "want review or deny"}},
		},
		{
			name: "list where a value belongs",
			text: "mode: [shadow]\n",
			want: []Problem{{Path: "mode", Line: 1, Msg: "want a single value"}},
		},
		{
			name: "yaml syntax",
			text: "mode: shadow\nthresholds:\n  deny_min: 0.9\n bad: 1\n",
			want: []Problem{{Line: 3}},
		},
		{
			name: "apply needs ids",
			text: "renewal:\n  apply: true\n",
			want: []Problem{
				{Path: "renewal.identity_center_instance_arn", Line: 2, Msg: "needs"},
				{Path: "renewal.identity_store_id", Line: 2, Msg: "needs"},
			},
		},
		{
			name: "apply with a bad ARN names the ARN's line",
			text: "renewal:\n  apply: true\n  identity_store_id: d-1234567890\n  identity_center_instance_arn: nope\n",
			want: []Problem{{Path: "renewal.identity_center_instance_arn", Line: 4, Msg: "needs"}},
		},
		{
			name: "second YAML document",
			text: "---\nmode: enforce\n---\nmode: shadow\n",
			want: []Problem{{Line: 3, Msg: "a second YAML document"}},
		},
		{
			name: "short token",
			text: "server:\n  tokens:\n    - 0123456789abcdef\n    - abc\n",
			want: []Problem{{Path: "server.tokens[1]", Line: 4, Msg: "shorter than 16 characters"}},
		},
		{
			name: "tls half set",
			text: "server:\n  tls_cert: cert.pem\n",
			want: []Problem{{Path: "server.tls_cert", Line: 2, Msg: "set both"}},
		},
		{
			name: "duplicate key",
			text: "mode: shadow\nmode: enforce\n",
			want: []Problem{{Path: "mode", Line: 2, Msg: "twice"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ve := parse(t, tt.text)
			if ve == nil {
				t.Fatal("no error")
			}
			if len(ve.Problems) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ve.Problems), len(tt.want), ve)
			}
			for i, w := range tt.want {
				g := ve.Problems[i]
				if g.Path != w.Path || (w.Line != 0 && g.Line != w.Line) || !strings.Contains(g.Msg, w.Msg) {
					t.Errorf("problem %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

// TestConfigProblemsNeverQuoteATokenOrLoseTheLine pins that a short token
// is reported without its value and that problems come with a line.
func TestConfigProblemsNeverQuoteATokenOrLoseTheLine(t *testing.T) {
	t.Parallel()
	_, ve := parse(t, "server: {tokens: [\"abc\"]}\n")
	if ve == nil {
		t.Fatal("a 3-character token passed config check")
	}
	if msg := ve.Error(); strings.Contains(msg, "abc") || !strings.Contains(msg, "test.yaml:1:") {
		t.Errorf("problem = %q, want the line and no token", msg)
	}
}

func TestConfigGathersEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	_, ve := parse(t, `mode: loud
thresholds: {auto_approve_max: -1}
bogus: 1
tiers:
  - {match: "", tier: low}
personas: {min_members: 0}
server: {listen: nowhere}
`)
	if ve == nil {
		t.Fatal("no error")
	}
	paths := map[string]int{}
	for _, p := range ve.Problems {
		paths[p.Path] = p.Line
	}
	for path, line := range map[string]int{
		"mode": 1, "thresholds.auto_approve_max": 2, "bogus": 3, "tiers[0].match": 5,
		"personas.min_members": 6, "server.listen": 7,
	} {
		if got, ok := paths[path]; !ok || got != line {
			t.Errorf("problem at %s: line %d (found %v), want line %d\n%v", path, got, ok, line, ve)
		}
	}
	if !strings.Contains(ve.Error(), "test.yaml:1: mode: ") {
		t.Errorf("Error() does not use FILE:LINE: path: message:\n%s", ve.Error())
	}
}

func TestValidateDefaults(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Thresholds.AutoApproveMax = 0.9
	err := c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Problems[0].Line != 0 {
		t.Fatalf("got %v, want a problem without a line", err)
	}
}

func TestPolicyVersion(t *testing.T) {
	t.Parallel()
	a, b := DefaultConfig(), DefaultConfig()
	if a.PolicyVersion() != b.PolicyVersion() {
		t.Fatal("equal configs, different versions")
	}
	b.Thresholds.AutoApproveMax = 0.1
	if a.PolicyVersion() == b.PolicyVersion() {
		t.Error("threshold change kept the version")
	}
	c, _ := parse(t, "# comments and layout do not matter\nthresholds:\n    auto_approve_max:   0.15\n")
	if c.PolicyVersion() != a.PolicyVersion() {
		t.Error("layout changed the version")
	}
}

func TestRedactedHidesTokens(t *testing.T) {
	t.Parallel()
	cfg, ve := parse(t, "server:\n  tokens: [s3cr3t-token-one, s3cr3t-token-two]\n")
	if ve != nil {
		t.Fatal(ve)
	}
	r := cfg.Redacted()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte("s3cr3t")) {
		t.Errorf("redacted view leaks a token: %s", b)
	}
	if len(r.Server.Tokens) != 2 || cfg.Server.Tokens[0] != "s3cr3t-token-one" {
		t.Errorf("Redacted changed the original or dropped the count: %v / %v", r.Server.Tokens, cfg.Server.Tokens)
	}
}

func TestTierOf(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Tiers = append(cfg.Tiers, TierRule{Match: "stripe:refund?", Tier: models.TierHigh})
	tests := []struct {
		id        string
		catalogue models.Tier
		want      models.Tier
	}{
		{"aws:111122223333:AdministratorAccess", "", models.TierCritical},
		{"aws:111122223333:AdministratorAccess", models.TierHigh, models.TierHigh},
		{"aws:111122223333:ViewOnlyReadOnlyAccess", "", models.TierLow},
		{"aws:111122223333:ReadOnly", "", models.TierLow},
		{"aws:111122223333:PowerUser", "", models.TierMedium},
		{"stripe:refunds", "", models.TierHigh},
		{"stripe:refund", "", models.TierMedium},
		{"github:admin", "bogus", models.TierMedium},
	}
	for _, tt := range tests {
		if got := cfg.TierOf(tt.id, tt.catalogue); got != tt.want {
			t.Errorf("TierOf(%q, %q) = %q, want %q", tt.id, tt.catalogue, got, tt.want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "a:b:c", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"aws:*:Admin", "aws:1:2:Admin", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("..", "config.example.yaml")); err == nil {
		f.Add(string(data))
	}
	f.Add("mode: enforce\nthresholds: {auto_approve_max: 0.2}\n")
	f.Add("a: &x [*x]\n")
	f.Add("guardrails: {max_duration: {high: PT4H}}\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := ParseConfig(strings.NewReader(text), "fuzz.yaml")
		if err != nil {
			ve, ok := IsValidationError(err)
			if !ok || len(ve.Problems) == 0 {
				t.Fatalf("error without problems: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseConfig accepted a config Validate rejects: %v", err)
		}
		_ = cfg.PolicyVersion()
	})
}
