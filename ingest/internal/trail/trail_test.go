package trail

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	evA = `{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/bob","accountId":"111122223333","userName":"bob"},"eventTime":"2026-03-09T09:32:55Z","eventSource":"iam.amazonaws.com","eventName":"ListAccessKeys","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.14","eventID":"id-a","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"111122223333"}`
	evB = `{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAX:alice@corp.example","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Power_User_0123456789abcdef/alice@corp.example","accountId":"111122223333"},"eventTime":"2026-03-09T09:31:07Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"us-east-1","eventID":"id-b","managementEvent":false}`
)

// TestScanDetectsShapeFromContent pins what each input shape yields.
func TestScanDetectsShapeFromContent(t *testing.T) {
	t.Parallel()
	eb := `{"version":"0","id":"env-1","detail-type":"AWS API Call via CloudTrail","detail":` + evA + `}`
	quoted, _ := json.Marshal(evB)
	lookup := `{"Events":[{"EventId":"id-b","EventTime":"2026-03-09T15:01:07+05:30","CloudTrailEvent":` + string(quoted) + `}]}`
	tests := []struct {
		name     string
		in       string
		kind     Kind
		shape    string
		events   []string // event ids in order
		problems []string // positions
	}{
		{"records", `{"Records":[` + evA + `,` + evB + `]}`, KindEvents, "records", []string{"id-a", "id-b"}, nil},
		{"records key not first", `{"x":1,"Records":[` + evA + `]}`, KindEvents, "records", []string{"id-a"}, nil},
		{"empty records", `{"Records":[]}`, KindEvents, "records", nil, nil},
		{"bare array pretty", "[\n  " + evA + ",\n  " + evB + "\n]\n", KindEvents, "array", []string{"id-a", "id-b"}, nil},
		{"ndjson", evA + "\n" + evB + "\n", KindEvents, "stream", []string{"id-a", "id-b"}, nil},
		{"ndjson bad line", evA + "\n{\"eventID\": oops}\n" + evB + "\n", KindEvents, "stream", []string{"id-a", "id-b"}, []string{"line 2"}},
		{"eventbridge lines", eb + "\n" + eb + "\n", KindEvents, "stream", []string{"id-a", "id-a"}, nil},
		{"single eventbridge", eb, KindEvents, "event", []string{"id-a"}, nil},
		{"lookup-events", lookup, KindEvents, "lookup-events", []string{"id-b"}, nil},
		{"lake eventJson", `{"eventJson":` + string(quoted) + `}`, KindEvents, "event", []string{"id-b"}, nil},
		{"digest", `{"awsAccountId":"1","digestStartTime":"2026-03-09T09:05:12Z","logFiles":[]}`, KindDigest, "", nil, nil},
		{"sns notification", `{"Type":"Notification","Message":"CloudTrail validation message."}`, KindNotEvents, "", nil, nil},
		{"other eventbridge", `{"detail-type":"EC2 Instance State-change Notification","detail":{"state":"running"}}`, KindNotEvents, "", nil, nil},
		{"not json", "# README\n", KindNotJSON, "", nil, nil},
		{"empty", " \n\t", KindEmpty, "", nil, nil},
		{"record without id", `{"Records":[{"eventVersion":"1.09","eventTime":"2026-03-09T09:31:07Z"},` + evA + `]}`, KindEvents, "records", []string{"id-a"}, []string{"record 1"}},
		{"record without time", `{"Records":[{"eventVersion":"1.09","eventID":"x"}]}`, KindEvents, "records", nil, []string{"record 1"}},
		{"non-object element", `{"Records":[42,` + evA + `]}`, KindEvents, "records", []string{"id-a"}, []string{"record 1"}},
		{"notification among events", evA + "\n" + `{"Type":"Notification"}` + "\n", KindEvents, "stream", []string{"id-a"}, []string{"line 2"}},
		{"truncated document", `{"Records":[` + evA + `,{"eventID":"x"`, KindEvents, "records", []string{"id-a"}, []string{"line 1"}},
		{"bom", "\xef\xbb\xbf" + `[` + evA + `]`, KindEvents, "array", []string{"id-a"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var ids, probs []string
			res := Scan([]byte(tc.in), func(it *Item) {
				if it.Err != nil {
					probs = append(probs, it.Pos)
					return
				}
				ids = append(ids, it.Event.EventID)
			})
			if res.Kind != tc.kind || res.Shape != tc.shape {
				t.Errorf("kind/shape = %v/%q, want %v/%q", res.Kind, res.Shape, tc.kind, tc.shape)
			}
			if strings.Join(ids, ",") != strings.Join(tc.events, ",") {
				t.Errorf("events = %v, want %v", ids, tc.events)
			}
			if strings.Join(probs, ",") != strings.Join(tc.problems, ",") {
				t.Errorf("problems at %v, want %v", probs, tc.problems)
			}
			if res.Events != len(ids) || res.Problems != len(probs) {
				t.Errorf("result counts %d/%d, emitted %d/%d", res.Events, res.Problems, len(ids), len(probs))
			}
		})
	}
}

