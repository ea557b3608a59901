package simulate

import (
	"time"

	"github.com/jitscore/jitscore/models"
)

// Account roles of the simulated AWS organisation, in the order accounts
// are created: the first account is production and also the Identity
// Center management account.
var accountIDs = []string{"111122223333", "444455556666", "777788889999"}

// accountNames name the accounts in entitlement templates ("prod:ReadOnly").
var accountNames = []string{"prod", "staging", "data"}

// permSet is an IAM Identity Center permission set: its tier and typical
// grant length per account kind, and the calls its sessions make.
type permSet struct {
	name     string
	tier     map[string]models.Tier // by account name
	typical  time.Duration
	mix      []opGroup
	desc     string
	accounts []string // account names it is provisioned in
}

// opGroup is a share of a session's calls drawn from one list of API
// calls; denied marks calls the permission set does not allow, which come
// back AccessDenied.
type opGroup struct {
	weight float64
	ops    []apiOp
	denied bool
}

// param selects the shape of requestParameters for an API call.
type param uint8

const (
	pNull param = iota
	pMax
	pInstance
	pBucket
	pRole
	pQuery
	pService
	pPeriod
)

// apiOp is one CloudTrail eventSource/eventName pair.
type apiOp struct {
	source   string
	name     string
	readOnly bool
	param    param
	global   bool // recorded in us-east-1 whatever the session's region
}

func op(source, name string, ro bool, p param) apiOp {
	return apiOp{source: source + ".amazonaws.com", name: name, readOnly: ro, param: p}
}

func globalOp(source, name string, ro bool, p param) apiOp {
	o := op(source, name, ro, p)
	o.global = true
	return o
}

