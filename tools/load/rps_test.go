package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestLatencyHist(t *testing.T) {
	t.Parallel()
	var h latencyHist
	if h.quantile(0.5) != 0 {
		t.Error("empty histogram: quantile not 0")
	}
	// 1..1000 µs: the median is 500 µs, p99 990 µs.
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}, {0.001, time.Microsecond}} {
		got := h.quantile(tc.q)
		if rel := math.Abs(float64(got-tc.want)) / float64(tc.want); rel > 1.0/histSub {
			t.Errorf("quantile(%v) = %v, want %v within %.1f%%", tc.q, got, tc.want, 100.0/histSub)
		}
	}
	// Merging two halves gives the whole.
	var a, b latencyHist
	for i := 1; i <= 1000; i++ {
		if i%2 == 0 {
			a.record(time.Duration(i) * time.Microsecond)
		} else {
			b.record(time.Duration(i) * time.Microsecond)
		}
	}
	a.merge(&b)
	if a != h {
		t.Error("merge: not the same histogram")
	}
	// Every bucket's middle falls in the bucket; small, huge and
	// negative durations stay in range.
	for i := range histBuckets - 1 {
		if got := histIndex(histValue(i)); got != i {
			t.Fatalf("histIndex(histValue(%d)) = %d", i, got)
		}
	}
	var edge latencyHist
	edge.record(0)
	edge.record(-time.Second)
	edge.record(time.Duration(math.MaxInt64))
	if edge.n != 3 || edge.counts[0] != 2 || edge.counts[histBuckets-1] != 1 {
		t.Errorf("edge durations: n %d, first %d, last %d", edge.n, edge.counts[0], edge.counts[histBuckets-1])
	}
}

func TestReadResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in   string
		status     int
		body       string
		keepAlive  bool
		wantErr    bool
		afterwards string // what must be left to read: the next answer
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhelloNEXT", status: 200, body: "hello", keepAlive: true, afterwards: "NEXT"},
		{name: "case-insensitive names", in: "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 2\r\nCONNECTION: Close\r\n\r\nno", status: 503, body: "no"},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nTrailer: x\r\n\r\nNEXT", status: 200, body: "Wikipedia", keepAlive: true, afterwards: "NEXT"},
		{name: "HTTP/1.0 closes", in: "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, body: ""},
		{name: "HTTP/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x", keepAlive: true},
		{name: "no status reason", in: "HTTP/1.1 204\r\nContent-Length: 0\r\n\r\n", status: 204, keepAlive: true},
		// Broken answers: an error, never a panic or a hang.
		{name: "no length", in: "HTTP/1.1 200 OK\r\n\r\nbody", wantErr: true},
		{name: "bad status", in: "HTTP/1.1 2x0 OK\r\n\r\n", wantErr: true},
		{name: "not HTTP", in: "SSH-2.0-OpenSSH\r\n", wantErr: true},
		{name: "bad length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", wantErr: true},
		{name: "too long", in: "HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n", wantErr: true},
		{name: "short body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", wantErr: true},
		{name: "bad chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", wantErr: true},
		{name: "chunk without CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", wantErr: true},
		{name: "header without colon", in: "HTTP/1.1 200 OK\r\nbroken\r\n\r\n", wantErr: true},
		{name: "truncated headers", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.in))
			status, body, keepAlive, err := readResponse(br, make([]byte, 0, 2))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("no error; status %d body %q", status, body)
				}
				return
			}
			if err != nil || status != tc.status || string(body) != tc.body || keepAlive != tc.keepAlive {
				t.Fatalf("= %d %q %v %v; want %d %q %v", status, body, keepAlive, err, tc.status, tc.body, tc.keepAlive)
			}
			rest, _ := br.Peek(br.Buffered())
			if string(rest) != tc.afterwards {
				t.Errorf("left %q, want %q", rest, tc.afterwards)
			}
		})
	}
}

