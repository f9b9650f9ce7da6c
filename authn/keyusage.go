package authn

import (
	"context"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/store"
)

// keyUsage counts an API key's requests between flushes.
type keyUsage struct {
	n    atomic.Int64
	last atomic.Pointer[lastUse]
}

// lastUse is when and from where a key was last used: the request's peer
// and X-Forwarded-For as they came (strings the request already holds), so
// that the client address is worked out at the flush, not on the request
// path.
type lastUse struct {
	at     time.Time
	remote string
	xff    []string
	ip     netip.Addr // when known already (a key login), in place of remote
}

// usageRecorder keeps API keys' usage (request count, last use, last
// address) in memory and writes it to the store in the background, at most
// once a TouchInterval: a request never waits for the write. A process
// that stops without [Authenticator.Close] loses what it had
// not written, at most a TouchInterval of counts. Safe for concurrent use.
type usageRecorder struct {
	keys      sync.Map // key ID → *keyUsage
	lastFlush atomic.Int64
	flushing  atomic.Bool
	flushMu   sync.Mutex // one flush at a time, background or explicit
}

// recordUse counts one use of the key, and starts a background flush when
// one is due. It allocates only for a key's first use and once a second
// after that.
func (a *Authenticator) recordUse(id int64, at time.Time, r *http.Request, ip netip.Addr) {
	u := &a.usage
	v, ok := u.keys.Load(id)
	if !ok {
		v, _ = u.keys.LoadOrStore(id, new(keyUsage))
	}
	k := v.(*keyUsage)
	// The last use first, then the count: a flush that sees the count sees
	// a last use. It moves at second granularity: a new record (an
	// allocation) at most once a second per key.
	if cur := k.last.Load(); cur == nil || at.Sub(cur.at) >= time.Second {
		use := &lastUse{at: at, ip: ip}
		if r != nil {
			use.remote, use.xff = r.RemoteAddr, r.Header["X-Forwarded-For"]
		}
		k.last.Store(use)
	}
	k.n.Add(1)
	if at.UnixNano()-u.lastFlush.Load() >= int64(a.cfg.Sessions.TouchInterval) && u.flushing.CompareAndSwap(false, true) {
		u.lastFlush.Store(at.UnixNano())
		go func() {
			defer u.flushing.Store(false)
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Sessions.TouchInterval)
			defer cancel()
			if err := a.flush(ctx); err != nil {
				a.Emit(ctx, event.Event{Kind: event.StoreFailed, Reason: "recording API key usage", Err: err})
			}
		}()
	}
}

// flush writes the API key usage counted since the last flush to the
// store. It runs by itself in the background, and on [Authenticator.Close]
// so that nothing is lost. Counts it could not write are kept for the next
// flush.
func (a *Authenticator) flush(ctx context.Context) error {
	u := &a.usage
	u.flushMu.Lock()
	defer u.flushMu.Unlock()
	var firstErr error
	u.keys.Range(func(key, v any) bool {
		k := v.(*keyUsage)
		n := k.n.Swap(0)
		if n == 0 {
			return true
		}
		last := k.last.Load()
		if last == nil { // cannot happen: the last use is stored first
			k.n.Add(n)
			return true
		}
		ipAddr := last.ip
		if !ipAddr.IsValid() {
			ipAddr = a.clientIPFrom(last.remote, last.xff)
		}
		ip := ipString(ipAddr)
		if err := a.store.RecordAPIKeyUse(ctx, key.(int64), last.at, ip, n); err != nil {
			k.n.Add(n) // try again next time
			if firstErr == nil {
				firstErr = storeFailure(err)
			}
		}
		return true
	})
	return firstErr
}

// addUnwritten adds to k the usage this instance counted and has not
// written yet. The caller holds flushMu.
func (a *Authenticator) addUnwritten(k *store.APIKey) {
	v, ok := a.usage.keys.Load(k.ID)
	if !ok {
		return
	}
	u := v.(*keyUsage)
	n, last := u.n.Load(), u.last.Load()
	if n == 0 || last == nil {
		return
	}
	k.RequestCount += n
	if last.at.After(k.LastUsedAt) {
		ip := last.ip
		if !ip.IsValid() {
			ip = a.clientIPFrom(last.remote, last.xff)
		}
		k.LastUsedAt, k.LastUsedIP = last.at, ipString(ip)
	}
}