// TestParseRecordResolvesActors pins actor, entitlement and type for each
// userIdentity type.
func TestParseRecordResolvesActors(t *testing.T) {
	t.Parallel()
	base := `"eventTime":"2026-03-09T09:31:07Z","eventID":"e1","recipientAccountId":"111122223333"`
	tests := []struct {
		name, identity, actor, entitlement, typ string
	}{
		{"sso session", `{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PowerUser_0123456789abcdef/alice@corp.example"}`, "alice@corp.example", "aws:111122223333:PowerUser", "AssumedRole"},
		{"sso permission set with underscore", `{"type":"AssumedRole","arn":"arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Data_Engineer_0123456789abcdef/carol"}`, "carol", "aws:444455556666:Data_Engineer", "AssumedRole"},
		{"plain role", `{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/ci-deploy/deploy-pipeline"}`, "deploy-pipeline", "aws:111122223333:ci-deploy", "AssumedRole"},
		{"role from principalId and issuer", `{"type":"AssumedRole","principalId":"AROAX:i-0abc","accountId":"111122223333","sessionContext":{"sessionIssuer":{"userName":"ec2-app"}}}`, "i-0abc", "aws:111122223333:ec2-app", "AssumedRole"},
		{"iam user", `{"type":"IAMUser","userName":"bob","arn":"arn:aws:iam::111122223333:user/bob"}`, "bob", "", "IAMUser"},
		{"iam user from arn", `{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/team/bob"}`, "bob", "", "IAMUser"},
		{"identity center user", `{"type":"IdentityCenterUser","onBehalfOf":{"userId":"720bf30c"}}`, "720bf30c", "", "IdentityCenterUser"},
		{"federated user", `{"type":"FederatedUser","principalId":"111122223333:bob","arn":"arn:aws:sts::111122223333:federated-user/bob","sessionContext":{"sessionIssuer":{"userName":"federation-broker"}}}`, "bob", "", "FederatedUser"},
		{"saml user", `{"type":"SAMLUser","principalId":"idp:dave","userName":"dave"}`, "dave", "", "SAMLUser"},
		{"web identity", `{"type":"WebIdentityUser","principalId":"accounts.google.com:123"}`, "123", "", "WebIdentityUser"},
		{"root", `{"type":"Root","arn":"arn:aws:iam::111122223333:root"}`, "arn:aws:iam::111122223333:root", "", "Root"},
		{"aws service", `{"type":"AWSService","invokedBy":"cloudtrail.amazonaws.com"}`, "cloudtrail.amazonaws.com", "", "AWSService"},
		{"aws account", `{"type":"AWSAccount","principalId":"AIDAEXAMPLE","accountId":"444455556666"}`, "AIDAEXAMPLE", "", "AWSAccount"},
		{"missing type", `{"accountId":"111122223333","invokedBy":"backup.amazonaws.com"}`, "backup.amazonaws.com", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := ParseRecord([]byte(`{"userIdentity":` + tc.identity + `,` + base + `}`))
			if err != nil {
				t.Fatal(err)
			}
			if e.Actor != tc.actor || e.Entitlement != tc.entitlement || e.PrincipalType != tc.typ {
				t.Errorf("actor/entitlement/type = %q/%q/%q, want %q/%q/%q",
					e.Actor, e.Entitlement, e.PrincipalType, tc.actor, tc.entitlement, tc.typ)
			}
		})
	}
}

