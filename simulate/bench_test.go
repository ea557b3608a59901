package simulate

import (
	"context"
	"testing"
)

// BenchmarkGenerateHistory measures Generate alone (people, requests,
// reviewer and session plan) for the default organisation.
func BenchmarkGenerateHistory(b *testing.B) {
	cfg := DefaultConfig()
	for b.Loop() {
		if _, err := Generate(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerateAndWrite measures Generate plus Write of every file for
// the default organisation, and reports CloudTrail events per second.
func BenchmarkGenerateAndWrite(b *testing.B) {
	cfg := DefaultConfig()
	dir := b.TempDir()
	var events int
	for b.Loop() {
		o, err := Generate(cfg)
		if err != nil {
			b.Fatal(err)
		}
		sum, err := o.Write(context.Background(), dir)
		if err != nil {
			b.Fatal(err)
		}
		events += sum.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
