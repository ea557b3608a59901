package models

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxDuration is the longest duration ParseDuration accepts: ten years.
// Anything longer is a typo or an attack on arithmetic (an int64 of
// nanoseconds overflows near 292 years), never a real access request.
const MaxDuration = 10 * 365 * 24 * time.Hour

// ParseDuration reads a duration in any form jitscore accepts from users:
// Go's form ("8h", "90m", "1h30m"), days ("90d", "7d", "1.5d"), weeks
// ("2w"), ISO 8601 ("PT8H", "P1DT2H", "P7D"), or a bare number of seconds
// ("28800"). Negative durations, NaN, infinities and anything longer than
// MaxDuration are rejected.
func ParseDuration(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, err
	}
	if d > MaxDuration {
		return 0, fmt.Errorf("duration %q is longer than 10 years", s)
	}
	return d, nil
}

// scaled multiplies v units, refusing NaN, infinities, negatives and
// results beyond MaxDuration before they can overflow.
func scaled(s string, v float64, unit time.Duration) (time.Duration, error) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return 0, fmt.Errorf("duration %q is not a number", s)
	case v < 0:
		return 0, fmt.Errorf("duration %q is negative", s)
	case v*float64(unit) > float64(MaxDuration):
		return 0, fmt.Errorf("duration %q is longer than 10 years", s)
	}
	return time.Duration(v * float64(unit)), nil
}

func parseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if strings.HasPrefix(in, "P") || strings.HasPrefix(in, "p") {
		return parseISODuration(in)
	}
	if isNumber(in) {
		secs, err := strconv.ParseFloat(in, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q: want e.g. 8h, 90d, PT8H or seconds", s)
		}
		return scaled(s, secs, time.Second)
	}
	if n := len(in); n > 1 && (in[n-1] == 'd' || in[n-1] == 'w') {
		if num := in[:n-1]; isNumber(num) {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: want e.g. 8h, 90d, PT8H or seconds", s)
			}
			unit := 24 * time.Hour
			if in[n-1] == 'w' {
				unit *= 7
			}
			return scaled(s, v, unit)
		}
	}
	d, err := time.ParseDuration(in)
	if err != nil {
		return 0, fmt.Errorf("duration %q: want e.g. 8h, 90d, PT8H or seconds", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// isNumber reports whether s is a plain decimal number (digits, at most
// one point, an optional leading sign): not "NaN", "Inf", "1e9" or hex,
// which strconv.ParseFloat would also take.
func isNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' || s[0] == '+' {
		s = s[1:]
	}
	digits, points := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			points++
		default:
			return false
		}
	}
	return digits > 0 && points <= 1
}

// parseISODuration reads PnW, PnDTnHnMnS and their parts. Years and months
// are refused: their length depends on the calendar.
func parseISODuration(s string) (time.Duration, error) {
	rest := strings.ToUpper(s[1:])
	if rest == "" {
		return 0, fmt.Errorf("duration %q: empty ISO 8601 duration", s)
	}
	var total time.Duration
	inTime := false
	num := ""
	for _, r := range rest {
		switch {
		case r == 'T':
			if inTime || num != "" {
				return 0, fmt.Errorf("duration %q: misplaced T", s)
			}
			inTime = true
		case (r >= '0' && r <= '9') || r == '.':
			num += string(r)
		default:
			if num == "" {
				return 0, fmt.Errorf("duration %q: unit %c without a number", s, r)
			}
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("duration %q: %w", s, err)
			}
			var unit time.Duration
			switch {
			case !inTime && r == 'W':
				unit = 7 * 24 * time.Hour
			case !inTime && r == 'D':
				unit = 24 * time.Hour
			case inTime && r == 'H':
				unit = time.Hour
			case inTime && r == 'M':
				unit = time.Minute
			case inTime && r == 'S':
				unit = time.Second
			default:
				return 0, fmt.Errorf("duration %q: unit %c not supported (years and months are ambiguous)", s, r)
			}
			part, err := scaled(s, v, unit)
			if err != nil {
				return 0, err
			}
			total += part
			if total > MaxDuration {
				return 0, fmt.Errorf("duration %q is longer than 10 years", s)
			}
			num = ""
		}
	}
	if num != "" {
		return 0, fmt.Errorf("duration %q: number without a unit", s)
	}
	if total == 0 && !strings.ContainsAny(rest, "0123456789") {
		return 0, fmt.Errorf("duration %q: no parts", s)
	}
	return total, nil
}

// FormatDuration writes d the way config files spell it: whole days as
// "90d", otherwise Go's form.
func FormatDuration(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}
