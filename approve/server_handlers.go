package approve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jitscore/jitscore/models"
)

// apiError is the body of every error answer: what is wrong and, for a
// malformed body, the JSON field it concerns ("requester",
// "requests[3].duration").
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// fieldError is a request body problem that names its field.
type fieldError struct {
	code  int
	field string
	msg   string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func badField(field, format string, args ...any) *fieldError {
	return &fieldError{code: http.StatusBadRequest, field: field, msg: fmt.Sprintf(format, args...)}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON answers v with code and returns code.
func writeJSON(w http.ResponseWriter, code int, v any) int {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		code = http.StatusInternalServerError
		buf.WriteString(`{"error":"answer could not be encoded"}` + "\n")
	}
	return writeBody(w, code, buf.Bytes())
}

// writeBody answers the encoded body b with code and returns code.
func writeBody(w http.ResponseWriter, code int, b []byte) int {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	_, _ = w.Write(b)
	return code
}

var jsonContentType = []string{"application/json"}

// bytesPool holds encode buffers of answers; oversize ones are dropped so
// that one huge batch does not pin memory.
var bytesPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBytes() *[]byte { return bytesPool.Get().(*[]byte) }

func putBytes(b *[]byte) {
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		bytesPool.Put(b)
	}
}

func writeError(w http.ResponseWriter, code int, msg, field string) int {
	return writeJSON(w, code, apiError{Error: msg, Field: field})
}

// writeBodyError answers a problem with the request body.
func writeBodyError(w http.ResponseWriter, err error) int {
	var fe *fieldError
	if errors.As(err, &fe) {
		return writeError(w, fe.code, fe.msg, fe.field)
	}
	return writeError(w, http.StatusBadRequest, err.Error(), "")
}

// decodeBody reads one JSON object of at most limit bytes into v. Its
// errors are fieldErrors: 413 for an oversize body, 400 naming the field
// for a value of the wrong type, 400 for anything else that is not one
// JSON object.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	// TODO(serve): a field repeated inside a batch item or a renewal body
	// still goes last-wins through encoding/json; only /v1/score bodies
	// (decodeScoreRequest) refuse it. Closing it needs a key check over the
	// raw items before decoding.
	body := http.MaxBytesReader(w, r.Body, limit)
	dec := json.NewDecoder(body)
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			err = errors.New("data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var synErr *json.SyntaxError
	switch {
	case errors.As(err, &maxErr):
		return &fieldError{code: http.StatusRequestEntityTooLarge,
			msg: fmt.Sprintf("body is larger than %d bytes", limit)}
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "(body)"
		}
		return badField(field, "want a JSON %s, got %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case errors.As(err, &synErr):
		return &fieldError{code: http.StatusBadRequest,
			msg: fmt.Sprintf("body is not valid JSON at byte %d: %v", synErr.Offset, err)}
	case errors.Is(err, io.EOF):
		return &fieldError{code: http.StatusBadRequest, msg: "body is empty; want a JSON object"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &fieldError{code: http.StatusBadRequest, msg: "body ends inside the JSON object"}
	}
	return &fieldError{code: http.StatusBadRequest, msg: "body: " + err.Error()}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "slice":
		return "array"
	case "struct", "map":
		return "object"
	case "bool":
		return "boolean"
	}
	return "number"
}

// validateRequest checks one score request; prefix is the field path of the
// request within the body ("" or "requests[3].").
func validateRequest(req *models.ScoreRequest, prefix string) error {
	for _, f := range []struct{ name, value string }{
		{"request_id", req.RequestID},
		{"requester", req.Requester},
		{"entitlement", req.Entitlement},
	} {
		if f.value == "" {
			return badField(prefix+f.name, "required")
		}
		if len(f.value) > maxIDLength {
			return badField(prefix+f.name, "longer than %d bytes", maxIDLength)
		}
	}
	if req.Duration != "" {
		if _, err := models.ParseDuration(req.Duration); err != nil {
			return badField(prefix+"duration", "%s", withHint(err, "8h, PT8H or seconds"))
		}
	}
	if req.RequestedAt != "" {
		if _, err := time.Parse(time.RFC3339, req.RequestedAt); err != nil {
			return badField(prefix+"requested_at", "want an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
	}
	return nil
}

// withHint is the message of a duration error with "want e.g. examples"
// added, unless the error already says what it wants.
func withHint(err error, examples string) string {
	if msg := err.Error(); strings.Contains(msg, "want ") {
		return msg
	}
	return err.Error() + "; want e.g. " + examples
}

func (s *Server) requestContext(r *http.Request, sv *serving) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), sv.RequestTimeout)
}

