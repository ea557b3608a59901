package trail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jitscore/jitscore/models"
)

// ErrNotEvent reports a JSON object that is not a CloudTrail event nor a
// container of events (an SNS notification, a digest, ...). It may arrive
// wrapped.
var ErrNotEvent = errors.New("not a CloudTrail event")

// fields holds the spans of the keys normalisation reads from one object.
// A zero span (end == 0) means the key is absent.
type fields struct {
	eventID, eventTime, atTimestamp, eventSource, eventName     span
	awsRegion, recipientAccountID, readOnly, errorCode          span
	errorMessage, sourceIP, userAgent, eventType, eventCategory span
	managementEvent, userIdentity, insightDetails, eventVersion span

	// Containers and envelopes.
	records, lookupEvents, detail, detailType, cloudTrailEvent, eventJSON span

	// Digest markers.
	digestStart, logFiles, digestObject span
}

func (f *fields) set(key string, v span) {
	switch key {
	case "eventID":
		f.eventID = v
	case "eventTime":
		f.eventTime = v
	case "@timestamp":
		f.atTimestamp = v
	case "eventSource":
		f.eventSource = v
	case "eventName":
		f.eventName = v
	case "awsRegion":
		f.awsRegion = v
	case "recipientAccountId":
		f.recipientAccountID = v
	case "readOnly":
		f.readOnly = v
	case "errorCode":
		f.errorCode = v
	case "errorMessage":
		f.errorMessage = v
	case "sourceIPAddress":
		f.sourceIP = v
	case "userAgent":
		f.userAgent = v
	case "eventType":
		f.eventType = v
	case "eventCategory":
		f.eventCategory = v
	case "managementEvent":
		f.managementEvent = v
	case "userIdentity":
		f.userIdentity = v
	case "insightDetails":
		f.insightDetails = v
	case "eventVersion":
		f.eventVersion = v
	case "Records":
		f.records = v
	case "Events":
		f.lookupEvents = v
	case "detail":
		f.detail = v
	case "detail-type":
		f.detailType = v
	case "CloudTrailEvent":
		f.cloudTrailEvent = v
	case "eventJson", "eventjson", "eventJSON":
		f.eventJSON = v
	case "digestStartTime":
		f.digestStart = v
	case "logFiles":
		f.logFiles = v
	case "digestS3Object":
		f.digestObject = v
	}
}

func has(v span) bool { return v.end > 0 }

// looksLikeEvent reports whether an object carries any key only CloudTrail
// events have.
func (f *fields) looksLikeEvent() bool {
	return has(f.eventID) || has(f.eventVersion) || has(f.userIdentity) ||
		(has(f.eventName) && has(f.eventSource))
}

func (f *fields) isDigest() bool {
	return has(f.digestStart) && (has(f.logFiles) || has(f.digestObject))
}

// collect walks the object at v and records the spans of known keys.
func collect(b []byte, v span, depth int) (fields, error) {
	f, _, err := collectAt(b, v.start, depth)
	return f, err
}

// collectAt walks the object starting at i and returns its fields and end.
func collectAt(b []byte, i, depth int) (fields, int, error) {
	var f fields
	if i >= len(b) || b[i] != '{' {
		return f, 0, fmt.Errorf("%w: want a JSON object", ErrNotEvent)
	}
	end, err := walkObject(b, i, depth, func(key []byte, esc bool, val span) error {
		if esc {
			f.set(unescapeKey(key), val)
		} else {
			f.set(view(key), val)
		}
		return nil
	})
	return f, end, err
}

// ParseRecord normalises one CloudTrail event given as a JSON object. It
// also accepts the wrappers a single event arrives in: an EventBridge
// envelope (the event is its detail), a lookup-events entry (the event is
// the JSON string in CloudTrailEvent) and a CloudTrail Lake row (eventJson).
// It returns an error naming the problem for anything that cannot be used:
// invalid JSON, not an event (wrapping ErrNotEvent), no eventID, no usable
// time. The returned Event's strings may share memory with raw, so raw must
// not be modified afterwards.
func ParseRecord(raw []byte) (models.Event, error) {
	start := skipWS(raw, 0)
	end, err := skipValue(raw, start, 0)
	if err != nil {
		return models.Event{}, err
	}
	if skipWS(raw, end) != len(raw) {
		return models.Event{}, errAt(end, "trailing data after the record")
	}
	return parseItem(raw, span{start, end}, 0)
}

