package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// writeRows writes a result set in format "table" (aligned columns with a
// header, for people), "csv" (RFC 4180 with a header row) or "json" (one
// object per row, NDJSON, keys in column order). Values may be nil (empty
// in table and csv, null in json), strings, numbers, bools, time.Time
// (RFC 3339, UTC), []byte (as text) or anything encoding/json can marshal
// (lists and structs from DuckDB, written as JSON text in table and csv).
//
// In csv, a string cell (string or []byte, header names included) that
// starts with =, +, -, @, a tab or a carriage return gets a single quote
// in front, so that a spreadsheet opening the file shows it as text
// instead of running it as a formula (a requester "=HYPERLINK(...)").
// Numbers, times and the other kinds are written as they are, so a
// negative number stays a number.
func writeRows(w io.Writer, format string, columns []string, rows [][]any) error {
	rw, err := newRowWriter(w, format, columns)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := rw.write(r); err != nil {
			return err
		}
	}
	return rw.flush()
}

// rowWriter writes the rows of a result set one at a time in one of
// writeRows' formats. csv and json go out as they come; table holds the
// rows until flush, since it sizes its columns from all of them.
type rowWriter struct {
	w       io.Writer
	format  string
	columns []string
	tw      *tabwriter.Writer
	cw      *csv.Writer
	cells   []string
	buf     bytes.Buffer
}

func newRowWriter(w io.Writer, format string, columns []string) (*rowWriter, error) {
	rw := &rowWriter{w: w, format: format, columns: columns, cells: make([]string, len(columns))}
	switch format {
	case "table":
		// TODO(sql-memory): the table format holds every row until flush
		// (the column widths come from all of them), so a huge result in
		// it takes memory in proportion; csv and json stream.
		rw.tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(rw.tw, strings.Join(columns, "\t"))
	case "csv":
		rw.cw = csv.NewWriter(w)
		for i, c := range columns {
			rw.cells[i] = csvSafe(c)
		}
		if err := rw.cw.Write(rw.cells); err != nil {
			return nil, err
		}
	case "json":
	default:
		return nil, fmt.Errorf("output format %q: want table, csv or json", format)
	}
	return rw, nil
}

// write writes one row (at most one value per column).
func (rw *rowWriter) write(r []any) error {
	switch rw.format {
	case "table":
		cells := make([]string, len(r))
		for i, v := range r {
			cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(cellText(v))
		}
		_, err := fmt.Fprintln(rw.tw, strings.Join(cells, "\t"))
		return err
	case "csv":
		for i, v := range r {
			rw.cells[i] = cellText(v)
			switch v.(type) {
			case string, []byte:
				rw.cells[i] = csvSafe(rw.cells[i])
			}
		}
		return rw.cw.Write(rw.cells[:len(r)])
	}
	buf := &rw.buf
	buf.Reset()
	buf.WriteByte('{')
	for i, v := range r {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := writeJSONText(buf, rw.columns[i]); err != nil {
			return err
		}
		buf.WriteByte(':')
		if raw, ok := v.(json.RawMessage); ok && json.Valid(raw) {
			buf.Write(raw) // JSON text as stored: not re-encoded
		} else if err := writeJSONText(buf, jsonValue(v)); err != nil {
			return fmt.Errorf("column %s: %w", rw.columns[i], err)
		}
	}
	buf.WriteString("}\n")
	_, err := rw.w.Write(buf.Bytes())
	return err
}

// flush writes what is buffered: the whole table, or csv's last lines.
func (rw *rowWriter) flush() error {
	switch rw.format {
	case "table":
		return rw.tw.Flush()
	case "csv":
		rw.cw.Flush()
		return rw.cw.Error()
	}
	return nil
}

// csvSafe defuses a text cell a spreadsheet would read as a formula by
// putting a single quote in front of it.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// writeJSONText appends v's JSON encoding to buf, leaving '&', '<' and '>'
// as they are (this output is read by people and programs, not embedded
// in HTML).
func writeJSONText(buf *bytes.Buffer, v any) error {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	return nil
}

func cellText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.RawMessage:
		return string(x)
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case bool:
		return strconv.FormatBool(x)
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return fmt.Sprint(x)
	case fmt.Stringer:
		return x.String()
	}
	var buf bytes.Buffer
	if err := writeJSONText(&buf, v); err != nil {
		return fmt.Sprint(v)
	}
	return buf.String()
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return v
}
