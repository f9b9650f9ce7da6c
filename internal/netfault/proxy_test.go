package netfault

import (
	"io"
	"net"
	"testing"
)

// echo serves a loopback echo server until the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends one byte through a fresh connection to the proxy and
// reports whether its echo came back.
func roundTrip(t *testing.T, p *Proxy) bool {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte{'x'}); err != nil {
		return false
	}
	var b [1]byte
	_, err = io.ReadFull(c, b[:])
	return err == nil
}

// Every mode does what it says, every time: the answer to a write failed
// After never slips back to the client, however the two directions race.
func TestModes(t *testing.T) {
	counter := &Counter{}
	p := Start(t, echo(t), counter)
	for i := range 300 {
		counter.Arm(0, 0)
		if !roundTrip(t, p) {
			t.Fatalf("round %d, unarmed: the echo did not come back", i)
		}
		for _, mode := range []Mode{Before, After} {
			counter.Arm(1, mode)
			if roundTrip(t, p) {
				t.Fatalf("round %d, %s: the echo came back", i, mode)
			}
			if n := counter.Disarm(); n != 1 {
				t.Fatalf("round %d, %s: counted %d writes, want 1", i, mode, n)
			}
		}
	}
}