// parseItem normalises the event at v, unwrapping envelopes.
func parseItem(b []byte, v span, depth int) (models.Event, error) {
	f, err := collect(b, v, depth)
	if err != nil {
		return models.Event{}, err
	}
	return fromFields(b, v, &f, depth)
}

func fromFields(b []byte, v span, f *fields, depth int) (models.Event, error) {
	switch {
	case has(f.cloudTrailEvent):
		return parseEmbedded(b, f.cloudTrailEvent, "CloudTrailEvent", depth)
	case has(f.eventJSON) && !has(f.eventID):
		return parseEmbedded(b, f.eventJSON, "eventJson", depth)
	case has(f.detail) && has(f.detailType):
		if b[f.detail.start] != '{' {
			return models.Event{}, fmt.Errorf("%w: EventBridge detail is not an object", ErrNotEvent)
		}
		inner, err := collect(b, f.detail, depth+1)
		if err != nil {
			return models.Event{}, err
		}
		if !inner.looksLikeEvent() {
			dt, _ := stringValue(b, f.detailType)
			return models.Event{}, fmt.Errorf("%w: EventBridge %q envelope", ErrNotEvent, dt)
		}
		return build(b, f.detail, &inner)
	case f.looksLikeEvent():
		return build(b, v, f)
	case f.isDigest():
		return models.Event{}, fmt.Errorf("%w: CloudTrail digest", ErrNotEvent)
	}
	return models.Event{}, ErrNotEvent
}

// parseEmbedded parses an event held as a JSON string value.
func parseEmbedded(b []byte, v span, key string, depth int) (models.Event, error) {
	s, ok := stringValue(b, v)
	if !ok {
		return models.Event{}, fmt.Errorf("%s is not a JSON string", key)
	}
	inner := []byte(s)
	start := skipWS(inner, 0)
	end, err := skipValue(inner, start, depth+1)
	if err != nil {
		return models.Event{}, fmt.Errorf("%s: %w", key, err)
	}
	f, err := collect(inner, span{start, end}, depth+1)
	if err != nil {
		return models.Event{}, fmt.Errorf("%s: %w", key, err)
	}
	if !f.looksLikeEvent() {
		return models.Event{}, fmt.Errorf("%w: %s holds no event", ErrNotEvent, key)
	}
	return build(inner, span{start, end}, &f)
}

// str returns the string value at v, or "" when absent, null or not a
// string.
func str(b []byte, v span) string {
	if !has(v) {
		return ""
	}
	s, _ := stringValue(b, v)
	return s
}

