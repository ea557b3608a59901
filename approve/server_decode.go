package approve

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/jitscore/jitscore/models"
)

// A score request is a flat object of strings, and it is the one body every
// decision reads, so it is parsed by hand rather than through reflection:
// decodeScoreRequest accepts exactly what encoding/json.Unmarshal into a
// models.ScoreRequest accepts and gives the same result (keys matched
// case-insensitively, null leaves a field empty, unknown keys are
// skipped), which FuzzDecodeScoreRequest checks, with two exceptions: a
// body of just null is refused as not an object, and a field given twice
// (in any case, null included) is refused, naming it, where encoding/json
// would let the last win: a broker's parser may take the first, and then
// the request scored would not be the request granted.
// Its errors name the field, as the API promises.

// maxSkipDepth bounds the nesting of an unknown value that is skipped.
const maxSkipDepth = 512

// readBody reads the whole body, at most limit bytes, into buf.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, buf []byte) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			var maxErr *http.MaxBytesError
			if errors.As(err, &maxErr) {
				return buf, &fieldError{code: http.StatusRequestEntityTooLarge,
					msg: fmt.Sprintf("body is larger than %d bytes", limit)}
			}
			return buf, &fieldError{code: http.StatusBadRequest, msg: "body could not be read: " + err.Error()}
		}
	}
}

// jsonScanner walks one JSON text.
type jsonScanner struct {
	data []byte
	pos  int
}

func (s *jsonScanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *jsonScanner) syntax(what string) error {
	if s.pos >= len(s.data) {
		if len(strings.TrimSpace(string(s.data))) == 0 {
			return &fieldError{code: http.StatusBadRequest, msg: "body is empty; want a JSON object"}
		}
		return &fieldError{code: http.StatusBadRequest, msg: "body ends inside the JSON object"}
	}
	return &fieldError{code: http.StatusBadRequest,
		msg: fmt.Sprintf("body is not valid JSON at byte %d: want %s, found %q", s.pos+1, what, s.data[s.pos])}
}

// decodeScoreRequest parses data as one score request.
func decodeScoreRequest(data []byte) (models.ScoreRequest, error) {
	var req models.ScoreRequest
	s := &jsonScanner{data: data}
	s.ws()
	if s.pos >= len(s.data) {
		return req, s.syntax("{")
	}
	if c := s.data[s.pos]; c != '{' {
		if err := s.skipValue(0); err != nil {
			return req, err
		}
		return req, badField("(body)", "want a JSON object, got %s", kindOf(c))
	}
	s.pos++
	s.ws()
	var seen uint8 // the known fields read so far, one bit each
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
	} else {
		for {
			s.ws()
			if s.pos >= len(s.data) || s.data[s.pos] != '"' {
				return req, s.syntax("a quoted key")
			}
			key, err := s.str()
			if err != nil {
				return req, err
			}
			s.ws()
			if s.pos >= len(s.data) || s.data[s.pos] != ':' {
				return req, s.syntax(":")
			}
			s.pos++
			s.ws()
			if err := s.member(&req, key, &seen); err != nil {
				return req, err
			}
			s.ws()
			if s.pos >= len(s.data) {
				return req, s.syntax(", or }")
			}
			if s.data[s.pos] == ',' {
				s.pos++
				continue
			}
			if s.data[s.pos] == '}' {
				s.pos++
				break
			}
			return req, s.syntax(", or }")
		}
	}
	s.ws()
	if s.pos != len(s.data) {
		return req, &fieldError{code: http.StatusBadRequest, msg: "data after the JSON object"}
	}
	return req, nil
}

// member reads the value of key into req, or skips it for an unknown key.
// seen holds a bit per known field already read; a second one is an error.
func (s *jsonScanner) member(req *models.ScoreRequest, key string, seen *uint8) error {
	var dst *string
	var name string
	for i, f := range [...]struct {
		name string
		dst  *string
	}{
		{"request_id", &req.RequestID},
		{"requester", &req.Requester},
		{"entitlement", &req.Entitlement},
		{"duration", &req.Duration},
		{"justification", &req.Justification},
		{"requested_at", &req.RequestedAt},
	} {
		if key == f.name || strings.EqualFold(key, f.name) {
			if *seen&(1<<i) != 0 {
				return badField(f.name, "given twice; send each field once")
			}
			*seen |= 1 << i
			dst, name = f.dst, f.name
			break
		}
	}
	if s.pos >= len(s.data) {
		return s.syntax("a value")
	}
	c := s.data[s.pos]
	switch {
	case dst == nil:
		return s.skipValue(0)
	case c == '"':
		v, err := s.str()
		if err != nil {
			return err
		}
		*dst = v
		return nil
	case c == 'n':
		return s.literal("null")
	}
	if err := s.skipValue(0); err != nil {
		return err
	}
	return badField(name, "want a JSON string, got %s", kindOf(c))
}

