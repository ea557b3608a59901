package features

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jitscore/jitscore/models"
)

const pu = "aws:111122223333:PowerUser"

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func person(user, dept, title, manager string) models.Identity {
	a := map[string]string{"department": dept, "title": title}
	if manager != "" {
		a["manager"] = manager
	}
	return models.Identity{User: user, Attributes: a}
}

// smallOrg is a hand-made history whose features are worked out by hand in
// the tests below. The as-of instant is 2024-04-01T00:00:00Z.
func smallOrg() *Data {
	d := &Data{
		Identities: []models.Identity{
			person("alice", "Payments", "Backend Engineer", "carol"),
			person("bob", "Payments", "Backend Engineer", "carol"),
			person("dan", "Payments", "Backend Engineer", "carol"),
			person("erin", "Payments", "Designer", "carol"),
			person("carol", "Payments", "Manager", ""),
			person("frank", "Risk", "Analyst", "gina"),
		},
		Keys: map[string]string{"alice": "alice", "alice-sso": "alice", "bob": "bob", "dan": "dan",
			"erin": "erin", "carol": "carol", "frank": "frank"},
	}
	req := func(id, who, ent, requested, status, decided, granted, expires string) {
		q := models.Request{RequestID: id, Requester: who, Entitlement: ent, RequestedAt: at(requested),
			Status: models.RequestStatus(status)}
		if decided != "" {
			q.DecidedAt = at(decided)
		}
		if granted != "" {
			q.GrantedAt = at(granted)
			d.Grants = append(d.Grants, models.Grant{RequestID: id, Requester: who, Entitlement: ent,
				GrantedAt: at(granted), ExpiresAt: at(expires)})
		}
		d.Requests = append(d.Requests, q)
	}
	req("q7", "erin", "stripe:refunds", "2024-02-01T10:00:00Z", "approved", "", "2024-02-01T10:00:00Z", "2024-02-01T11:00:00Z")
	req("q1", "alice", pu, "2024-03-01T09:00:00Z", "approved", "", "2024-03-01T09:00:00Z", "2024-03-01T17:00:00Z")
	req("q2", "ALICE-SSO", pu, "2024-03-05T09:00:00Z", "approved", "", "2024-03-05T09:00:00Z", "2024-03-05T13:00:00Z")
	req("q3", "bob", pu, "2024-03-10T09:00:00Z", "approved", "", "2024-03-10T09:00:00Z", "2024-03-10T11:00:00Z")
	req("q4", "frank", pu, "2024-03-12T09:00:00Z", "denied", "2024-03-12T10:00:00Z", "", "")
	// Requested before as-of, decided and granted after it.
	req("q5", "dan", pu, "2024-03-31T23:00:00Z", "approved", "2024-04-01T01:00:00Z", "2024-04-01T01:00:00Z", "2024-04-01T05:00:00Z")
	req("q6", "alice", pu, "2024-04-02T09:00:00Z", "approved", "", "2024-04-02T09:00:00Z", "2024-04-02T17:00:00Z")
	use := func(who, ent, first, last string, calls int) {
		f := at(first)
		d.Usage = append(d.Usage, UsageDay{Person: who, Entitlement: ent, Day: f.Truncate(24 * time.Hour),
			Calls: calls, FirstAt: f, LastAt: at(last)})
	}
	use("alice", pu, "2024-03-01T09:30:00Z", "2024-03-01T12:00:00Z", 10) // during q1
	use("bob", pu, "2024-03-11T09:00:00Z", "2024-03-11T10:00:00Z", 3)    // the day after q3 ended
	use("alice", pu, "2024-03-20T10:00:00Z", "2024-03-20T11:00:00Z", 1)  // outside any grant
	use("dan", pu, "2024-04-01T02:00:00Z", "2024-04-01T03:00:00Z", 5)    // after as-of
	return d
}

var asOf = at("2024-04-01T00:00:00Z")

func buildSmall(t *testing.T) *Snapshot {
	t.Helper()
	s, err := Build(smallOrg(), DefaultConfig(), asOf)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return s
}

