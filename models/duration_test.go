package models

import (
	"testing"
	"time"
)

func TestParseDurationAcceptsEveryUserForm(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"8h", 8 * time.Hour},
		{"90m", 90 * time.Minute},
		{"90d", 90 * 24 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"2w", 14 * 24 * time.Hour},
		{"PT8H", 8 * time.Hour},
		{"P1DT2H30M", 26*time.Hour + 30*time.Minute},
		{"P7D", 7 * 24 * time.Hour},
		{"28800", 8 * time.Hour},
		{" 4h ", 4 * time.Hour},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("ParseDuration(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseDurationRejectsNonsense(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "abc", "-4h", "-3", "P1Y", "P1M", "PT", "P5", "PTX", "Pd",
		"NaN", "nan", "Inf", "+Inf", "-Inf", "NaNd", "Infd", "1e400", "0x10", "PT99999999H",
		"999999999999999999999", "3651d", "P99999999D", "100000000h", "522w"} {
		if d, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
		}
	}
}

func TestStricterNeverLoosens(t *testing.T) {
	t.Parallel()
	all := []Decision{DecisionAutoApprove, DecisionReview, DecisionDeny, "bogus"}
	for _, a := range all {
		for _, b := range all {
			got := Stricter(a, b)
			if got.Strictness() < a.Strictness() || got.Strictness() < b.Strictness() {
				t.Errorf("Stricter(%q, %q) = %q loosens", a, b, got)
			}
		}
	}
}

func TestFormatDurationWritesDays(t *testing.T) {
	t.Parallel()
	if got := FormatDuration(90 * 24 * time.Hour); got != "90d" {
		t.Errorf("got %q", got)
	}
	if got := FormatDuration(4 * time.Hour); got != "4h0m0s" {
		t.Errorf("got %q", got)
	}
}

func TestParseDurationAcceptsUpToTenYears(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"3650d", "520w", "87600h"} {
		d, err := ParseDuration(in)
		if err != nil || d <= 0 || d > MaxDuration {
			t.Errorf("ParseDuration(%q) = %v, %v; want a duration within MaxDuration", in, d, err)
		}
	}
}

func FuzzParseDurationNeverOverflows(f *testing.F) {
	for _, s := range []string{"8h", "90d", "PT8H", "28800", "NaN", "1e9", "P1DT2H", "-1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && (d < 0 || d > MaxDuration) {
			t.Fatalf("ParseDuration(%q) = %v outside [0, MaxDuration]", s, d)
		}
	})
}
