package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
)

func TestParseBanner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line, want string
	}{
		{"keyward example serving http://127.0.0.1:41234/api.php and http://127.0.0.1:41234/api (in-memory store; plain http for local use only)", "http://127.0.0.1:41234"},
		{"keyward example serving http://[::1]:8080/api.php and http://[::1]:8080/api (store: postgres, prefix x_)", "http://[::1]:8080"},
		{"load bare serving http://127.0.0.1:40001/api.php (net/http alone, no authentication)", "http://127.0.0.1:40001"},
		{"  browser login: http://127.0.0.1:8080/login (administrators: http://127.0.0.1:8080/admin)", ""},
		{`time=... level=INFO msg="keyward example serving http://evil/api.php "`, ""},
	}
	for _, tc := range tests {
		got, ok := parseBanner(tc.line)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("parseBanner(%q) = %q, %v; want %q", tc.line, got, ok, tc.want)
		}
	}
}

func TestParseProcStatus(t *testing.T) {
	t.Parallel()
	status := "Name:\tserver\nVmPeak:\t 1849544 kB\nVmHWM:\t  190464 kB\nVmRSS:\t  133120 kB\nThreads:\t7\n"
	m, err := parseProcStatus([]byte(status))
	if err != nil || m.HWM != 190464<<10 || m.RSS != 133120<<10 {
		t.Fatalf("parseProcStatus = %+v, %v", m, err)
	}
	for _, bad := range []string{"Name:\tserver\n", "VmHWM:\t12 MB\nVmRSS:\t1 kB\n", "VmHWM:\tx kB\nVmRSS:\t1 kB\n"} {
		if _, err := parseProcStatus([]byte(bad)); err == nil {
			t.Errorf("parseProcStatus(%q): no error", bad)
		}
	}
	// This process's own status, where /proc exists.
	if _, err := os.Stat("/proc/self/status"); err == nil {
		if m, err := readProcMem(os.Getpid()); err != nil || m.RSS <= 0 || m.HWM < m.RSS {
			t.Errorf("readProcMem(self) = %+v, %v", m, err)
		}
	}
}

func TestEnv(t *testing.T) {
	t.Parallel()
	env := []string{"A=1", "KEYWARD_USER_PASSWORD=first", "B=", "KEYWARD_USER_PASSWORD=second=with=equals"}
	if got := lastEnv(env, "KEYWARD_USER_PASSWORD"); got != "second=with=equals" {
		t.Errorf("lastEnv = %q", got)
	}
	if !hasEnv(env, "B") || hasEnv(env, "C") || hasEnv(env, "KEYWARD") {
		t.Error("hasEnv")
	}
	var l envList
	if err := l.Set("GODEBUG=gctrace=1"); err != nil || l.String() != "GODEBUG=gctrace=1" {
		t.Errorf("envList.Set: %v, %q", err, l.String())
	}
	for _, bad := range []string{"GODEBUG", "=1"} {
		if err := l.Set(bad); err == nil {
			t.Errorf("envList.Set(%q): no error", bad)
		}
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run(context.Background(), nil, &out, &out); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "logins") {
		t.Errorf("no mode: %v\n%s", err, out.String())
	}
	if err := run(context.Background(), []string{"nosuchmode"}, &out, &out); err == nil || errors.Is(err, flag.ErrHelp) {
		t.Errorf("unknown mode: %v", err)
	}
	if err := run(context.Background(), []string{"logins", "-n", "0"}, &out, &out); err == nil {
		t.Error("-n 0 accepted")
	}
}

// TestLoginsSmoke runs the logins mode end to end on a few logins: it
// builds the example, starts it, and reads its answers and memory. It
// checks what the tool reports, never how fast.
func TestLoginsSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc: the tool reads the child's memory there")
	}
	var out, errs bytes.Buffer
	err := run(t.Context(), []string{"logins", "-n", "4", "-json", "-pkg", "./example"}, &out, &errs)
	if err != nil {
		t.Fatalf("logins: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errs.String())
	}
	var res loginsResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("%v in %q", err, out.String())
	}
	if res.N != 4 || res.OK != 4 || res.Answers["200 Success"] != 4 || res.PeakRSS <= 0 || res.Samples < 1 {
		t.Fatalf("result %+v", res)
	}
}
