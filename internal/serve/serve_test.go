package serve

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
)

// Run serves until its context ends, says it is stopping, and shuts down
// cleanly (nil); a listener that fails stops it with the failure.
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := false
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }), func() { stopped = true })
	}()
	res, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("served %q", body)
	}
	cancel()
	if err := <-done; err != nil || !stopped {
		t.Fatalf("Run after its context ended: %v, stopping called %v", err, stopped)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if err := Run(context.Background(), closed, http.NotFoundHandler(), nil); err == nil {
		t.Fatal("Run on a closed listener: no error")
	}
}
