package trail

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
	"unsafe"

	"github.com/jitscore/jitscore/models"
)

// ErrNotEvent reports a JSON object that is not a CloudTrail event nor a
// container of events (an SNS notification, a digest, ...). It may arrive
// wrapped.
var ErrNotEvent = errors.New("not a CloudTrail event")

// slot names a value normalisation reads: a member of an event (or of a
// container or envelope), of its userIdentity, or of its insightDetails.
type slot uint8

const (
	noSlot slot = iota

	// Event members.
	slotEventID
	slotEventTime
	slotAtTimestamp
	slotEventSource
	slotEventName
	slotAWSRegion
	slotRecipientAccountID
	slotReadOnly
	slotErrorCode
	slotErrorMessage
	slotSourceIP
	slotUserAgent
	slotEventType
	slotEventCategory
	slotManagementEvent
	slotUserIdentity
	slotInsightDetails
	slotEventVersion

	// Containers and envelopes.
	slotRecords
	slotLookupEvents
	slotDetail
	slotDetailType
	slotCloudTrailEvent
	slotEventJSON

	// Digest markers.
	slotDigestStart
	slotLogFiles
	slotDigestObject

	// Members of the last userIdentity object, of its onBehalfOf and of its
	// sessionContext.sessionIssuer.
	slotIDType
	slotIDPrincipalID
	slotIDARN
	slotIDAccountID
	slotIDUserName
	slotIDInvokedBy
	slotIDOnBehalfOf // onBehalfOf.userId
	slotIDIssuerName // sessionContext.sessionIssuer.userName

	// Members of the last insightDetails object.
	slotInsightEventSource
	slotInsightEventName

	numSlots
)

// fields holds the spans of the values normalisation reads from one
// object, by slot. A zero span (end == 0) means the key is absent.
type fields struct {
	v   [numSlots]span
	esc uint64 // bit s set: v[s] is a string that holds escapes
	// dec[s] is v[s] decoded, where esc says so; other entries may be left
	// from an earlier record.
	dec [numSlots]string

	// What the walk saw in the object's bytes.
	badUTF8 bool // a string is not valid UTF-8
	newline bool // white space holds a newline
	uEscape bool // a string holds a \u escape
}

// set stores the value of slot s, a string without escapes or no string.
func (f *fields) set(s slot, v span) {
	f.v[s] = v
	f.esc &^= 1 << s
}

// setEscaped stores the value of slot s, a string in b with escapes,
// decoded here (it is rare) so that str needs no call.
func (f *fields) setEscaped(b []byte, s slot, v span) {
	f.v[s] = v
	f.esc |= 1 << s
	f.dec[s], _ = stringValue(b, v)
}

// clear forgets the slots [from, to].
func (f *fields) clear(from, to slot) {
	clear(f.v[from : to+1])
	f.esc &^= (1<<(to+1) - 1) &^ (1<<from - 1)
}

// reset forgets every slot. dec is left as it is: str reads an entry only
// where esc says setEscaped wrote it.
func (f *fields) reset() {
	f.v = [numSlots]span{}
	f.esc = 0
	f.badUTF8, f.newline, f.uEscape = false, false, false
}

func (f *fields) has(s slot) bool { return f.v[s].end > 0 }

// str returns the string value of slot s, or "" when absent, null or not a
// string. It is small enough to be inlined: set decoded a string with escapes.
func (f *fields) str(b []byte, s slot) string {
	v := f.v[s]
	if v.end == 0 || b[v.start] != '"' {
		return ""
	}
	if f.esc>>s&1 != 0 {
		return f.dec[s]
	}
	// A string span holds at least its two quotes.
	return unsafe.String(&b[v.start+1], v.end-v.start-2)
}

// route says which object a walk is in, and so which of its keys matter.
type route uint8

const (
	routeNone       route = iota // keys are not looked at
	routeRecord                  // an event or a container of events
	routeIdentity                // userIdentity
	routeOnBehalfOf              // userIdentity.onBehalfOf
	routeSession                 // userIdentity.sessionContext
	routeIssuer                  // userIdentity.sessionContext.sessionIssuer
	routeInsight                 // insightDetails
)

