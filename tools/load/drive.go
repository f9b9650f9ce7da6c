package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The phases of one measurement: workers send from the start; what is
// answered while the phase is phaseMeasure is counted; in phaseTail they
// send on, uncounted, while the store counters are read; phaseStop ends
// them after their request in flight.
const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseTail
	phaseStop
)

// samplerTimeout bounds each call of a windowSampler.
const samplerTimeout = 10 * time.Second

// successTrue is what a good answer's body holds. The answers are ours
// (a list service's, with list names this tool chose), so no string in
// them can hold it by chance.
const successTrue = `"Success":true`

// errNoSuccess is a 200 whose body does not say "Success":true.
var errNoSuccess = errors.New(`200 without "Success":true`)

// worker sends one request over and over on its own connection.
type worker struct {
	addr     string // host:port
	req      []byte
	deadline time.Time // of every connection: the run's planned end, plus slack
	conn     net.Conn
	br       *bufio.Reader
	body     []byte

	hist latencyHist // answers in the window
	// n counts the answers in the window, for the samplers to read
	// while the worker runs.
	n     atomic.Int64
	fails int64 // failed requests, in any phase
	// failKinds counts the failures by their error, without the address.
	failKinds map[string]int64
}

// run sends until phase says stop.
func (w *worker) run(phase *atomic.Int32) {
	defer w.closeConn()
	backoff := time.Duration(0)
	for phase.Load() != phaseStop {
		t0 := time.Now()
		err := w.roundTrip()
		d := time.Since(t0)
		if err != nil {
			w.fail(err)
			// A server that is gone would make this loop spin: wait a
			// little longer after each failure in a row.
			backoff = min(max(2*backoff, time.Millisecond), 100*time.Millisecond)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		if phase.Load() == phaseMeasure {
			w.hist.record(d)
			w.n.Add(1)
		}
	}
}

// roundTrip sends the request and reads its answer, dialing first if the
// worker has no connection.
func (w *worker) roundTrip() error {
	if w.conn == nil {
		c, err := net.DialTimeout("tcp", w.addr, 5*time.Second)
		if err != nil {
			return err
		}
		// One deadline for the connection's whole life, set once: a
		// deadline per request would cost a timer update each.
		if err := c.SetDeadline(w.deadline); err != nil {
			c.Close()
			return err
		}
		w.conn = c
		if w.br == nil {
			w.br = bufio.NewReaderSize(c, 16<<10)
		} else {
			w.br.Reset(c)
		}
	}
	if _, err := w.conn.Write(w.req); err != nil {
		w.closeConn()
		return err
	}
	status, body, keepAlive, err := readResponse(w.br, w.body[:0])
	w.body = body[:0]
	if err != nil || !keepAlive {
		w.closeConn()
	}
	switch {
	case err != nil:
		return err
	case status != 200:
		return fmt.Errorf("HTTP %d", status)
	case !bytes.Contains(body, []byte(successTrue)):
		return errNoSuccess
	}
	return nil
}

// fail counts a failed request.
func (w *worker) fail(err error) {
	w.fails++
	msg := err.Error()
	// "dial tcp 127.0.0.1:1234: connect: connection refused": the cause
	// without the address, so that the kinds add up across workers.
	msg = strings.ReplaceAll(msg, w.addr, "ADDR")
	if w.failKinds == nil {
		w.failKinds = map[string]int64{}
	}
	w.failKinds[msg]++
}

// closeConn closes the worker's connection, if it has one.
func (w *worker) closeConn() {
	if w.conn != nil {
		w.conn.Close()
		w.conn = nil
	}
}

// loadResult is one measurement.
type loadResult struct {
	Requests  int64         // answered in the window, all good
	Window    time.Duration // its length
	RPS       float64
	P50, P99  time.Duration
	Fails     int64 // in the warm-up and the window
	FailKinds map[string]int64
	// Counts are what the sampler measured in the window.
	Counts storeCounts
	// CPU is where the machine's CPU time went in the window; nil
	// without /proc.
	CPU *cpuUse
}

// loadSpec is what to drive and how hard.
type loadSpec struct {
	addr        string // host:port
	target      string // path and query
	conns       int
	warmup, dur time.Duration
	// sampler, if not nil, measures the stores' work during the window,
	// reading every sampleEvery (not at all if 0) in between.
	sampler     windowSampler
	sampleEvery time.Duration
	// serverPID is the measured server's process, for the CPU report.
	serverPID int
}

// windowSampler measures a store's work during one window. Its calls come
// from one goroutine, under load: begin just before the window, sample
// during it, and end just after it, each with the requests answered in
// the window so far.
type windowSampler interface {
	// begin returns the stores' processes on this machine, if it
	// finds them, for the CPU report.
	begin(ctx context.Context) (procSet, error)
	sample(ctx context.Context, requests int64) error
	end(ctx context.Context, window time.Duration, requests int64) (storeCounts, error)
}

// drive runs spec.conns workers against spec.addr for the warm-up and the
// window, and measures the window.
func drive(ctx context.Context, spec loadSpec) (loadResult, error) {
	var phase atomic.Int32
	deadline := time.Now().Add(spec.warmup + spec.dur + time.Minute)
	req := getRequest(spec.addr, spec.target)
	workers := make([]*worker, spec.conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{addr: spec.addr, req: req, deadline: deadline, body: make([]byte, 0, 4<<10)}
		workers[i] = w
		wg.Go(func() { w.run(&phase) })
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			phase.Store(phaseStop)
			wg.Wait()
		}
	}
	defer stop()
	answered := func() int64 {
		var n int64
		for _, w := range workers {
			n += w.n.Load()
		}
		return n
	}
	if err := sleepCtx(ctx, spec.warmup); err != nil {
		return loadResult{}, err
	}
	// Each sampler call gets a deadline: a store that stops answering
	// ends the run with an error, not a hang.
	bounded := func(f func(context.Context) error) error {
		ctx, cancel := context.WithTimeout(ctx, samplerTimeout)
		defer cancel()
		return f(ctx)
	}
	var procs procSet
	if spec.sampler != nil {
		err := bounded(func(ctx context.Context) (err error) {
			procs, err = spec.sampler.begin(ctx)
			return err
		})
		if err != nil {
			return loadResult{}, err
		}
	}
	cpu0, cpuErr := readCPU(spec.serverPID, procs)
	phase.Store(phaseMeasure)
	t0 := time.Now()
	end := t0.Add(spec.dur)
	for spec.sampler != nil && spec.sampleEvery > 0 {
		next := time.Now().Add(spec.sampleEvery)
		if !next.Before(end) {
			break
		}
		if err := sleepCtx(ctx, time.Until(next)); err != nil {
			return loadResult{}, err
		}
		if err := bounded(func(ctx context.Context) error { return spec.sampler.sample(ctx, answered()) }); err != nil {
			return loadResult{}, err
		}
	}
	if err := sleepCtx(ctx, time.Until(end)); err != nil {
		return loadResult{}, err
	}
	phase.Store(phaseTail) // the workers stop counting, and send on
	window := time.Since(t0)
	var res loadResult
	if cpu1, err := readCPU(spec.serverPID, procs); err == nil && cpuErr == nil {
		u := cpuBetween(cpu0, cpu1, window)
		res.CPU = &u
	}
	if spec.sampler != nil {
		// Read while the last requests are still in flight, so that the
		// stores are read under the same load at both ends.
		err := bounded(func(ctx context.Context) (err error) {
			res.Counts, err = spec.sampler.end(ctx, window, answered())
			return err
		})
		if err != nil {
			return loadResult{}, err
		}
	}
	stop()
	var hist latencyHist
	res.FailKinds = map[string]int64{}
	for _, w := range workers {
		hist.merge(&w.hist)
		res.Requests += w.n.Load()
		res.Fails += w.fails
		for k, n := range w.failKinds {
			res.FailKinds[k] += n
		}
	}
	res.Window = window
	res.RPS = float64(res.Requests) / window.Seconds()
	res.P50, res.P99 = hist.quantile(0.50), hist.quantile(0.99)
	return res, nil
}

// failSummary names the failures, the most frequent first.
func failSummary(kinds map[string]int64) string {
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(kinds[b], kinds[a]), strings.Compare(a, b))
	})
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d × %s", kinds[k], k))
	}
	return strings.Join(parts, "; ")
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
