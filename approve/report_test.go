package approve

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

var reportAt = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)

// candidateOrg: three Ops people; Deploy is asked for 12 times (4 each),
// always approved for 8 hours and used each time; Break is held as
// standing access (30 days, from 10 days before the report) by ana, who
// never used it, and by ben, who did; Vault went to one person once.
func candidateOrg() *features.Data {
	d := &features.Data{Keys: map[string]string{}}
	for _, u := range []string{"ana", "ben", "cy"} {
		d.Identities = append(d.Identities, models.Identity{User: u,
			Attributes: map[string]string{"department": "Ops", "title": "SRE"}})
		d.Keys[u] = u
	}
	grant := func(id, who, ent string, at time.Time, length time.Duration, used bool) {
		d.Requests = append(d.Requests, models.Request{RequestID: id, Requester: who, Entitlement: ent,
			RequestedAt: at, Status: models.StatusApproved, DecidedAt: at, GrantedAt: at, ExpiresAt: at.Add(length)})
		d.Grants = append(d.Grants, models.Grant{RequestID: id, Requester: who, Entitlement: ent,
			GrantedAt: at, ExpiresAt: at.Add(length)})
		if used {
			f := at.Add(time.Hour)
			d.Usage = append(d.Usage, features.UsageDay{Person: who, Entitlement: ent, Day: midnight(f),
				Calls: 3, FirstAt: f, LastAt: f.Add(time.Minute)})
		}
	}
	for i := 0; i < 12; i++ {
		who := []string{"ana", "ben", "cy"}[i%3]
		grant(fmt.Sprintf("d%d", i), who, "aws:111122223333:Deploy", reportAt.Add(-time.Duration(40-3*i)*24*time.Hour), 8*time.Hour, true)
	}
	grant("b1", "ana", "aws:111122223333:Break", reportAt.Add(-10*24*time.Hour), 30*24*time.Hour, false)
	grant("b2", "ben", "aws:111122223333:Break", reportAt.Add(-10*24*time.Hour), 30*24*time.Hour, true)
	grant("v1", "cy", "vault:root", reportAt.Add(-5*24*time.Hour), time.Hour, false)
	return d
}

func TestBuildReportNamesCandidates(t *testing.T) {
	t.Parallel()
	rep, err := BuildReport(candidateOrg(), nil, ReportOptions{At: reportAt})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range rep.Entitlements {
		got[e.ID] = e.Candidate + ": " + e.Why
	}
	want := map[string]string{
		"aws:111122223333:Deploy": "auto_approve: 12 of 12 decided requests approved, 3 requesters, 12 of 12 grants used",
		"aws:111122223333:Break":  "remove_standing: 1 of 2 standing holders made no call in 90d",
		"vault:root":              ": ",
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: got %q, want %q", id, got[id], w)
		}
	}
	// vault:root is not an AWS entitlement: CloudTrail cannot show its
	// use, so it is neither in the unused report nor given an unused share.
	var kinds []string
	for _, u := range rep.Unused {
		kinds = append(kinds, fmt.Sprintf("%s %s %d/%d %v", u.Kind, u.Entitlement, u.Unused, u.Grants, u.People))
	}
	if w := []string{"standing aws:111122223333:Break 1/2 [ana]"}; fmt.Sprint(kinds) != fmt.Sprint(w) {
		t.Errorf("unused rows %v, want %v", kinds, w)
	}
}

func TestReportHTMLEscapesNamesFromInput(t *testing.T) {
	t.Parallel()
	d := candidateOrg()
	hostile := `<script>alert("x")</script>`
	for i := range d.Identities {
		d.Identities[i].Attributes["department"] = hostile
	}
	d.Requests[0].Entitlement = `aws:111122223333:<img src=x onerror=alert(1)>`
	d.Grants[0].Entitlement = d.Requests[0].Entitlement
	rep, err := BuildReport(d, nil, ReportOptions{At: reportAt})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, raw := range []string{"<script", "<img"} {
		if strings.Contains(page, raw) {
			t.Errorf("page contains raw %q", raw)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;") {
		t.Errorf("the hostile department name is not shown escaped")
	}
}