// route returns the slot that stores the value of key, a member of an
// object walked with route r (noSlot: none), and the route to walk the
// value with when it is an object. Later members win over earlier ones
// with the same key, as for the objects they hold: a userIdentity or
// insightDetails member clears what an earlier one of the same name left.
func (f *fields) route(r route, key string) (slot, route) {
	lo, mid, hi, ok := keyWords(key)
	if !ok {
		return noSlot, routeNone
	}
	return f.routeWords(r, lo, mid, hi, len(key))
}

// routeWords is route for the key of length n whose keyWords are lo, mid
// and hi.
func (f *fields) routeWords(r route, lo, mid, hi uint64, n int) (slot, route) {
	e := &keyTable[keyHash(r, lo, n)]
	if e.lo != lo || e.hi != hi || e.mid != mid || int(e.n) != n || e.r != r {
		return noSlot, routeNone
	}
	f.enter(e.inner)
	return e.sl, e.inner
}

// enter forgets what an earlier object walked with route r left: a later
// userIdentity or insightDetails replaces an earlier one as a whole.
func (f *fields) enter(r route) {
	switch r {
	case routeIdentity:
		f.clear(slotIDType, slotIDIssuerName)
	case routeInsight:
		f.clear(slotInsightEventSource, slotInsightEventName)
	}
}

// routedKeys lists, for each route, the keys whose values normalisation
// reads: the slot a value goes to and the route a nested object is walked
// with.
var routedKeys = []struct {
	r     route
	key   string
	sl    slot
	inner route
}{
	{routeRecord, "eventID", slotEventID, routeNone},
	{routeRecord, "eventTime", slotEventTime, routeNone},
	{routeRecord, "@timestamp", slotAtTimestamp, routeNone},
	{routeRecord, "eventSource", slotEventSource, routeNone},
	{routeRecord, "eventName", slotEventName, routeNone},
	{routeRecord, "awsRegion", slotAWSRegion, routeNone},
	{routeRecord, "recipientAccountId", slotRecipientAccountID, routeNone},
	{routeRecord, "readOnly", slotReadOnly, routeNone},
	{routeRecord, "errorCode", slotErrorCode, routeNone},
	{routeRecord, "errorMessage", slotErrorMessage, routeNone},
	{routeRecord, "sourceIPAddress", slotSourceIP, routeNone},
	{routeRecord, "userAgent", slotUserAgent, routeNone},
	{routeRecord, "eventType", slotEventType, routeNone},
	{routeRecord, "eventCategory", slotEventCategory, routeNone},
	{routeRecord, "managementEvent", slotManagementEvent, routeNone},
	{routeRecord, "userIdentity", slotUserIdentity, routeIdentity},
	{routeRecord, "insightDetails", slotInsightDetails, routeInsight},
	{routeRecord, "eventVersion", slotEventVersion, routeNone},
	{routeRecord, "Records", slotRecords, routeNone},
	{routeRecord, "Events", slotLookupEvents, routeNone},
	{routeRecord, "detail", slotDetail, routeNone},
	{routeRecord, "detail-type", slotDetailType, routeNone},
	{routeRecord, "CloudTrailEvent", slotCloudTrailEvent, routeNone},
	{routeRecord, "eventJson", slotEventJSON, routeNone},
	{routeRecord, "eventjson", slotEventJSON, routeNone},
	{routeRecord, "eventJSON", slotEventJSON, routeNone},
	{routeRecord, "digestStartTime", slotDigestStart, routeNone},
	{routeRecord, "logFiles", slotLogFiles, routeNone},
	{routeRecord, "digestS3Object", slotDigestObject, routeNone},

	{routeIdentity, "type", slotIDType, routeNone},
	{routeIdentity, "principalId", slotIDPrincipalID, routeNone},
	{routeIdentity, "arn", slotIDARN, routeNone},
	{routeIdentity, "accountId", slotIDAccountID, routeNone},
	{routeIdentity, "userName", slotIDUserName, routeNone},
	{routeIdentity, "invokedBy", slotIDInvokedBy, routeNone},
	{routeIdentity, "onBehalfOf", noSlot, routeOnBehalfOf},
	{routeIdentity, "sessionContext", noSlot, routeSession},

	{routeOnBehalfOf, "userId", slotIDOnBehalfOf, routeNone},
	{routeSession, "sessionIssuer", noSlot, routeIssuer},
	{routeIssuer, "userName", slotIDIssuerName, routeNone},

	{routeInsight, "eventSource", slotInsightEventSource, routeNone},
	{routeInsight, "eventName", slotInsightEventName, routeNone},
}

