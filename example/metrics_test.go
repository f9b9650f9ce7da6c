package main

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/keyward/keyward/authn/command"
)

// scrape reads /metrics as Prometheus would, and returns the value of
// each sample line, by its name and labels as printed.
func (ta *testApp) scrape() map[string]float64 {
	ta.t.Helper()
	rec := httptest.NewRecorder()
	ta.h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		ta.t.Fatalf("/metrics: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	samples := map[string]float64{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			ta.t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// The scrape counts logins by scope, result and reason, throttle actions,
// and requests by credential kind and outcome; no username appears.
func TestMetrics(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	key, _ := ta.userKey() // one password login, and a key
	mustFail(t, ta.send(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", "wrong", "DisableCaptcha", "true")), 200, 3)
	mustFail(t, ta.send(urlencoded("Command", "User.Login", "Username", "nobody@example.com", "Password", "wrong", "DisableCaptcha", "true")), 200, 3)
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "APIKey", key)))
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "APIKey", key)))
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", strings.Repeat("A", 43))), 401, 401)

	got := ta.scrape()
	for sample, want := range map[string]float64{
		`keyward_logins_total{reason="password",result="ok",scope="user"}`: 1,
		`keyward_requests_total{credential="apikey",outcome="ok"}`:         2,
		`keyward_requests_total{credential="session",outcome="refused"}`:   1,
		`keyward_store_failures_total`:                                     0,
		`keyward_lockouts_total`:                                           0,
	} {
		if got[sample] != want {
			t.Errorf("%s = %v, want %v", sample, got[sample], want)
		}
	}
	failed := 0.0
	for sample, v := range got {
		if strings.HasPrefix(sample, "keyward_logins_total{") && strings.Contains(sample, `result="failed"`) {
			failed += v
		}
		if strings.Contains(sample, "example.com") {
			t.Errorf("a name in the metrics: %s", sample)
		}
	}
	if failed != 2 {
		t.Errorf("failed logins: %v, want 2 (%v)", failed, got)
	}
	if _, ok := got[`keyward_logins_total{reason="password",result="ok",scope="user"}`]; !ok {
		t.Fatal("no login counted")
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}
}

// On a real store every call is timed, by operation.
func TestMetricsStoreLatency(t *testing.T) {
	t.Parallel()
	ta := instance(t, sharedDeployment(t))
	ta.userSession()
	got := ta.scrape()
	for _, op := range []string{"AccountByLogin", "CreateSession"} {
		if got[`keyward_store_call_duration_seconds_count{op="`+op+`",result="ok"}`] < 1 {
			t.Errorf("%s was not timed: %v", op, got)
		}
	}
}
