package trail

import (
	"encoding/json"
	"fmt"
	"unsafe"
)

// This file holds a small validating JSON scanner. It never builds a tree:
// it walks the bytes once, checks the grammar, and hands out the byte spans
// of the values that normalisation needs. Strings without escapes are
// returned as views into the input (no copy), so the input must stay
// unmodified for as long as any returned string is in use.

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 256

// syntaxError is a JSON grammar error at a byte offset of the scanned input.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg) }

func errAt(off int, msg string) error { return &syntaxError{off: off, msg: msg} }

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

// skipWS returns the index of the first non-space byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// skipString expects b[i] == '"' and returns the index after the closing
// quote and whether the string holds escapes.
func skipString(b []byte, i int) (int, bool, error) {
	start := i
	i++
	esc := false
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, esc, nil
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return 0, false, errAt(i, "unterminated escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					return 0, false, errAt(i, "bad \\u escape")
				}
				i += 6
			default:
				return 0, false, errAt(i, "bad escape")
			}
		case c < 0x20:
			return 0, false, errAt(i, "control character in string")
		default:
			i++
		}
	}
	return 0, false, errAt(start, "unterminated string")
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// skipValue returns the index just after the JSON value starting at or
// after i (leading space allowed).
func skipValue(b []byte, i, depth int) (int, error) {
	i = skipWS(b, i)
	if i >= len(b) {
		return 0, errAt(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := skipString(b, i)
		return end, err
	case c == '{':
		return walkObject(b, i, depth+1, nil)
	case c == '[':
		return walkArray(b, i, depth+1, nil)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(b, i)
	default:
		return 0, errAt(i, fmt.Sprintf("unexpected character %q", c))
	}
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errAt(i, "bad literal")
	}
	return i + len(lit), nil
}

// skipNumber accepts the JSON number grammar.
func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return 0, errAt(start, "bad number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return 0, errAt(start, "bad number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return 0, errAt(start, "bad number")
		}
	}
	return i, nil
}

// memberFunc sees one object member: the key's raw bytes (without quotes,
// escapes still in place), whether the key has escapes, and the value span.
type memberFunc func(key []byte, keyEsc bool, v span) error

// span is a value's bytes [start, end) in the scanned input.
type span struct{ start, end int }

// walkObject expects b[i] == '{' and calls fn, when not nil, for every
// member. It returns the index after the closing brace.
func walkObject(b []byte, i, depth int, fn memberFunc) (int, error) {
	if depth > maxDepth {
		return 0, errAt(i, "nesting too deep")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errAt(i, "want object key")
		}
		kend, kesc, err := skipString(b, i)
		if err != nil {
			return 0, err
		}
		key := b[i+1 : kend-1]
		i = skipWS(b, kend)
		if i >= len(b) || b[i] != ':' {
			return 0, errAt(i, "want ':' after object key")
		}
		vstart := skipWS(b, i+1)
		vend, err := skipValue(b, vstart, depth)
		if err != nil {
			return 0, err
		}
		if fn != nil {
			if err := fn(key, kesc, span{vstart, vend}); err != nil {
				return 0, err
			}
		}
		i = skipWS(b, vend)
		if i >= len(b) {
			return 0, errAt(i, "unterminated object")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errAt(i, "want ',' or '}' in object")
		}
	}
}

// elemFunc sees one array element's span and its 1-based index. Returning
// an error stops the walk.
type elemFunc func(idx int, v span) error

// walkArray expects b[i] == '[' and calls fn, when not nil, for every
// element. It returns the index after the closing bracket.
func walkArray(b []byte, i, depth int, fn elemFunc) (int, error) {
	if depth > maxDepth {
		return 0, errAt(i, "nesting too deep")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for idx := 1; ; idx++ {
		vend, err := skipValue(b, i, depth)
		if err != nil {
			return 0, err
		}
		if fn != nil {
			if err := fn(idx, span{i, vend}); err != nil {
				return 0, err
			}
		}
		i = skipWS(b, vend)
		if i >= len(b) {
			return 0, errAt(i, "unterminated array")
		}
		switch b[i] {
		case ',':
			i = skipWS(b, i+1)
		case ']':
			return i + 1, nil
		default:
			return 0, errAt(i, "want ',' or ']' in array")
		}
	}
}

// view returns b as a string without copying. The caller must not modify b
// while the string is in use.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// stringValue decodes the JSON string value in b[v.start:v.end]. It returns
// ok=false when the value is not a string (null, number, object, ...).
func stringValue(b []byte, v span) (string, bool) {
	if v.end-v.start < 2 || b[v.start] != '"' {
		return "", false
	}
	inner := b[v.start+1 : v.end-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if err := json.Unmarshal(b[v.start:v.end], &s); err != nil {
				return "", false
			}
			return s, true
		}
	}
	return view(inner), true
}

// keyIs reports whether a raw key equals name, decoding escapes if any.
func keyIs(key []byte, esc bool, name string) bool {
	if !esc {
		return string(key) == name
	}
	return unescapeKey(key) == name
}

func unescapeKey(key []byte) string {
	var s string
	q := make([]byte, 0, len(key)+2)
	q = append(append(append(q, '"'), key...), '"')
	if err := json.Unmarshal(q, &s); err != nil {
		return ""
	}
	return s
}
