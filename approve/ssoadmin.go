package approve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin"
	"github.com/aws/aws-sdk-go-v2/service/ssoadmin/types"

	"github.com/jitscore/jitscore/features"
)

// SSOAdminAPI is the part of the IAM Identity Center admin API that
// revocation uses. *ssoadmin.Client satisfies it.
type SSOAdminAPI interface {
	ListPermissionSets(context.Context, *ssoadmin.ListPermissionSetsInput,
		...func(*ssoadmin.Options)) (*ssoadmin.ListPermissionSetsOutput, error)
	DescribePermissionSet(context.Context, *ssoadmin.DescribePermissionSetInput,
		...func(*ssoadmin.Options)) (*ssoadmin.DescribePermissionSetOutput, error)
	ListAccountAssignments(context.Context, *ssoadmin.ListAccountAssignmentsInput,
		...func(*ssoadmin.Options)) (*ssoadmin.ListAccountAssignmentsOutput, error)
	DeleteAccountAssignment(context.Context, *ssoadmin.DeleteAccountAssignmentInput,
		...func(*ssoadmin.Options)) (*ssoadmin.DeleteAccountAssignmentOutput, error)
}

// NewSSOAdminClient returns an sso-admin client using the standard AWS
// credential chain and region. A non-empty endpoint replaces the service
// endpoint (for a test server or a private endpoint); nothing else is
// contacted by the client than that endpoint, or the region's when empty.
func NewSSOAdminClient(ctx context.Context, region, endpoint string) (*ssoadmin.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("sso-admin client: %w", err)
	}
	return ssoadmin.NewFromConfig(cfg, func(o *ssoadmin.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// Results of applying one revocation.
const (
	ApplyDeleted       = "deleted"        // the account assignment was deleted (or its deletion started)
	ApplyAlreadyAbsent = "already_absent" // there was no such assignment: nothing to do
	ApplySkipped       = "skipped"        // the grant cannot be revoked in Identity Center
	ApplyFailed        = "failed"         // a call failed; the access may remain
)

// Call outcomes in a Call.
const (
	CallOK       = "ok"
	CallNotFound = "not_found"
	CallError    = "error"
)

// Call is one sso-admin call made while applying a renewal plan: the
// operation, its parameters as JSON (ARNs and ids; never credentials), the
// outcome and a detail (the deletion status, or the error).
type Call struct {
	RequestID string    `json:"request_id"` // the grant the call was made for
	Operation string    `json:"operation"`
	Input     string    `json:"input"`
	Outcome   string    `json:"outcome"`
	Detail    string    `json:"detail,omitempty"`
	At        time.Time `json:"at"`
}

// Applied is what applying one revocation did.
type Applied struct {
	RequestID string `json:"request_id"`
	Result    string `json:"result"` // one of the Apply* constants
	Detail    string `json:"detail"`
	Calls     []Call `json:"calls"`
}

// Gone reports whether the access is known to be removed.
func (a Applied) Gone() bool { return a.Result == ApplyDeleted || a.Result == ApplyAlreadyAbsent }

// RevokerOptions builds a Revoker.
type RevokerOptions struct {
	// InstanceARN is the IAM Identity Center instance
	// (renewal.identity_center_instance_arn). Required.
	InstanceARN string
	// Logger defaults to slog.Default(); every call is logged at Info.
	Logger *slog.Logger
	// Metrics counts revocations by result; nil builds unregistered ones.
	Metrics *RenewalMetrics
	// Now stamps calls; nil means time.Now.
	Now func() time.Time
}

// Revoker carries out revoke actions by deleting IAM Identity Center
// account assignments: for a grant of aws:<account>:<permission set> to a
// person with Identity Store user id U, the USER assignment of U to that
// permission set in that account. It is idempotent: it lists the
// assignments first and deletes only one that exists, and a deletion that
// answers ResourceNotFoundException counts as already absent. Permission
// set ARNs are looked up by name once (ListPermissionSets then
// DescribePermissionSet for each) and cached. A Revoker is safe for
// concurrent use.
type Revoker struct {
	api     SSOAdminAPI
	arn     string
	log     *slog.Logger
	metrics *RenewalMetrics
	now     func() time.Time

	mu       sync.Mutex
	permSets map[string]string // name -> ARN; nil until loaded
}

// NewRevoker returns a Revoker over api.
func NewRevoker(api SSOAdminAPI, opts RevokerOptions) (*Revoker, error) {
	if api == nil {
		return nil, errors.New("revoker: no sso-admin client")
	}
	if opts.InstanceARN == "" {
		return nil, errors.New("revoker: renewal.identity_center_instance_arn is empty")
	}
	r := &Revoker{api: api, arn: opts.InstanceARN, log: opts.Logger, metrics: opts.Metrics, now: opts.Now}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With(slog.String("component", "ssoadmin"))
	if r.metrics == nil {
		r.metrics = NewRenewalMetrics(nil)
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Revoke removes the access of grant g and says what it did; it never
// returns an error, since every failure is a result to record. A grant
// without an Identity Store user id or an AWS account and permission set
// is skipped.
func (r *Revoker) Revoke(ctx context.Context, g features.GrantUsage) Applied {
	a := Applied{RequestID: g.RequestID}
	finish := func(result, detail string) Applied {
		a.Result, a.Detail = result, detail
		r.metrics.Revocations.WithLabelValues(result).Inc()
		r.log.Info("revocation applied", slog.String("request_id", g.RequestID),
			slog.String("result", result), slog.String("detail", detail))
		return a
	}
	switch {
	case g.IdentityStoreID == "":
		return finish(ApplySkipped, "the person has no identity_store_id in the identities file")
	case g.AWSAccount == "" || g.AWSRole == "":
		return finish(ApplySkipped, g.Entitlement+" is not an IAM Identity Center permission set in an account")
	}
	psARN, err := r.permissionSet(ctx, &a, g.AWSRole)
	if err != nil {
		return finish(ApplyFailed, err.Error())
	}
	if psARN == "" {
		return finish(ApplyFailed, fmt.Sprintf("permission set %q not found in %s", g.AWSRole, r.arn))
	}

	exists, err := r.assigned(ctx, &a, g.AWSAccount, psARN, g.IdentityStoreID)
	if err != nil {
		return finish(ApplyFailed, err.Error())
	}
	if !exists {
		return finish(ApplyAlreadyAbsent, "no such account assignment; nothing to delete")
	}

	in := &ssoadmin.DeleteAccountAssignmentInput{
		InstanceArn:      aws.String(r.arn),
		PermissionSetArn: aws.String(psARN),
		PrincipalId:      aws.String(g.IdentityStoreID),
		PrincipalType:    types.PrincipalTypeUser,
		TargetId:         aws.String(g.AWSAccount),
		TargetType:       types.TargetTypeAwsAccount,
	}
	out, err := r.api.DeleteAccountAssignment(ctx, in)
	if err != nil {
		var nf *types.ResourceNotFoundException
		if errors.As(err, &nf) {
			r.record(&a, "DeleteAccountAssignment", in, CallNotFound, err.Error())
			return finish(ApplyAlreadyAbsent, "the assignment was already gone")
		}
		r.record(&a, "DeleteAccountAssignment", in, CallError, err.Error())
		return finish(ApplyFailed, fmt.Sprintf("delete account assignment: %v", err))
	}
	status, detail := types.StatusValuesInProgress, ""
	if s := out.AccountAssignmentDeletionStatus; s != nil {
		status = s.Status
		detail = fmt.Sprintf("status %s, request %s", s.Status, aws.ToString(s.RequestId))
		if s.FailureReason != nil {
			detail += ": " + aws.ToString(s.FailureReason)
		}
	}
	if status == types.StatusValuesFailed {
		r.record(&a, "DeleteAccountAssignment", in, CallError, detail)
		return finish(ApplyFailed, detail)
	}
	// TODO(renewals): the deletion is asynchronous; IN_PROGRESS is recorded
	// as deleted without polling DescribeAccountAssignmentDeletionStatus, so
	// a deletion that fails later shows only in Identity Center. A re-run
	// lists the assignment again and retries it.
	r.record(&a, "DeleteAccountAssignment", in, CallOK, detail)
	return finish(ApplyDeleted, detail)
}

// permissionSet returns the ARN of the permission set called name, "" when
// the instance has none by that name.
func (r *Revoker) permissionSet(ctx context.Context, a *Applied, name string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.permSets != nil {
		return r.permSets[name], nil
	}
	sets := map[string]string{}
	var token *string
	for {
		in := &ssoadmin.ListPermissionSetsInput{InstanceArn: aws.String(r.arn), NextToken: token}
		out, err := r.api.ListPermissionSets(ctx, in)
		if err != nil {
			r.record(a, "ListPermissionSets", in, CallError, err.Error())
			return "", fmt.Errorf("list permission sets: %w", err)
		}
		r.record(a, "ListPermissionSets", in, CallOK, fmt.Sprintf("%d permission sets", len(out.PermissionSets)))
		for _, arn := range out.PermissionSets {
			din := &ssoadmin.DescribePermissionSetInput{InstanceArn: aws.String(r.arn), PermissionSetArn: aws.String(arn)}
			d, err := r.api.DescribePermissionSet(ctx, din)
			if err != nil {
				r.record(a, "DescribePermissionSet", din, CallError, err.Error())
				return "", fmt.Errorf("describe permission set %s: %w", arn, err)
			}
			n := ""
			if d.PermissionSet != nil {
				n = aws.ToString(d.PermissionSet.Name)
			}
			r.record(a, "DescribePermissionSet", din, CallOK, n)
			sets[n] = arn
		}
		if token = out.NextToken; token == nil || *token == "" {
			break
		}
	}
	r.permSets = sets
	return sets[name], nil
}

// assigned reports whether the USER principal holds the permission set in
// the account.
func (r *Revoker) assigned(ctx context.Context, a *Applied, account, psARN, principal string) (bool, error) {
	var token *string
	for {
		in := &ssoadmin.ListAccountAssignmentsInput{InstanceArn: aws.String(r.arn), AccountId: aws.String(account),
			PermissionSetArn: aws.String(psARN), NextToken: token}
		out, err := r.api.ListAccountAssignments(ctx, in)
		if err != nil {
			r.record(a, "ListAccountAssignments", in, CallError, err.Error())
			return false, fmt.Errorf("list account assignments of %s in %s: %w", psARN, account, err)
		}
		found := false
		for _, x := range out.AccountAssignments {
			if x.PrincipalType == types.PrincipalTypeUser && aws.ToString(x.PrincipalId) == principal {
				found = true
			}
		}
		r.record(a, "ListAccountAssignments", in, CallOK,
			fmt.Sprintf("%d assignments; principal assigned: %t", len(out.AccountAssignments), found))
		if found {
			return true, nil
		}
		if token = out.NextToken; token == nil || *token == "" {
			return false, nil
		}
	}
}

// record appends a call to a and logs it.
func (r *Revoker) record(a *Applied, op string, in any, outcome, detail string) {
	b, err := json.Marshal(in)
	if err != nil {
		b = []byte(`{}`)
	}
	c := Call{RequestID: a.RequestID, Operation: op, Input: string(b), Outcome: outcome, Detail: detail,
		At: r.now().UTC()}
	a.Calls = append(a.Calls, c)
	r.metrics.Calls.WithLabelValues(op, outcome).Inc()
	r.log.Info("sso-admin call", slog.String("request_id", a.RequestID), slog.String("operation", op),
		slog.String("outcome", outcome), slog.String("input", c.Input), slog.String("detail", detail))
}
