package main

import (
	"math/bits"
	"time"
)

// Latencies are counted in log-linear buckets, as HdrHistogram does: below
// histLinear nanoseconds one bucket per nanosecond, and above it each power
// of two is cut into histSub buckets. A quantile read from the buckets is
// within 1/(2*histSub) (0.8%) of the true one; adding a duration costs a
// few instructions and no allocation, so each load worker keeps its own
// histogram and they are merged after the run.
const (
	histSubBits = 6
	histSub     = 1 << histSubBits // buckets per power of two
	histLinear  = histSub          // below this, one bucket per ns
	// histOctaves covers durations up to 2^(histSubBits+histOctaves) ns,
	// about 9 minutes; longer ones land in the last bucket.
	histOctaves = 33
	histBuckets = histLinear + histOctaves*histSub
)

// latencyHist counts durations. Not safe for concurrent use: one per
// worker, merged with add once the workers are done.
type latencyHist struct {
	counts [histBuckets]uint64
	n      uint64
}

// histIndex is the bucket of a duration of v nanoseconds.
func histIndex(v uint64) int {
	if v < histLinear {
		return int(v)
	}
	k := bits.Len64(v) - 1 // v is in [2^k, 2^(k+1)), k >= histSubBits
	m := (v >> (k - histSubBits)) & (histSub - 1)
	i := histLinear + (k-histSubBits)*histSub + int(m)
	return min(i, histBuckets-1)
}

// histValue is the middle of bucket i, in nanoseconds.
func histValue(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	k := (i-histLinear)/histSub + histSubBits
	m := uint64((i - histLinear) % histSub)
	width := uint64(1) << (k - histSubBits)
	return (histSub+m)*width + width/2
}

// record counts one duration.
func (h *latencyHist) record(d time.Duration) {
	h.counts[histIndex(uint64(max(d, 0)))]++
	h.n++
}

// merge adds o's counts to h.
func (h *latencyHist) merge(o *latencyHist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
}

// quantile is the duration below which a fraction q (0 < q <= 1) of the
// recorded ones fall, or 0 when none is recorded.
func (h *latencyHist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(q * float64(h.n))
	if float64(rank) < q*float64(h.n) || rank == 0 {
		rank++ // the ceiling, and at least the first
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(histValue(i))
		}
	}
	return time.Duration(histValue(histBuckets - 1))
}
