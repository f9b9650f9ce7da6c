package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loginsResult is one run of the logins mode.
type loginsResult struct {
	N int `json:"n"`
	// Answers counts the answers: "200 Success", "200 ErrorCode=3",
	// "429", "error: ...".
	Answers map[string]int `json:"answers"`
	OK      int            `json:"ok"`
	// PeakInFlight is the most requests sent whole and not yet answered
	// at one time, as the client saw it.
	PeakInFlight int64   `json:"peak_in_flight"`
	Seconds      float64 `json:"seconds"`
	// Latencies of the requests, in seconds.
	P50 float64 `json:"p50_seconds"`
	P90 float64 `json:"p90_seconds"`
	P99 float64 `json:"p99_seconds"`
	Max float64 `json:"max_seconds"`
	// The child's memory, in bytes: RSS before the burst and the peak of
	// its start-up; the largest VmRSS sampled during the burst; VmHWM
	// read after it (since the reset before it, if HWMReset).
	StartRSS   int64   `json:"start_rss"`
	StartHWM   int64   `json:"start_hwm"`
	SampledRSS int64   `json:"sampled_rss"`
	Samples    int     `json:"samples"`
	PeakRSS    int64   `json:"peak_rss"`
	HWMReset   bool    `json:"hwm_reset"`
	AfterRSS   int64   `json:"after_rss"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
}

func runLogins(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logins", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var s serverFlags
	s.register(fs)
	n := fs.Int("n", 1000, "logins sent at once, each on its own connection")
	runs := fs.Int("runs", 1, "runs, each against a fresh child")
	wrong := fs.Bool("wrong", false, "send a wrong password (every login fails with ErrorCode 3, the same hashing work)")
	unknown := fs.Bool("unknown", false, "log in as a username that does not exist (the dummy-hash path)")
	timeout := fs.Duration("timeout", 5*time.Minute, "each login's client timeout")
	sampleEvery := fs.Duration("sample", 5*time.Millisecond, "how often VmRSS is read during the burst")
	maxRSS := fs.Float64("max-rss", 0, "if above 0: exit status 1 when a run's peak RSS (VmHWM of the burst) is over this many MiB")
	asJSON := fs.Bool("json", false, "print each run as a line of JSON instead of text")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./tools/load logins [flags]")
		fmt.Fprintln(stderr, "Starts the example with -throttle-limit above -n, sends -n password logins of")
		fmt.Fprintln(stderr, "user@example.com at once, and reports the answers, the time, and the child's RSS.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("logins: unexpected arguments %q", fs.Args())
	}
	if *n < 1 || *runs < 1 {
		return fmt.Errorf("logins: -n and -runs must be at least 1")
	}
	bin, cleanup, err := build(ctx, s.pkg)
	if err != nil {
		return err
	}
	defer cleanup()
	var peaks []float64
	failed := false
	for i := range *runs {
		res, err := loginsOnce(ctx, bin, s, *n, *wrong, *unknown, *timeout, *sampleEvery)
		if err != nil {
			return err
		}
		want := "200 Success"
		if *wrong || *unknown {
			want = "200 ErrorCode=3"
		}
		if res.Answers[want] != *n {
			failed = true
		}
		if *maxRSS > 0 && res.PeakRSSMiB > *maxRSS {
			failed = true
		}
		peaks = append(peaks, res.PeakRSSMiB)
		if *asJSON {
			b, _ := json.Marshal(res)
			fmt.Fprintln(stdout, string(b))
			continue
		}
		printLogins(stdout, i+1, *runs, s, res)
	}
	if *runs > 1 && !*asJSON {
		slices.Sort(peaks)
		fmt.Fprintf(stdout, "peak RSS over %d runs: min %.1f MiB, median %.1f MiB, max %.1f MiB\n",
			*runs, peaks[0], peaks[len(peaks)/2], peaks[len(peaks)-1])
	}
	if failed {
		if *maxRSS > 0 {
			fmt.Fprintf(stdout, "FAIL: not every login answered as expected, or a peak RSS over -max-rss %.0f MiB\n", *maxRSS)
		} else {
			fmt.Fprintln(stdout, "FAIL: not every login answered as expected")
		}
		return errFailed
	}
	return nil
}

func printLogins(w io.Writer, i, runs int, s serverFlags, r loginsResult) {
	where := "memory store"
	if s.db != "" || s.redis != "" {
		where = strings.Trim(strings.Join([]string{kind(s.db), kind(s.redis)}, " + "), " +")
	}
	fmt.Fprintf(w, "run %d/%d: %d concurrent logins against %s (%s)\n", i, runs, r.N, s.pkg, where)
	keys := make([]string, 0, len(r.Answers))
	for k := range r.Answers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d × %s", r.Answers[k], k))
	}
	fmt.Fprintf(w, "  answers:  %s (peak in flight %d)\n", strings.Join(parts, ", "), r.PeakInFlight)
	fmt.Fprintf(w, "  time:     %.2fs, %.1f logins/s; latency p50 %.2fs, p90 %.2fs, p99 %.2fs, max %.2fs\n",
		r.Seconds, float64(r.N)/r.Seconds, r.P50, r.P90, r.P99, r.Max)
	hwm := "VmHWM since reset"
	if !r.HWMReset {
		hwm = "VmHWM, start-up included: clear_refs failed"
	}
	fmt.Fprintf(w, "  child:    RSS before %s (start-up peak %s); during: max VmRSS %s (%d samples); after: RSS %s\n",
		mib(r.StartRSS), mib(r.StartHWM), mib(r.SampledRSS), r.Samples, mib(r.AfterRSS))
	fmt.Fprintf(w, "  peak RSS: %.1f MiB (%s)\n", r.PeakRSSMiB, hwm)
	if r.Answers["error: EOF"] > 0 && r.Max >= 30 {
		fmt.Fprintln(w, "  note:     EOF after 30 s is the example's WriteTimeout closing the connection of a login that")
		fmt.Fprintln(w, "            waited that long for a hashing slot: a busy machine, or -n too large for it")
	}
}

// kind is the scheme of a store URL, for the report (no credentials).
func kind(u string) string {
	k, _, _ := strings.Cut(u, ":")
	return k
}

// loginsOnce starts a child, fires n logins at once, and measures.
func loginsOnce(ctx context.Context, bin string, s serverFlags, n int, wrong, unknown bool, timeout, every time.Duration) (loginsResult, error) {
	// Every login comes from 127.0.0.1 as the same account: the throttle
	// must let them all through, and not ask for a captcha.
	c, err := start(ctx, bin, s, "-throttle-limit", strconv.Itoa(n+10))
	if err != nil {
		return loginsResult{}, err
	}
	defer c.stop()
	pid := c.cmd.Process.Pid
	res := loginsResult{N: n, Answers: map[string]int{}}
	before, err := readProcMem(pid)
	if err != nil {
		return res, err
	}
	res.StartRSS, res.StartHWM = before.RSS, before.HWM
	res.HWMReset = resetHWM(pid) == nil

	form := url.Values{
		"Command":        {"User.Login"},
		"Username":       {"user@example.com"},
		"Password":       {c.password},
		"DisableCaptcha": {"true"},
	}
	if wrong {
		form.Set("Password", c.password+"-wrong")
	}
	if unknown {
		form.Set("Username", "nobody@example.com")
	}
	body := form.Encode()
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		MaxIdleConns:        n,
		MaxIdleConnsPerHost: n,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: timeout}

	var inFlight, peak atomic.Int64
	type answer struct {
		key     string
		ok      bool
		latency time.Duration
	}
	answers := make([]answer, n)
	startc := make(chan struct{})
	var ready, wg sync.WaitGroup
	ready.Add(n)
	wg.Add(n)
	for i := range n {
		go func() {
			defer wg.Done()
			var sent atomic.Bool
			trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
				sent.Store(true)
				v := inFlight.Add(1)
				for p := peak.Load(); v > p && !peak.CompareAndSwap(p, v); p = peak.Load() {
				}
			}}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, c.url+"/api.php", strings.NewReader(body))
			if err != nil {
				panic(err) // a constant URL and body
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			ready.Done()
			<-startc
			t0 := time.Now()
			key, ok := login(client, req)
			answers[i] = answer{key, ok, time.Since(t0)}
			if sent.Load() {
				inFlight.Add(-1)
			}
		}()
	}
	ready.Wait()
	sampler := sampleRSS(pid, every)
	t0 := time.Now()
	close(startc)
	wg.Wait()
	res.Seconds = time.Since(t0).Seconds()
	maxRSS, samples, serr := sampler.stop()
	after, err := readProcMem(pid)
	if err != nil {
		return res, err
	}
	if serr != nil {
		return res, serr
	}
	res.SampledRSS, res.Samples, res.PeakRSS, res.AfterRSS = maxRSS, samples, after.HWM, after.RSS
	res.PeakRSSMiB = float64(after.HWM) / (1 << 20)
	res.PeakInFlight = peak.Load()
	lat := make([]float64, 0, n)
	for _, a := range answers {
		res.Answers[a.key]++
		if a.ok {
			res.OK++
		}
		lat = append(lat, a.latency.Seconds())
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	res.P50, res.P90, res.P99, res.Max = q(0.5), q(0.9), q(0.99), lat[len(lat)-1]
	return res, nil
}

// login sends one login and names its answer: "200 Success", "200
// ErrorCode=3", "429 ErrorCode=429", "error: ...".
func login(client *http.Client, req *http.Request) (key string, ok bool) {
	resp, err := client.Do(req)
	if err != nil {
		msg := err.Error()
		if i := strings.LastIndex(msg, ": "); i >= 0 {
			msg = msg[i+2:] // the cause, without the URL
		}
		return "error: " + msg, false
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Sprintf("%d error reading: %v", resp.StatusCode, err), false
	}
	var env struct {
		Success   bool
		ErrorCode json.RawMessage
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Sprintf("%d not JSON", resp.StatusCode), false
	}
	if env.Success {
		return fmt.Sprintf("%d Success", resp.StatusCode), resp.StatusCode == http.StatusOK
	}
	code := string(bytes.Trim(env.ErrorCode, "[]"))
	return fmt.Sprintf("%d ErrorCode=%s", resp.StatusCode, code), false
}
