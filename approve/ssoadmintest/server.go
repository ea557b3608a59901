// Package ssoadmintest is a fake IAM Identity Center admin (sso-admin)
// service for tests: an HTTP server on 127.0.0.1 that speaks the awsJson1_1
// protocol (POST with X-Amz-Target: SWBExternalService.<Operation>) for the
// four operations approve.Revoker uses, keeps account assignments in
// memory, and records every call it receives so that a test can check the
// exact calls made.
package ssoadmintest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
)

// Instance is the Identity Center instance ARN the fake serves.
const Instance = "arn:aws:sso:::instance/ssoins-0000000000000000"

// AccessKey is the fake static access key Client signs with; the server
// refuses requests not signed with it.
const AccessKey = "AKIDJITSCORETEST"

// Call is one request the server received: the operation and its JSON body.
type Call struct {
	Op   string
	Body map[string]any
}

// Server is the fake. Its methods are safe for concurrent use.
type Server struct {
	srv *httptest.Server

	mu          sync.Mutex
	sets        []string          // permission-set names, in list order
	calls       []Call            // every call, in order
	assigned    map[string]bool   // account|permission set ARN|principal
	deleteGone  bool              // deletions answer ResourceNotFoundException
	failAll     bool              // every call answers 500
	contentType string            // of the last request
	names       map[string]string // ARN -> name
}

// New starts a server holding the named permission sets (listed one per
// page, to exercise pagination) and stops it when the test ends.
func New(t *testing.T, permissionSets ...string) *Server {
	t.Helper()
	s := &Server{sets: permissionSets, assigned: map[string]bool{}, names: map[string]string{}}
	for _, n := range permissionSets {
		s.names[PermissionSetARN(n)] = n
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// PermissionSetARN is the ARN the fake gives the permission set name.
func PermissionSetARN(name string) string {
	return "arn:aws:sso:::permissionSet/ssoins-0000000000000000/ps-" + strings.ToLower(name)
}

// URL is the server's endpoint, for --endpoint-url.
func (s *Server) URL() string { return s.srv.URL }

// Client returns an sso-admin client that talks only to the server, with
// static fake credentials and no retries.
func (s *Server) Client() *ssoadmin.Client {
	return ssoadmin.New(ssoadmin.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(s.srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(AccessKey, "fake-secret", ""),
		RetryMaxAttempts: 1,
	})
}

func key(account, permissionSet, principal string) string {
	return account + "|" + PermissionSetARN(permissionSet) + "|" + principal
}

// Assign gives the USER principal the permission set in account.
func (s *Server) Assign(account, permissionSet, principal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assigned[key(account, permissionSet, principal)] = true
}

// Assigned reports whether the assignment exists.
func (s *Server) Assigned(account, permissionSet, principal string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.assigned[key(account, permissionSet, principal)]
}

// Assignments counts the assignments held.
func (s *Server) Assignments() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.assigned)
}

// SetDeleteGone makes deletions answer ResourceNotFoundException, as when
// someone removed the assignment between the list and the delete.
func (s *Server) SetDeleteGone(v bool) { s.mu.Lock(); s.deleteGone = v; s.mu.Unlock() }

// SetFailAll makes every call answer 500 InternalServerException.
func (s *Server) SetFailAll(v bool) { s.mu.Lock(); s.failAll = v; s.mu.Unlock() }

// ContentType is the Content-Type of the last request.
func (s *Server) ContentType() string { s.mu.Lock(); defer s.mu.Unlock(); return s.contentType }

// TakeCalls returns the calls received since the last TakeCalls.
func (s *Server) TakeCalls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "SWBExternalService.")
	if r.Method != http.MethodPost || !ok {
		http.Error(w, "not an sso-admin request", http.StatusBadRequest)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="+AccessKey+"/") {
		http.Error(w, "unsigned request", http.StatusForbidden)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, "body is not JSON", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, Call{Op: op, Body: body})
	s.contentType = r.Header.Get("Content-Type")
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	fail := func(code int, typ, msg string) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	if s.failAll {
		fail(http.StatusInternalServerError, "InternalServerException", "injected failure")
		return
	}
	str := func(k string) string { v, _ := body[k].(string); return v }
	if str("InstanceArn") != Instance {
		fail(http.StatusBadRequest, "ResourceNotFoundException", "no such instance")
		return
	}
	var out any
	switch op {
	case "ListPermissionSets":
		// One set per page; the token is the index of the next one.
		i := 0
		if t := str("NextToken"); t != "" {
			i = len(t) // token "x", "xx", ... encodes the index
		}
		page := map[string]any{"PermissionSets": []string{}}
		if i < len(s.sets) {
			page["PermissionSets"] = []string{PermissionSetARN(s.sets[i])}
		}
		if i+1 < len(s.sets) {
			page["NextToken"] = strings.Repeat("x", i+1)
		}
		out = page
	case "DescribePermissionSet":
		arn := str("PermissionSetArn")
		name, ok := s.names[arn]
		if !ok {
			fail(http.StatusBadRequest, "ResourceNotFoundException", "no such permission set")
			return
		}
		out = map[string]any{"PermissionSet": map[string]any{"Name": name, "PermissionSetArn": arn}}
	case "ListAccountAssignments":
		prefix := str("AccountId") + "|" + str("PermissionSetArn") + "|"
		var keys []string
		for k := range s.assigned {
			if strings.HasPrefix(k, prefix) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		as := []map[string]any{}
		for _, k := range keys {
			p := strings.Split(k, "|")
			as = append(as, map[string]any{"AccountId": p[0], "PermissionSetArn": p[1],
				"PrincipalId": p[2], "PrincipalType": "USER"})
		}
		out = map[string]any{"AccountAssignments": as}
	case "DeleteAccountAssignment":
		k := str("TargetId") + "|" + str("PermissionSetArn") + "|" + str("PrincipalId")
		if s.deleteGone || !s.assigned[k] || str("PrincipalType") != "USER" || str("TargetType") != "AWS_ACCOUNT" {
			fail(http.StatusBadRequest, "ResourceNotFoundException", "no such assignment")
			return
		}
		delete(s.assigned, k)
		out = map[string]any{"AccountAssignmentDeletionStatus": map[string]any{
			"Status": "IN_PROGRESS", "RequestId": "req-" + str("TargetId"), "TargetId": str("TargetId"),
			"PrincipalId": str("PrincipalId"), "PermissionSetArn": str("PermissionSetArn")}}
	default:
		fail(http.StatusBadRequest, "UnknownOperationException", op)
		return
	}
	json.NewEncoder(w).Encode(out)
}
