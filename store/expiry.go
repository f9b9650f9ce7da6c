package store

import (
	"container/heap"
	"iter"
	"time"
)

// expiry is one entry of an [expiryQueue]: the record under key expires at
// at, or did when the entry was pushed.
type expiry[K comparable] struct {
	at  time.Time
	key K
}

// expiryHeap is a min-heap of expiry entries by time, for [container/heap].
type expiryHeap[K comparable] []expiry[K]

func (h expiryHeap[K]) Len() int           { return len(h) }
func (h expiryHeap[K]) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h expiryHeap[K]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap[K]) Push(x any)        { *h = append(*h, x.(expiry[K])) }
func (h *expiryHeap[K]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = expiry[K]{} // let the key be collected
	*h = old[:len(old)-1]
	return e
}

// compactSlack is how many entries an [expiryQueue] may hold beyond twice
// its records before it is rebuilt, so that small stores are not rebuilt on
// every delete.
const compactSlack = 64

// expiryQueue lets a store forget expired records without sweeping them
// all: writes pop the entries whose time has come, and delete the records
// that are still expired. It is not safe for concurrent use; the store
// guards it with the lock of its records.
//
// Entries are lazy. Deleting a record leaves its entry behind, and moving a
// record's expiry later leaves the entry at the old time; such an entry is
// stale. When a stale entry is popped, the queue asks the store for the
// record's current expiry and drops the entry (record gone) or puts it back
// at the current expiry (record live), so a stale entry never deletes a live
// record. The invariant is: every record that can expire has at least one
// entry no later than its expiry. Moving an expiry earlier therefore needs a
// new entry ([expiryQueue.push]).
//
// Stale entries of deleted records would pile up until their time came, so
// when the heap holds more than twice as many entries as the store has
// records, [expiryQueue.compact] rebuilds it from the records: O(n), after
// at least n/2 deletes or pushes, so O(1) amortised. Everything else is
// O(log n) per entry, and every entry is popped at most once per push or
// per time its record's expiry moved later, so writes cost amortised
// O(log n).
type expiryQueue[K comparable] struct {
	h expiryHeap[K]
}

// push adds an entry: when a record that can expire is stored, and when its
// expiry moves earlier.
func (q *expiryQueue[K]) push(key K, at time.Time) {
	heap.Push(&q.h, expiry[K]{at: at, key: key})
}

// len returns the number of entries, stale ones included.
func (q *expiryQueue[K]) len() int { return len(q.h) }

// expire pops every entry whose time is not after now. For each it calls
// current for the record's expiry; a record that is gone (ok false) drops
// the entry, a record whose expiry is not after now is removed with remove,
// and a live record puts the entry back at its current expiry.
func (q *expiryQueue[K]) expire(now time.Time, current func(K) (at time.Time, ok bool), remove func(K)) {
	for len(q.h) > 0 && !q.h[0].at.After(now) {
		key := q.h[0].key
		at, ok := current(key)
		switch {
		case !ok:
			heap.Pop(&q.h)
		case !at.After(now):
			heap.Pop(&q.h)
			remove(key)
		default:
			// Stale: the record's expiry moved later. Move the entry
			// with it, in place.
			q.h[0].at = at
			heap.Fix(&q.h, 0)
		}
	}
}

// compact rebuilds the heap with one entry per record when it holds more
// than twice records entries (plus [compactSlack]). all must yield every
// record that can expire, with its current expiry. Call it after
// [expiryQueue.expire], so that no record in all has expired.
func (q *expiryQueue[K]) compact(records int, all iter.Seq2[K, time.Time]) {
	if len(q.h) <= 2*records+compactSlack {
		return
	}
	clear(q.h)
	q.h = q.h[:0]
	for key, at := range all {
		q.h = append(q.h, expiry[K]{at: at, key: key})
	}
	if cap(q.h) > 4*len(q.h)+compactSlack {
		// Shrink a heap that once held far more entries than it does now.
		q.h = append(expiryHeap[K](nil), q.h...)
	}
	heap.Init(&q.h)
}