func (s *Server) handleScore(w http.ResponseWriter, r *http.Request, sv *serving) int {
	buf := getBytes()
	defer putBytes(buf)
	data, err := readBody(w, r, sv.MaxBodyBytes, *buf)
	*buf = data[:0]
	if err != nil {
		return writeBodyError(w, err)
	}
	req, err := decodeScoreRequest(data)
	if err != nil {
		return writeBodyError(w, err)
	}
	if err := validateRequest(&req, ""); err != nil {
		return writeBodyError(w, err)
	}
	// One decision is a few microseconds of lookups and arithmetic that
	// nothing can interrupt; the deadline bounds batches and renewals, and
	// the server's read and write timeouts bound the connection.
	ctx := r.Context()
	resp, err := s.scoreOne(ctx, sv, req)
	if err != nil {
		return writeError(w, http.StatusServiceUnavailable, "decision could not be recorded; try again", "")
	}
	if s.log.Enabled(ctx, slog.LevelDebug) {
		s.log.Debug("scored", slog.String("request_id", req.RequestID),
			slog.String("decision", string(resp.Decision)), slog.Float64("risk", resp.Risk))
	}
	*buf = append(appendScoreResponse((*buf)[:0], &resp), '\n')
	return writeBody(w, http.StatusOK, *buf)
}

// batchBody is POST /v1/score/batch.
type batchBody struct {
	Requests []models.ScoreRequest `json:"requests"`
}

// handleBatch scores every request of a batch, in order. A malformed
// request anywhere refuses the whole batch with the field path of the first
// problem, before anything is decided, so a batch is never half-answered.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request, sv *serving) int {
	var body batchBody
	if err := decodeBody(w, r, sv.MaxBodyBytes, &body); err != nil {
		return writeBodyError(w, err)
	}
	switch {
	case body.Requests == nil:
		return writeError(w, http.StatusBadRequest, "required", "requests")
	case len(body.Requests) > sv.MaxBatch:
		return writeError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("%d requests in one batch; at most %d", len(body.Requests), sv.MaxBatch), "requests")
	}
	for i := range body.Requests {
		if err := validateRequest(&body.Requests[i], fmt.Sprintf("requests[%d].", i)); err != nil {
			return writeBodyError(w, err)
		}
	}
	ctx, cancel := s.requestContext(r, sv)
	defer cancel()
	buf := getBytes()
	defer putBytes(buf)
	b := append(*buf, `{"decisions":[`...)
	for i, req := range body.Requests {
		if ctx.Err() != nil {
			return writeError(w, http.StatusServiceUnavailable,
				fmt.Sprintf("request deadline of %s passed after %d of %d decisions; retry with a smaller batch",
					sv.RequestTimeout, i, len(body.Requests)), "")
		}
		resp, err := s.scoreOne(ctx, sv, req)
		if err != nil {
			// TODO(audit): decisions already recorded for earlier requests
			// of this batch stay in the audit log although the batch is
			// answered 503; the caller retries and the audit shows both.
			return writeError(w, http.StatusServiceUnavailable, "decision could not be recorded; try again", "")
		}
		b = appendScoreResponse(appendComma(b, i == 0), &resp)
	}
	*buf = append(b, ']', '}', '\n')
	return writeBody(w, http.StatusOK, *buf)
}

// renewalBody is POST /v1/renewals.
type renewalBody struct {
	Grants []struct {
		RequestID string `json:"request_id"`
	} `json:"grants"`
	At     string `json:"at"`
	Within string `json:"within"`
}

// renewalAnswer is the answer of POST /v1/renewals.
type renewalAnswer struct {
	Actions []models.Renewal `json:"actions"`
}

func (s *Server) handleRenewals(w http.ResponseWriter, r *http.Request, sv *serving) int {
	var body renewalBody
	if err := decodeBody(w, r, sv.MaxBodyBytes, &body); err != nil {
		return writeBodyError(w, err)
	}
	q, err := renewalQuery(body, sv.MaxBatch)
	if err != nil {
		return writeBodyError(w, err)
	}
	ctx, cancel := s.requestContext(r, sv)
	defer cancel()
	actions, err := sv.Decider.Renewals(ctx, q)
	switch {
	case errors.Is(err, ErrNotImplemented):
		return writeError(w, http.StatusNotImplemented, "renewal review is not available in this build", "")
	case errors.Is(err, ErrNoSnapshot):
		return writeError(w, http.StatusServiceUnavailable, "no feature snapshot loaded; name the grants or retry", "")
	case err != nil:
		s.log.Error("renewal review failed", slog.Any("error", err))
		return writeError(w, http.StatusInternalServerError, "renewal review failed", "")
	}
	if actions == nil {
		actions = []models.Renewal{}
	}
	return writeJSON(w, http.StatusOK, renewalAnswer{Actions: actions})
}

func renewalQuery(body renewalBody, maxBatch int) (RenewalQuery, error) {
	var q RenewalQuery
	if len(body.Grants) > maxBatch {
		return q, &fieldError{code: http.StatusRequestEntityTooLarge, field: "grants",
			msg: fmt.Sprintf("%d grants in one query; at most %d", len(body.Grants), maxBatch)}
	}
	for i, g := range body.Grants {
		if g.RequestID == "" {
			return q, badField(fmt.Sprintf("grants[%d].request_id", i), "required")
		}
		q.RequestIDs = append(q.RequestIDs, g.RequestID)
	}
	if body.At != "" {
		at, err := time.Parse(time.RFC3339, body.At)
		if err != nil {
			return q, badField("at", "want an RFC 3339 time such as 2026-01-02T15:04:05Z")
		}
		q.At = at
	}
	if body.Within != "" {
		d, err := models.ParseDuration(body.Within)
		if err != nil {
			return q, badField("within", "%s", withHint(err, "7d"))
		}
		q.Within = d
	}
	return q, nil
}
