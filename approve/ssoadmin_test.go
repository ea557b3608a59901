package approve_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

const (
	testInstance = "arn:aws:sso:::instance/ssoins-0000000000000000"
	psReadOnly   = "arn:aws:sso:::permissionSet/ssoins-0000000000000000/ps-1111"
	psPowerUser  = "arn:aws:sso:::permissionSet/ssoins-0000000000000000/ps-2222"
)

// ssoCall is one request the fake sso-admin server received: the
// X-Amz-Target operation and the JSON body.
type ssoCall struct {
	Op   string
	Body map[string]any
}

// fakeSSOAdmin speaks the sso-admin awsJson1_1 protocol on 127.0.0.1: two
// permission sets (listed over two pages), a set of USER assignments, and
// switches to make a deletion answer not found or the server fail.
type fakeSSOAdmin struct {
	t           *testing.T
	mu          sync.Mutex
	calls       []ssoCall
	assigned    map[string]bool // account|permission set ARN|principal
	deleteGone  bool            // DeleteAccountAssignment answers ResourceNotFoundException
	failAll     bool            // every call answers 500
	server      *httptest.Server
	contentType string
}

func newFakeSSOAdmin(t *testing.T) *fakeSSOAdmin {
	t.Helper()
	f := &fakeSSOAdmin{t: t, assigned: map[string]bool{}}
	f.server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.server.Close)
	return f
}