// TODO(simulate): only management events are drawn; data events (S3
// GetObject, Lambda Invoke) would multiply volume and add nothing the
// features read today.
var (
	readOps = []apiOp{
		op("ec2", "DescribeInstances", true, pInstance),
		op("ec2", "DescribeSecurityGroups", true, pMax),
		op("s3", "ListBuckets", true, pNull),
		op("s3", "GetBucketLocation", true, pBucket),
		op("monitoring", "GetMetricData", true, pNull),
		op("logs", "DescribeLogGroups", true, pMax),
		op("logs", "FilterLogEvents", true, pNull),
		op("rds", "DescribeDBInstances", true, pMax),
		op("lambda", "ListFunctions20150331", true, pMax),
		op("ecs", "DescribeServices", true, pService),
		op("ecs", "ListClusters", true, pMax),
		op("cloudformation", "DescribeStacks", true, pNull),
		op("dynamodb", "DescribeTable", true, pNull),
		op("sts", "GetCallerIdentity", true, pNull),
		globalOp("iam", "ListRoles", true, pMax),
		op("kms", "ListKeys", true, pMax),
		op("secretsmanager", "ListSecrets", true, pMax),
	}
	writeOps = []apiOp{
		op("ec2", "RunInstances", false, pInstance),
		op("ec2", "TerminateInstances", false, pInstance),
		op("ec2", "StartInstances", false, pInstance),
		op("ec2", "StopInstances", false, pInstance),
		op("ec2", "CreateTags", false, pInstance),
		op("ecs", "UpdateService", false, pService),
		op("lambda", "UpdateFunctionCode20150331v2", false, pNull),
		op("cloudformation", "UpdateStack", false, pNull),
		op("ssm", "SendCommand", false, pInstance),
		op("ssm", "StartSession", false, pInstance),
		op("rds", "ModifyDBInstance", false, pNull),
		op("dynamodb", "UpdateTable", false, pNull),
		op("autoscaling", "SetDesiredCapacity", false, pNull),
		op("secretsmanager", "PutSecretValue", false, pNull),
	}
	adminOps = []apiOp{
		globalOp("iam", "CreateRole", false, pRole),
		globalOp("iam", "AttachRolePolicy", false, pRole),
		globalOp("iam", "PutRolePolicy", false, pRole),
		globalOp("iam", "UpdateAssumeRolePolicy", false, pRole),
		globalOp("iam", "CreateAccessKey", false, pNull),
		globalOp("iam", "ListUsers", true, pMax),
		globalOp("iam", "GetAccountAuthorizationDetails", true, pNull),
		globalOp("organizations", "DescribeOrganization", true, pNull),
		globalOp("organizations", "ListAccounts", true, pNull),
		op("kms", "PutKeyPolicy", false, pNull),
		op("s3", "PutBucketPolicy", false, pBucket),
	}
	dataOps = []apiOp{
		op("athena", "StartQueryExecution", false, pNull),
		op("athena", "GetQueryExecution", true, pQuery),
		op("athena", "GetQueryResults", true, pQuery),
		op("glue", "GetTables", true, pNull),
		op("glue", "GetDatabases", true, pNull),
		op("sagemaker", "CreateTrainingJob", false, pNull),
		op("sagemaker", "ListNotebookInstances", true, pMax),
		op("redshift-data", "ExecuteStatement", false, pNull),
		op("s3", "ListBuckets", true, pNull),
	}
	billingOps = []apiOp{
		globalOp("ce", "GetCostAndUsage", true, pPeriod),
		globalOp("ce", "GetCostForecast", true, pPeriod),
		globalOp("budgets", "DescribeBudgets", true, pNull),
		globalOp("cur", "DescribeReportDefinitions", true, pNull),
	}
	auditOps = []apiOp{
		globalOp("iam", "GetAccountAuthorizationDetails", true, pNull),
		globalOp("iam", "GetCredentialReport", true, pNull),
		op("guardduty", "ListFindings", true, pMax),
		op("guardduty", "GetFindings", true, pNull),
		op("securityhub", "GetFindings", true, pMax),
		op("config", "DescribeConfigRules", true, pNull),
		op("config", "DescribeComplianceByConfigRule", true, pNull),
		op("cloudtrail", "DescribeTrails", true, pNull),
		op("cloudtrail", "LookupEvents", true, pMax),
		op("access-analyzer", "ListFindings", true, pMax),
	}
	// automationOps are the calls of the CI user's pipeline runs.
	automationOps = []apiOp{
		op("ecr", "GetAuthorizationToken", true, pNull),
		op("ecr", "BatchCheckLayerAvailability", true, pNull),
		op("ecr", "PutImage", false, pNull),
		op("cloudformation", "DescribeStacks", true, pNull),
		op("cloudformation", "UpdateStack", false, pNull),
		op("ecs", "DescribeServices", true, pService),
		op("ecs", "UpdateService", false, pService),
		op("lambda", "UpdateFunctionCode20150331v2", false, pNull),
		op("s3", "ListBuckets", true, pNull),
	}
	// serviceOps are calls AWS services make on the account's behalf.
	serviceOps = []apiOp{
		op("kms", "Decrypt", true, pNull),
		op("kms", "GenerateDataKey", true, pNull),
		op("sts", "AssumeRole", false, pRole),
		op("logs", "CreateLogStream", false, pNull),
		op("ec2", "CreateNetworkInterface", false, pNull),
	}
	// serviceInvokers are the services behind AWSService events.
	serviceInvokers = []string{
		"lambda.amazonaws.com", "ecs-tasks.amazonaws.com", "cloudtrail.amazonaws.com",
		"s3.amazonaws.com", "autoscaling.amazonaws.com",
	}
	// portalOps are the IAM Identity Center portal calls a person makes
	// before a session, recorded as IdentityCenterUser.
	portalOps = []apiOp{
		globalOp("sso", "ListAccounts", true, pNull),
		globalOp("sso", "ListAccountRoles", true, pNull),
		globalOp("sso", "GetRoleCredentials", true, pNull),
	}
)