// keyEntry is a routed key in keyTable: the key as the words keyWords
// gives, its length and route, and where its value goes.
type keyEntry struct {
	lo, mid, hi uint64
	n           uint8
	r           route
	sl          slot
	inner       route
}

// keyTable holds routedKeys by keyHash. The multiplier was searched for
// so that no two routed keys share an entry; init checks that.
var keyTable [1 << keyTableBits]keyEntry

const (
	keyTableBits = 7
	keyMult      = 0x4d91718a4abf4d73
)

func init() {
	for _, k := range routedKeys {
		lo, mid, hi, ok := keyWords(k.key)
		e := &keyTable[keyHash(k.r, lo, len(k.key))]
		if !ok || e.n != 0 {
			panic("trail: routed key " + k.key + " does not fit the key table")
		}
		*e = keyEntry{lo: lo, mid: mid, hi: hi, n: uint8(len(k.key)), r: k.r, sl: k.sl, inner: k.inner}
	}
}

// keyHash is the index in keyTable of a key of length n whose first eight
// bytes (zero-padded) are lo, in an object walked with route r.
func keyHash(r route, lo uint64, n int) uint64 {
	return (lo ^ uint64(n)<<56 ^ uint64(r)<<60) * keyMult >> (64 - keyTableBits)
}

// keyWords returns words that together hold every byte of s: lo its
// first eight bytes zero-padded, and for a key longer than eight bytes hi
// its last eight and, past 16 bytes, mid the eight after lo. ok is false
// for a key longer than 24 bytes, which no route reads. Every load stays
// inside s.
func keyWords(s string) (lo, mid, hi uint64, ok bool) {
	n := len(s)
	if n == 0 {
		return 0, 0, 0, true
	}
	p := unsafe.Slice(unsafe.StringData(s), n)
	switch {
	case n > 24:
		return 0, 0, 0, false
	case n >= 8:
		lo, hi = binary.LittleEndian.Uint64(p), binary.LittleEndian.Uint64(p[n-8:])
		if n > 16 {
			mid = binary.LittleEndian.Uint64(p[8:])
		}
	case n >= 4:
		lo = uint64(binary.LittleEndian.Uint32(p)) | uint64(binary.LittleEndian.Uint32(p[n-4:]))<<(8*(n-4))
	default:
		for i, c := range p {
			lo |= uint64(c) << (8 * i)
		}
	}
	return lo, mid, hi, true
}

// looksLikeEvent reports whether an object carries any key only CloudTrail
// events have.
func (f *fields) looksLikeEvent() bool {
	return f.has(slotEventID) || f.has(slotEventVersion) || f.has(slotUserIdentity) ||
		(f.has(slotEventName) && f.has(slotEventSource))
}

func (f *fields) isDigest() bool {
	return f.has(slotDigestStart) && (f.has(slotLogFiles) || f.has(slotDigestObject))
}

// opens reports whether slot s holds a value that starts with c.
func (f *fields) opens(b []byte, s slot, c byte) bool {
	return f.has(s) && b[f.v[s].start] == c
}

// collectAt walks the object starting at i with nesting depth depth, fills
// f and returns the object's end.
func collectAt(b []byte, stops []uint64, i, depth int, f *fields) (int, error) {
	f.reset()
	if i >= len(b) || b[i] != '{' {
		return 0, fmt.Errorf("%w: want a JSON object", ErrNotEvent)
	}
	w := walker{b: b, stops: stops}
	end, err := w.object(i, depth, routeRecord, f)
	f.badUTF8, f.newline, f.uEscape = w.badUTF8, w.newline, w.uEscape
	return end, err
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
	var e models.Event
	var f fields
	start := skipWS(raw, 0)
	ix := buildStops(raw)
	defer ix.release()
	end, err := validateCollect(raw, ix.words, start, 0, &f)
	if err != nil {
		return e, err
	}
	if skipWS(raw, end) != len(raw) {
		return e, errAt(end, "trailing data after the record")
	}
	if raw[start] != '{' {
		_, err := collectAt(raw, ix.words, start, 0, &f)
		return e, err
	}
	err = fromFields(raw, ix.words, span{start, end}, &f, 0, nil, &e)
	return e, err
}

