package ingest

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestTupleSetNumbersDistinctTuplesInFirstSeenOrder pins the per-file
// numbering: equal tuples share a number however far apart they come,
// tuples whose values concatenate alike stay apart, the table grows past
// its first size without losing any, and after a reset numbering starts
// again.
func TestTupleSetNumbersDistinctTuplesInFirstSeenOrder(t *testing.T) {
	t.Parallel()
	var ts tupleSet
	ts.reset()
	want := map[string]int32{}
	rng := rand.New(rand.NewPCG(7, 8))
	for i := range 20000 {
		u := rng.IntN(3000)
		vals := []string{"AssumedRole", fmt.Sprintf("arn:aws:sts::1:assumed-role/R/u%d", u), "", fmt.Sprint(u % 7)}
		if i%5 == 0 {
			vals = []string{"AssumedRole", fmt.Sprintf("arn:aws:sts::1:assumed-role/R/u%d", u)} // a shorter tuple
		}
		key := fmt.Sprintf("%q", vals)
		got := ts.num(vals)
		if n, ok := want[key]; ok {
			if got != n {
				t.Fatalf("tuple %s numbered %d, then %d", key, n, got)
			}
			continue
		}
		if int(got) != len(want) {
			t.Fatalf("new tuple %s numbered %d, want %d", key, got, len(want))
		}
		want[key] = got
		vals[1] = "reused by the caller" // num must have copied the values
	}
	if len(ts.encs) != len(want) || len(ts.vals) != len(want) {
		t.Fatalf("%d encodings and %d value lists for %d tuples", len(ts.encs), len(ts.vals), len(want))
	}
	a, b := ts.num([]string{"ab", "c"}), ts.num([]string{"a", "bc"})
	if a == b || ts.encs[a] == ts.encs[b] {
		t.Fatalf("(ab, c) and (a, bc) share number %d or an encoding", a)
	}
	ts.reset()
	if got := ts.num([]string{"x"}); got != 0 {
		t.Fatalf("first tuple after reset numbered %d", got)
	}
}

// BenchmarkTupleSetNum measures numbering principal-like tuples of 300
// people in a file of 5,000 events.
func BenchmarkTupleSetNum(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	tuples := make([][]string, 5000)
	for i := range tuples {
		u := rng.IntN(300)
		tuples[i] = []string{"AssumedRole",
			fmt.Sprintf("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_DataRead_8da57885bf3bb19d/user%03d@corp.example", u),
			fmt.Sprintf("AROAM8W3D6NOS5NV2EQMK:user%03d@corp.example", u), "", fmt.Sprintf("user%03d@corp.example", u),
			fmt.Sprintf("user%03d@corp.example", u), "aws:111122223333:DataRead"}
	}
	var ts tupleSet
	b.ResetTimer()
	for b.Loop() {
		ts.reset()
		for _, v := range tuples {
			ts.num(v)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(tuples)), "ns/tuple")
}
