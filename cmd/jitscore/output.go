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
	switch format {
	case "table":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, strings.Join(columns, "\t"))
		for _, r := range rows {
			cells := make([]string, len(r))
			for i, v := range r {
				cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(cellText(v))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		return tw.Flush()
	case "csv":
		cw := csv.NewWriter(w)
		cells := make([]string, len(columns))
		for i, c := range columns {
			cells[i] = csvSafe(c)
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
		for _, r := range rows {
			for i, v := range r {
				cells[i] = cellText(v)
				switch v.(type) {
				case string, []byte:
					cells[i] = csvSafe(cells[i])
				}
			}
			if err := cw.Write(cells[:len(r)]); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	case "json":
		var buf bytes.Buffer
		for _, r := range rows {
			buf.Reset()
			buf.WriteByte('{')
			for i, v := range r {
				if i > 0 {
					buf.WriteByte(',')
				}
				if err := writeJSONText(&buf, columns[i]); err != nil {
					return err
				}
				buf.WriteByte(':')
				if raw, ok := v.(json.RawMessage); ok && json.Valid(raw) {
					buf.Write(raw) // JSON text as stored: not re-encoded
				} else if err := writeJSONText(&buf, jsonValue(v)); err != nil {
					return fmt.Errorf("column %s: %w", columns[i], err)
				}
			}
			buf.WriteString("}\n")
			if _, err := w.Write(buf.Bytes()); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("output format %q: want table, csv or json", format)
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