// TestReadResponseAllocs checks that the generator's read path does not
// allocate: it runs on the cores it measures.
func TestReadResponseAllocs(t *testing.T) {
	answer := "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: 16\r\n\r\n{\"Success\":true}"
	r := strings.NewReader(answer)
	br := bufio.NewReaderSize(r, 16<<10)
	buf := make([]byte, 0, 4<<10)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(answer)
		br.Reset(r)
		status, body, _, err := readResponse(br, buf[:0])
		if err != nil || status != 200 || !bytes.Contains(body, []byte(successTrue)) {
			t.Fatalf("%d %q %v", status, body, err)
		}
	})
	if allocs != 0 {
		t.Errorf("readResponse allocates %v times per answer", allocs)
	}
}

// TestDrive runs the load generator on httptest servers: the answers are
// counted, the failures too, and nothing about speed is asserted.
func TestDrive(t *testing.T) {
	t.Parallel()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("APIKey") != "k" {
			http.Error(w, "no key", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"Success":true,"ErrorCode":0}`))
	}))
	defer ok.Close()
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"Success":false,"ErrorCode":3}`))
	}))
	defer failing.Close()
	addr := func(s *httptest.Server) string { u, _ := url.Parse(s.URL); return u.Host }

	s := &fakeSampler{}
	res, err := drive(t.Context(), loadSpec{addr: addr(ok), target: "/api.php?APIKey=k", conns: 3, warmup: 20 * time.Millisecond,
		dur: 150 * time.Millisecond, sampler: s, sampleEvery: 20 * time.Millisecond, serverPID: os.Getpid()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fails != 0 || res.Requests == 0 || res.P50 <= 0 || res.P99 < res.P50 || res.RPS <= 0 {
		t.Errorf("good server: %+v", res)
	}
	if !s.begun || s.samples == 0 || s.endRequests <= 0 || res.Counts.Redis == nil || res.Counts.Redis.Calls != 42 {
		t.Errorf("sampler: %+v, counts %+v", s, res.Counts)
	}
	for i := 1; i < len(s.seen); i++ {
		if s.seen[i] < s.seen[i-1] {
			t.Errorf("requests answered went down: %v", s.seen)
		}
	}
	if _, err := os.Stat("/proc/stat"); err == nil && res.CPU == nil {
		t.Error("no CPU figures, with /proc")
	}

	for _, tc := range []struct {
		name, addr, target, kind string
	}{
		{"200 without Success", addr(failing), "/", errNoSuccess.Error()},
		{"401", addr(ok), "/api.php?APIKey=wrong", "HTTP 401"},
	} {
		res, err := drive(t.Context(), loadSpec{addr: tc.addr, target: tc.target, conns: 2, dur: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if res.Fails == 0 || res.Requests != 0 || res.FailKinds[tc.kind] != res.Fails {
			t.Errorf("%s: %d requests, %d failures: %s", tc.name, res.Requests, res.Fails, failSummary(res.FailKinds))
		}
	}

	// A server that is gone: failures, with the address taken out of
	// their kind, and no spinning.
	gone := httptest.NewServer(http.NotFoundHandler())
	goneAddr := addr(gone)
	gone.Close()
	res, err = drive(t.Context(), loadSpec{addr: goneAddr, target: "/", conns: 2, dur: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fails == 0 || res.Fails > 200 || strings.Contains(failSummary(res.FailKinds), goneAddr) {
		t.Errorf("gone server: %d failures: %s", res.Fails, failSummary(res.FailKinds))
	}

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := drive(ctx, loadSpec{addr: addr(ok), target: "/", conns: 1, warmup: time.Second, dur: time.Second}); err == nil {
		t.Error("canceled context: no error")
	}
}

// fakeSampler records how drive calls a sampler.
type fakeSampler struct {
	begun       bool
	samples     int
	seen        []int64
	endRequests int64
}

func (f *fakeSampler) begin(context.Context) (procSet, error) {
	f.begun = true
	return procSet{stores: []int{os.Getpid(), 1 << 30}}, nil // a process that is not there is left out
}

func (f *fakeSampler) sample(_ context.Context, n int64) error {
	f.samples++
	f.seen = append(f.seen, n)
	return nil
}

func (f *fakeSampler) end(_ context.Context, _ time.Duration, n int64) (storeCounts, error) {
	f.endRequests = n
	return storeCounts{Redis: &redisCounts{Calls: 42}}, nil
}

func TestFailSummary(t *testing.T) {
	t.Parallel()
	got := failSummary(map[string]int64{"HTTP 503": 2, "EOF": 7, "HTTP 401": 2})
	if want := "7 × EOF; 2 × HTTP 401; 2 × HTTP 503"; got != want {
		t.Errorf("failSummary = %q, want %q", got, want)
	}
}

func TestBareHandler(t *testing.T) {
	t.Parallel()
	h := bareHandler([]bareList{{1, "Newsletter"}, {2, "Customers"}})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api.php?Command=Lists.Get&APIKey=kw_x", nil))
	// The example's answer, byte for byte (authn/command's envelope).
	want := `{"Success":true,"ErrorCode":0,"ErrorText":"","Lists":[{"ListID":1,"Name":"Newsletter"},{"ListID":2,"Name":"Customers"}],"TotalListCount":2,"TotalLists":2}` + "\n"
	if rec.Code != 200 || rec.Body.String() != want || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
		t.Errorf("answer %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	for _, target := range []string{"/api.php?Command=Users.Get", "/other?Command=Lists.Get"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: %d", target, rec.Code)
		}
	}
}

func TestReadRESP(t *testing.T) {
	t.Parallel()
	in := "+OK\r\n-ERR wrong\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\n0\r\n*1\r\n$3\r\nkey\r\n*-1\r\n$0\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	want := []string{"OK", "redis: ERR wrong", "42", "hello", "<nil>", "[0 [key]]", "<nil>", ""}
	for i, w := range want {
		v, err := readRESP(br)
		if err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		got := fmt.Sprint(v)
		if e, ok := v.(redisError); ok {
			got = e.Error()
		}
		if got != w {
			t.Errorf("value %d = %q, want %q", i, got, w)
		}
	}
	for _, bad := range []string{"?x\r\n", ":x\r\n", "$3\r\nab", "$2\r\nabcd\r\n", "+OK\n", "$-5\r\n", "*1\r\n"} {
		if v, err := readRESP(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("readRESP(%q) = %v, no error", bad, v)
		}
	}
}

func TestParseCommandStats(t *testing.T) {
	t.Parallel()
	info := "# Commandstats\r\ncmdstat_get:calls=105,usec=129,usec_per_call=1.23,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_client|list:calls=3,usec=36,usec_per_call=12.00,rejected_calls=0,failed_calls=0\r\ncmdstat_info:calls=2,usec=1\r\n"
	got, err := parseCommandStats(info)
	if err != nil || len(got) != 3 || got["get"] != 105 || got["client|list"] != 3 || got["info"] != 2 {
		t.Fatalf("parseCommandStats = %v, %v", got, err)
	}
	// A fresh server has the section and no command in it.
	if got, err := parseCommandStats("# Commandstats\r\n"); err != nil || len(got) != 0 {
		t.Errorf("empty section: %v, %v", got, err)
	}
	for _, bad := range []string{"", "# Server\r\nredis_version:7\r\n", "# Commandstats\r\ncmdstat_get:usec=1\r\n", "# Commandstats\r\ncmdstat_get:calls=x\r\n", "# Commandstats\r\ncmdstat_get\r\n"} {
		if _, err := parseCommandStats(bad); err == nil {
			t.Errorf("parseCommandStats(%q): no error", bad)
		}
	}
}

// TestRedisDelta: the counter's own commands between the two readings
// (the first INFO; anything else it sent) are taken out, by name.
func TestRedisDelta(t *testing.T) {
	t.Parallel()
	a := redisSnap{calls: map[string]int64{"get": 10, "info": 4, "client|list": 1}, sent: map[string]int64{"info": 4, "client|list": 1}}
	b := redisSnap{calls: map[string]int64{"get": 110, "info": 6, "client|list": 2, "evalsha": 3}, sent: map[string]int64{"info": 5, "client|list": 2}}
	c := redisDelta(a, b)
	// info: 2 more ran, 1 of them ours; client|list: 1 ran, ours.
	if c.Calls != 104 || c.ByCommand["get"] != 100 || c.ByCommand["evalsha"] != 3 || c.ByCommand["info"] != 1 || len(c.ByCommand) != 3 {
		t.Errorf("redisDelta = %+v", c)
	}
}

func TestStatName(t *testing.T) {
	t.Parallel()
	for args, want := range map[string]string{"INFO commandstats": "info", "CLIENT LIST": "client|list", "GET k": "get", "client": "client", "": ""} {
		if got := statName(strings.Fields(args)); got != want {
			t.Errorf("statName(%q) = %q, want %q", args, got, want)
		}
	}
	if got := globEscape(`kw_*?[x]\`); got != `kw_\*\?\[x\]\\` {
		t.Errorf("globEscape = %q", got)
	}
}

func TestClientList(t *testing.T) {
	t.Parallel()
	list := "id=3 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=8 name=kwload-x age=20 idle=0 flags=N db=0 cmd=get\n" +
		"id=4 addr=127.0.0.1:50001 laddr=127.0.0.1:6379 fd=9 name= age=20 idle=0 flags=N db=0 cmd=client|list\n" +
		"id=5 addr=127.0.0.1:50002 laddr=127.0.0.1:6379 fd=10 name= age=300 idle=200 flags=N db=0 cmd=get\n" +
		"id=6 addr=127.0.0.1:50003 laddr=127.0.0.1:6379 fd=11 name=other age=30 idle=3 flags=N db=0 cmd=del\n"
	cs := parseClientList(list)
	if len(cs) != 4 || cs[0].name != "kwload-x" || cs[2].idle != 200 || cs[3].cmd != "del" {
		t.Fatalf("parseClientList = %+v", cs)
	}
	// 50001 is the counter; 50002 idle long before the window; 50003
	// sent a command in it.
	if tagged, foreign := classifyClients(cs, "127.0.0.1:50001", "kwload-x", 10*time.Second); tagged != 1 || foreign != 1 {
		t.Errorf("classifyClients = %d tagged, %d foreign", tagged, foreign)
	}
}

// TestPGRates feeds readings that lag as PostgreSQL's do (each backend
// publishes about once a second) and checks that the slope finds the
// work per request, the sampler's own transactions taken out.
func TestPGRates(t *testing.T) {
	t.Parallel()
	const rate = 5000.0 // requests per second
	var reqs []float64
	var snaps []pgSnap
	for i := range 41 { // every 250 ms for 10 s
		at := float64(i) * 0.25
		// Published: everything up to the last whole second, as if all
		// the backends flushed together (the worst case for two
		// readings); plus the sampler's own transactions, one per
		// reading before this one.
		published := math.Floor(at) * rate
		snaps = append(snaps, pgSnap{
			xacts:  1000 + int64(2*published) + int64(i),
			tables: map[string][2]int64{"kw_api_keys": {int64(published), 0}, "kw_sessions": {0, int64(published / 100)}},
		})
		reqs = append(reqs, at*rate)
	}
	c := pgRates(reqs, snaps, "kw_")
	near := func(got, want float64) bool { return math.Abs(got-want) < 0.05*want+0.001 }
	if !near(c.Xacts, 2) || !near(c.Tables["api_keys"].Scans, 1) || !near(c.Tables["sessions"].Writes, 0.01) || c.Tables["sessions"].Scans != 0 || c.Samples != 41 {
		t.Errorf("pgRates = %+v", c)
	}
	if s := slope([]float64{1, 2, 3}, []float64{2, 4, 6}); s != 2 {
		t.Errorf("slope = %v", s)
	}
	if s := slope([]float64{1, 1}, []float64{2, 4}); s != 0 {
		t.Errorf("slope with no spread = %v", s)
	}
	if s := slope([]float64{1}, []float64{2}); s != 0 {
		t.Errorf("slope of one point = %v", s)
	}
}

func TestParseBench(t *testing.T) {
	t.Parallel()
	out := `goos: linux
BenchmarkMiddleware/APIKey-2         	 1000000	      1655 ns/op	     704 B/op	       2 allocs/op
BenchmarkMiddleware/SessionID-2      	 1000000	      1638 ns/op	     704 B/op	       2 allocs/op
BenchmarkFloor/Serial-2              	 1000000	      751.5 ns/op	     560 B/op	       4 allocs/op
BenchmarkMiddleware/APIKey-2         	 1000000	      1500 ns/op	     704 B/op	       2 allocs/op
BenchmarkMiddleware/SessionID-2      	 1000000	      1700 ns/op	     704 B/op	       2 allocs/op
BenchmarkFloor/Serial-2              	 1000000	      748.5 ns/op	     560 B/op	       4 allocs/op
BenchmarkMiddleware/APIKey-2         	 1000000	      1600 ns/op	     704 B/op	       2 allocs/op
BenchmarkFloor/Serial-2              	 1000000	      750 ns/op	     560 B/op	       4 allocs/op
BenchmarkBroken-2   --- FAIL
PASS
`
	rs := parseBench(out)
	if len(rs) != 3 || rs[0].name != "BenchmarkMiddleware/APIKey" || len(rs[0].nsPerOp) != 3 || len(rs[1].nsPerOp) != 2 {
		t.Fatalf("parseBench = %+v", rs)
	}
	if m := median(rs[0].nsPerOp); m != 1600 {
		t.Errorf("median APIKey = %v", m)
	}
	if m := median(rs[1].nsPerOp); m != 1669 {
		t.Errorf("median SessionID (even count) = %v", m)
	}
	var b bytes.Buffer
	if err := printBench(&b, rs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], benchFloor+" ") || !strings.Contains(lines[1], "1.00x") || !strings.Contains(lines[2], "2.13x") {
		t.Errorf("printBench:\n%s", b.String())
	}
	if err := printBench(&b, rs[:2]); err == nil {
		t.Error("printBench without the floor: no error")
	}
}

func TestProcCPU(t *testing.T) {
	t.Parallel()
	c, err := parseProcStat("cpu  100 5 50 1000 20 3 2 1 0 0\ncpu0 50 2 25 500 10 1 1 0 0 0\n")
	if err != nil || c.tasks != 155 || c.irq != 5 || c.steal != 1 || c.total != 1181 {
		t.Errorf("parseProcStat = %+v, %v", c, err)
	}
	for _, bad := range []string{"intr 1 2 3\n", "cpu 1 2 3\n", "cpu 1 2 3 4 5 6 x 8\n"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q): no error", bad)
		}
	}
	n, err := parsePIDStat("1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 7 0 100 0 0")
	if err != nil || n != 280 {
		t.Errorf("parsePIDStat = %d, %v", n, err)
	}
	if _, err := parsePIDStat("1234 (x) S 1 2"); err == nil {
		t.Error("parsePIDStat of a short line: no error")
	}
	// 1.8 cores busy (0.04 in interrupts): 0.5 generator (0.4 this
	// process, 0.1 its counter's backend), 1.0 server, 0.2 stores (pid
	// 7; pid 8 was not there at the start), 0.1 rest.
	a := cpuSnap{stores: map[int]int64{7: 1000}, counters: map[int]int64{9: 0}}
	b := cpuSnap{tasks: 176, irq: 4, steal: 2, total: 200, self: 40, srv: 100, stores: map[int]int64{7: 1020, 8: 5000}, counters: map[int]int64{9: 10}}
	u := cpuBetween(a, b, time.Second)
	near := func(x, y float64) bool { return math.Abs(x-y) < 1e-9 }
	if !near(u.Busy, 1.8) || !near(u.Cores, 2) || !near(u.Stores, 0.2) || !near(u.Other, 0.1) || !near(u.IRQ, 0.04) || !near(u.Steal, 0.02) {
		t.Errorf("cpuBetween = %+v", u)
	}
	if _, err := os.Stat("/proc/stat"); err == nil {
		s, err := readCPU(os.Getpid(), procSet{stores: []int{os.Getpid(), 1 << 30}})
		if err != nil || len(s.stores) != 1 || s.total <= 0 {
			t.Errorf("readCPU(self) = %+v, %v", s, err)
		}
		if procName(os.Getpid()) == "" || procName(1<<30) != "" {
			t.Error("procName")
		}
	}
}

func TestTagURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, key, wantURL, wantTag string }{
		{"postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "application_name", "postgres://postgres@127.0.0.1:5432/test?application_name=kwload-x&sslmode=disable", "kwload-x"},
		{"postgres://h/db?application_name=mine", "application_name", "postgres://h/db?application_name=mine", "mine"},
		{"redis://127.0.0.1:6379/0", "client_name", "redis://127.0.0.1:6379/0?client_name=kwload-x", "kwload-x"},
		{"", "client_name", "", ""},
	}
	for _, tc := range tests {
		u, tag, err := tagURL(tc.in, tc.key, "kwload-x")
		if err != nil || u != tc.wantURL || tag != tc.wantTag {
			t.Errorf("tagURL(%q) = %q, %q, %v", tc.in, u, tag, err)
		}
	}
	if got := redact("postgres://u:secret@h/db"); strings.Contains(got, "secret") {
		t.Errorf("redact = %q", got)
	}
	if got := cpuModel("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t: fpu\n"); got != "Intel(R) Xeon(R) Processor" {
		t.Errorf("cpuModel = %q", got)
	}
}

func TestParseRPS(t *testing.T) {
	t.Parallel()
	o, err := parseRPS(nil, io.Discard)
	if err != nil || o.db != defaultPostgres || o.redis != defaultRedis || o.conns != 32 || o.dur != 10*time.Second || o.rounds != 1 || o.dbExplicit || o.redisExplicit {
		t.Errorf("defaults: %+v, %v", o, err)
	}
	o, err = parseRPS([]string{"-redis", defaultRedis}, io.Discard)
	if err != nil || !o.redisExplicit || o.dbExplicit {
		t.Errorf("-redis given: %+v, %v", o, err)
	}
	for _, bad := range [][]string{{"-c", "0"}, {"-rounds", "0"}, {"-d", "0s"}, {"-warmup", "-1s"}, {"-bench", "-bench-count", "0"}, {"-db", "", "-redis", ""}, {"extra"}} {
		if _, err := parseRPS(bad, io.Discard); err == nil {
			t.Errorf("parseRPS(%q): no error", bad)
		}
	}
	if _, err := parseRPS([]string{"-db", "", "-redis", "", "-no-shared"}, io.Discard); err != nil {
		t.Errorf("nothing shared, -no-shared: %v", err)
	}
}

// TestRPSSmoke runs the rps mode end to end on the example on memory and
// the bare server, for a fraction of a second each, and checks the shape
// of the report: its rows, and that each figure parses. It asserts no
// rate and no duration.
func TestRPSSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example")
	}
	var out, errs bytes.Buffer
	err := run(t.Context(), []string{"rps", "-no-shared", "-c", "2", "-warmup", "50ms", "-d", "200ms"}, &out, &errs)
	if err != nil {
		t.Fatalf("rps: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errs.String())
	}
	report := out.String()
	rows := tableRows(t, report)
	want := [][2]string{{"bare", "none"}, {"memory", "APIKey"}, {"memory", "SessionID"}}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), report)
	}
	for i, r := range rows {
		if len(r) != 8 || r[0] != want[i][0] || r[1] != want[i][1] {
			t.Fatalf("row %d: %q\n%s", i, r, report)
		}
		if _, err := strconv.ParseFloat(r[2], 64); err != nil {
			t.Errorf("row %d: req/s %q", i, r[2])
		}
		ratio, ok := strings.CutSuffix(r[3], "x")
		if _, err := strconv.ParseFloat(ratio, 64); err != nil || !ok {
			t.Errorf("row %d: ratio %q", i, r[3])
		}
		for _, lat := range r[4:6] {
			v, ok := strings.CutSuffix(lat, "ms")
			if _, err := strconv.ParseFloat(v, 64); err != nil || !ok {
				t.Errorf("row %d: latency %q", i, lat)
			}
		}
		if r[6] != "-" || r[7] != "-" {
			t.Errorf("row %d: store columns %q %q on a server without stores", i, r[6], r[7])
		}
	}
	if rows[0][3] != "1.00x" {
		t.Errorf("bare against itself: %q", rows[0][3])
	}
	for _, s := range []string{"machine: ", "GOMAXPROCS", "go1.", "failures: none", "skipped (-no-shared)"} {
		if !strings.Contains(report, s) {
			t.Errorf("no %q in the report:\n%s", s, report)
		}
	}
	if strings.Contains(report, "answer differs") {
		t.Errorf("the bare server's answer is not the example's:\n%s", report)
	}
}

// tableRows returns the fields of the report's table rows, the lines
// after the header up to the first blank one.
func tableRows(t *testing.T, report string) [][]string {
	t.Helper()
	_, table, ok := strings.Cut(report, "\nserver ")
	if !ok {
		t.Fatalf("no table header in:\n%s", report)
	}
	lines := strings.Split(table, "\n")[1:]
	var rows [][]string
	for _, l := range lines {
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "note:") || strings.HasPrefix(l, "failures") {
			break
		}
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

// TestPrintRPSRounds checks the report of several rounds: medians, each
// round's ratio to its own bare figure, the range, and the per-round
// lines, on made-up results.
func TestPrintRPSRounds(t *testing.T) {
	t.Parallel()
	run := func(rps float64, fails int64) loadResult {
		return loadResult{RPS: rps, Requests: int64(rps), P50: time.Millisecond, P99: 3 * time.Millisecond, Fails: fails,
			FailKinds: map[string]int64{"HTTP 503": fails}, CPU: &cpuUse{Busy: 1.9, Cores: 2, Generator: 0.5, Server: 1, Other: 0.4}}
	}
	shared := run(2000, 0)
	shared.Counts = storeCounts{Redis: &redisCounts{Calls: 2000, ByCommand: map[string]int64{"get": 2000}, Tagged: 3},
		PG: &pgCounts{Xacts: 2, Tables: map[string]pgTable{"api_keys": {Scans: 1}}, Samples: 30, Tagged: 10, Foreign: 1}}
	rep := rpsReport{
		opts:       rpsOptions{conns: 32, dur: 10 * time.Second, warmup: 2 * time.Second, rounds: 3},
		machine:    machineInfo{cpu: "Test CPU", cores: 2, procs: 2, kernel: "linux 6", goVer: "go1.26"},
		sharedName: "postgres+redis",
		rows: []rpsRow{
			{"bare", "none", []loadResult{run(10000, 0), run(20000, 0), run(10000, 0)}},
			{"memory", "APIKey", []loadResult{run(8000, 0), run(10000, 2), run(7000, 0)}},
			{"postgres+redis", "APIKey", []loadResult{shared, shared, shared}},
		},
	}
	var b bytes.Buffer
	printRPS(&b, rep)
	report := b.String()
	rows := tableRows(t, report)
	// memory: ratios 0.80, 0.50, 0.70 against each round's bare.
	want := [][]string{
		{"bare", "none", "10000", "1.00x", "1.00-1.00", "1.00ms", "3.00ms", "-", "-"},
		{"memory", "APIKey", "8000", "0.70x", "0.50-0.80", "1.00ms", "3.00ms", "-", "-"},
		{"postgres+redis", "APIKey", "2000", "0.20x", "0.10-0.20", "1.00ms", "3.00ms", "1.00", "2.00"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("rows\n%q\nwant\n%q\n%s", rows, want, report)
	}
	for _, s := range []string{"3 rounds (medians)", "memory APIKey (round 2): busy 1.90", "memory APIKey: 2: 2 × HTTP 503",
		"postgres+redis APIKey (round 3), 2000 requests: Redis get 1.000; PostgreSQL 2.000 xacts, api_keys 1.000 scans",
		"other processes used 0.40 cores", "1 other PostgreSQL sessions"} {
		if !strings.Contains(report, s) {
			t.Errorf("no %q in:\n%s", s, report)
		}
	}
}