// validateCollect walks the value at i (leading space allowed) as a member
// of a container at nesting depth depth, and returns its end. When the
// value is an object, f is filled from it in the same walk.
func validateCollect(b []byte, stops []uint64, i, depth int, f *fields) (int, error) {
	i = skipWS(b, i)
	if i < len(b) && b[i] == '{' {
		return collectAt(b, stops, i, depth+1, f)
	}
	return skipValue(b, stops, i, depth)
}

// fromFields normalises the object at v, whose fields are f, into e,
// unwrapping envelopes. On error e may be partly filled.
func fromFields(b []byte, stops []uint64, v span, f *fields, depth int, a *arena, e *models.Event) error {
	switch {
	case f.has(slotCloudTrailEvent):
		return parseEmbedded(b, f.v[slotCloudTrailEvent], "CloudTrailEvent", depth, a, e)
	case f.has(slotEventJSON) && !f.has(slotEventID):
		return parseEmbedded(b, f.v[slotEventJSON], "eventJson", depth, a, e)
	case f.has(slotDetail) && f.has(slotDetailType):
		detail := f.v[slotDetail]
		if b[detail.start] != '{' {
			return fmt.Errorf("%w: EventBridge detail is not an object", ErrNotEvent)
		}
		var inner fields
		if _, err := collectAt(b, stops, detail.start, depth+1, &inner); err != nil {
			return err
		}
		if !inner.looksLikeEvent() {
			dt, _ := stringValue(b, f.v[slotDetailType])
			return fmt.Errorf("%w: EventBridge %q envelope", ErrNotEvent, dt)
		}
		return build(b, detail, &inner, a, e)
	case f.looksLikeEvent():
		return build(b, v, f, a, e)
	case f.isDigest():
		return fmt.Errorf("%w: CloudTrail digest", ErrNotEvent)
	}
	return ErrNotEvent
}

// parseEmbedded parses an event held as a JSON string value.
func parseEmbedded(b []byte, v span, key string, depth int, a *arena, e *models.Event) error {
	s, ok := stringValue(b, v)
	if !ok {
		return fmt.Errorf("%s is not a JSON string", key)
	}
	inner := []byte(s)
	var f fields
	start := skipWS(inner, 0)
	ix := buildStops(inner)
	defer ix.release()
	end, err := validateCollect(inner, ix.words, start, depth+1, &f)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if start >= len(inner) || inner[start] != '{' {
		_, err := collectAt(inner, ix.words, start, depth+1, &f)
		return fmt.Errorf("%s: %w", key, err)
	}
	if !f.looksLikeEvent() {
		return fmt.Errorf("%w: %s holds no event", ErrNotEvent, key)
	}
	return build(inner, span{start, end}, &f, a, e)
}

// build turns collected fields into e. On error e may be partly filled.
func build(b []byte, v span, f *fields, a *arena, e *models.Event) error {
	e.EventID = f.str(b, slotEventID)
	if e.EventID == "" {
		return errors.New("missing eventID")
	}
	t, err := eventTime(b, f)
	if err != nil {
		return err
	}
	e.EventTime = t
	e.EventSource = f.str(b, slotEventSource)
	e.EventName = f.str(b, slotEventName)
	e.AWSRegion = f.str(b, slotAWSRegion)
	e.AccountID = f.str(b, slotRecipientAccountID)
	if ro, ok := boolValue(b, f.v[slotReadOnly]); ok {
		e.ReadOnly = a.bool(ro)
	}
	e.ErrorCode = f.str(b, slotErrorCode)
	e.ErrorMessage = f.str(b, slotErrorMessage)
	e.SourceIP = f.str(b, slotSourceIP)
	e.UserAgent = f.str(b, slotUserAgent)
	e.EventType = f.str(b, slotEventType)
	e.EventCategory = f.str(b, slotEventCategory)

	if f.opens(b, slotInsightDetails, '{') {
		if e.EventSource == "" {
			e.EventSource = f.str(b, slotInsightEventSource)
		}
		if e.EventName == "" {
			e.EventName = f.str(b, slotInsightEventName)
		}
	}
	if e.EventCategory == "" {
		switch {
		case e.EventType == "AwsCloudTrailInsight":
			e.EventCategory = "Insight"
		case isFalse(b, f.v[slotManagementEvent]):
			e.EventCategory = "Data"
		default:
			e.EventCategory = "Management"
		}
	}

	if f.opens(b, slotUserIdentity, '{') {
		identity(b, f, a, e)
	}
	if e.AccountID == "" {
		e.AccountID = accountFromARN(e.PrincipalARN)
	}

	if f.badUTF8 {
		return errors.New("record is not valid UTF-8")
	}
	raw := b[v.start:v.end]
	if f.uEscape && loneSurrogate(raw) {
		return errors.New(`record holds a \u escape of a lone UTF-16 surrogate, which is not a character (DuckDB's JSON refuses it)`)
	}
	if f.newline {
		var buf bytes.Buffer
		buf.Grow(len(raw))
		if err := json.Compact(&buf, raw); err != nil {
			return err
		}
		raw = buf.Bytes()
	}
	e.Raw = raw
	return nil
}