func kindOf(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	case '"':
		return "string"
	}
	return "number"
}

func (s *jsonScanner) literal(word string) error {
	if !strings.HasPrefix(string(s.data[s.pos:min(len(s.data), s.pos+len(word))]), word) {
		return s.syntax(word)
	}
	s.pos += len(word)
	return nil
}

// skipValue checks and passes over one value of any kind.
func (s *jsonScanner) skipValue(depth int) error {
	if depth > maxSkipDepth {
		return &fieldError{code: http.StatusBadRequest, msg: "body nests deeper than 512 levels"}
	}
	if s.pos >= len(s.data) {
		return s.syntax("a value")
	}
	switch c := s.data[s.pos]; {
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == '[' || c == '{':
		return s.container(c, depth)
	}
	return s.syntax("a value")
}

func (s *jsonScanner) container(open byte, depth int) error {
	closer := byte(']')
	if open == '{' {
		closer = '}'
	}
	s.pos++
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == closer {
		s.pos++
		return nil
	}
	for {
		s.ws()
		if open == '{' {
			if s.pos >= len(s.data) || s.data[s.pos] != '"' {
				return s.syntax("a quoted key")
			}
			if _, err := s.str(); err != nil {
				return err
			}
			s.ws()
			if s.pos >= len(s.data) || s.data[s.pos] != ':' {
				return s.syntax(":")
			}
			s.pos++
			s.ws()
		}
		if err := s.skipValue(depth + 1); err != nil {
			return err
		}
		s.ws()
		if s.pos >= len(s.data) {
			return s.syntax(string([]byte{',', ' ', 'o', 'r', ' ', closer}))
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case closer:
			s.pos++
			return nil
		default:
			return s.syntax(string([]byte{',', ' ', 'o', 'r', ' ', closer}))
		}
	}
}

func (s *jsonScanner) digits() int {
	n := 0
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}

// number passes over -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?.
func (s *jsonScanner) number() error {
	if s.data[s.pos] == '-' {
		s.pos++
	}
	if s.pos >= len(s.data) {
		return s.syntax("a digit")
	}
	if s.data[s.pos] == '0' {
		s.pos++
	} else if s.digits() == 0 {
		return s.syntax("a digit")
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return s.syntax("a digit")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return s.syntax("a digit")
		}
	}
	return nil
}

// str reads a quoted string at pos and returns its value: escapes
// resolved, invalid UTF-8 and unpaired surrogates replaced by U+FFFD.
func (s *jsonScanner) str() (string, error) {
	s.pos++ // the opening quote
	start := s.pos
	// The common case: no escapes, all valid UTF-8.
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		if c == '"' {
			v := string(s.data[start:s.pos])
			s.pos++
			return v, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		s.pos++
	}
	out := append([]byte(nil), s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return string(out), nil
		case c < 0x20:
			return "", s.syntax("no control character inside a string")
		case c == '\\':
			if s.pos+1 >= len(s.data) {
				s.pos = len(s.data)
				return "", s.syntax("an escape")
			}
			e := s.data[s.pos+1]
			s.pos += 2
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, err := s.hex4()
				if err != nil {
					return "", err
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
						save := s.pos
						s.pos += 2
						if v, err := s.hex4(); err == nil {
							r2 = v
						} else {
							return "", err
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							out = utf8.AppendRune(out, dec)
							continue
						}
						s.pos = save // not a pair: the second escape stands alone
					}
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			default:
				s.pos--
				return "", s.syntax("a valid escape")
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			s.pos += size
			out = utf8.AppendRune(out, r) // RuneError for invalid bytes
		}
	}
	return "", s.syntax(`a closing "`)
}

func (s *jsonScanner) hex4() (rune, error) {
	if s.pos+4 > len(s.data) {
		s.pos = len(s.data)
		return 0, s.syntax("four hex digits")
	}
	var r rune
	for i := range 4 {
		c := s.data[s.pos+i]
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			s.pos += i
			return 0, s.syntax("a hex digit")
		}
	}
	s.pos += 4
	return r, nil
}
