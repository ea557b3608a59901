package main

import (
	"flag"
	"reflect"
	"testing"
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
