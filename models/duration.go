package models

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads a duration in any form jitscore accepts from users:
// Go's form ("8h", "90m", "1h30m"), days ("90d", "7d", "1.5d"), weeks
// ("2w"), ISO 8601 ("PT8H", "P1DT2H", "P7D"), or a bare number of seconds
// ("28800"). Negative durations are rejected.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if strings.HasPrefix(in, "P") || strings.HasPrefix(in, "p") {
		return parseISODuration(in)
	}
	if secs, err := strconv.ParseFloat(in, 64); err == nil {
		if secs < 0 {
			return 0, fmt.Errorf("duration %q is negative", s)
		}
		return time.Duration(secs * float64(time.Second)), nil
	}
	if n := len(in); n > 1 && (in[n-1] == 'd' || in[n-1] == 'w') {
		v, err := strconv.ParseFloat(in[:n-1], 64)
		if err == nil {
			if v < 0 {
				return 0, fmt.Errorf("duration %q is negative", s)
			}
			unit := 24 * time.Hour
			if in[n-1] == 'w' {
				unit *= 7
			}
			return time.Duration(v * float64(unit)), nil
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
			total += time.Duration(v * float64(unit))
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
