package main

import (
	"bytes"
	"testing"
)

// TestWriteRowsCSVDefusesFormulaCells pins that text cells a spreadsheet
// would run as a formula get a leading single quote in csv output, while
// numbers (a negative one included) and harmless text are written as they
// are.
func TestWriteRowsCSVDefusesFormulaCells(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cell any
		want string
	}{
		{"hyperlink", `=HYPERLINK("http://x","y")`, `"'=HYPERLINK(""http://x"",""y"")"`},
		{"plus", "+1+2", "'+1+2"},
		{"minus", "-2+3", "'-2+3"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "\"'\r=1\""},
		{"bytes", []byte("=1"), "'=1"},
		{"plain text", "alice@example.com", "alice@example.com"},
		{"empty", "", ""},
		{"negative int", int64(-5), "-5"},
		{"negative float", -0.25, "-0.25"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := writeRows(&buf, "csv", []string{"v"}, [][]any{{tc.cell}}); err != nil {
				t.Fatal(err)
			}
			if got, want := buf.String(), "v\n"+tc.want+"\n"; got != want {
				t.Errorf("csv = %q, want %q", got, want)
			}
		})
	}
}
