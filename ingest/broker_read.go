package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// tableRow is one record of a broker file: its line number (1-based, the
// line where the record starts) and its fields by lower-cased column name.
// Empty values are left out, so a missing field and an empty one read the
// same.
//
// nonText names the NDJSON fields whose value was a JSON array or object
// rather than a string, number or boolean, so that a column that must hold
// text can refuse it instead of taking a flattened form.
type tableRow struct {
	line    int
	fields  map[string]string
	nonText map[string]bool
}

// tableReader yields the rows of a CSV or NDJSON file. A malformed record
// comes back as a *rowError so that the caller can reject that line and go
// on; any other error ends the file.
type tableReader interface {
	next() (tableRow, error)
}

// rowError is a record that could not be read at all. endLine is the
// last line of a record that spans several (0 for one line): a CSV quote
// left open swallows the lines up to the next quote into one record, and
// the span says which lines were lost with it.
type rowError struct {
	line    int
	endLine int
	reason  string
}

func (e *rowError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.reason) }

// spanError is a rowError for the record on lines start to end; a span of
// more than one line is named ahead of the reason ("lines 3-5: ...").
func spanError(start, end int, reason string) *rowError {
	if end <= start {
		return &rowError{line: start, reason: reason}
	}
	return &rowError{line: start, endLine: end, reason: fmt.Sprintf("lines %d-%d: %s", start, end, reason)}
}

// newTableReader detects the format from the content: a first non-blank
// byte of '{' means NDJSON, '[' is refused (a JSON array is not one of the
// accepted shapes), anything else is read as CSV with a header line.
func newTableReader(r io.Reader) (tableReader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	// Skip a UTF-8 byte-order mark, which spreadsheet exports often add.
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	first, err := firstNonBlank(br)
	if err != nil {
		return nil, err
	}
	switch first {
	case '{':
		return &ndjsonReader{r: br}, nil
	case '[':
		return nil, errors.New("a JSON array is not accepted: write one JSON object per line (NDJSON) or CSV")
	case 0:
		return emptyReader{}, nil
	}
	return newCSVReader(br)
}

// firstNonBlank peeks at the first byte that is not white space, 0 for an
// empty input.
func firstNonBlank(br *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == io.EOF || errors.Is(err, bufio.ErrBufferFull) {
				return 0, nil
			}
			return 0, err
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\r', '\n':
			continue
		default:
			return c, nil
		}
	}
}

type emptyReader struct{}

func (emptyReader) next() (tableRow, error) { return tableRow{}, io.EOF }

// ndjsonReader reads one JSON object per line; blank lines are skipped.
type ndjsonReader struct {
	r    *bufio.Reader
	line int
}

func (n *ndjsonReader) next() (tableRow, error) {
	for {
		b, err := n.r.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			return tableRow{}, err
		}
		if err != nil && err != io.EOF {
			return tableRow{}, err
		}
		n.line++
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		if !utf8.Valid(b) {
			// encoding/json would silently replace the bad bytes.
			return tableRow{}, &rowError{line: n.line, reason: "not valid UTF-8"}
		}
		fields, nonText, perr := ndjsonFields(b)
		if perr != nil {
			return tableRow{}, &rowError{line: n.line, reason: perr.Error()}
		}
		return tableRow{line: n.line, fields: fields, nonText: nonText}, nil
	}
}

// ndjsonFields flattens one JSON object to text fields: strings as they
// are, numbers as written, booleans as true/false, arrays of scalars joined
// with ";" (so "aliases": ["a","b"] reads like the CSV "a;b"), and nested
// objects as compact JSON. nonText holds the names of the fields that were
// arrays or objects (nil when there are none).
func ndjsonFields(b []byte) (fields map[string]string, nonText map[string]bool, err error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, nil, fmt.Errorf("not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, nil, errors.New("more than one JSON value on the line")
	}
	fields = make(map[string]string, len(obj))
	for k, v := range obj {
		s, err := jsonText(v)
		if err != nil {
			return nil, nil, fmt.Errorf("field %q: %v", k, err)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		switch v.(type) {
		case []any, map[string]any:
			if nonText == nil {
				nonText = map[string]bool{}
			}
			nonText[k] = true
		}
		if s = strings.TrimSpace(s); s != "" {
			fields[k] = s
		}
	}
	return fields, nonText, nil
}

func jsonText(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return strconv.FormatBool(x), nil
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			s, err := jsonText(e)
			if err != nil {
				return "", err
			}
			if s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ";"), nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// csvReader reads a CSV file whose first record is the header. A record
// with a cell that is not valid UTF-8 is rejected, naming the column.
type csvReader struct {
	r      *csv.Reader
	header []string
}

func newCSVReader(r io.Reader) (*csvReader, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read CSV header: %w", err)
	}
	header := make([]string, len(head))
	seen := make(map[string]bool, len(head))
	for i, h := range head {
		if !utf8.ValidString(h) {
			return nil, fmt.Errorf("CSV header: column %d is not valid UTF-8", i+1)
		}
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" {
			return nil, fmt.Errorf("CSV header: column %d has no name", i+1)
		}
		if seen[h] {
			return nil, fmt.Errorf("CSV header: column %q appears twice", h)
		}
		seen[h] = true
		header[i] = h
	}
	return &csvReader{r: cr, header: header}, nil
}

// requireColumns reports the names among want that the header lacks.
func (c *csvReader) requireColumns(want []string) error {
	have := make(map[string]bool, len(c.header))
	for _, h := range c.header {
		have[h] = true
	}
	var missing []string
	for _, w := range want {
		if !have[w] {
			missing = append(missing, w)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("CSV header has no %s column", missing[0])
	}
	return fmt.Errorf("CSV header has no %s columns", strings.Join(missing, ", "))
}

func (c *csvReader) next() (tableRow, error) {
	rec, err := c.r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return tableRow{}, spanError(pe.StartLine, pe.Line, pe.Err.Error())
		}
		return tableRow{}, err
	}
	line, _ := c.r.FieldPos(0)
	if len(rec) != len(c.header) {
		// A quoted cell keeps its line breaks, so the record ends where
		// its last cell starts plus the breaks inside it.
		last, _ := c.r.FieldPos(len(rec) - 1)
		end := last + strings.Count(rec[len(rec)-1], "\n")
		return tableRow{}, spanError(line, end,
			fmt.Sprintf("%d fields, the header has %d", len(rec), len(c.header)))
	}
	fields := make(map[string]string, len(rec))
	for i, v := range rec {
		if !utf8.ValidString(v) {
			return tableRow{}, &rowError{line: line, reason: fmt.Sprintf("field %s is not valid UTF-8", c.header[i])}
		}
		if v = strings.TrimSpace(v); v != "" {
			fields[c.header[i]] = v
		}
	}
	return tableRow{line: line, fields: fields}, nil
}

// timeLayouts are the accepted spellings of a time: RFC 3339 first, then the
// same with a space for the T, then without a zone (read as UTC).
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

// parseTableTime reads a time field; the result is UTC.
func parseTableTime(field, s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 time", field, s)
}
