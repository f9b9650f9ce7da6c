package main

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// machineInfo names the machine, for the figures.
type machineInfo struct {
	cpu           string
	cores, procs  int
	kernel, goVer string
}

// readMachine reads the CPU model and kernel from /proc (Linux).
func readMachine() machineInfo {
	m := machineInfo{cpu: "unknown CPU", cores: runtime.NumCPU(), procs: runtime.GOMAXPROCS(0), kernel: runtime.GOOS, goVer: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.cpu = cpuModel(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = runtime.GOOS + " " + strings.TrimSpace(string(b))
	}
	return m
}

// cpuModel is /proc/cpuinfo's first "model name".
func cpuModel(cpuinfo string) string {
	for line := range strings.Lines(cpuinfo) {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// printRPS prints the report: what was run, on what, the table, the
// store work in detail, the CPU, notes, and the failures. With several
// rounds, each figure of the table is the median of the rounds', the
// ratio to bare the median of each round's ratio to that round's bare
// server, and the range column gives the lowest and highest of those.
func printRPS(w io.Writer, rep rpsReport) {
	o, m := rep.opts, rep.machine
	rounds := ""
	if o.rounds > 1 {
		rounds = fmt.Sprintf(", %d rounds (medians)", o.rounds)
	}
	fmt.Fprintf(w, "keyward rps: GET /api.php?Command=Lists.Get&<credential>=..., %d keep-alive connections, %v warm-up then %v measured per row%s\n", o.conns, o.warmup, o.dur, rounds)
	machine := fmt.Sprintf("machine: %s, %d cores (GOMAXPROCS %d), %s %s, %s", m.cpu, m.cores, m.procs, m.kernel, runtime.GOARCH, m.goVer)
	if len(rep.storeVersions) > 0 {
		machine += "; " + strings.Join(rep.storeVersions, ", ")
	}
	fmt.Fprintln(w, machine)
	fmt.Fprintln(w, "load generator and servers share the machine's cores (see go doc ./tools/load)")
	servers := "servers: bare = net/http alone (a child process, no authentication); memory = the example on its in-memory store"
	if rep.sharedName != "" {
		servers += fmt.Sprintf("; %s = the example on %s, prefix %s", rep.sharedName, strings.ReplaceAll(rep.sharedName, "+", " + "), rep.prefix)
	}
	fmt.Fprintln(w, servers)
	fmt.Fprintf(w, "answer: %d bytes, the example's Lists.Get with %d lists\n\n", rep.answerBytes, len(listNames()))

	var bare []loadResult
	for _, r := range rep.rows {
		if r.server == "bare" {
			bare = r.runs
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := "server\tcredential\treq/s\tvs bare\t"
	if o.rounds > 1 {
		header += "range\t"
	}
	fmt.Fprintln(tw, header+"p50\tp99\tRedis cmds/req\tPG xacts/req")
	for _, r := range rep.rows {
		var rps, ratios, p50, p99, redis, pg []float64
		for k, res := range r.runs {
			rps = append(rps, res.RPS)
			if k < len(bare) && bare[k].RPS > 0 {
				ratios = append(ratios, res.RPS/bare[k].RPS)
			}
			p50 = append(p50, float64(res.P50))
			p99 = append(p99, float64(res.P99))
			if c := res.Counts.Redis; c != nil && res.Requests > 0 {
				redis = append(redis, float64(c.Calls)/float64(res.Requests))
			}
			if c := res.Counts.PG; c != nil {
				pg = append(pg, c.Xacts)
			}
		}
		ratio, spread := "-", "-"
		if len(ratios) > 0 {
			ratio = fmt.Sprintf("%.2fx", median(ratios))
			spread = fmt.Sprintf("%.2f-%.2f", slices.Min(ratios), slices.Max(ratios))
		}
		line := fmt.Sprintf("%s\t%s\t%.0f\t%s\t", r.server, r.credential, median(rps), ratio)
		if o.rounds > 1 {
			line += spread + "\t"
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", line, ms(time.Duration(median(p50))), ms(time.Duration(median(p99))), twoDecimals(redis), twoDecimals(pg))
	}
	tw.Flush()

	var detail, cpu, warnings, failures []string
	for _, r := range rep.rows {
		var fails int64
		kinds := map[string]int64{}
		for k, res := range r.runs {
			name := r.server + " " + r.credential
			if o.rounds > 1 {
				name += fmt.Sprintf(" (round %d)", k+1)
			}
			fails += res.Fails
			for kind, n := range res.FailKinds {
				kinds[kind] += n
			}
			if d := countsDetail(res.Counts, res.Requests); d != "" {
				detail = append(detail, fmt.Sprintf("  %s, %d requests: %s", name, res.Requests, d))
			}
			if u := res.CPU; u != nil {
				cpu = append(cpu, "  "+name+": "+cpuLine(*u, res))
				if u.Other >= busyRest {
					warnings = append(warnings, fmt.Sprintf("%s: other processes used %.2f cores during the window: every figure of the row is skewed by them", name, u.Other))
				}
			}
			warnings = append(warnings, countsWarnings(name, res.Counts)...)
		}
		if fails > 0 {
			failures = append(failures, fmt.Sprintf("  %s %s: %d: %s", r.server, r.credential, fails, failSummary(kinds)))
		}
	}
	if len(detail) > 0 {
		fmt.Fprintln(w, "\nstore work per request, in detail:")
		for _, d := range detail {
			fmt.Fprintln(w, d)
		}
		fmt.Fprintln(w, "  (Redis: INFO commandstats before and after the window, this counter's own commands taken out; the commands")
		fmt.Fprintln(w, "   Lua scripts run count beside their evalsha. PostgreSQL: the database's transactions (pg_stat_database: one")
		fmt.Fprintln(w, "   per statement outside BEGIN, a block once) and, per table of the example's prefix, scans and rows written")
		fmt.Fprintln(w, "   (pg_stat_user_tables), each the slope against requests answered of readings every 250ms, the readings' own")
		fmt.Fprintln(w, "   transactions taken out)")
	}
	if len(cpu) > 0 {
		fmt.Fprintln(w, "\nCPU in each window, in cores (/proc; load generator: this tool, its PostgreSQL readings' backend included;")
		fmt.Fprintln(w, "stores: the Redis server and the example's PostgreSQL backends; the rest: anything else, give or take 0.1):")
		for _, c := range cpu {
			fmt.Fprintln(w, c)
		}
	}
	for _, n := range append(rep.notes, warnings...) {
		fmt.Fprintln(w, "note: "+n)
	}
	if len(failures) == 0 {
		fmt.Fprintln(w, "failures: none")
	} else {
		fmt.Fprintln(w, "failures (warm-up included):")
		for _, f := range failures {
			fmt.Fprintln(w, f)
		}
	}
}

// cpuLine is one window's CPU use.
func cpuLine(u cpuUse, res loadResult) string {
	perReq := "?"
	if res.RPS > 0 {
		perReq = fmt.Sprintf("%.1fµs", u.Server/res.RPS*1e6)
	}
	stores := ""
	if res.Counts.Redis != nil || res.Counts.PG != nil {
		stores = fmt.Sprintf(", stores %.2f", u.Stores)
	}
	return fmt.Sprintf("busy %.2f of %.2f (interrupts %.2f, stolen %.2f): load generator %.2f, server %.2f (%s per request)%s, the rest %.2f",
		u.Busy, u.Cores, u.IRQ, u.Steal, u.Generator, u.Server, perReq, stores, u.Other)
}

// twoDecimals is the median of vs with two decimals, or "-" for none.
func twoDecimals(vs []float64) string {
	if len(vs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", median(vs))
}

// countsDetail spells out one window's store work per request.
func countsDetail(c storeCounts, requests int64) string {
	var parts []string
	if c.Redis != nil {
		names := slices.Collect(maps.Keys(c.Redis.ByCommand))
		slices.SortFunc(names, func(a, b string) int {
			return cmp.Or(cmp.Compare(c.Redis.ByCommand[b], c.Redis.ByCommand[a]), strings.Compare(a, b))
		})
		var cmds []string
		for _, n := range names {
			cmds = append(cmds, n+" "+perRequest3(c.Redis.ByCommand[n], requests))
		}
		if len(cmds) == 0 {
			cmds = []string{"none"}
		}
		parts = append(parts, "Redis "+strings.Join(cmds, ", "))
	}
	if c.PG != nil {
		s := fmt.Sprintf("PostgreSQL %.3f xacts", c.PG.Xacts)
		names := slices.Sorted(maps.Keys(c.PG.Tables))
		for _, n := range names {
			t := c.PG.Tables[n]
			s += fmt.Sprintf(", %s %.3f scans", n, t.Scans)
			if math.Abs(t.Writes) >= 0.0005 {
				s += fmt.Sprintf(" %.3f rows written", t.Writes)
			}
		}
		s += fmt.Sprintf(" (slopes over %d readings)", c.PG.Samples)
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// countsWarnings says where a window's counts may hold others' work, or
// may miss the example's.
func countsWarnings(name string, c storeCounts) []string {
	var ws []string
	if r := c.Redis; r != nil {
		if r.Foreign > 0 {
			ws = append(ws, fmt.Sprintf("%s: %d other Redis clients sent commands during the window; Redis cmds/req counts theirs too", name, r.Foreign))
		}
		if r.Tagged == 0 {
			ws = append(ws, fmt.Sprintf("%s: no Redis client carries the example's client_name, so others' commands cannot be told apart", name))
		}
	}
	if p := c.PG; p != nil {
		if p.Foreign > 0 {
			ws = append(ws, fmt.Sprintf("%s: %d other PostgreSQL sessions on the database were active during the window; PG xacts/req counts theirs too (the per-table figures do not)", name, p.Foreign))
		}
		if p.Tagged == 0 {
			ws = append(ws, fmt.Sprintf("%s: no PostgreSQL session carries the example's application_name, so others' transactions cannot be told apart", name))
		}
	}
	return ws
}

// perRequest3 is n per request, three decimals.
func perRequest3(n, requests int64) string {
	if requests == 0 {
		return "?"
	}
	return fmt.Sprintf("%.3f", float64(n)/float64(requests))
}

// ms is a latency in milliseconds.
func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }
