package trail

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// isStop is the byte-at-a-time definition stringStops implements.
func isStop(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }

// TestStringStopsFindsFirstStopByte pins the SWAR mask against the plain
// definition: every byte value at every position of a word of plain
// bytes, then random words, where bytes after the first stop may be
// anything (the mask's higher bits are not used).
func TestStringStopsFindsFirstStopByte(t *testing.T) {
	t.Parallel()
	first := func(x uint64) int {
		for k := range 8 {
			if isStop(byte(x >> (8 * k))) {
				return k
			}
		}
		return 8
	}
	got := func(x uint64) int {
		m := stringStops(x)
		if m == 0 {
			return 8
		}
		return bits.TrailingZeros64(m) >> 3
	}
	var buf [8]byte
	for pos := range 8 {
		for c := range 256 {
			copy(buf[:], "abcdefgh")
			buf[pos] = byte(c)
			x := binary.LittleEndian.Uint64(buf[:])
			if g, w := got(x), first(x); g != w {
				t.Fatalf("byte %#x at %d in %q: first stop at %d, want %d", c, pos, buf, g, w)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		x := rng.Uint64()
		// Bias towards the interesting bytes.
		for k := range 8 {
			switch rng.IntN(6) {
			case 0:
				x = x&^(0xff<<(8*k)) | uint64([]byte{'"', '\\', 0x1f, 0x20, 0x7f, 0x80, '#', ']'}[rng.IntN(8)])<<(8*k)
			case 1, 2:
				x = x&^(0xff<<(8*k)) | uint64('a'+rng.IntN(26))<<(8*k)
			}
		}
		if g, w := got(x), first(x); g != w {
			t.Fatalf("word %#016x: first stop at %d, want %d", x, g, w)
		}
	}
}

// stringBodies returns string bodies (raw JSON between the quotes) that
// put escapes, multi-byte UTF-8, invalid UTF-8 and control characters at
// every offset around the 8-byte words the scanner reads.
func stringBodies() []string {
	specials := []string{
		`\"`, `\\`, `\/`, `\n`, `\u00e9`, `\ud83d\ude00`, `\uD800`, "é", "😀", "\u2028",
		"\xff", "\xe2\x82", "\xc3", "\xed\xa0\x80", "\x01", "\t", "\n", "\x7f",
		`\x`, `\u12`, `\u12g4`, `\`,
	}
	var out []string
	for _, sp := range specials {
		for pre := range 18 {
			for _, post := range []int{0, 1, 7, 8, 9} {
				out = append(out, strings.Repeat("a", pre)+sp+strings.Repeat("z", post))
			}
		}
	}
	return append(out, "", "a", "abcdefg", "abcdefgh", "abcdefghi", strings.Repeat("x", 40))
}

// TestStringScanAgreesWithEncodingJSON checks, for strings whose special
// bytes fall at every offset and close to the end of the input, that the
// walker accepts what encoding/json accepts, decodes to what it decodes,
// and notes invalid UTF-8 exactly when the bytes are not valid UTF-8.
func TestStringScanAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, body := range stringBodies() {
		for _, doc := range []string{
			`"` + body + `"`,                       // string at the end of the input
			`{"k":"` + body + `"}`,                 // value, input ends soon after
			`{"` + body + `":1,"eventID":"x"}`,     // key
			`["` + body + `",` + `"0123456789"]  `, // element with more to come
		} {
			b := []byte(doc)
			// With the stop index (how Scan walks) and without it (the
			// eight-byte loop), the walk must end alike.
			ix := buildStops(b)
			wi := walker{b: b, stops: ix.words}
			endIx, errIx := wi.value(0, 0)
			ix.release()
			w := walker{b: b}
			end, err := w.value(0, 0)
			if endIx != end || fmt.Sprint(errIx) != fmt.Sprint(err) || wi.badUTF8 != w.badUTF8 || wi.uEscape != w.uEscape {
				t.Fatalf("%q: indexed walk (%d, %v, badUTF8 %v, \\u %v), eight-byte walk (%d, %v, %v, %v)",
					doc, endIx, errIx, wi.badUTF8, wi.uEscape, end, err, w.badUTF8, w.uEscape)
			}
			if w.uEscape != strings.Contains(doc, `\u`) && err == nil {
				t.Fatalf("%q: uEscape %v", doc, w.uEscape)
			}
			if err == nil && end != len(strings.TrimRight(doc, " ")) {
				t.Fatalf("%q: value ends at %d, want %d", doc, end, len(doc))
			}
			if valid := json.Valid(b); (err == nil) != valid {
				t.Fatalf("%q: walker error %v, encoding/json valid %v", doc, err, valid)
			}
			if err != nil {
				var se *syntaxError
				if !errors.As(err, &se) {
					t.Fatalf("%q: error %v is not a syntax error", doc, err)
				}
				continue
			}
			if w.badUTF8 != !utf8.Valid(b) {
				t.Fatalf("%q: badUTF8 %v, utf8.Valid %v", doc, w.badUTF8, utf8.Valid(b))
			}
			// Unescaped invalid UTF-8 is handed out as it is (such records
			// are refused later), where encoding/json substitutes U+FFFD.
			if doc[0] == '"' && utf8.Valid(b) {
				var want string
				if err := json.Unmarshal(b, &want); err != nil {
					t.Fatal(err)
				}
				if got, ok := stringValue(b, span{0, end}); !ok || got != want {
					t.Fatalf("%q: decoded %q, want %q", doc, got, want)
				}
			}
		}
	}
}

// TestStringScanErrorsNameTheFirstOffendingByte pins message and offset
// of each string error, with the offending byte before, across and after
// a word boundary.
func TestStringScanErrorsNameTheFirstOffendingByte(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		at   int // offset in the body of the byte named, -1 for the opening quote
		msg  string
	}{
		{"abc\x01def", 3, "control character in string"},
		{"abcdefghijk\nl", 11, "control character in string"},
		{"abcdefg\x1f", 7, "control character in string"},
		{`abcdefg\q`, 7, "bad escape"},
		{`abcdefgh\u12x4`, 8, `bad \u escape`},
		{"é\xff\x02", 3, "control character in string"}, // invalid UTF-8 is no error, the control byte is
		{`\u00e9\x`, 6, "bad escape"},
	}
	for _, tc := range tests {
		for _, pad := range []int{0, 5, 13} {
			doc := `{"eventID":"x","k":"` + strings.Repeat("p", pad) + tc.body + `"}`
			off := len(`{"eventID":"x","k":"`) + pad + tc.at
			_, err := ParseRecord([]byte(doc))
			want := fmt.Sprintf("invalid JSON at byte %d: %s", off, tc.msg)
			if err == nil || err.Error() != want {
				t.Errorf("%q: err = %v, want %s", doc, err, want)
			}
		}
	}
	for _, doc := range []string{`{"eventID":"abcdefghijklmnopq`, `{"eventID":"abc\`, `{"eventID":"abcdefgh\u00`} {
		_, err := ParseRecord([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), "unterminated") && !strings.Contains(err.Error(), `bad \u`) {
			t.Errorf("%q: err = %v, want an unterminated string or escape", doc, err)
		}
	}
}

// TestNestingLimitHoldsInRecordsAndSingleRecords pins the depth at which
// nesting is refused: a record in ParseRecord sits at depth 1, one in a
// Records document at depth 3, and a container deeper than maxDepth is an
// error at its opening byte.
func TestNestingLimitHoldsInRecordsAndSingleRecords(t *testing.T) {
	t.Parallel()
	nested := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	const head = `{"eventID":"x","eventTime":"2026-03-09T09:31:07Z","deep":`
	tests := []struct {
		name   string
		doc    func(n int) string
		base   int // depth of the record object
		prefix int // bytes before the record
	}{
		{"single record", func(n int) string { return head + nested(n) + `}` }, 1, 0},
		{"records document", func(n int) string { return `{"Records":[` + head + nested(n) + `}]}` }, 3, len(`{"Records":[`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ok := maxDepth - tc.base // arrays the record may hold
			var events, problems []string
			Scan([]byte(tc.doc(ok)), func(it *Item) {
				if it.Err != nil {
					problems = append(problems, it.Err.Error())
					return
				}
				events = append(events, it.Event.EventID)
			})
			if len(events) != 1 || len(problems) != 0 {
				t.Fatalf("%d nested arrays: events %v, problems %v", ok, events, problems)
			}
			Scan([]byte(tc.doc(ok+1)), func(it *Item) {
				problems = append(problems, fmt.Sprint(it.Err))
			})
			want := fmt.Sprintf("invalid JSON at byte %d: nesting too deep", tc.prefix+len(head)+ok)
			if len(problems) != 1 || problems[0] != want {
				t.Fatalf("%d nested arrays: problems %v, want [%s]", ok+1, problems, want)
			}
		})
	}
}

// TestRecordBytesFlagsCoverTheRecordOnly pins that the UTF-8 and newline
// facts the walk gathers are those of the record's own bytes: a newline
// in a record's white space compacts its raw, invalid UTF-8 in it makes it
// unusable, and invalid UTF-8 in an EventBridge envelope outside the
// detail does not.
func TestRecordBytesFlagsCoverTheRecordOnly(t *testing.T) {
	t.Parallel()
	const ev = `{"eventID":"e1","eventTime":"2026-03-09T09:31:07Z","eventVersion":"1.09"`
	tests := []struct {
		name, in, raw, errPart string
	}{
		{"newline in white space", "{\"eventID\": \"e1\",\n \"eventTime\":\"2026-03-09T09:31:07Z\"}", `{"eventID":"e1","eventTime":"2026-03-09T09:31:07Z"}`, ""},
		{"compact kept as is", ev + `,"x":[1, 2]}`, ev + `,"x":[1, 2]}`, ""},
		{"invalid UTF-8 in a value", ev + ",\"userAgent\":\"a\xffb\"}", "", "not valid UTF-8"},
		{"invalid UTF-8 in a nested key", ev + ",\"requestParameters\":{\"k\xc3\":1}}", "", "not valid UTF-8"},
		{"valid multi-byte text", ev + `,"userAgent":"café 😀"}`, ev + `,"userAgent":"café 😀"}`, ""},
		{"invalid UTF-8 outside the detail", "{\"detail-type\":\"AWS API Call via CloudTrail\",\"source\":\"\xff\",\"detail\":" + ev + "}}", ev + "}", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var items []Item
			Scan([]byte(tc.in), func(it *Item) { items = append(items, *it) })
			if len(items) != 1 {
				t.Fatalf("items = %+v, want one", items)
			}
			it := items[0]
			if tc.errPart != "" {
				if it.Err == nil || !strings.Contains(it.Err.Error(), tc.errPart) {
					t.Fatalf("err = %v, want it to mention %q", it.Err, tc.errPart)
				}
				return
			}
			if it.Err != nil {
				t.Fatal(it.Err)
			}
			if string(it.Event.Raw) != tc.raw {
				t.Errorf("raw = %s, want %s", it.Event.Raw, tc.raw)
			}
		})
	}
}

// TestRoutedKeysFollowLastMemberRules pins how repeated and escaped keys
// are read: the last userIdentity (or insightDetails) wins as a whole, an
// escaped key is the key it decodes to, and inside one userIdentity a
// sessionIssuer userName once seen stays unless another replaces it.
func TestRoutedKeysFollowLastMemberRules(t *testing.T) {
	t.Parallel()
	const base = `"eventTime":"2026-03-09T09:31:07Z","eventID":"e1","recipientAccountId":"111122223333"`
	tests := []struct {
		name, in                string
		actor, entitlement, arn string
		source                  string
	}{
		{
			"second userIdentity replaces the first",
			`{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PowerUser_0a/alice"},"userIdentity":{"type":"IAMUser","userName":"bob"},` + base + `}`,
			"bob", "", "", "",
		},
		{
			"escaped key names",
			`{"user\u0049dentity":{"t\u0079pe":"IAMUser","userName":"b\u006fb"},` + base + `}`,
			"bob", "", "", "",
		},
		{
			"issuer kept across sessionContexts",
			`{"userIdentity":{"type":"AssumedRole","principalId":"AROAX:i-0abc","accountId":"111122223333","sessionContext":{"sessionIssuer":{"userName":"ec2-app"}},"sessionContext":{"attributes":{}}},` + base + `}`,
			"i-0abc", "aws:111122223333:ec2-app", "", "",
		},
		{
			"userIdentity that is not an object",
			`{"userIdentity":{"type":"IAMUser","userName":"bob"},"userIdentity":"bob",` + base + `}`,
			"", "", "", "",
		},
		{
			"second insightDetails replaces the first",
			`{"eventType":"AwsCloudTrailInsight","insightDetails":{"eventSource":"ec2.amazonaws.com","eventName":"RunInstances"},"insightDetails":{"eventName":"StopInstances"},` + base + `}`,
			"", "", "", "",
		},
		{
			"long and nested look-alike keys are not routed",
			`{"requestParameters":{"eventSource":"x","userIdentity":{"type":"Root"}},"userIdentity":{"type":"IAMUser","userName":"bob","sessionContext":{"sessionIssuer":{"userNameX":"y"}}},` + base + `}`,
			"bob", "", "", "",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := ParseRecord([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if e.Actor != tc.actor || e.Entitlement != tc.entitlement || e.PrincipalARN != tc.arn || e.EventSource != tc.source {
				t.Errorf("actor/entitlement/arn/source = %q/%q/%q/%q, want %q/%q/%q/%q",
					e.Actor, e.Entitlement, e.PrincipalARN, e.EventSource, tc.actor, tc.entitlement, tc.arn, tc.source)
			}
		})
	}
	e, err := ParseRecord([]byte(`{"eventType":"AwsCloudTrailInsight","insightDetails":{"eventSource":"ec2.amazonaws.com"},"insightDetails":{"eventName":"StopInstances"},` + base + `}`))
	if err != nil || e.EventSource != "" || e.EventName != "StopInstances" {
		t.Errorf("insight = %q/%q (%v), want \"\"/StopInstances", e.EventSource, e.EventName, err)
	}
}

// TestParseUTCSecondsMatchesTimeParse checks the fast time path against
// time.Parse: same instant and location when it accepts, and it refuses
// (leaving time.Parse to decide) everything it cannot vouch for.
func TestParseUTCSecondsMatchesTimeParse(t *testing.T) {
	t.Parallel()
	inputs := []string{
		"2026-03-09T09:31:07Z", "2024-02-29T23:59:59Z", "2023-02-29T00:00:00Z", "2000-02-29T12:00:00Z",
		"1900-02-29T12:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-13-01T00:00:00Z",
		"2026-00-10T00:00:00Z", "2026-04-31T00:00:00Z", "2026-04-30T24:00:00Z", "2026-04-30T23:60:00Z",
		"2026-04-30T23:59:60Z", "2026-03-09t09:31:07Z", "2026-03-09T09:31:07z", "2026-03-09T09:31:07.5Z",
		"2026-03-09T09:31:07+00:00", "2026-3-09T09:31:07Z", "2026-03-09T09:31:0aZ", "+026-03-09T09:31:07Z",
		"2026-03-09 09:31:07Z", "2026-03-00T09:31:07Z",
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		inputs = append(inputs, fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02dZ",
			rng.IntN(10000), rng.IntN(14), rng.IntN(33), rng.IntN(26), rng.IntN(62), rng.IntN(62)))
	}
	for _, s := range inputs {
		got, ok := parseUTCSeconds(s)
		want, err := time.Parse(time.RFC3339Nano, s)
		if !ok {
			if len(s) == 20 && err == nil && !strings.ContainsAny(s, ".+tz ") && s[19] == 'Z' {
				t.Errorf("%q: refused, time.Parse accepts it", s)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: accepted, time.Parse says %v", s, err)
		}
		if want = want.UTC(); got != want || got.Location() != time.UTC {
			t.Fatalf("%q: %v (%v), want %v", s, got, got.Location(), want)
		}
	}
}

// TestDaysSinceEpochMatchesTimeDate checks the day count behind the fast
// time path against time.Date for every day of the years 0 to 9999.
func TestDaysSinceEpochMatchesTimeDate(t *testing.T) {
	t.Parallel()
	day := time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	for day.Year() < 10000 {
		y, m, d := day.Date()
		if got, want := daysSinceEpoch(y, int(m), d), day.Unix()/86400; got != want {
			t.Fatalf("%s: %d days since 1970-01-01, want %d", day.Format(time.DateOnly), got, want)
		}
		day = day.AddDate(0, 0, 1)
	}
}

// TestARNSplitsMatchPlainSearches pins the colon-table ARN helpers against
// the plain definitions: the account between an "arn:" ARN's fourth and
// fifth colons, and the parts after the first ":assumed-role/", however
// many colons come before it.
func TestARNSplitsMatchPlainSearches(t *testing.T) {
	t.Parallel()
	account := func(arn string) string {
		f := strings.SplitN(arn, ":", 6)
		if !strings.HasPrefix(arn, "arn:") || len(f) < 6 {
			return ""
		}
		return f[4]
	}
	role := func(arn string) (string, string) {
		_, rest, ok := strings.Cut(arn, ":assumed-role/")
		if !ok {
			return "", ""
		}
		r, s, _ := strings.Cut(rest, "/")
		return r, s
	}
	arns := []string{
		"arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PowerUser_0a/alice@corp.example",
		"arn:aws:iam::111122223333:user/bob", "arn:aws:iam::111122223333:root", "", ":", "arn:", "arn:aws",
		"arn:aws:sts::111122223333:assumed-role/ci-deploy", "arn:aws:sts::111122223333:assumed-role/",
		":assumed-role/x/y", "arn:x:assumed-role/r/s", "a:b:c:d:e:f:g:assumed-role/r/s:t", "a:b:c:d:e:assumed-role/r",
		"arn:aws:sts::1:assumed-role/r/s:assumed-role/q/z", "nope:aws:sts::1:assumed-role/r/s", "arn:aws:sts::1:",
	}
	rng := rand.New(rand.NewPCG(5, 6))
	parts := []string{":", "/", "arn", "assumed-role", ":assumed-role/", "a", "1"}
	for range 20000 {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(parts[rng.IntN(len(parts))])
		}
		arns = append(arns, sb.String())
	}
	for _, arn := range arns {
		if got, want := accountFromARN(arn), account(arn); got != want {
			t.Fatalf("accountFromARN(%q) = %q, want %q", arn, got, want)
		}
		gr, gs := assumedRole(arn)
		if wr, ws := role(arn); gr != wr || gs != ws {
			t.Fatalf("assumedRole(%q) = %q, %q, want %q, %q", arn, gr, gs, wr, ws)
		}
	}
}

// TestScanStringsOutliveLaterRecords checks that positions and
// entitlements handed out from shared blocks keep their text while later
// records of the same scan (many blocks' worth) are read.
func TestScanStringsOutliveLaterRecords(t *testing.T) {
	t.Parallel()
	const n = 3000
	doc := newDeliveryGen(9).records(n)
	type kept struct {
		pos, entitlement string
		readOnly         *bool
		raw              []byte
	}
	var all []kept
	Scan(doc, func(it *Item) {
		if it.Err != nil {
			t.Fatalf("%s: %v", it.Pos, it.Err)
		}
		all = append(all, kept{it.Pos, it.Event.Entitlement, it.Event.ReadOnly, it.Event.Raw})
	})
	if len(all) != n {
		t.Fatalf("events = %d, want %d", len(all), n)
	}
	seen := map[*bool]bool{}
	for k, e := range all {
		if want := "record " + strconv.Itoa(k+1); e.pos != want {
			t.Fatalf("pos %q, want %q", e.pos, want)
		}
		alone, err := ParseRecord(e.raw)
		if err != nil {
			t.Fatal(err)
		}
		if e.entitlement != alone.Entitlement || e.readOnly == nil || *e.readOnly != *alone.ReadOnly {
			t.Fatalf("%s: entitlement/readOnly %q/%v, alone %q/%v", e.pos, e.entitlement, e.readOnly, alone.Entitlement, alone.ReadOnly)
		}
		if seen[e.readOnly] {
			t.Fatalf("%s: readOnly shares its pointer with an earlier event", e.pos)
		}
		seen[e.readOnly] = true
	}
}
