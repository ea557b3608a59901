package trail

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// routeProbe is an object value holding every key of every route once,
// each with a value naming it, so that the slots a walk fills show which
// route the object was walked with.
const routeProbe = `{"type":"p-type","principalId":"p-pid","arn":"p-arn","accountId":"p-acct",` +
	`"userName":"p-user","invokedBy":"p-inv","onBehalfOf":{"userId":"p-obo"},` +
	`"sessionContext":{"sessionIssuer":{"userName":"p-issuer"}},"sessionIssuer":{"userName":"p-iss2"},` +
	`"userId":"p-uid","eventSource":"p-src","eventName":"p-name","eventID":"p-id"}`

// refRoutes is routedKeys as a map, the plain definition the key table and
// the walk's inline lookup must agree with.
func refRoutes() map[route]map[string]struct {
	sl    slot
	inner route
} {
	m := map[route]map[string]struct {
		sl    slot
		inner route
	}{}
	for _, k := range routedKeys {
		if m[k.r] == nil {
			m[k.r] = map[string]struct {
				sl    slot
				inner route
			}{}
		}
		m[k.r][k.key] = struct {
			sl    slot
			inner route
		}{k.sl, k.inner}
	}
	return m
}

// refWalk fills want with what a walk of obj with route r should store:
// string values by slot, and "{}" for an object value with a slot.
func refWalk(t *testing.T, routes map[route]map[string]struct {
	sl    slot
	inner route
}, r route, obj map[string]any, want map[slot]string) {
	t.Helper()
	for k, v := range obj {
		e := routes[r][k]
		switch v := v.(type) {
		case string:
			if e.sl != noSlot {
				want[e.sl] = v
			}
		case map[string]any:
			if e.inner != routeNone {
				refWalk(t, routes, e.inner, v, want)
			}
			if e.sl != noSlot {
				want[e.sl] = "{}"
			}
		}
	}
}