// build turns collected fields into an Event.
func build(b []byte, v span, f *fields) (models.Event, error) {
	var e models.Event
	e.EventID = str(b, f.eventID)
	if e.EventID == "" {
		return e, errors.New("missing eventID")
	}
	t, err := eventTime(b, f)
	if err != nil {
		return e, err
	}
	e.EventTime = t
	e.EventSource = str(b, f.eventSource)
	e.EventName = str(b, f.eventName)
	e.AWSRegion = str(b, f.awsRegion)
	e.AccountID = str(b, f.recipientAccountID)
	e.ReadOnly = boolValue(b, f.readOnly)
	e.ErrorCode = str(b, f.errorCode)
	e.ErrorMessage = str(b, f.errorMessage)
	e.SourceIP = str(b, f.sourceIP)
	e.UserAgent = str(b, f.userAgent)
	e.EventType = str(b, f.eventType)
	e.EventCategory = str(b, f.eventCategory)

	if has(f.insightDetails) && b[f.insightDetails.start] == '{' {
		var src, name span
		_, err := walkObject(b, f.insightDetails.start, 1, func(key []byte, esc bool, val span) error {
			switch {
			case keyIs(key, esc, "eventSource"):
				src = val
			case keyIs(key, esc, "eventName"):
				name = val
			}
			return nil
		})
		if err == nil {
			if e.EventSource == "" {
				e.EventSource = str(b, src)
			}
			if e.EventName == "" {
				e.EventName = str(b, name)
			}
		}
	}
	if e.EventCategory == "" {
		switch {
		case e.EventType == "AwsCloudTrailInsight":
			e.EventCategory = "Insight"
		case boolValue(b, f.managementEvent) != nil && !*boolValue(b, f.managementEvent):
			e.EventCategory = "Data"
		default:
			e.EventCategory = "Management"
		}
	}

	if has(f.userIdentity) && b[f.userIdentity.start] == '{' {
		if err := identity(b, f.userIdentity, &e); err != nil {
			return e, fmt.Errorf("userIdentity: %w", err)
		}
	}
	if e.AccountID == "" {
		e.AccountID = accountFromARN(e.PrincipalARN)
	}

	raw := b[v.start:v.end]
	if !utf8.Valid(raw) {
		return e, errors.New("record is not valid UTF-8")
	}
	if bytes.IndexByte(raw, '\n') >= 0 {
		var buf bytes.Buffer
		buf.Grow(len(raw))
		if err := json.Compact(&buf, raw); err != nil {
			return e, err
		}
		raw = buf.Bytes()
	}
	e.Raw = raw
	return e, nil
}

// eventTime reads eventTime, falling back to Logstash's @timestamp.
func eventTime(b []byte, f *fields) (time.Time, error) {
	name, v := "eventTime", f.eventTime
	if !has(v) || str(b, v) == "" {
		name, v = "@timestamp", f.atTimestamp
	}
	s := str(b, v)
	if s == "" {
		return time.Time{}, errors.New("missing eventTime and @timestamp")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", name, truncate(s, 64))
	}
	return t.UTC(), nil
}

// boolValue reads true/false, also as the strings "true"/"false" that some
// exports write; anything else is unknown (nil).
func boolValue(b []byte, v span) *bool {
	if !has(v) {
		return nil
	}
	var r bool
	switch string(b[v.start:v.end]) {
	case "true", `"true"`:
		r = true
	case "false", `"false"`:
		r = false
	default:
		return nil
	}
	return &r
}

