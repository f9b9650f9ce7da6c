package netfault

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Mode says when a counted write drops its connection.
type Mode int

const (
	// Before drops the connection instead of passing the write on: the
	// server never sees it.
	Before Mode = iota + 1
	// After passes the write on, waits for the server's answer, and
	// drops the connection instead of passing the answer back: the server
	// has applied the write by the time the client learns that the
	// connection broke, and its answer is lost.
	After
)

// String names the mode.
func (m Mode) String() string {
	if m == Before {
		return "before"
	}
	if m == After {
		return "after"
	}
	return "never"
}

// Counter counts client-to-server writes across the proxies that share
// it, and picks the one to fail. Safe for concurrent use.
type Counter struct {
	mu     sync.Mutex
	armed  bool
	n      int
	failAt int
	mode   Mode
}

// Arm starts counting from zero; the failAt-th write fails as mode says
// (0: none, to count).
func (c *Counter) Arm(failAt int, mode Mode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.n, c.failAt, c.mode = true, 0, failAt, mode
}

// Disarm stops counting and returns how many writes were counted.
func (c *Counter) Disarm() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed = false
	return c.n
}

// next counts a write and says how it must fail, if it must.
func (c *Counter) next() Mode {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed {
		return 0
	}
	c.n++
	if c.n == c.failAt {
		return c.mode
	}
	return 0
}

// Proxy forwards connections from its own address to a target.
type Proxy struct {
	ln      net.Listener
	target  string
	counter *Counter
	stalled atomic.Bool

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	dropped bool
}

// Start listens on a free loopback port and forwards to target until the
// test ends. Writes from clients are counted by counter, which may be nil.
func Start(t testing.TB, target string, counter *Counter) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, counter: counter, conns: map[net.Conn]struct{}{}}
	t.Cleanup(p.Drop)
	go p.serve()
	return p
}

// Addr is the address clients connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Stall stops (true) or restarts (false) the flow of bytes: while
// stalled, connections stay open and what is sent on them is thrown away.
func (p *Proxy) Stall(on bool) { p.stalled.Store(on) }

// Drop closes every connection and stops accepting new ones.
func (p *Proxy) Drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropped = true
	p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
}

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.dropped {
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		closeBoth := func() {
			c.Close()
			up.Close()
			p.mu.Lock()
			delete(p.conns, c)
			delete(p.conns, up)
			p.mu.Unlock()
		}
		l := &link{}
		go p.pipe(up, c, p.counter, closeBoth, l)
		go p.pipe(c, up, nil, closeBoth, l)
	}
}

// link is what the two directions of one proxied connection share: a
// write failed After marks the answer lost, under mu, in the same step as
// it passes the write on, so the server's answer can never slip past.
type link struct {
	mu   sync.Mutex
	lost bool
}

// answerWait bounds how long a write failed After waits for the server's
// answer before the connection is dropped anyway (a write that gets none).
const answerWait = 10 * time.Second

// pipe copies src to dst, throwing the bytes away while stalled. On the
// client's side (counter not nil) each read is one write, counted; a write
// failed After is passed on and marks l lost, so that the server's side
// drops the connection at the answer instead of passing it back.
func (p *Proxy) pipe(dst, src net.Conn, counter *Counter, closeBoth func(), l *link) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.stalled.Load() {
			fail := counter.next()
			if fail == Before {
				closeBoth()
				return
			}
			l.mu.Lock()
			if counter == nil && l.lost {
				l.mu.Unlock()
				closeBoth() // the answer to the failed write: lost
				return
			}
			_, werr := dst.Write(buf[:n])
			if werr == nil && fail == After {
				l.lost = true
			}
			l.mu.Unlock()
			if werr != nil {
				closeBoth()
				return
			}
			if fail == After {
				time.AfterFunc(answerWait, closeBoth)
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				closeBoth()
			} else if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			return
		}
	}
}
