package simulate

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// event is one CloudTrail record before encoding: small, so that a day of
// events can be sorted cheaply; the identity JSON is shared per session.
type event struct {
	t      int64 // unix seconds
	ctx    *sessCtx
	op     *apiOp
	id     [16]byte
	req    [16]byte
	err    uint8
	param  param
	p      uint32 // random material for requestParameters
	portal bool   // an IdentityCenterUser portal call
}

// Error codes of event.err.
const (
	errNone uint8 = iota
	errDenied
	errThrottled
)

// sessCtx is what every event of one session shares.
type sessCtx struct {
	identity       []byte // userIdentity object of the calls
	portalIdentity []byte // userIdentity object of portal events
	arn            string // principal ARN, for AccessDenied messages
	account        string // recipientAccountId
	region         string
	sourceIP       string
	agent          string
	eventType      string
	username       string // as aws cloudtrail lookup-events names it
}

// principals holds the per-account IAM automation user, stable across
// sessions.
type principals struct {
	userPID   []string
	accessKey []string
}

func newPrincipals(seed uint64, accounts int) principals {
	r := newRNG(seed, 3)
	var p principals
	for range accounts {
		p.userPID = append(p.userPID, "AIDA"+r.token(alnumUpper, 17))
		p.accessKey = append(p.accessKey, "AKIA"+r.token(alnumUpper, 16))
	}
	return p
}

// materialise draws the events of session si. It uses a stream of its own,
// so the events do not depend on which other sessions were drawn before.
func (o *Org) materialise(si int, pr principals) []event {
	s := &o.sessions[si]
	r := newRNG(o.Config.Seed, 1<<20+uint64(si))
	ctx := &sessCtx{account: accountIDs[s.account], region: s.region, eventType: "AwsApiCall"}
	var mix []opGroup
	switch s.kind {
	case sessHuman:
		g := o.Grants[s.grant]
		e := o.ents[o.entIndex[g.Entitlement]]
		p := o.personByUser(g.Requester)
		mix = e.ps.mix
		ctx.arn = "arn:aws:sts::" + ctx.account + ":assumed-role/" + e.roleName + "/" + s.name
		ctx.identity = fmt.Appendf(nil,
			`{"type":"AssumedRole","principalId":"%s:%s","arn":"%s","accountId":"%s","accessKeyId":"ASIA%s",`+
				`"sessionContext":{"sessionIssuer":{"type":"Role","principalId":"%s",`+
				`"arn":"arn:aws:iam::%s:role/aws-reserved/sso.amazonaws.com/%s","accountId":"%s","userName":"%s"},`+
				`"attributes":{"creationDate":"%s","mfaAuthenticated":"false"}}}`,
			e.rolePrincipalID, s.name, ctx.arn, ctx.account, r.token(alnumUpper, 16),
			e.rolePrincipalID, ctx.account, e.roleName, ctx.account, e.roleName,
			s.start.UTC().Format(time.RFC3339))
		ctx.portalIdentity = fmt.Appendf(nil,
			`{"type":"IdentityCenterUser","accountId":"%s","onBehalfOf":{"userId":"%s",`+
				`"identityStoreArn":"arn:aws:identitystore::%s:identitystore/d-9067a1b2c3"},"credentialId":"%s"}`,
			accountIDs[0], p.IdentityStoreID, accountIDs[0], r.token(alnumUpper, 24))
		ctx.sourceIP, ctx.agent, ctx.username = p.ip, p.agent, s.name
		if r.chance(0.1) {
			ctx.sourceIP = fmt.Sprintf("198.51.100.%d", 1+r.IntN(254))
		}
		if r.chance(0.03) {
			ctx.sourceIP = "2001:db8::" + r.token(hexDigits, 4)
		}
		if r.chance(0.15) {
			ctx.agent = userAgents[r.IntN(len(userAgents))]
		}
	case sessAutomation:
		mix = []opGroup{{weight: 1, ops: automationOps}}
		ctx.arn = "arn:aws:iam::" + ctx.account + ":user/ci-deployer"
		ctx.identity = fmt.Appendf(nil,
			`{"type":"IAMUser","principalId":"%s","arn":"%s","accountId":"%s","accessKeyId":"%s","userName":"ci-deployer"}`,
			pr.userPID[s.account], ctx.arn, ctx.account, pr.accessKey[s.account])
		ctx.sourceIP, ctx.username = "192.0.2.10", "ci-deployer"
		ctx.agent = userAgents[6]
	case sessService:
		mix = []opGroup{{weight: 1, ops: serviceOps}}
		ctx.identity = fmt.Appendf(nil, `{"type":"AWSService","invokedBy":"%s"}`, s.name)
		ctx.sourceIP, ctx.agent = s.name, s.name
	}

	weights := make([]float64, len(mix))
	for i, g := range mix {
		weights[i] = g.weight
	}
	events := make([]event, 0, s.calls+s.portal)
	for i := range s.portal {
		events = append(events, event{
			t: s.start.Unix() + int64(i), ctx: ctx, op: &portalOps[len(portalOps)-s.portal+i],
			id: r.uuid(), req: r.uuid(), portal: true,
		})
	}
	from, span := s.start.Unix()+5, s.end.Unix()-s.start.Unix()-5
	for range s.calls {
		g := &mix[r.weighted(weights)]
		ev := event{ctx: ctx, op: &g.ops[r.IntN(len(g.ops))], id: r.uuid(), req: r.uuid(), p: r.Uint32()}
		ev.t = from
		if span > 0 {
			ev.t += r.Int64N(span + 1)
		}
		switch u := r.Float64(); {
		case g.denied || u < 0.007:
			ev.err = errDenied
		case u < 0.01:
			ev.err = errThrottled
		}
		ev.param = ev.op.param
		if ev.op.readOnly && r.chance(0.25) {
			ev.param = pNull
		}
		events = append(events, ev)
	}
	return events
}

