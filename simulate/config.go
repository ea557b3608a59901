package simulate

import (
	"errors"
	"fmt"
	"time"
)

// Config sets the size and shape of a simulated organisation. The zero
// value is not useful; start from DefaultConfig and change what you need.
// Every field is validated by Generate.
type Config struct {
	// People is the number of people, at least 5.
	People int
	// Days is the length of the request history in days, at least 2. The
	// last day's requests are left pending, to be scored.
	Days int
	// Seed makes the organisation reproducible: the same Config gives
	// byte-identical files.
	Seed uint64
	// Start is the first instant of the history; it is truncated to a UTC
	// day. End is Start plus Days.
	Start time.Time

	// Accounts is how many AWS accounts the organisation has, 2 or 3.
	Accounts int
	// RequestRate scales how often people request access; 1 gives about
	// 0.55 requests per person and calendar day.
	RequestRate float64
	// EventRate scales CloudTrail volume: 1 gives about 5.5 events per
	// person and day (1,000,000 events for 2000 people over 90 days).
	EventRate float64
	// NoiseShare is the share of CloudTrail events that are background
	// noise (AWSService, the IAM automation user), in [0, 0.5].
	NoiseShare float64
	// RecordsPerFile caps the records in one CloudTrail delivery file.
	RecordsPerFile int
	// OtherSample is how many events are copied into cloudtrail-other/
	// (split across its four shapes).
	OtherSample int
	// Workers is how many files are encoded and compressed at once;
	// 0 means GOMAXPROCS. It does not change the output.
	Workers int
}

// DefaultConfig is the small demo organisation: 60 people over 60 days
// from 2025-01-06, three AWS accounts, seed 1.
func DefaultConfig() Config {
	return Config{
		People:         60,
		Days:           60,
		Seed:           1,
		Start:          time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC),
		Accounts:       3,
		RequestRate:    1,
		EventRate:      1,
		NoiseShare:     0.08,
		RecordsPerFile: 5000,
		OtherSample:    200,
	}
}

// Validate reports every problem of c at once, each naming its field.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.People < 5 {
		bad("people", "%d: want at least 5", c.People)
	}
	if c.People > 1_000_000 {
		bad("people", "%d: want at most 1000000", c.People)
	}
	if c.Days < 2 {
		bad("days", "%d: want at least 2", c.Days)
	}
	if c.Days > 3660 {
		bad("days", "%d: want at most 3660", c.Days)
	}
	if c.Start.IsZero() {
		bad("start", "not set")
	}
	if c.Accounts < 2 || c.Accounts > 3 {
		bad("accounts", "%d: want 2 or 3", c.Accounts)
	}
	if !(c.RequestRate > 0 && c.RequestRate <= 20) {
		bad("request_rate", "%g: want a number in (0, 20]", c.RequestRate)
	}
	if !(c.EventRate > 0 && c.EventRate <= 100) {
		bad("event_rate", "%g: want a number in (0, 100]", c.EventRate)
	}
	if !(c.NoiseShare >= 0 && c.NoiseShare <= 0.5) {
		bad("noise_share", "%g: want a number in [0, 0.5]", c.NoiseShare)
	}
	if c.RecordsPerFile < 1 {
		bad("records_per_file", "%d: want at least 1", c.RecordsPerFile)
	}
	if c.OtherSample < 0 {
		bad("other_sample", "%d: want 0 or more", c.OtherSample)
	}
	if c.Workers < 0 {
		bad("workers", "%d: want 0 or more", c.Workers)
	}
	return errors.Join(errs...)
}

// start is Start truncated to its UTC day.
func (c Config) start() time.Time {
	s := c.Start.UTC()
	return time.Date(s.Year(), s.Month(), s.Day(), 0, 0, 0, 0, time.UTC)
}