func (f *fakeSSOAdmin) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "SWBExternalService.")
	if r.Method != http.MethodPost || !ok {
		http.Error(w, "unexpected request "+r.Method+" "+target, http.StatusBadRequest)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDJITSCORETEST/") {
		http.Error(w, "unsigned request", http.StatusForbidden)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, ssoCall{Op: op, Body: body})
	f.contentType = r.Header.Get("Content-Type")
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if f.failAll {
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"__type":"InternalServerException","message":"boom"}`)
		return
	}
	str := func(k string) string { s, _ := body[k].(string); return s }
	var out any
	switch op {
	case "ListPermissionSets":
		if str("NextToken") == "" {
			out = map[string]any{"PermissionSets": []string{psReadOnly}, "NextToken": "page2"}
		} else {
			out = map[string]any{"PermissionSets": []string{psPowerUser}}
		}
	case "DescribePermissionSet":
		name := map[string]string{psReadOnly: "ReadOnly", psPowerUser: "PowerUser"}[str("PermissionSetArn")]
		out = map[string]any{"PermissionSet": map[string]any{"Name": name, "PermissionSetArn": str("PermissionSetArn")}}
	case "ListAccountAssignments":
		var as []map[string]any
		for k := range f.assigned {
			p := strings.Split(k, "|")
			if p[0] == str("AccountId") && p[1] == str("PermissionSetArn") {
				as = append(as, map[string]any{"AccountId": p[0], "PermissionSetArn": p[1],
					"PrincipalId": p[2], "PrincipalType": "USER"})
			}
		}
		out = map[string]any{"AccountAssignments": as}
	case "DeleteAccountAssignment":
		if f.deleteGone {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"__type":"ResourceNotFoundException","message":"no such assignment"}`)
			return
		}
		delete(f.assigned, str("TargetId")+"|"+str("PermissionSetArn")+"|"+str("PrincipalId"))
		out = map[string]any{"AccountAssignmentDeletionStatus": map[string]any{
			"Status": "IN_PROGRESS", "RequestId": "req-0001", "TargetId": str("TargetId")}}
	default:
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"__type":"UnknownOperationException","message":"`+op+`"}`)
		return
	}
	json.NewEncoder(w).Encode(out)
}

// takeCalls returns the calls received so far and forgets them.
func (f *fakeSSOAdmin) takeCalls() []ssoCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// revoker returns a Revoker whose client talks only to the fake server,
// with static fake credentials and no retries.
func (f *fakeSSOAdmin) revoker(t *testing.T) *approve.Revoker {
	t.Helper()
	client := ssoadmin.New(ssoadmin.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(f.server.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDJITSCORETEST", "fake-secret", ""),
		RetryMaxAttempts: 1,
	})
	r, err := approve.NewRevoker(client, approve.RevokerOptions{InstanceARN: testInstance,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func revokeGrant(id, storeID, role string) features.GrantUsage {
	return features.GrantUsage{
		Grant:           models.Grant{RequestID: id, Requester: "bob@x.io", Entitlement: "aws:111122223333:" + role},
		Person:          "bob@x.io",
		IdentityStoreID: storeID,
		AWSAccount:      "111122223333",
		AWSRole:         role,
	}
}

func TestRevokerDeletesTheAssignmentWithExactCallsThenIsIdempotent(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f := newFakeSSOAdmin(t)
	f.assigned["111122223333|"+psPowerUser+"|u-bob"] = true
	rev := f.revoker(t)
	ctx := context.Background()

	a := rev.Revoke(ctx, revokeGrant("g1", "u-bob", "PowerUser"))
	if a.Result != approve.ApplyDeleted || !a.Gone() {
		t.Fatalf("first revoke = %+v, want deleted", a)
	}
	got := f.takeCalls()
	want := []ssoCall{
		{"ListPermissionSets", map[string]any{"InstanceArn": testInstance}},
		{"DescribePermissionSet", map[string]any{"InstanceArn": testInstance, "PermissionSetArn": psReadOnly}},
		{"ListPermissionSets", map[string]any{"InstanceArn": testInstance, "NextToken": "page2"}},
		{"DescribePermissionSet", map[string]any{"InstanceArn": testInstance, "PermissionSetArn": psPowerUser}},
		{"ListAccountAssignments", map[string]any{"InstanceArn": testInstance, "AccountId": "111122223333",
			"PermissionSetArn": psPowerUser}},
		{"DeleteAccountAssignment", map[string]any{"InstanceArn": testInstance, "PermissionSetArn": psPowerUser,
			"PrincipalId": "u-bob", "PrincipalType": "USER", "TargetId": "111122223333", "TargetType": "AWS_ACCOUNT"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n got %v\nwant %v", got, want)
	}
	if f.contentType != "application/x-amz-json-1.1" {
		t.Errorf("content type %q, want application/x-amz-json-1.1", f.contentType)
	}
	if len(a.Calls) != len(want) || a.Calls[len(a.Calls)-1].Operation != "DeleteAccountAssignment" ||
		!strings.Contains(a.Calls[len(a.Calls)-1].Detail, "IN_PROGRESS") {
		t.Errorf("recorded calls %+v do not match the calls made", a.Calls)
	}
	for _, c := range a.Calls {
		if strings.Contains(c.Input, "fake-secret") || strings.Contains(c.Input, "AKID") {
			t.Errorf("recorded call carries credentials: %s", c.Input)
		}
	}

	// The second run finds nothing to delete: one list, no delete, and
	// the permission sets come from the cache.
	again := rev.Revoke(ctx, revokeGrant("g1", "u-bob", "PowerUser"))
	if again.Result != approve.ApplyAlreadyAbsent {
		t.Errorf("second revoke = %+v, want already_absent", again)
	}
	if got := f.takeCalls(); len(got) != 1 || got[0].Op != "ListAccountAssignments" {
		t.Errorf("second revoke made calls %v, want only ListAccountAssignments", got)
	}
}

func TestRevokerOutcomes(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	tests := []struct {
		name   string
		setup  func(*fakeSSOAdmin)
		grant  features.GrantUsage
		result string
		ops    []string
	}{
		{"deletion racing a removal counts as absent",
			func(f *fakeSSOAdmin) { f.assigned["111122223333|"+psReadOnly+"|u-bob"] = true; f.deleteGone = true },
			revokeGrant("g", "u-bob", "ReadOnly"), approve.ApplyAlreadyAbsent,
			[]string{"ListPermissionSets", "DescribePermissionSet", "ListPermissionSets", "DescribePermissionSet",
				"ListAccountAssignments", "DeleteAccountAssignment"}},
		{"no identity store id is skipped without a call", func(*fakeSSOAdmin) {},
			revokeGrant("g", "", "ReadOnly"), approve.ApplySkipped, nil},
		{"unknown permission set fails", func(*fakeSSOAdmin) {},
			revokeGrant("g", "u-bob", "NoSuchSet"), approve.ApplyFailed,
			[]string{"ListPermissionSets", "DescribePermissionSet", "ListPermissionSets", "DescribePermissionSet"}},
		{"server error fails", func(f *fakeSSOAdmin) { f.failAll = true },
			revokeGrant("g", "u-bob", "ReadOnly"), approve.ApplyFailed, []string{"ListPermissionSets"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeSSOAdmin(t)
			tc.setup(f)
			a := f.revoker(t).Revoke(context.Background(), tc.grant)
			if a.Result != tc.result {
				t.Errorf("result %s (%s), want %s", a.Result, a.Detail, tc.result)
			}
			var ops []string
			for _, c := range f.takeCalls() {
				ops = append(ops, c.Op)
			}
			if !reflect.DeepEqual(ops, tc.ops) {
				t.Errorf("calls %v, want %v", ops, tc.ops)
			}
			if len(a.Calls) != len(tc.ops) {
				t.Errorf("%d calls recorded, %d made", len(a.Calls), len(tc.ops))
			}
		})
	}
}

func TestApplyRevocationsTouchesOnlyRevokes(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f := newFakeSSOAdmin(t)
	f.assigned["111122223333|"+psReadOnly+"|u-bob"] = true
	f.assigned["111122223333|"+psPowerUser+"|u-bob"] = true
	rs := []models.Renewal{
		{RequestID: "keep", Action: models.RenewalRenew},
		{RequestID: "ask", Action: models.RenewalReview},
		{RequestID: "drop", Action: models.RenewalRevoke},
		{RequestID: "lost", Action: models.RenewalRevoke},
	}
	grants := []features.GrantUsage{revokeGrant("keep", "u-bob", "ReadOnly"), revokeGrant("ask", "u-bob", "ReadOnly"),
		revokeGrant("drop", "u-bob", "PowerUser")}
	got := approve.ApplyRevocations(context.Background(), f.revoker(t), rs, grants)
	if len(got) != 2 || got["drop"].Result != approve.ApplyDeleted || got["lost"].Result != approve.ApplySkipped {
		t.Errorf("applied %+v, want drop deleted and lost skipped only", got)
	}
	if !f.assigned["111122223333|"+psReadOnly+"|u-bob"] || f.assigned["111122223333|"+psPowerUser+"|u-bob"] {
		t.Errorf("assignments after apply %v, want only ReadOnly left", f.assigned)
	}
}
