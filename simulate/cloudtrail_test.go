package simulate

import (
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jitscore/jitscore/models"
)

var (
	keyLayout = regexp.MustCompile(`^cloudtrail/AWSLogs/(\d{12})/CloudTrail/([a-z0-9-]+)/(\d{4})/(\d{2})/(\d{2})/` +
		`(\d{12})_CloudTrail_([a-z0-9-]+)_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$`)
	uuidForm  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	ssoARN    = regexp.MustCompile(`^arn:aws:sts::(\d{12}):assumed-role/(AWSReservedSSO_([A-Za-z]+)_[0-9a-f]{16})/(.+)$`)
	issuerARN = regexp.MustCompile(`^arn:aws:iam::(\d{12}):role/aws-reserved/sso\.amazonaws\.com/(AWSReservedSSO_[A-Za-z]+_[0-9a-f]{16})$`)
)

func TestTrailFilesFollowTheS3LayoutAndHoldRecords(t *testing.T) {
	t.Parallel()
	fx := shared(t)
	files := trailFiles(t, fx.dir)
	if len(files) != fx.sum.Files || len(files) < 2 {
		t.Fatalf("%d trail files, summary says %d", len(files), fx.sum.Files)
	}
	ids := map[string]bool{}
	for _, path := range files {
		rel, _ := filepath.Rel(fx.dir, path)
		m := keyLayout.FindStringSubmatch(filepath.ToSlash(rel))
		if m == nil {
			t.Fatalf("%s does not follow the S3 key layout", rel)
		}
		recs := readTrailFile(t, path)
		if len(recs) == 0 || len(recs) > smallConfig().RecordsPerFile {
			t.Errorf("%s: %d records", rel, len(recs))
		}
		for _, r := range recs {
			if r["recipientAccountId"] != m[1] || r["awsRegion"] != m[2] || m[1] != m[6] || m[2] != m[7] {
				t.Fatalf("%s holds a record of %v/%v", rel, r["recipientAccountId"], r["awsRegion"])
			}
			id := str(r, "eventID")
			if ids[id] {
				t.Fatalf("eventID %s appears twice", id)
			}
			ids[id] = true
		}
	}
	if len(ids) != fx.sum.Events {
		t.Errorf("%d events in files, summary says %d", len(ids), fx.sum.Events)
	}
}