var permSets = []permSet{
	{
		name:     "ReadOnly",
		tier:     map[string]models.Tier{"prod": models.TierLow, "staging": models.TierLow, "data": models.TierLow},
		typical:  8 * time.Hour,
		desc:     "read-only access to the account",
		accounts: []string{"prod", "staging", "data"},
		mix:      []opGroup{{weight: 0.97, ops: readOps}, {weight: 0.03, ops: writeOps, denied: true}},
	},
	{
		name:     "BillingReadOnly",
		tier:     map[string]models.Tier{"prod": models.TierLow},
		typical:  8 * time.Hour,
		desc:     "cost and billing reports",
		accounts: []string{"prod"},
		mix:      []opGroup{{weight: 0.95, ops: billingOps}, {weight: 0.05, ops: readOps, denied: true}},
	},
	{
		name:     "SecurityAudit",
		tier:     map[string]models.Tier{"prod": models.TierMedium, "staging": models.TierMedium},
		typical:  8 * time.Hour,
		desc:     "read security configuration and findings",
		accounts: []string{"prod", "staging"},
		mix:      []opGroup{{weight: 0.85, ops: auditOps}, {weight: 0.15, ops: readOps}},
	},
	{
		name:     "DataScientist",
		tier:     map[string]models.Tier{"prod": models.TierHigh, "staging": models.TierMedium, "data": models.TierMedium},
		typical:  8 * time.Hour,
		desc:     "query and train on the data lake",
		accounts: []string{"prod", "staging", "data"},
		mix:      []opGroup{{weight: 0.8, ops: dataOps}, {weight: 0.2, ops: readOps}},
	},
	{
		name:     "PowerUser",
		tier:     map[string]models.Tier{"prod": models.TierHigh, "staging": models.TierMedium, "data": models.TierHigh},
		typical:  4 * time.Hour,
		desc:     "change resources, no IAM",
		accounts: []string{"prod", "staging", "data"},
		mix: []opGroup{
			{weight: 0.6, ops: readOps}, {weight: 0.38, ops: writeOps},
			{weight: 0.02, ops: adminOps[:5], denied: true},
		},
	},
	{
		name:     "AdministratorAccess",
		tier:     map[string]models.Tier{"prod": models.TierCritical, "staging": models.TierHigh, "data": models.TierCritical},
		typical:  time.Hour,
		desc:     "full control of the account",
		accounts: []string{"prod", "staging", "data"},
		mix:      []opGroup{{weight: 0.4, ops: readOps}, {weight: 0.25, ops: writeOps}, {weight: 0.35, ops: adminOps}},
	},
}

// appEnt is a non-AWS entitlement: no CloudTrail shows its use.
type appEnt struct {
	id      string
	tier    models.Tier
	typical time.Duration
	owner   string
	desc    string
}

var appEnts = []appEnt{
	{"stripe:read", models.TierLow, 8 * time.Hour, "payments-leads@example.com", "read payments and customers in Stripe"},
	{"stripe:refunds", models.TierHigh, 2 * time.Hour, "payments-leads@example.com", "issue refunds in Stripe"},
	{"github:repo-write", models.TierMedium, 8 * time.Hour, "platform@example.com", "push to protected repositories"},
	{"github:org-admin", models.TierCritical, time.Hour, "platform@example.com", "administer the GitHub organisation"},
	{"okta:helpdesk", models.TierMedium, 4 * time.Hour, "it@example.com", "reset passwords and MFA in Okta"},
	{"okta:admin", models.TierCritical, time.Hour, "it@example.com", "administer Okta"},
	{"salesforce:read", models.TierLow, 8 * time.Hour, "sales-ops@example.com", "read accounts in Salesforce"},
	{"salesforce:export", models.TierHigh, 2 * time.Hour, "sales-ops@example.com", "bulk export from Salesforce"},
	{"zendesk:admin", models.TierMedium, 4 * time.Hour, "support-ops@example.com", "administer Zendesk"},
}

// personaDef is one job (department and title) and its habits. Routine
// and occasional name entitlement templates: "prod:ReadOnly" is the
// ReadOnly permission set in the prod account, anything with an app
// prefix is an app entitlement.
type personaDef struct {
	dept, title string
	weight      float64
	contractor  float64 // share of contractors
	unused      float64 // base probability that a grant goes unused
	routine     []string
	occasional  []string
}