// loneSurrogate reports whether the JSON text b holds a \u escape of a
// UTF-16 surrogate that is not part of a high-low pair. encoding/json
// reads one as U+FFFD, but DuckDB's JSON type refuses the whole value, so
// such a record would make every query of the events view's raw fail.
// Backslashes occur only in escapes, so one pass over them suffices.
func loneSurrogate(b []byte) bool {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			return false
		}
		i += j
		if i+1 >= len(b) {
			return false
		}
		if b[i+1] != 'u' {
			i += 2
			continue
		}
		u, ok := hex4(b, i+2)
		if !ok {
			return false // the scanner already refuses a bad escape
		}
		switch {
		case u >= 0xDC00 && u <= 0xDFFF:
			return true // a low surrogate with no high one before it
		case u >= 0xD800 && u <= 0xDBFF:
			lo, ok := hex4(b, i+8)
			if i+7 >= len(b) || b[i+6] != '\\' || b[i+7] != 'u' || !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 12
		default:
			i += 6
		}
	}
}

// hex4 reads four hex digits at b[i:], if there are.
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// eventTime reads eventTime, falling back to Logstash's @timestamp.
func eventTime(b []byte, f *fields) (time.Time, error) {
	name, sl := "eventTime", slotEventTime
	s := f.str(b, sl)
	if s == "" {
		name, sl = "@timestamp", slotAtTimestamp
		s = f.str(b, sl)
	}
	if s == "" {
		return time.Time{}, errors.New("missing eventTime and @timestamp")
	}
	if t, ok := parseUTCSeconds(s); ok {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", name, truncate(s, 64))
	}
	return t.UTC(), nil
}

// parseUTCSeconds parses the form CloudTrail writes, YYYY-MM-DDTHH:MM:SSZ,
// giving what time.Parse with RFC 3339 would give. Anything else, a date
// or clock out of range included, is left to time.Parse (ok false).
func parseUTCSeconds(s string) (t time.Time, ok bool) {
	if len(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return t, false
	}
	hi, ok1 := twoDigits(s, 0)
	lo, ok2 := twoDigits(s, 2)
	month, ok3 := twoDigits(s, 5)
	day, ok4 := twoDigits(s, 8)
	hour, ok5 := twoDigits(s, 11)
	minute, ok6 := twoDigits(s, 14)
	sec, ok7 := twoDigits(s, 17)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return t, false
	}
	year := hi*100 + lo
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return t, false
	}
	secs := daysSinceEpoch(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	return time.Unix(secs, 0).UTC(), true
}

// daysSinceEpoch returns the number of days from 1970-01-01 to the given
// date (proleptic Gregorian, negative before 1970), as time.Date counts
// them, for month in 1-12 and year 0-9999: a year that starts in March
// puts the leap day last, and 400 years are always 146097 days.
func daysSinceEpoch(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := (year + 400) / 400 // year >= -1, so this floors; era 0 is 400 years early
	yoe := year + 400 - era*400
	mp := (month + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era-1)*146097 + int64(doe) - 719468
}

// twoDigits reads the decimal number in s[i:i+2].
func twoDigits(s string, i int) (int, bool) {
	a, b := s[i]-'0', s[i+1]-'0'
	return int(a)*10 + int(b), a <= 9 && b <= 9
}