func TestEveryRecordHasTheCloudTrailFields(t *testing.T) {
	t.Parallel()
	fx := shared(t)
	recs := allRecords(t, fx.dir)
	types := map[string]int{}
	var denied, nullParams, withParams int
	for i, r := range recs {
		for _, k := range []string{"eventVersion", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
			"userAgent", "recipientAccountId"} {
			if str(r, k) == "" {
				t.Fatalf("record %d: no %s: %v", i, k, r)
			}
		}
		if _, err := time.Parse(time.RFC3339, str(r, "eventTime")); err != nil {
			t.Fatalf("record %d: eventTime: %v", i, err)
		}
		for _, k := range []string{"eventID", "requestID"} {
			if !uuidForm.MatchString(str(r, k)) {
				t.Fatalf("record %d: %s %q is no UUID", i, k, str(r, k))
			}
		}
		if _, ok := r["readOnly"].(bool); !ok {
			t.Fatalf("record %d: readOnly %v", i, r["readOnly"])
		}
		if r["managementEvent"] != true || str(r, "eventCategory") != "Management" || str(r, "eventType") != "AwsApiCall" {
			t.Fatalf("record %d: managementEvent/eventCategory/eventType %v/%v/%v", i, r["managementEvent"], r["eventCategory"], r["eventType"])
		}
		params, ok := r["requestParameters"]
		switch {
		case !ok:
			t.Fatalf("record %d: no requestParameters key", i)
		case params == nil:
			nullParams++
		default:
			withParams++
		}
		if code := str(r, "errorCode"); code == "AccessDenied" {
			denied++
			if str(r, "errorMessage") == "" {
				t.Errorf("record %d: AccessDenied without a message", i)
			}
		}
		typ := str(r, "userIdentity", "type")
		types[typ]++
		switch typ {
		case models.PrincipalAssumedRole:
			arn := ssoARN.FindStringSubmatch(str(r, "userIdentity", "arn"))
			iss := issuerARN.FindStringSubmatch(str(r, "userIdentity", "sessionContext", "sessionIssuer", "arn"))
			if arn == nil || iss == nil || arn[2] != iss[2] || arn[1] != iss[1] {
				t.Fatalf("record %d: assumed-role arn %q / issuer %q", i, str(r, "userIdentity", "arn"),
					str(r, "userIdentity", "sessionContext", "sessionIssuer", "arn"))
			}
			if str(r, "userIdentity", "sessionContext", "sessionIssuer", "type") != "Role" ||
				str(r, "userIdentity", "sessionContext", "sessionIssuer", "userName") != arn[2] {
				t.Fatalf("record %d: session issuer %v", i, r["userIdentity"])
			}
			if !strings.HasSuffix(str(r, "userIdentity", "principalId"), ":"+arn[4]) {
				t.Fatalf("record %d: principalId %q does not end in the session name", i, str(r, "userIdentity", "principalId"))
			}
		case models.PrincipalIdentityCenterUser:
			if str(r, "userIdentity", "onBehalfOf", "userId") == "" {
				t.Fatalf("record %d: IdentityCenterUser without onBehalfOf.userId", i)
			}
		case models.PrincipalIAMUser:
			if str(r, "userIdentity", "userName") != "ci-deployer" {
				t.Fatalf("record %d: IAM user %v", i, r["userIdentity"])
			}
		case models.PrincipalAWSService:
			if str(r, "userIdentity", "invokedBy") == "" {
				t.Fatalf("record %d: AWSService without invokedBy", i)
			}
		default:
			t.Fatalf("record %d: unexpected principal type %q", i, typ)
		}
	}
	for typ, n := range fx.sum.EventsByPrincipal {
		if types[typ] != n || n == 0 {
			t.Errorf("%s: %d records, summary says %d", typ, types[typ], n)
		}
	}
	if denied == 0 || nullParams == 0 || withParams == 0 {
		t.Errorf("AccessDenied %d, null requestParameters %d, set %d: want some of each", denied, nullParams, withParams)
	}
}

// Every AssumedRole call lies inside a used grant of the same person and
// permission set; every portal call names a known person; and the events
// add up to what the truth says each grant produced.
func TestUsageFollowsGrants(t *testing.T) {
	t.Parallel()
	fx := shared(t)
	names := map[string]string{} // session name or identity store id -> user
	for _, p := range fx.org.People {
		names[p.User] = p.User
		names[p.IdentityStoreID] = p.User
		for _, a := range p.Aliases {
			names[a] = p.User
		}
	}
	type key struct{ user, ent string }
	grants := map[key][]TruthGrant{}
	planned := 0
	for _, g := range fx.truth.Grants {
		grants[key{g.User, g.Entitlement}] = append(grants[key{g.User, g.Entitlement}], g)
		if !g.Used && g.Events != 0 {
			t.Errorf("unused grant %s plans %d events", g.RequestID, g.Events)
		}
		if !g.CloudTrail && g.Events != 0 {
			t.Errorf("app grant %s plans %d events", g.RequestID, g.Events)
		}
		planned += g.Events
	}
	parse := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	human := 0
	for i, r := range allRecords(t, fx.dir) {
		switch str(r, "userIdentity", "type") {
		case models.PrincipalIdentityCenterUser:
			human++
			if names[str(r, "userIdentity", "onBehalfOf", "userId")] == "" {
				t.Errorf("record %d: portal call by unknown id %q", i, str(r, "userIdentity", "onBehalfOf", "userId"))
			}
		case models.PrincipalAssumedRole:
			human++
			m := ssoARN.FindStringSubmatch(str(r, "userIdentity", "arn"))
			user := names[m[4]]
			if user == "" {
				t.Fatalf("record %d: session name %q is no identity", i, m[4])
			}
			ent := "aws:" + m[1] + ":" + m[3]
			at := parse(str(r, "eventTime"))
			ok := false
			for _, g := range grants[key{user, ent}] {
				end := parse(g.ExpiresAt)
				if g.RevokedAt != "" {
					end = parse(g.RevokedAt)
				}
				if g.Used && !at.Before(parse(g.GrantedAt)) && !at.After(end) {
					ok = true
					break
				}
			}
			if !ok {
				t.Fatalf("record %d: %s used %s at %s outside any used grant", i, user, ent, at)
			}
		}
	}
	if human != planned {
		t.Errorf("%d human events in the trail, the grants plan %d", human, planned)
	}
	used, unused := fx.sum.GrantsUsed, fx.sum.GrantsUnused
	if used == 0 || unused == 0 {
		t.Errorf("CloudTrail grants: %d used, %d unused; want both", used, unused)
	}
}