var personaDefs = []personaDef{
	{"Payments", "Backend Engineer", 16, 0.15, 0.15,
		[]string{"prod:ReadOnly", "staging:PowerUser", "github:repo-write"},
		[]string{"prod:PowerUser", "stripe:read", "staging:AdministratorAccess"}},
	{"Payments", "Engineering Manager", 2, 0, 0.45,
		[]string{"prod:ReadOnly", "stripe:read"},
		[]string{"stripe:refunds", "github:repo-write", "prod:BillingReadOnly"}},
	{"Platform", "SRE", 12, 0.1, 0.1,
		[]string{"prod:ReadOnly", "prod:PowerUser", "staging:AdministratorAccess", "staging:PowerUser"},
		[]string{"prod:AdministratorAccess", "data:PowerUser", "github:org-admin"}},
	{"Platform", "Engineering Manager", 1, 0, 0.45,
		[]string{"prod:ReadOnly"},
		[]string{"prod:PowerUser", "staging:AdministratorAccess", "prod:BillingReadOnly"}},
	{"Data", "Analytics Engineer", 10, 0.1, 0.2,
		[]string{"data:DataScientist", "data:ReadOnly", "prod:ReadOnly"},
		[]string{"data:PowerUser", "salesforce:read"}},
	{"Data", "Data Scientist", 6, 0.1, 0.25,
		[]string{"data:DataScientist"},
		[]string{"data:ReadOnly", "staging:DataScientist"}},
	{"Security", "Security Engineer", 6, 0.05, 0.15,
		[]string{"prod:SecurityAudit", "prod:ReadOnly", "okta:helpdesk"},
		[]string{"prod:AdministratorAccess", "okta:admin", "github:org-admin", "staging:SecurityAudit"}},
	{"Support", "Support Agent", 14, 0.35, 0.35,
		[]string{"stripe:read", "salesforce:read"},
		[]string{"stripe:refunds", "prod:ReadOnly"}},
	{"Support", "Support Lead", 2, 0.05, 0.3,
		[]string{"stripe:read", "stripe:refunds", "zendesk:admin"},
		[]string{"salesforce:export", "okta:helpdesk"}},
	{"Finance", "Analyst", 6, 0.1, 0.3,
		[]string{"prod:BillingReadOnly", "stripe:read"},
		[]string{"salesforce:export", "stripe:refunds"}},
	{"Sales", "Account Executive", 10, 0.15, 0.45,
		[]string{"salesforce:read"},
		[]string{"salesforce:export"}},
	{"IT", "IT Administrator", 3, 0.2, 0.2,
		[]string{"okta:helpdesk", "okta:admin"},
		[]string{"github:org-admin", "prod:ReadOnly"}},
}

var (
	firstNames = []string{
		"ada", "ben", "chloe", "dev", "elena", "farid", "grace", "hugo", "ines", "jonas",
		"kira", "liam", "maya", "nils", "olga", "pedro", "quinn", "rosa", "sami", "tara",
		"umar", "vera", "wei", "xenia", "yusuf", "zoe", "amir", "bea", "carlos", "dana",
	}
	lastNames = []string{
		"abbott", "berg", "costa", "diaz", "eriksen", "fischer", "garcia", "haas", "ito",
		"jensen", "kowalski", "lopez", "meyer", "nakamura", "okafor", "petrov", "quist",
		"rossi", "silva", "tanaka", "ueda", "vogel", "weber", "xu", "young", "zimmer",
	}
	locations  = []string{"Berlin", "London", "New York", "Lisbon", "Remote"}
	userAgents = []string{
		"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off",
		"aws-cli/2.17.4 Python/3.11.9 Darwin/23.5.0 exe/x86_64 prompt/off",
		"Boto3/1.34.50 md/Botocore#1.34.50 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8",
		"aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64",
		"AWS Internal",
		"console.amazonaws.com",
		"Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0",
	}
	justifications = []string{
		"investigate elevated error rate",
		"deploy hotfix",
		"on-call: page for latency",
		"customer escalation",
		"monthly cost review",
		"rotate credentials",
		"debug failing job",
		"run data backfill",
		"quarterly access audit",
		"incident follow-up",
	}
	ticketProjects = []string{"OPS", "INC", "SUP", "DATA", "SEC", "FIN"}
)