// TestParseRecordFields pins times, flags and derived columns.
func TestParseRecordFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     func(t *testing.T, rec string)
		errPart  string
	}{
		{name: "logstash timestamp", in: `{"@timestamp":"2026-03-09T10:21:44.000Z","eventID":"x","eventVersion":"1"}`},
		{name: "local offset", in: `{"eventTime":"2026-03-09T15:10:05+05:30","eventID":"x"}`},
		{name: "bad time", in: `{"eventTime":"yesterday","eventID":"x"}`, errPart: "not an RFC 3339 time"},
		{name: "no id", in: `{"eventTime":"2026-03-09T09:40:05Z","eventVersion":"1"}`, errPart: "missing eventID"},
		{name: "escaped key and value", in: `{"event\u0049D":"a\"b","eventTime":"2026-03-09T09:40:05Z"}`},
		{name: "trailing garbage", in: `{"eventID":"x"} {`, errPart: "trailing data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := ParseRecord([]byte(tc.in))
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.EventTime.Location() != time.UTC {
				t.Errorf("time %v not in UTC", e.EventTime)
			}
			if !json.Valid(e.Raw) {
				t.Errorf("raw is not JSON: %s", e.Raw)
			}
		})
	}
	e, _ := ParseRecord([]byte(`{"eventTime":"2026-03-09T15:10:05+05:30","eventID":"x","readOnly":"false","managementEvent":false}`))
	if !e.EventTime.Equal(time.Date(2026, 3, 9, 9, 40, 5, 0, time.UTC)) {
		t.Errorf("offset time = %v, want 09:40:05Z", e.EventTime)
	}
	if e.ReadOnly == nil || *e.ReadOnly || e.EventCategory != "Data" {
		t.Errorf("readOnly/category = %v/%q, want false/Data", e.ReadOnly, e.EventCategory)
	}
	e, _ = ParseRecord([]byte(`{"eventTime":"2026-03-09T15:10:05Z","eventID":"a\"b","eventType":"AwsCloudTrailInsight","insightDetails":{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances"}}`))
	if e.EventID != `a"b` || e.EventCategory != "Insight" || e.EventSource != "ec2.amazonaws.com" || e.EventName != "RunInstances" {
		t.Errorf("insight = %q %q %q %q", e.EventID, e.EventCategory, e.EventSource, e.EventName)
	}
	for in, want := range map[string]string{"198.051.100.07": "", "AWS Internal": "", "2001:DB8::1": "2001:db8::1", "192.0.2.1": "192.0.2.1"} {
		if got := ParseIP(in); got != want {
			t.Errorf("ParseIP(%q) = %q, want %q", in, got, want)
		}
	}
}

// caseInputs returns the decompressed inputs of the shared cases, for fuzz
// seeds; none when the folder is missing.
func caseInputs(tb testing.TB) [][]byte {
	tb.Helper()
	dir, _ := os.Getwd()
	for range 8 {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		dir = filepath.Dir(dir)
	}
	var out [][]byte
	root := filepath.Join(filepath.Dir(dir), "shared", "cases", "cloudtrail")
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(filepath.ToSlash(p), "/input/") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil
			}
			if b, err = io.ReadAll(zr); err != nil {
				return nil
			}
		}
		out = append(out, b)
		return nil
	})
	return out
}

// FuzzScan checks that no input panics the detector and that what it
// emits is consistent: every event has an id, a UTC time and JSON raw.
func FuzzScan(f *testing.F) {
	for _, b := range caseInputs(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"Records":[` + evA + `]}`))
	f.Add([]byte(evA + "\n" + evB))
	f.Add([]byte(`[{"detail-type":"x","detail":` + evB + `}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		events, problems := 0, 0
		res := Scan(data, func(it *Item) {
			if it.Err != nil {
				problems++
				return
			}
			events++
			checkEvent(t, it)
		})
		if res.Events != events || res.Problems != problems {
			t.Fatalf("result %d/%d, emitted %d/%d", res.Events, res.Problems, events, problems)
		}
	})
}

// FuzzParseRecord checks the record parser on single records.
func FuzzParseRecord(f *testing.F) {
	for _, b := range caseInputs(f) {
		Scan(b, func(it *Item) {
			if it.Err == nil {
				f.Add(append([]byte(nil), it.Event.Raw...))
			}
		})
	}
	f.Add([]byte(evA))
	f.Add([]byte(evB))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseRecord(data)
		if err != nil {
			return
		}
		checkEvent(t, &Item{Event: e})
	})
}

func checkEvent(t *testing.T, it *Item) {
	t.Helper()
	e := it.Event
	if e.EventID == "" || e.EventTime.IsZero() || e.EventTime.Location() != time.UTC {
		t.Fatalf("event without id or UTC time: %+v", e)
	}
	if !json.Valid(e.Raw) {
		t.Fatalf("raw is not valid JSON: %q", e.Raw)
	}
}