// daysIn returns the number of days of month m in year (proleptic
// Gregorian, as package time counts).
func daysIn(m time.Month, year int) int {
	switch m {
	case time.February:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// boolValue reads true/false, also as the strings "true"/"false" that some
// exports write; anything else is unknown (ok false).
func boolValue(b []byte, v span) (val, ok bool) {
	if v.end == 0 {
		return false, false
	}
	switch string(b[v.start:v.end]) {
	case "true", `"true"`:
		return true, true
	case "false", `"false"`:
		return false, true
	}
	return false, false
}

// isFalse reports whether the value at v reads as false.
func isFalse(b []byte, v span) bool {
	val, ok := boolValue(b, v)
	return ok && !val
}

// identity reads the userIdentity members collected in f and resolves
// the actor and entitlement.
func identity(b []byte, f *fields, a *arena, e *models.Event) {
	e.PrincipalType = f.str(b, slotIDType)
	e.PrincipalID = f.str(b, slotIDPrincipalID)
	e.PrincipalARN = f.str(b, slotIDARN)
	e.OnBehalfOf = f.str(b, slotIDOnBehalfOf)
	acct := f.str(b, slotIDAccountID)
	if e.AccountID == "" {
		e.AccountID = acct
	}
	resolve(e, a, f.str(b, slotIDUserName), f.str(b, slotIDInvokedBy), f.str(b, slotIDIssuerName), acct)
}

// resolve sets SessionName, Actor and Entitlement from the principal, per
// the actor rules of DESIGN.md.
func resolve(e *models.Event, a *arena, userName, invokedBy, issuerName, account string) {
	afterColon := func(s string) string {
		if i := strings.LastIndexByte(s, ':'); i >= 0 {
			return s[i+1:]
		}
		return ""
	}
	switch e.PrincipalType {
	case models.PrincipalAssumedRole:
		c, n := arnColons(e.PrincipalARN)
		role, session := assumedRoleIn(e.PrincipalARN, c, n)
		if session == "" {
			session = afterColon(e.PrincipalID)
		}
		// The session issuer names the role itself, and stays intact in
		// exports that scrub the ARN (seen in public datasets:
		// "assumed-role/AWSReservedSSO<user>" with no role part left).
		if issuerName != "" {
			role = issuerName
		}
		e.SessionName = session
		e.Actor = session
		if acct := accountIn(e.PrincipalARN, c, n); acct != "" {
			account = acct
		}
		if role != "" && account != "" {
			e.Entitlement = a.concat("aws:", account, ":", entitlementRole(role))
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
	c, n := arnColons(arn)
	return assumedRoleIn(arn, c, n)
}

// assumedRoleIn is assumedRole for an ARN whose first colons are c[:n]
// (arnColons). The marker starts with a colon, so its first occurrence is
// at one of those or past all five.
func assumedRoleIn(arn string, c [5]int, n int) (role, session string) {
	const marker = ":assumed-role/"
	i := -1
	for x, k := range c[:n] {
		// The marker holds no colon after its first byte, so it cannot
		// start at a colon whose next one is closer than its length.
		if (x+1 == n || c[x+1]-k >= len(marker)) && strings.HasPrefix(arn[k:], marker) {
			i = k
			break
		}
	}
	if i < 0 && n == len(c) {
		if j := strings.Index(arn[c[n-1]+1:], marker); j >= 0 {
			i = c[n-1] + 1 + j
		}
	}
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
	c, n := arnColons(arn)
	return accountIn(arn, c, n)
}

// accountIn is accountFromARN for an ARN whose first colons are c[:n]
// (arnColons): the account sits between the fourth and fifth.
func accountIn(arn string, c [5]int, n int) string {
	if n < len(c) || !strings.HasPrefix(arn, "arn:") {
		return ""
	}
	return arn[c[3]+1 : c[4]]
}

// arnColons returns the offsets of the first five colons of arn, n of
// them when it has fewer. They lie in an ARN's first 30 bytes or so, where
// a plain loop beats a search call per colon.
func arnColons(arn string) (c [5]int, n int) {
	for i := 0; i < len(arn) && n < len(c); i++ {
		if arn[i] == ':' {
			c[n] = i
			n++
		}
	}
	return c, n
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
