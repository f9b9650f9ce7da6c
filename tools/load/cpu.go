package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The load generator, the servers and the stores share the machine's
// cores, and so does anything else running on it. So each window's
// report says where the CPU went: the machine's time (/proc/stat), this
// process's (the load generator), the measured server's and the stores'
// (/proc/<pid>/stat: Redis's server process, the example's PostgreSQL
// backends), and the rest, which on a quiet machine is near zero. A rest
// of a fifth of a core or more means the figures shared the machine with
// something else, and the report says so. The machine's busy time counts
// the interrupts (irq, softirq) beside the processes' time, because a
// process's time can hold the interrupt work done on its behalf (the
// loopback's packets): on a quiet machine the processes here add up to
// more than the machine's process time, and to about its busy time.

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on every
// Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// busyRest is the rest, in cores, from which the report warns. The
// processes' times and the machine's are sampled apart, and on a quiet
// machine they disagree by up to about a tenth of a core either way.
const busyRest = 0.2

// cpuSnap is the CPU time used so far, in ticks.
type cpuSnap struct {
	// The machine's, all cores summed: in processes (user, nice,
	// system), in interrupts (irq, softirq), stolen by the hypervisor,
	// and all of it, idle included.
	tasks, irq, steal, total int64
	self, srv                int64
	// stores and counters are the store processes' times, by pid: the
	// example's, and the ones that serve this tool's counting.
	stores, counters map[int]int64
}

// procSet names the store processes on this machine that a window's CPU
// report counts: those that serve the example, and those that serve this
// tool's counting (its PostgreSQL readings' backend), which the report
// adds to the load generator's.
type procSet struct {
	stores, counters []int
}

// cpuUse is a window's CPU time, in cores (1.0 is one core all along).
type cpuUse struct {
	// Busy is the machine's time in processes and interrupts, split
	// into the load generator's (its counters' store processes
	// included), the server's, the stores' and the rest; IRQ is the
	// interrupts' part of it.
	Busy, Generator, Server, Stores, Other float64
	IRQ, Steal                             float64
	// Cores is how many cores /proc/stat counted in the window.
	Cores float64
}

// readCPU reads the machine's CPU times and the processes': this one, the
// server, and the stores' (a store process that cannot be read is left
// out).
func readCPU(serverPID int, procs procSet) (cpuSnap, error) {
	var s cpuSnap
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return s, err
	}
	if s, err = parseProcStat(string(b)); err != nil {
		return s, err
	}
	if s.self, err = procCPU(os.Getpid()); err != nil {
		return s, err
	}
	if s.srv, err = procCPU(serverPID); err != nil {
		return s, err
	}
	s.stores, s.counters = procTimes(procs.stores), procTimes(procs.counters)
	return s, nil
}

// procTimes reads the processes' times, leaving out those it cannot.
func procTimes(pids []int) map[int]int64 {
	m := make(map[int]int64, len(pids))
	for _, pid := range pids {
		if t, err := procCPU(pid); err == nil {
			m[pid] = t
		}
	}
	return m
}

// procDelta is the time the processes read in both a and b used between
// them.
func procDelta(a, b map[int]int64) int64 {
	var d int64
	for pid, t := range b {
		if t0, ok := a[pid]; ok {
			d += t - t0
		}
	}
	return d
}

// procCPU is a process's user and system time, in ticks.
func procCPU(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	return parsePIDStat(string(b))
}

// procName is a process's command name (/proc/<pid>/comm), or "".
func procName(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// parseProcStat reads /proc/stat's first line, "cpu  user nice system idle
// iowait irq softirq steal guest guest_nice" (guest time is in user
// already).
func parseProcStat(s string) (cpuSnap, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return cpuSnap{}, errors.New("/proc/stat: no cpu line")
	}
	var v [8]int64
	for i := range v {
		var err error
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return cpuSnap{}, fmt.Errorf("/proc/stat: %q", line)
		}
	}
	c := cpuSnap{tasks: v[0] + v[1] + v[2], irq: v[5] + v[6], steal: v[7]}
	c.total = c.tasks + c.irq + c.steal + v[3] + v[4]
	return c, nil
}

// parsePIDStat reads utime and stime, the 14th and 15th fields of
// /proc/<pid>/stat, counted after the command name, which is in
// parentheses and may hold spaces.
func parsePIDStat(s string) (int64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("/proc/pid/stat: no command name")
	}
	f := strings.Fields(s[i+1:]) // from field 3, the state
	if len(f) < 13 {
		return 0, errors.New("/proc/pid/stat: too few fields")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/pid/stat: bad utime or stime %q %q", f[11], f[12])
	}
	return utime + stime, nil
}

// cpuBetween is the CPU use between two snapshots, over the window d. A
// store process counts if both snapshots read it.
func cpuBetween(a, b cpuSnap, d time.Duration) cpuUse {
	if d <= 0 {
		return cpuUse{}
	}
	cores := func(ticks int64) float64 { return float64(ticks) * float64(clockTick) / float64(d) }
	u := cpuUse{
		Busy:      cores(b.tasks - a.tasks + b.irq - a.irq),
		Generator: cores(b.self - a.self + procDelta(a.counters, b.counters)),
		Server:    cores(b.srv - a.srv),
		Stores:    cores(procDelta(a.stores, b.stores)),
		IRQ:       cores(b.irq - a.irq),
		Steal:     cores(b.steal - a.steal),
		Cores:     cores(b.total - a.total),
	}
	u.Other = max(u.Busy-u.Generator-u.Server-u.Stores, 0)
	return u
}
