package approve

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jitscore/jitscore/models"
)

var decodeSeeds = []string{
	`{"request_id":"r1","requester":"alice@example.com","entitlement":"aws:1:ReadOnly","duration":"8h"}`,
	`{"Request_ID":"case","REQUESTER":"a","entitlement":"e"}`,
	`{"requester":"first","requester":"last wins"}`,
	`{"requester":null,"entitlement":"e"}`,
	`{"requester":"a","extra":{"nested":[1,2.5e-3,-0,true,false,null,"s",{"x":[]}]},"entitlement":"e"}`,
	`  {"requester" : "spaced" , "entitlement":"e"}  ` + "\n",
	`{"requester":"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 \ud800 \udc00x \ud800\u0041"}`,
	"{\"requester\":\"raw \xff bytes \xc3\"}",
	`{"requester":7}`, `{"requester":["a"]}`, `{"requester":{"a":1}}`, `{"requester":true}`,
	`[1,2]`, `"string"`, `12`, `null`, ``, `   `, `{`, `{"a"`, `{"a":`, `{"a":1,}`, `{,}`, `{}`,
	`{"a":1}{"b":2}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":"\x"}`,
	`{"a":"\u12"}`, "{\"a\":\"ctl \x01\"}", `{"requester":"\u0000"}`, `{"a":[1 2]}`, `{"a" 1}`,
	`{"K\u212aelvin":"x"}`, `{"justification":"ſ"}`,
}

// Whatever encoding/json makes of a body, decodeScoreRequest makes the same:
// the same fields on success, an error on failure.
func FuzzDecodeScoreRequest(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var want models.ScoreRequest
		wantErr := json.Unmarshal([]byte(body), &want)
		if strings.TrimSpace(body) == "null" {
			wantErr = errors.New("a bare null is not a request") // stricter on purpose
		}
		if wantErr == nil && repeatsAField(body) {
			wantErr = errors.New("a field given twice") // stricter on purpose
		}
		got, gotErr := decodeScoreRequest([]byte(body))
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%q: encoding/json error %v, decodeScoreRequest error %v", body, wantErr, gotErr)
		}
		if wantErr == nil && got != want {
			t.Fatalf("%q:\n got %+v\nwant %+v", body, got, want)
		}
		var fe *fieldError
		if gotErr != nil && !errors.As(gotErr, &fe) {
			t.Fatalf("%q: error %v is not a field error", body, gotErr)
		}
	})
}

// repeatsAField reports whether a valid JSON object gives one of the
// score request's fields twice, matching keys as encoding/json does.
func repeatsAField(body string) bool {
	dec := json.NewDecoder(strings.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	counts := map[string]int{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		for _, f := range []string{"request_id", "requester", "entitlement", "duration", "justification", "requested_at"} {
			if strings.EqualFold(tok.(string), f) {
				if counts[f]++; counts[f] > 1 {
					return true
				}
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return false
		}
	}
	return false
}

// TestDecodeScoreRequestRefusesARepeatedField pins that a field given
// twice, in any spelling or as null, is refused naming the field, while
// repeated unknown keys pass.
func TestDecodeScoreRequestRefusesARepeatedField(t *testing.T) {
	t.Parallel()
	cases := []struct{ body, field string }{
		{`{"requester":"a","requester":"b"}`, "requester"},
		{`{"requester":"a","REQUESTER":"b"}`, "requester"},
		{`{"duration":null,"entitlement":"e","Duration":"8h"}`, "duration"},
		{`{"request_id":"r","x":1,"x":2}`, ""},
	}
	for _, c := range cases {
		_, err := decodeScoreRequest([]byte(c.body))
		if c.field == "" {
			if err != nil {
				t.Errorf("%s: %v, want no error", c.body, err)
			}
			continue
		}
		var fe *fieldError
		if !errors.As(err, &fe) || fe.field != c.field || !strings.Contains(fe.msg, "given twice") {
			t.Errorf("%s: error %v, want field %q given twice", c.body, err, c.field)
		}
	}
}

func TestDecodeScoreRequestNamesTheFieldOfAWrongType(t *testing.T) {
	t.Parallel()
	cases := []struct{ body, field, msg string }{
		{`{"requester":7}`, "requester", "want a JSON string, got number"},
		{`{"Duration":["8h"]}`, "duration", "want a JSON string, got array"},
		{`[1]`, "(body)", "want a JSON object, got array"},
		{` null `, "(body)", "want a JSON object, got null"},
		{`{"a":1}x`, "", "data after the JSON object"},
		{``, "", "body is empty"},
		{`{"requester":"a"`, "", "body ends inside the JSON object"},
		{`{"requester" "a"}`, "", "at byte 14"},
		{strings.Repeat("[", 600) + strings.Repeat("]", 600), "", "deeper than 512"},
	}
	for _, c := range cases {
		_, err := decodeScoreRequest([]byte(c.body))
		var fe *fieldError
		if !errors.As(err, &fe) || fe.field != c.field || !strings.Contains(fe.msg, c.msg) {
			t.Errorf("%.40q: error %v, want field %q and a message containing %q", c.body, err, c.field, c.msg)
		}
	}
}
