package main

import (
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestInterspersedAcceptsFlagsAfterPositionals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want []string // positionals after parsing
		db   string
		v    bool
	}{
		{"flags first", []string{"--db", "x.duckdb", "dir"}, []string{"dir"}, "x.duckdb", false},
		{"flags last", []string{"dir", "--db", "x.duckdb"}, []string{"dir"}, "x.duckdb", false},
		{"equals form", []string{"dir", "--db=x.duckdb", "more"}, []string{"dir", "more"}, "x.duckdb", false},
		{"bool takes no value", []string{"-v", "dir"}, []string{"dir"}, "default", true},
		{"double dash keeps dashes", []string{"--db", "y", "--", "-odd-name"}, []string{"-odd-name"}, "y", false},
		{"stdin dash is positional", []string{"-", "--db", "z"}, []string{"-"}, "z", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			db := fs.String("db", "default", "")
			v := fs.Bool("v", false, "")
			if err := fs.Parse(interspersed(fs, c.args)); err != nil {
				t.Fatal(err)
			}
			if got := fs.Args(); !reflect.DeepEqual(got, c.want) {
				t.Errorf("positionals = %q, want %q", got, c.want)
			}
			if *db != c.db || *v != c.v {
				t.Errorf("db=%q v=%v, want %q %v", *db, *v, c.db, c.v)
			}
		})
	}
}

func TestParseTimeFlagAcceptsDatesAndRFC3339(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"2025-03-07":                "2025-03-07T00:00:00Z",
		"2025-03-07T10:30":          "2025-03-07T10:30:00Z",
		"2025-03-07T10:30:15":       "2025-03-07T10:30:15Z",
		"2025-03-07T10:30:15+02:00": "2025-03-07T08:30:15Z",
		"2025-03-07T10:30:15.5Z":    "2025-03-07T10:30:15.5Z",
	}
	for in, want := range cases {
		got, err := parseTimeFlag("at", in)
		if err != nil {
			t.Errorf("parseTimeFlag(%q): %v", in, err)
			continue
		}
		if s := got.Format(time.RFC3339Nano); s != want {
			t.Errorf("parseTimeFlag(%q) = %s, want %s", in, s, want)
		}
	}
	if got, err := parseTimeFlag("at", ""); err != nil || !got.IsZero() {
		t.Errorf("empty value: got %v, %v; want zero time, nil", got, err)
	}
	for _, bad := range []string{"yesterday", "2025-13-01", "07/03/2025"} {
		if _, err := parseTimeFlag("as-of", bad); err == nil || !strings.Contains(err.Error(), "--as-of") {
			t.Errorf("parseTimeFlag(%q) error = %v, want one naming --as-of", bad, err)
		}
	}
}
