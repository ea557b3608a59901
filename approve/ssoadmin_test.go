package approve_test

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/jitscore/jitscore/approve"
	"github.com/jitscore/jitscore/approve/ssoadmintest"
	"github.com/jitscore/jitscore/features"
	"github.com/jitscore/jitscore/models"
)

const testAccount = "111122223333"

// revoker returns a Revoker whose client talks only to s.
func revoker(t *testing.T, s *ssoadmintest.Server) *approve.Revoker {
	t.Helper()
	r, err := approve.NewRevoker(s.Client(), approve.RevokerOptions{InstanceARN: ssoadmintest.Instance,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func revokeGrant(id, storeID, role string) features.GrantUsage {
	return features.GrantUsage{
		Grant:           models.Grant{RequestID: id, Requester: "bob@x.io", Entitlement: "aws:" + testAccount + ":" + role},
		Person:          "bob@x.io",
		IdentityStoreID: storeID,
		AWSAccount:      testAccount,
		AWSRole:         role,
	}
}

func ops(calls []ssoadmintest.Call) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.Op)
	}
	return out
}

func TestRevokerDeletesTheAssignmentWithExactCallsThenIsIdempotent(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s := ssoadmintest.New(t, "ReadOnly", "PowerUser")
	s.Assign(testAccount, "PowerUser", "u-bob")
	s.Assign(testAccount, "PowerUser", "u-carol")
	rev := revoker(t, s)
	ctx := context.Background()

	a := rev.Revoke(ctx, revokeGrant("g1", "u-bob", "PowerUser"))
	if a.Result != approve.ApplyDeleted || !a.Gone() {
		t.Fatalf("first revoke = %+v, want deleted", a)
	}
	in, ro, pu := ssoadmintest.Instance, ssoadmintest.PermissionSetARN("ReadOnly"), ssoadmintest.PermissionSetARN("PowerUser")
	want := []ssoadmintest.Call{
		{Op: "ListPermissionSets", Body: map[string]any{"InstanceArn": in}},
		{Op: "DescribePermissionSet", Body: map[string]any{"InstanceArn": in, "PermissionSetArn": ro}},
		{Op: "ListPermissionSets", Body: map[string]any{"InstanceArn": in, "NextToken": "x"}},
		{Op: "DescribePermissionSet", Body: map[string]any{"InstanceArn": in, "PermissionSetArn": pu}},
		{Op: "ListAccountAssignments", Body: map[string]any{"InstanceArn": in, "AccountId": testAccount,
			"PermissionSetArn": pu}},
		{Op: "DeleteAccountAssignment", Body: map[string]any{"InstanceArn": in, "PermissionSetArn": pu,
			"PrincipalId": "u-bob", "PrincipalType": "USER", "TargetId": testAccount, "TargetType": "AWS_ACCOUNT"}},
	}
	if got := s.TakeCalls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n got %v\nwant %v", got, want)
	}
	if ct := s.ContentType(); ct != "application/x-amz-json-1.1" {
		t.Errorf("content type %q, want application/x-amz-json-1.1", ct)
	}
	if s.Assigned(testAccount, "PowerUser", "u-bob") || !s.Assigned(testAccount, "PowerUser", "u-carol") {
		t.Error("the wrong assignment was deleted")
	}
	last := a.Calls[len(a.Calls)-1]
	if len(a.Calls) != len(want) || last.Operation != "DeleteAccountAssignment" || !strings.Contains(last.Detail, "IN_PROGRESS") {
		t.Errorf("recorded calls %+v do not match the calls made", a.Calls)
	}
	for _, c := range a.Calls {
		if strings.Contains(c.Input, "fake-secret") || strings.Contains(c.Input, ssoadmintest.AccessKey) {
			t.Errorf("recorded call carries credentials: %s", c.Input)
		}
	}

	// The second run finds nothing to delete: one list, no delete, and
	// the permission sets come from the cache.
	again := rev.Revoke(ctx, revokeGrant("g1", "u-bob", "PowerUser"))
	if again.Result != approve.ApplyAlreadyAbsent {
		t.Errorf("second revoke = %+v, want already_absent", again)
	}
	if got := ops(s.TakeCalls()); !reflect.DeepEqual(got, []string{"ListAccountAssignments"}) {
		t.Errorf("second revoke made calls %v, want only ListAccountAssignments", got)
	}
}

func TestRevokerOutcomes(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	lookup := []string{"ListPermissionSets", "DescribePermissionSet", "ListPermissionSets", "DescribePermissionSet"}
	tests := []struct {
		name   string
		setup  func(*ssoadmintest.Server)
		grant  features.GrantUsage
		result string
		ops    []string
	}{
		{"deletion racing a removal counts as absent",
			func(s *ssoadmintest.Server) { s.Assign(testAccount, "ReadOnly", "u-bob"); s.SetDeleteGone(true) },
			revokeGrant("g", "u-bob", "ReadOnly"), approve.ApplyAlreadyAbsent,
			append(lookup, "ListAccountAssignments", "DeleteAccountAssignment")},
		{"no identity store id is skipped without a call", func(*ssoadmintest.Server) {},
			revokeGrant("g", "", "ReadOnly"), approve.ApplySkipped, nil},
		{"unknown permission set fails", func(*ssoadmintest.Server) {},
			revokeGrant("g", "u-bob", "NoSuchSet"), approve.ApplyFailed, lookup},
		{"server error fails", func(s *ssoadmintest.Server) { s.SetFailAll(true) },
			revokeGrant("g", "u-bob", "ReadOnly"), approve.ApplyFailed, []string{"ListPermissionSets"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := ssoadmintest.New(t, "ReadOnly", "PowerUser")
			tc.setup(s)
			a := revoker(t, s).Revoke(context.Background(), tc.grant)
			if a.Result != tc.result {
				t.Errorf("result %s (%s), want %s", a.Result, a.Detail, tc.result)
			}
			if got := ops(s.TakeCalls()); !reflect.DeepEqual(got, tc.ops) {
				t.Errorf("calls %v, want %v", got, tc.ops)
			}
			if len(a.Calls) != len(tc.ops) {
				t.Errorf("%d calls recorded, %d made", len(a.Calls), len(tc.ops))
			}
		})
	}
}

func TestApplyRevocationsTouchesOnlyRevokes(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s := ssoadmintest.New(t, "ReadOnly", "PowerUser")
	s.Assign(testAccount, "ReadOnly", "u-bob")
	s.Assign(testAccount, "PowerUser", "u-bob")
	rs := []models.Renewal{
		{RequestID: "keep", Action: models.RenewalRenew},
		{RequestID: "ask", Action: models.RenewalReview},
		{RequestID: "drop", Action: models.RenewalRevoke},
		{RequestID: "lost", Action: models.RenewalRevoke},
	}
	grants := []features.GrantUsage{revokeGrant("keep", "u-bob", "ReadOnly"), revokeGrant("ask", "u-bob", "ReadOnly"),
		revokeGrant("drop", "u-bob", "PowerUser")}
	got := approve.ApplyRevocations(context.Background(), revoker(t, s), rs, grants)
	if len(got) != 2 || got["drop"].Result != approve.ApplyDeleted || got["lost"].Result != approve.ApplySkipped {
		t.Errorf("applied %+v, want drop deleted and lost skipped only", got)
	}
	if !s.Assigned(testAccount, "ReadOnly", "u-bob") || s.Assigned(testAccount, "PowerUser", "u-bob") {
		t.Error("apply touched an assignment other than the revoked grant's")
	}
}
