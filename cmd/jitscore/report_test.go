package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// ndjsonRows decodes the NDJSON of writeRows.
func ndjsonRows(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var rows []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%v: %s", err, sc.Text())
		}
		rows = append(rows, m)
	}
	return rows
}

// cells renders the named fields of a row as "k=v" text, for comparing a
// row against its expectation in one line.
func cells(row map[string]any, keys ...string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%v", k, row[k])
	}
	return strings.Join(parts, " ")
}

func TestReportCommandExactFiguresOnAHandMadeHistory(t *testing.T) {
	t.Parallel()
	db := analystDB(t)
	at := []string{"--db", db, "--at", "2025-01-20T00:00:00Z", "--window", "30d", "--format", "json"}

	personas := ndjsonRows(t, analystRun(t, append([]string{"report", "personas"}, at...)...))
	byID := map[string]map[string]any{}
	for _, p := range personas {
		byID[p["persona_id"].(string)] = p
	}
	tests := []struct {
		name, id, keys, want string
	}{
		// alice, bob and carol asked 7 times in the window (r10 pending),
		// all 6 decided were approved; dave (Other) was denied twice;
		// mallory has no identity and counts for no persona.
		{"backend", "attr:Engineering/Backend", "name members requests approved denied approval_rate",
			"name=Engineering / Backend members=3 requests=7 approved=6 denied=0 approval_rate=1"},
		{"other", "attr:other", "members requests approved denied approval_rate",
			"members=1 requests=2 approved=0 denied=2 approval_rate=0"},
		{"backend coverage", "attr:Engineering/Backend", "dominant_attributes top_entitlements",
			"dominant_attributes=[department=Engineering (100%) title=Backend (100%)] " +
				"top_entitlements=[aws:111122223333:PowerUser granted 2/3 used 1/3 " +
				"aws:111122223333:AdministratorAccess granted 2/3 used 0/3]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row, ok := byID[tc.id]
			if !ok {
				t.Fatalf("no persona %s in %v", tc.id, personas)
			}
			if got := cells(row, strings.Fields(tc.keys)...); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}

	// Every grant but r5 went unused: alice's r1 and bob's r2 and r6 of
	// PowerUser, alice's r4 and carol's r8 of the admin role.
	unused := ndjsonRows(t, analystRun(t, append([]string{"report", "unused"}, at...)...))
	want := []string{
		"kind=jit persona_id=attr:Engineering/Backend entitlement=aws:111122223333:PowerUser tier=medium " +
			"grants=4 unused=3 unused_share=0.75 people=[alice bob]",
		"kind=jit persona_id=attr:Engineering/Backend entitlement=aws:111122223333:AdministratorAccess " +
			"tier=critical grants=2 unused=2 unused_share=1 people=[alice carol]",
	}
	if len(unused) != len(want) {
		t.Fatalf("got %d unused rows, want %d: %v", len(unused), len(want), unused)
	}
	for i, w := range want {
		if got := cells(unused[i], "kind", "persona_id", "entitlement", "tier", "grants", "unused",
			"unused_share", "people"); got != w {
			t.Errorf("unused row %d:\ngot  %s\nwant %s", i, got, w)
		}
	}

	ents := ndjsonRows(t, analystRun(t, append([]string{"report", "entitlements"}, at...)...))
	if len(ents) != 2 {
		t.Fatalf("got %d entitlements, want 2", len(ents))
	}
	pu := cells(ents[0], "entitlement", "tier", "requests", "requesters", "approved", "denied", "grants",
		"grants_used", "unused_share", "users", "top_users", "candidate")
	wantPU := "entitlement=aws:111122223333:PowerUser tier=medium requests=8 requesters=4 approved=4 denied=3 " +
		"grants=4 grants_used=1 unused_share=0.75 users=1 top_users=[alice (5 calls)] candidate="
	if pu != wantPU {
		t.Errorf("PowerUser:\ngot  %s\nwant %s", pu, wantPU)
	}
}

func TestReportCommandWritesHTMLAndRefusesUnknownReports(t *testing.T) {
	t.Parallel()
	db := analystDB(t)
	page := analystRun(t, "report", "unused", "--db", db, "--at", "2025-01-20T00:00:00Z", "--format", "html")
	for _, id := range []string{`id="chart-personas"`, `id="chart-heatmap"`, `id="chart-unused"`} {
		if !bytes.Contains(page, []byte(id)) {
			t.Errorf("HTML lacks %s", id)
		}
	}
	// The only URLs are the SVG namespace names, which nothing fetches.
	urls := bytes.Count(page, []byte("http://")) + bytes.Count(page, []byte("https://"))
	if bytes.Contains(page, []byte("<script")) || urls != bytes.Count(page, []byte(`xmlns="http://www.w3.org/2000/svg"`)) {
		t.Errorf("HTML has a script or an external reference")
	}

	var out bytes.Buffer
	env := analystEnv(&out, &out)
	err := Run(t.Context(), env, []string{"report", "people", "--db", db})
	if err == nil || !strings.Contains(err.Error(), "want personas, entitlements or unused") {
		t.Errorf("got %v, want an unknown-report error", err)
	}
	err = Run(t.Context(), env, []string{"report", "personas", "--db", db, "--format", "xml"})
	if err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("got %v, want a --format error", err)
	}
}