// keyVariants returns every routed key, each with every byte changed, one
// byte added or dropped at either end, and a few unrouted keys, long keys
// and the empty key.
func keyVariants() []string {
	seen := map[string]bool{}
	var out []string
	add := func(k string) {
		for _, c := range []byte(k) {
			if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
				return // only keys that need no escape
			}
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, k := range routedKeys {
		add(k.key)
		for i := range len(k.key) {
			for _, c := range []byte{k.key[i] ^ 0x20, k.key[i] + 1, 'x'} {
				add(k.key[:i] + string(c) + k.key[i+1:])
			}
		}
		add(k.key + "x")
		add("x" + k.key)
		add(k.key[1:])
		add(k.key[:len(k.key)-1])
		add(k.key + k.key)
	}
	for _, k := range []string{"", "requestParameters", "responseElements", "requestID", "tlsDetails",
		"additionalEventData", "sessionCredentialFromConsole", "recipientAccountIdentifier", "a", "ab", "abcdefgh"} {
		add(k)
	}
	return out
}

// TestKeyRoutingMatchesTheKeyList walks {"KEY":value} with every route
// for many keys, as a string and as an object holding every routed key,
// and checks the slots filled against refRoutes: for short inputs (the
// key's words read through route) and padded ones (read inline from the
// input), for plain keys and for the same keys written with an escape.
func TestKeyRoutingMatchesTheKeyList(t *testing.T) {
	t.Parallel()
	routes := refRoutes()
	var probe map[string]any
	if err := json.Unmarshal([]byte(routeProbe), &probe); err != nil {
		t.Fatal(err)
	}
	for r := routeRecord; r <= routeInsight; r++ {
		for _, key := range keyVariants() {
			enc := []string{key}
			if key != "" {
				// The same key with its first byte escaped.
				enc = append(enc, fmt.Sprintf(`\u%04x`, key[0])+key[1:])
			}
			for _, k := range enc {
				for _, value := range []string{`"v-` + strconv.Quote(key)[1:], routeProbe} {
					want := map[slot]string{}
					var v any
					if err := json.Unmarshal([]byte(value), &v); err != nil {
						t.Fatal(err)
					}
					refWalk(t, routes, r, map[string]any{key: v}, want)
					for _, pad := range []string{"", strings.Repeat(" ", 32)} {
						doc := []byte(`{"` + k + `":` + value + `}` + pad)
						ix := buildStops(doc)
						var f fields
						f.reset()
						w := walker{b: doc, stops: ix.words}
						end, err := w.object(0, 1, r, &f)
						ix.release()
						if err != nil || end != len(doc)-len(pad) {
							t.Fatalf("route %d, %s: end %d, err %v", r, doc, end, err)
						}
						for s := slot(1); s < numSlots; s++ {
							got := ""
							if f.has(s) {
								got = f.str(doc, s)
								if doc[f.v[s].start] == '{' {
									got = "{}"
								}
							}
							if got != want[s] {
								t.Fatalf("route %d, %s: slot %d holds %q, want %q", r, doc, s, got, want[s])
							}
						}
					}
				}
			}
		}
	}
}

// randomJSON writes a random value of at most depth levels, with white
// space, escapes, multi-byte text and every literal and number form.
func randomJSON(rng *rand.Rand, sb *strings.Builder, depth int) {
	ws := func() {
		if rng.IntN(4) == 0 {
			sb.WriteString([]string{" ", "\n", "\t", "\r\n  "}[rng.IntN(4)])
		}
	}
	ws()
	switch k := rng.IntN(10); {
	case k < 2 && depth > 0:
		sb.WriteByte('{')
		for i := range rng.IntN(5) {
			if i > 0 {
				sb.WriteByte(',')
			}
			ws()
			sb.WriteString(randomString(rng))
			ws()
			sb.WriteByte(':')
			randomJSON(rng, sb, depth-1)
		}
		ws()
		sb.WriteByte('}')
	case k < 4 && depth > 0:
		sb.WriteByte('[')
		for i := range rng.IntN(5) {
			if i > 0 {
				sb.WriteByte(',')
			}
			randomJSON(rng, sb, depth-1)
		}
		ws()
		sb.WriteByte(']')
	case k < 7:
		sb.WriteString(randomString(rng))
	case k < 8:
		sb.WriteString([]string{"true", "false", "null"}[rng.IntN(3)])
	default:
		sb.WriteString([]string{"0", "-1", "12.5", "1e9", "-0.25E-3", "7E+2", "123456789"}[rng.IntN(7)])
	}
	ws()
}

func randomString(rng *rand.Rand) string {
	parts := []string{"a", "eventID", "userIdentity", strings.Repeat("x", 70), `\"`, `\\`, `\n`, `\u00e9`, `\ud83d\ude00`, "é", "😀", "-", " "}
	var sb strings.Builder
	sb.WriteByte('"')
	for range rng.IntN(6) {
		sb.WriteString(parts[rng.IntN(len(parts))])
	}
	sb.WriteByte('"')
	return sb.String()
}

// TestSkipAgreesWithEncodingJSON checks the iterative walk of unrouted
// containers on random documents and random corruptions of them: it
// accepts exactly what encoding/json accepts, ends where the document
// ends, and the walk with the stop index and the one without it return the
// same end and error.
func TestSkipAgreesWithEncodingJSON(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(11, 12))
	junk := []string{"", "{", "}", "[", "]", ",", ":", `"`, `\`, "\x01", "\xff", "1", "-", "e", "t", "nul", " "}
	for range 20000 {
		var sb strings.Builder
		randomJSON(rng, &sb, 1+rng.IntN(6))
		doc := []byte(sb.String())
		if rng.IntN(2) == 0 && len(doc) > 0 {
			p := rng.IntN(len(doc))
			q := min(len(doc), p+rng.IntN(3))
			doc = []byte(string(doc[:p]) + junk[rng.IntN(len(junk))] + string(doc[q:]))
		}
		ix := buildStops(doc)
		end, err := skipValue(doc, ix.words, 0, 0)
		ix.release()
		w := walker{b: doc}
		end8, err8 := w.value(0, 0)
		if end != end8 || fmt.Sprint(err) != fmt.Sprint(err8) {
			t.Fatalf("%q: indexed walk (%d, %v), eight-byte walk (%d, %v)", doc, end, err, end8, err8)
		}
		whole := err == nil && skipWS(doc, end) == len(doc)
		if valid := json.Valid(doc); whole != valid {
			t.Fatalf("%q: walk end %d of %d, err %v; encoding/json valid %v", doc, end, len(doc), err, valid)
		}
	}
}

// TestEscapedSlotsDoNotLeakIntoLaterValues pins that a slot's decoded
// string is read only while its value has escapes: a later plain value of
// the same key, in the same record or the next, and a record without the
// key, read as they are.
func TestEscapedSlotsDoNotLeakIntoLaterValues(t *testing.T) {
	t.Parallel()
	const tm = `"eventTime":"2026-03-09T09:31:07Z"`
	recs := []struct{ rec, name string }{
		{`{"eventID":"e1",` + tm + `,"eventName":"Get\u004fbject"}`, "GetObject"},
		{`{"eventID":"e2",` + tm + `,"eventName":"PutObject"}`, "PutObject"},
		{`{"eventID":"e3",` + tm + `}`, ""},
		{`{"eventID":"e4",` + tm + `,"eventName":"A\"B","eventName":"Plain"}`, "Plain"},
		{`{"eventID":"e5",` + tm + `,"eventName":"Plain","eventName":"A\/B"}`, "A/B"},
		{`{"eventID":"e6",` + tm + `,"eventName":"x\u00e9","eventName":7}`, ""},
	}
	var parts []string
	for _, r := range recs {
		parts = append(parts, r.rec)
	}
	var got []string
	Scan([]byte(`{"Records":[`+strings.Join(parts, ",")+`]}`), func(it *Item) {
		if it.Err != nil {
			t.Fatalf("%s: %v", it.Pos, it.Err)
		}
		got = append(got, it.Event.EventName)
	})
	if len(got) != len(recs) {
		t.Fatalf("events %q, want %d", got, len(recs))
	}
	for k, r := range recs {
		if got[k] != r.name {
			t.Errorf("record %d: eventName %q, want %q", k+1, got[k], r.name)
		}
	}
}
