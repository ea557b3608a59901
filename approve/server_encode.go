package approve

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/jitscore/jitscore/models"
)

// The two JSON objects written for every decision, the answer and the audit
// line, are encoded by hand: encoding/json spends most of its time in
// reflection and in sorting map keys, and on the decision path that was the
// larger part of a request's CPU. The output is what encoding/json writes
// with HTML escaping off (the CLI's form), which server_encode_test.go
// checks byte for byte for the answer and value for value for the audit
// line, whose features object is written in map order.

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, and U+2028
// and U+2029 escaped as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendJSONFloat appends a finite f in the shortest form that reads back
// exactly, as ECMAScript and encoding/json format numbers: plain decimals
// for 1e-6 <= |f| < 1e21, exponent form outside, without a leading zero in
// the exponent. The caller makes sure f is finite.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-07 becomes e-7.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// appendKey appends ,"name": (or "name": first in an object).
func appendKey(b []byte, name string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}

func appendStringField(b []byte, name, v string) []byte {
	return appendJSONString(appendKey(b, name, false), v)
}

// appendReasons appends reasons as a JSON array; nil is null, as
// encoding/json writes it. A non-finite contribution is written as 0.
func appendReasons(b []byte, reasons []models.Reason) []byte {
	if reasons == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, r := range reasons {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		b = appendJSONString(appendKey(b, "factor", true), r.Factor)
		c := r.Contribution
		if !finite(c) {
			c = 0
		}
		b = appendJSONFloat(appendKey(b, "contribution", false), c)
		b = appendStringField(b, "detail", r.Detail)
		b = append(b, '}')
	}
	return append(b, ']')
}

// appendScoreResponse appends r as encoding/json encodes a
// models.ScoreResponse. A non-finite risk (a bug upstream) is
// written as 1, the most cautious value.
func appendScoreResponse(b []byte, r *models.ScoreResponse) []byte {
	b = append(b, '{')
	b = appendJSONString(appendKey(b, "request_id", true), r.RequestID)
	risk := r.Risk
	if !finite(risk) {
		risk = 1
	}
	b = appendJSONFloat(appendKey(b, "risk", false), risk)
	b = appendStringField(b, "decision", string(r.Decision))
	b = appendStringField(b, "policy_decision", string(r.PolicyDecision))
	if r.Tier != "" {
		b = appendStringField(b, "tier", string(r.Tier))
	}
	b = appendReasons(appendKey(b, "reasons", false), r.Reasons)
	b = appendStringField(b, "model_version", r.ModelVersion)
	b = appendStringField(b, "policy_version", r.PolicyVersion)
	return append(b, '}')
}

// appendAuditLine appends r as one auditLine object and a newline. The
// justification becomes its length in characters. A non-finite risk is
// written as 1 and a non-finite feature is left out, each noted in error,
// so that a broken number can neither look like a safe one nor lose the
// record.
func appendAuditLine(b []byte, r *AuditRecord) []byte {
	note := r.Error
	b = append(b, '{')
	b = appendJSONString(appendKey(b, "decision_id", true), r.DecisionID)
	b = append(appendKey(b, "decided_at", false), '"')
	b = r.DecidedAt.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, '"')
	b = appendStringField(b, "source", r.Source)
	b = appendStringField(b, "request_id", r.Request.RequestID)
	b = appendStringField(b, "requester_input", r.Request.Requester)
	b = appendStringField(b, "requester", r.Requester)
	b = appendStringField(b, "entitlement", r.Request.Entitlement)
	if r.Request.Duration != "" {
		b = appendStringField(b, "duration", r.Request.Duration)
	}
	if r.Request.RequestedAt != "" {
		b = appendStringField(b, "requested_at", r.Request.RequestedAt)
	}
	b = strconv.AppendInt(appendKey(b, "justification_length", false),
		int64(utf8.RuneCountInString(r.Request.Justification)), 10)
	b = appendStringField(b, "tier", string(r.Tier))
	if len(r.Features) > 0 {
		b = append(appendKey(b, "features", false), '{')
		first := true
		for k, v := range r.Features {
			if !finite(v) {
				note = joinError(note, "feature "+k+" is not a finite number")
				continue
			}
			b = appendComma(b, first)
			b = append(appendJSONString(b, k), ':')
			b = appendJSONFloat(b, v)
			first = false
		}
		b = append(b, '}')
	}
	risk := r.Risk
	if !finite(risk) {
		risk = 1
		note = joinError(note, "risk was not a finite number; recorded as 1")
	}
	b = appendJSONFloat(appendKey(b, "risk", false), risk)
	b = appendStringField(b, "decision", string(r.Decision))
	b = appendStringField(b, "policy_decision", string(r.PolicyDecision))
	b = appendReasons(appendKey(b, "reasons", false), r.Reasons)
	b = appendStringField(b, "model_version", r.ModelVersion)
	b = appendStringField(b, "policy_version", r.PolicyVersion)
	b = appendStringField(b, "mode", r.Mode)
	if note != "" {
		b = appendStringField(b, "error", note)
	}
	return append(b, '}', '\n')
}

// appendComma separates one member of an object or array from the one
// before it.
func appendComma(b []byte, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	return b
}
