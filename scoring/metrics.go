package scoring

import (
	"math"
	"sort"
)

// AUC is the area under the ROC curve of risk against denied: the chance
// that a random denied request scores above a random approved one, ties
// counting half. It is NaN when either class is empty.
func AUC(risk []float64, denied []bool) float64 {
	idx := sortedByRisk(risk)
	var pos, neg float64
	for _, d := range denied {
		if d {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	// Sum of the ranks of the positives, ties given their mean rank.
	var rankSum float64
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && risk[idx[j]] == risk[idx[i]] {
			j++
		}
		mean := float64(i+j+1) / 2 // ranks i+1 .. j
		for k := i; k < j; k++ {
			if denied[idx[k]] {
				rankSum += mean
			}
		}
		i = j
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}

// ECE is the expected calibration error over ten equal-width bins of risk:
// Σ (bin share) · |mean risk − denied share| in the bin. 0 is perfect.
func ECE(risk []float64, denied []bool) float64 {
	const bins = 10
	var n, sumP, sumY [bins]float64
	for i, p := range risk {
		b := min(int(p*bins), bins-1)
		b = max(b, 0)
		n[b]++
		sumP[b] += p
		if denied[i] {
			sumY[b]++
		}
	}
	var ece float64
	for b := range n {
		if n[b] > 0 {
			ece += n[b] / float64(len(risk)) * math.Abs(sumP[b]/n[b]-sumY[b]/n[b])
		}
	}
	return ece
}

// Brier is the mean squared difference between risk and the outcome.
func Brier(risk []float64, denied []bool) float64 {
	if len(risk) == 0 {
		return math.NaN()
	}
	var s float64
	for i, p := range risk {
		y := 0.0
		if denied[i] {
			y = 1
		}
		s += (p - y) * (p - y)
	}
	return s / float64(len(risk))
}

// AutoShare is the largest share of requests that a single threshold on
// risk can auto-approve while at most maxDenied of the auto-approved ones
// were denied by the reviewer. Requests with equal risk are approved or
// kept together, as a threshold would. It also returns that threshold
// (the highest risk approved; -1 when none can be).
func AutoShare(risk []float64, denied []bool, maxDenied float64) (share, threshold float64) {
	idx := sortedByRisk(risk)
	threshold = -1
	var k, bad int
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && risk[idx[j]] == risk[idx[i]] {
			if denied[idx[j]] {
				bad++
			}
			j++
		}
		k = j
		if float64(bad) <= maxDenied*float64(k) {
			share, threshold = float64(k)/float64(len(idx)), risk[idx[i]]
		}
		i = j
	}
	return share, threshold
}

func sortedByRisk(risk []float64) []int {
	idx := make([]int, len(risk))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return risk[idx[a]] < risk[idx[b]] })
	return idx
}
