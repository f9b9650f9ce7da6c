package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// benchPattern selects the in-process benchmarks the rps mode's -bench
// runs: the floor DESIGN.md names, and the middleware on the API key and
// SessionID paths, serial.
const (
	benchPattern = `BenchmarkFloor/Serial$|BenchmarkMiddleware/(APIKey|SessionID)$`
	benchFloor   = "BenchmarkFloor/Serial"
)

// benchResult is one benchmark's runs.
type benchResult struct {
	name                   string
	nsPerOp, bytes, allocs []float64
}

// parseBench reads go test -bench output: lines such as
// "BenchmarkFloor/Serial-2  1000000  714.5 ns/op  560 B/op  4 allocs/op",
// one per run, in the order the benchmarks first appear.
func parseBench(out string) []*benchResult {
	var rs []*benchResult
	byName := map[string]*benchResult{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i] // the -GOMAXPROCS suffix
			}
		}
		r := byName[name]
		var ns, b, a float64
		seen := false
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			switch f[i+1] {
			case "ns/op":
				ns, seen = v, true
			case "B/op":
				b = v
			case "allocs/op":
				a = v
			}
		}
		if !seen {
			continue
		}
		if r == nil {
			r = &benchResult{name: name}
			byName[name] = r
			rs = append(rs, r)
		}
		r.nsPerOp = append(r.nsPerOp, ns)
		r.bytes = append(r.bytes, b)
		r.allocs = append(r.allocs, a)
	}
	return rs
}

// median is the middle value of vs (the mean of the two middle ones for
// an even count), or 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// runBench runs the benchmarks count times in the module at root, and
// prints each one's median and its ratio to the floor's median.
func runBench(ctx context.Context, root string, count int, stdout io.Writer) error {
	args := []string{"test", "-run", "^$", "-bench", benchPattern, "-benchmem", "-count", strconv.Itoa(count), "./authn"}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	rs := parseBench(out.String())
	fmt.Fprintf(stdout, "\nin-process: go test -run '^$' -bench '%s' -benchmem -count %d ./authn\n", benchPattern, count)
	fmt.Fprintln(stdout, "(the median of each; the ratio is to BenchmarkFloor/Serial's median of this same run)")
	return printBench(stdout, rs)
}

// printBench prints the medians and their ratios to the floor's.
func printBench(w io.Writer, rs []*benchResult) error {
	i := slices.IndexFunc(rs, func(r *benchResult) bool { return r.name == benchFloor })
	if i < 0 {
		return fmt.Errorf("no %s in the benchmark output", benchFloor)
	}
	floor := median(rs[i].nsPerOp)
	ordered := append([]*benchResult{rs[i]}, slices.Delete(slices.Clone(rs), i, i+1)...)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\truns\tns/op\tvs floor\tB/op\tallocs/op")
	for _, r := range ordered {
		ns := median(r.nsPerOp)
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.2fx\t%.0f\t%.0f\n", r.name, len(r.nsPerOp), ns, ns/floor, median(r.bytes), median(r.allocs))
	}
	return tw.Flush()
}