func TestBuildEntitlementReuseExact(t *testing.T) {
	t.Parallel()
	s := buildSmall(t)
	got, ok := s.Entitlement(pu)
	if !ok {
		t.Fatal("PowerUser missing")
	}
	want := EntitlementStat{
		ID: pu, App: "aws", Requests: 5, Requesters: 4, Approved: 3, Denied: 1,
		ReRequestRate:  0.25,
		MedianInterval: 4 * 24 * time.Hour,
		MedianDuration: 4 * time.Hour, // of 8h, 4h, 2h
		Grants:         3, GrantsUsed: 1,
		MedianTimeToUse:  30 * time.Minute,
		LastUsedAt:       at("2024-03-20T11:00:00Z"),
		CloudTrailBacked: true,
	}
	if got != want {
		t.Errorf("PowerUser =\n%+v\nwant\n%+v", got, want)
	}
	stripe, _ := s.Entitlement("stripe:refunds")
	if stripe.App != "stripe" || stripe.CloudTrailBacked || stripe.MedianDuration != time.Hour || stripe.Grants != 1 {
		t.Errorf("stripe:refunds = %+v", stripe)
	}
	if _, ok := s.Entitlement("aws:1:Nope"); ok {
		t.Error("unknown entitlement reported as known")
	}
}

func TestBuildRequesterHistoryResolvesAliases(t *testing.T) {
	t.Parallel()
	s := buildSmall(t)
	want := History{Requests: 2, Approved: 2, Grants: 2, GrantsUsed: 1,
		LastGrantAt: at("2024-03-05T09:00:00Z"), LastUsedAt: at("2024-03-20T11:00:00Z")}
	if got := s.HistoryOf("alice", pu); got != want {
		t.Errorf("alice/PowerUser = %+v, want %+v", got, want)
	}
	if got := s.TotalsOf("alice"); got != want {
		t.Errorf("alice totals = %+v, want %+v", got, want)
	}
	// dan's request came before as-of but its decision after: undecided.
	if got := s.HistoryOf("dan", pu); got != (History{Requests: 1}) {
		t.Errorf("dan/PowerUser = %+v, want one undecided request", got)
	}
	if got := s.HistoryOf("frank", pu); got != (History{Requests: 1, Denied: 1}) {
		t.Errorf("frank/PowerUser = %+v", got)
	}
}