// personByUser finds a person by canonical user id.
func (o *Org) personByUser(user string) *Person {
	if o.byUser == nil {
		o.byUser = make(map[string]*Person, len(o.People))
		for _, p := range o.People {
			o.byUser[p.User] = p
		}
	}
	return o.byUser[user]
}

// sortEvents orders events by time, then event id, so files are stable.
func sortEvents(ev []event) {
	sort.Slice(ev, func(a, b int) bool {
		if ev[a].t != ev[b].t {
			return ev[a].t < ev[b].t
		}
		return string(ev[a].id[:]) < string(ev[b].id[:])
	})
}

// recordAccount and recordRegion are where an event is recorded: portal
// events in the management account's home region, global services in
// us-east-1.
func (e *event) recordAccount() string {
	if e.portal {
		return accountIDs[0]
	}
	return e.ctx.account
}

func (e *event) recordRegion() string {
	if e.portal || e.op.global {
		return "us-east-1"
	}
	return e.ctx.region
}

const ctTime = "2006-01-02T15:04:05Z"

// appendRecord writes e as one compact CloudTrail JSON record.
func appendRecord(b []byte, e *event) []byte {
	identity := e.ctx.identity
	if e.portal {
		identity = e.ctx.portalIdentity
	}
	b = append(b, `{"eventVersion":"1.09","userIdentity":`...)
	b = append(b, identity...)
	b = append(b, `,"eventTime":"`...)
	b = time.Unix(e.t, 0).UTC().AppendFormat(b, ctTime)
	b = append(b, `","eventSource":`...)
	b = appendString(b, e.op.source)
	b = append(b, `,"eventName":`...)
	b = appendString(b, e.op.name)
	b = append(b, `,"awsRegion":`...)
	b = appendString(b, e.recordRegion())
	b = append(b, `,"sourceIPAddress":`...)
	b = appendString(b, e.ctx.sourceIP)
	b = append(b, `,"userAgent":`...)
	b = appendString(b, e.ctx.agent)
	switch e.err {
	case errDenied:
		svc, _, _ := strings.Cut(e.op.source, ".")
		b = append(b, `,"errorCode":"AccessDenied","errorMessage":`...)
		b = appendString(b, "User: "+e.ctx.arn+" is not authorized to perform: "+svc+":"+e.op.name+
			" because no identity-based policy allows the "+svc+":"+e.op.name+" action")
	case errThrottled:
		b = append(b, `,"errorCode":"ThrottlingException","errorMessage":"Rate exceeded"`...)
	}
	b = append(b, `,"requestParameters":`...)
	b = appendParams(b, e)
	b = append(b, `,"responseElements":null,"requestID":"`...)
	b = appendUUID(b, e.req)
	b = append(b, `","eventID":"`...)
	b = appendUUID(b, e.id)
	b = append(b, `","readOnly":`...)
	b = strconv.AppendBool(b, e.op.readOnly)
	b = append(b, `,"eventType":"`...)
	b = append(b, e.ctx.eventType...)
	b = append(b, `","managementEvent":true,"recipientAccountId":"`...)
	b = append(b, e.recordAccount()...)
	b = append(b, `","eventCategory":"Management"}`...)
	return b
}

var paramWords = []string{"payments", "ledger", "analytics", "web", "batch", "billing", "audit", "search"}

// appendParams writes requestParameters fitting the call.
func appendParams(b []byte, e *event) []byte {
	word := paramWords[e.p%uint32(len(paramWords))]
	switch e.param {
	case pMax:
		return fmt.Appendf(b, `{"maxResults":%d}`, []int{50, 100, 1000}[e.p%3])
	case pInstance:
		return fmt.Appendf(b, `{"instancesSet":{"items":[{"instanceId":"i-0%015x"}]}}`, uint64(e.p)*2654435761)
	case pBucket:
		name := e.ctx.account + "-" + word
		return fmt.Appendf(b, `{"bucketName":"%s","Host":"%s.s3.amazonaws.com"}`, name, name)
	case pRole:
		return fmt.Appendf(b, `{"roleName":"svc-%s-%d"}`, word, e.p%50)
	case pQuery:
		b = append(b, `{"queryExecutionId":"`...)
		b = appendUUID(b, e.req)
		return append(b, `"}`...)
	case pService:
		return fmt.Appendf(b, `{"cluster":"%s","services":["%s-api-%d"]}`, word, word, e.p%8)
	case pPeriod:
		t := time.Unix(e.t, 0).UTC()
		first := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return fmt.Appendf(b, `{"timePeriod":{"start":"%s","end":"%s"},"granularity":"DAILY","metrics":["UnblendedCost"]}`,
			first.Format(time.DateOnly), first.AddDate(0, 1, 0).Format(time.DateOnly))
	}
	return append(b, "null"...)
}

// appendString writes s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