func TestDigestFileIsInTheLayoutWithoutRecords(t *testing.T) {
	t.Parallel()
	fx := shared(t)
	matches, err := filepath.Glob(filepath.Join(fx.dir, "cloudtrail/AWSLogs/*/CloudTrail-Digest/*/*/*/*/*_CloudTrail-Digest_*.json.gz"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("digest files: %v, %v", matches, err)
	}
	f, err := os.Open(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var d map[string]any
	if err := json.NewDecoder(zr).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if _, has := d["Records"]; has || d["logFiles"] == nil || d["digestStartTime"] == nil {
		t.Fatalf("digest content: %v", d)
	}
}

func TestOtherShapesCopyTrailEvents(t *testing.T) {
	t.Parallel()
	fx := shared(t)
	inTrail := map[string]bool{}
	for _, r := range allRecords(t, fx.dir) {
		inTrail[str(r, "eventID")] = true
	}
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(fx.dir, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	decode := func(rel string, s string, v any) {
		if err := json.Unmarshal([]byte(s), v); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
	}
	cases := []struct {
		rel    string
		events func() []map[string]any
	}{
		{OtherArray, func() []map[string]any {
			var out []map[string]any
			decode(OtherArray, string(read(OtherArray)), &out)
			return out
		}},
		{OtherNDJSON, func() []map[string]any {
			var out []map[string]any
			for _, l := range readLines(t, filepath.Join(fx.dir, OtherNDJSON)) {
				var r map[string]any
				decode(OtherNDJSON, l, &r)
				out = append(out, r)
			}
			return out
		}},
		{OtherEventBridge, func() []map[string]any {
			var out []map[string]any
			for _, l := range readLines(t, filepath.Join(fx.dir, OtherEventBridge)) {
				var env struct {
					DetailType string         `json:"detail-type"`
					Detail     map[string]any `json:"detail"`
				}
				decode(OtherEventBridge, l, &env)
				if env.DetailType != "AWS API Call via CloudTrail" {
					t.Fatalf("detail-type %q", env.DetailType)
				}
				out = append(out, env.Detail)
			}
			return out
		}},
		{OtherLookup, func() []map[string]any {
			var doc struct {
				Events []struct {
					EventID         string `json:"EventId"`
					CloudTrailEvent string
				}
			}
			decode(OtherLookup, string(read(OtherLookup)), &doc)
			var out []map[string]any
			for _, e := range doc.Events {
				var r map[string]any
				decode(OtherLookup, e.CloudTrailEvent, &r)
				if str(r, "eventID") != e.EventID {
					t.Fatalf("EventId %s wraps event %s", e.EventID, str(r, "eventID"))
				}
				out = append(out, r)
			}
			return out
		}},
	}
	total := 0
	for _, tc := range cases {
		evs := tc.events()
		if len(evs) == 0 {
			t.Errorf("%s: no events", tc.rel)
		}
		for _, r := range evs {
			if !inTrail[str(r, "eventID")] {
				t.Errorf("%s: event %s is not in the trail", tc.rel, str(r, "eventID"))
			}
		}
		total += len(evs)
	}
	if total != fx.sum.OtherEvents {
		t.Errorf("%d events in cloudtrail-other, summary says %d", total, fx.sum.OtherEvents)
	}
}