// identity reads userIdentity and resolves the actor and entitlement.
func identity(b []byte, v span, e *models.Event) error {
	var typ, principalID, arn, account, userName, invokedBy, onBehalf, issuerName span
	_, err := walkObject(b, v.start, 1, func(key []byte, esc bool, val span) error {
		k := view(key)
		if esc {
			k = unescapeKey(key)
		}
		switch k {
		case "type":
			typ = val
		case "principalId":
			principalID = val
		case "arn":
			arn = val
		case "accountId":
			account = val
		case "userName":
			userName = val
		case "invokedBy":
			invokedBy = val
		case "onBehalfOf":
			if b[val.start] == '{' {
				_, err := walkObject(b, val.start, 2, func(key []byte, esc bool, val span) error {
					if keyIs(key, esc, "userId") {
						onBehalf = val
					}
					return nil
				})
				return err
			}
		case "sessionContext":
			if b[val.start] == '{' {
				_, err := walkObject(b, val.start, 2, func(key []byte, esc bool, val span) error {
					if keyIs(key, esc, "sessionIssuer") && b[val.start] == '{' {
						_, err := walkObject(b, val.start, 3, func(key []byte, esc bool, val span) error {
							if keyIs(key, esc, "userName") {
								issuerName = val
							}
							return nil
						})
						return err
					}
					return nil
				})
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.PrincipalType = str(b, typ)
	e.PrincipalID = str(b, principalID)
	e.PrincipalARN = str(b, arn)
	e.OnBehalfOf = str(b, onBehalf)
	acct := str(b, account)
	if e.AccountID == "" {
		e.AccountID = acct
	}
	resolve(e, str(b, userName), str(b, invokedBy), str(b, issuerName), acct)
	return nil
}

// resolve sets SessionName, Actor and Entitlement from the principal, per
// the actor rules of DESIGN.md.
func resolve(e *models.Event, userName, invokedBy, issuerName, account string) {
	afterColon := func(s string) string {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			return s[i+1:]
		}
		return ""
	}
	switch e.PrincipalType {
	case models.PrincipalAssumedRole:
		role, session := assumedRole(e.PrincipalARN)
		if session == "" {
			session = afterColon(e.PrincipalID)
		}
		if role == "" {
			role = issuerName
		}
		e.SessionName = session
		e.Actor = session
		if acct := accountFromARN(e.PrincipalARN); acct != "" {
			account = acct
		}
		if role != "" && account != "" {
			e.Entitlement = "aws:" + account + ":" + entitlementRole(role)
		}
	case models.PrincipalIAMUser:
		e.Actor = userName
		if e.Actor == "" {
			e.Actor = lastSegment(e.PrincipalARN, ":user/")
		}
	case models.PrincipalIdentityCenterUser:
		e.Actor = e.OnBehalfOf
		if e.Actor == "" {
			e.Actor = userName
		}
	case models.PrincipalFederatedUser:
		e.SessionName = lastSegment(e.PrincipalARN, ":federated-user/")
		if e.SessionName == "" {
			e.SessionName = afterColon(e.PrincipalID)
		}
		e.Actor = e.SessionName
	case models.PrincipalSAMLUser, models.PrincipalWebIdentityUser:
		e.Actor = userName
		if e.Actor == "" {
			e.Actor = afterColon(e.PrincipalID)
		}
	case models.PrincipalRoot:
		e.Actor = userName
		if e.Actor == "" {
			e.Actor = e.PrincipalARN
		}
	case models.PrincipalAWSService:
		e.Actor = invokedBy
	case models.PrincipalAWSAccount:
		e.Actor = e.PrincipalID
		if e.Actor == "" {
			e.Actor = account
		}
	default:
		// Missing or new types: the best name the record offers.
		for _, s := range []string{userName, e.SessionName, invokedBy, e.PrincipalARN, e.PrincipalID} {
			if s != "" {
				e.Actor = s
				break
			}
		}
	}
}

// assumedRole splits arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION.
func assumedRole(arn string) (role, session string) {
	const marker = ":assumed-role/"
	i := strings.Index(arn, marker)
	if i < 0 {
		return "", ""
	}
	rest := arn[i+len(marker):]
	j := strings.IndexByte(rest, '/')
	if j < 0 {
		return rest, ""
	}
	return rest[:j], rest[j+1:]
}

// entitlementRole maps an IAM Identity Center role name
// AWSReservedSSO_<PermissionSet>_<suffix> to its permission set; other
// role names are returned unchanged.
func entitlementRole(role string) string {
	const prefix = "AWSReservedSSO_"
	if !strings.HasPrefix(role, prefix) {
		return role
	}
	ps := role[len(prefix):]
	if i := strings.LastIndexByte(ps, '_'); i > 0 {
		return ps[:i]
	}
	return ps
}

// lastSegment returns what follows marker in arn, or "".
func lastSegment(arn, marker string) string {
	i := strings.Index(arn, marker)
	if i < 0 {
		return ""
	}
	rest := arn[i+len(marker):]
	if j := strings.LastIndexByte(rest, '/'); j >= 0 {
		rest = rest[j+1:]
	}
	return rest
}

// accountFromARN returns the account field of an ARN
// (arn:partition:service:region:account:resource), or "".
func accountFromARN(arn string) string {
	if !strings.HasPrefix(arn, "arn:") {
		return ""
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// ParseIP returns the canonical form of a sourceIPAddress, or "" when it
// is not an address (service names, "AWS Internal", leading-zero octets).
func ParseIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	return a.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