func TestBuildAttributePersonasFallBackToOther(t *testing.T) {
	t.Parallel()
	s := buildSmall(t)
	want := map[string][]string{
		"attr:Payments/Backend Engineer": {"alice", "bob", "dan"},
		PersonaOther:                     {"carol", "erin", "frank"},
	}
	got := map[string][]string{}
	for id, p := range s.Personas {
		if p.Kind == models.PersonaAttribute {
			got[id] = p.Members
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("attribute personas = %v, want %v", got, want)
	}
	if n := s.Personas["attr:Payments/Backend Engineer"].Name; n != "Payments / Backend Engineer" {
		t.Errorf("name = %q", n)
	}
	for u, p := range s.People {
		if p.AttrPersona == "" || p.UsagePersona == "" {
			t.Errorf("%s lacks a persona: %+v", u, p)
		}
	}
}

func TestAttributePersonasUseCoarserGroupBeforeOther(t *testing.T) {
	t.Parallel()
	d := &Data{Identities: []models.Identity{
		person("a", "Risk", "Analyst", ""), person("b", "Risk", "Analyst", ""), person("c", "Risk", "Lead", ""),
		person("x", "Sales", "Rep", ""),
	}}
	cfg := DefaultConfig()
	cfg.Personas.MinMembers = 2
	s, err := Build(d, cfg, asOf)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{"a": "attr:Risk/Analyst", "b": "attr:Risk/Analyst", "c": PersonaOther, "x": PersonaOther}
	for u, want := range cases {
		if got := s.People[u].AttrPersona; got != want {
			t.Errorf("%s in %s, want %s", u, got, want)
		}
	}
	cfg.Personas.MinMembers = 3
	d.Identities = append(d.Identities, person("e", "Risk", "Lead", ""), person("f", "Risk", "Intern", ""))
	s, _ = Build(d, cfg, asOf)
	if got := s.People["c"].AttrPersona; got != "attr:Risk/*" {
		t.Errorf("c in %s, want attr:Risk/* (department only)", got)
	}
	if got := s.Personas["attr:Risk/*"].Name; got != "Risk, any title" {
		t.Errorf("coarse name = %q", got)
	}
}

func TestCoverageLeavesTheRequesterOut(t *testing.T) {
	t.Parallel()
	s := buildSmall(t)
	cases := []struct {
		name string
		got  Coverage
		want Coverage
	}{
		// Payments/Backend Engineer: alice and bob granted and used; dan's
		// grant is after as-of.
		{"alice attr", s.AttrCoverage("alice", pu), Coverage{Members: 2, Granted: 1, Used: 1}},
		{"dan attr", s.AttrCoverage("dan", pu), Coverage{Members: 2, Granted: 2, Used: 2}},
		{"erin manager", s.ManagerCoverage("erin", pu), Coverage{Members: 3, Granted: 2, Used: 2}},
		{"carol manager (none)", s.ManagerCoverage("carol", pu), Coverage{}},
		{"unknown person", s.AttrCoverage("zed", pu), Coverage{}},
		{"group raw", s.PeerAttr[PairKey{"attr:Payments/Backend Engineer", pu}], Coverage{Members: 3, Granted: 2, Used: 2}},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s = %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

func TestBuildAttrStatsAndGlobal(t *testing.T) {
	t.Parallel()
	s := buildSmall(t)
	cases := []struct {
		attr, value string
		want        Outcomes
	}{
		{"department", "Payments", Outcomes{Approved: 3}},
		{"department", "Risk", Outcomes{Denied: 1}},
		{"manager", "carol", Outcomes{Approved: 3}},
		{"title", "Analyst", Outcomes{Denied: 1}},
	}
	for _, c := range cases {
		if got := s.AttrOutcomes(c.attr, c.value, pu); got != c.want {
			t.Errorf("%s=%s = %+v, want %+v", c.attr, c.value, got, c.want)
		}
	}
	if s.Global != (Outcomes{Approved: 4, Denied: 1}) {
		t.Errorf("global = %+v", s.Global)
	}
}

func TestBuildUsagePersonasAndOutliers(t *testing.T) {
	t.Parallel()
	s := buildSmall(t)
	none := s.Personas[PersonaNoAccess]
	if none == nil || !reflect.DeepEqual(none.Members, []string{"carol", "dan", "frank"}) {
		t.Fatalf("usage:none = %+v", none)
	}
	// Three people with access are below 2 x min_members: one cluster.
	ua := s.People["alice"].UsagePersona
	if ua != s.People["bob"].UsagePersona || ua != s.People["erin"].UsagePersona {
		t.Errorf("alice, bob, erin in %s, %s, %s; want one cluster", ua, s.People["bob"].UsagePersona, s.People["erin"].UsagePersona)
	}
	if n := s.Personas[ua].Name; n != "Payments / Backend Engineer: PowerUser, stripe:refunds" {
		t.Errorf("usage persona name = %q", n)
	}
	if got := s.People["alice"].OutlierScore; got > 1e-9 {
		t.Errorf("alice outlier = %v, want 0 (same access as bob)", got)
	}
	erin := s.People["erin"]
	if erin.OutlierScore != 1 || !reflect.DeepEqual(erin.Unusual, []string{"stripe:refunds"}) {
		t.Errorf("erin outlier = %v %v, want 1 [stripe:refunds]", erin.OutlierScore, erin.Unusual)
	}
}

func TestBuildNeverSeesTheFuture(t *testing.T) {
	t.Parallel()
	d := smallOrg()
	early, err := Build(d, DefaultConfig(), asOf)
	if err != nil {
		t.Fatal(err)
	}
	late, err := Build(d, DefaultConfig(), at("2024-04-03T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := early.Entitlement(pu)
	l, _ := late.Entitlement(pu)
	if e.Requests != 5 || l.Requests != 6 || e.Approved != 3 || l.Approved != 5 || e.Grants != 3 || l.Grants != 5 {
		t.Errorf("early %d/%d/%d, late %d/%d/%d requests/approved/grants; want 5/3/3 and 6/5/5",
			e.Requests, e.Approved, e.Grants, l.Requests, l.Approved, l.Grants)
	}
	if got := late.HistoryOf("dan", pu); got.GrantsUsed != 1 || got.Approved != 1 {
		t.Errorf("dan late = %+v, want his grant used", got)
	}
	// A later as-of must not change the early snapshot's view of the data.
	again, _ := Build(d, DefaultConfig(), asOf)
	if again.Version != early.Version {
		t.Errorf("same inputs gave versions %s and %s", early.Version, again.Version)
	}
	if late.Version == early.Version {
		t.Error("different features share a version")
	}
}

func TestUsageDayContainingAsOfIsLeftOut(t *testing.T) {
	t.Parallel()
	d := smallOrg()
	d.Usage = append(d.Usage, UsageDay{Person: "bob", Entitlement: pu, Day: at("2024-03-31T00:00:00Z"),
		Calls: 1, FirstAt: at("2024-03-31T10:00:00Z"), LastAt: at("2024-03-31T11:00:00Z")})
	s, _ := Build(d, DefaultConfig(), at("2024-03-31T10:30:00Z"))
	if got := s.HistoryOf("bob", pu).LastUsedAt; !got.Equal(at("2024-03-11T10:00:00Z")) {
		t.Errorf("bob last use = %v, want the 03-11 row only", got)
	}
}

func TestSnapshotFileRoundTrip(t *testing.T) {
	t.Parallel()
	s := buildSmall(t)
	s.BuiltAt = at("2024-04-01T00:05:00Z")
	path := filepath.Join(t.TempDir(), "x.snapshot")
	if err := s.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadSnapshotFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != s.Version || got.hash() != s.Version {
		t.Errorf("version %s (rehash %s), want %s", got.Version, got.hash(), s.Version)
	}
	if c := got.AttrCoverage("dan", pu); c != (Coverage{Members: 2, Granted: 2, Used: 2}) {
		t.Errorf("coverage after reload = %+v", c)
	}
	if u, ok := got.Resolve("Alice-SSO"); !ok || u != "alice" {
		t.Errorf("Resolve after reload = %q %v", u, ok)
	}
}

func TestReadSnapshotFileRefusesOtherFiles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "db.duckdb")
	if err := writeBytes(path, []byte("DUCK not a snapshot")); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSnapshotFile(path); err == nil {
		t.Fatal("read a non-snapshot file")
	}
}

func writeBytes(path string, b []byte) error { return os.WriteFile(path, b, 0o600) }

func TestSameDayGrantsAreToldApartBySlots(t *testing.T) {
	t.Parallel()
	day := at("2024-03-04T00:00:00Z")
	d := &Data{
		Identities: []models.Identity{person("alice", "Payments", "Backend Engineer", "")},
		Grants: []models.Grant{
			{RequestID: "a", Requester: "alice", Entitlement: pu, GrantedAt: at("2024-03-04T09:00:00Z"), ExpiresAt: at("2024-03-04T10:00:00Z")},
			{RequestID: "b", Requester: "alice", Entitlement: pu, GrantedAt: at("2024-03-04T15:00:00Z"), ExpiresAt: at("2024-03-04T17:00:00Z")},
		},
		// Calls 09:10-09:40 and 17:20: slots 18, 19 and 34.
		Usage: []UsageDay{{Person: "alice", Entitlement: pu, Day: day, Calls: 3,
			FirstAt: at("2024-03-04T09:10:00Z"), LastAt: at("2024-03-04T17:20:00Z"), Slots: 1<<18 | 1<<19 | 1<<34}},
	}
	s, err := Build(d, DefaultConfig(), asOf)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := s.Entitlement(pu)
	if e.Grants != 2 || e.GrantsUsed != 1 || e.MedianTimeToUse != 10*time.Minute {
		t.Errorf("grants %d used %d ttu %v, want 2, 1, 10m", e.Grants, e.GrantsUsed, e.MedianTimeToUse)
	}
	d.Usage[0].Slots = 0 // without slots the day straddles both windows
	s, _ = Build(d, DefaultConfig(), asOf)
	if e, _ := s.Entitlement(pu); e.GrantsUsed != 2 {
		t.Errorf("without slots used %d, want 2", e.GrantsUsed)
	}
}
