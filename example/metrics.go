package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/store"
)

// metrics are the example's Prometheus metrics, served at GET /metrics.
// keyward takes no metrics dependency: the example feeds them from
// outside, from authn's events (Config.OnEvent), from the principal each
// request was served as (its commands, and its pages behind the
// middleware), and from the store's calls, each timed (store.go). Labels
// take only fixed values: a scope, a credential kind, a store operation,
// or an event's reason, which is a fixed phrase; never a username.
type metrics struct {
	registry      *prometheus.Registry
	logins        *prometheus.CounterVec
	lockouts      prometheus.Counter
	captchas      prometheus.Counter
	storeFailures prometheus.Counter
	storeCalls    *prometheus.HistogramVec
	requests      *prometheus.CounterVec
}

// newMetrics registers the metrics on a registry of their own, with the
// Go runtime's and the process's beside them.
func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_logins_total",
			Help: "Logins, by scope, result (ok, failed) and reason (the method for ok, why for failed).",
		}, []string{"scope", "result", "reason"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyward_lockouts_total",
			Help: "Login attempts the throttle refused (429).",
		}),
		captchas: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyward_captchas_demanded_total",
			Help: "Logins the throttle asked for a captcha.",
		}),
		storeFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyward_store_failures_total",
			Help: "Store failures keyward reported (requests answered 503, background writes that failed).",
		}),
		storeCalls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "keyward_store_call_duration_seconds",
			Help:    "Store calls, by operation and result (ok, error), timed; not kept for the in-memory store.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 4, 9), // 50µs to 3.3s
		}, []string{"op", "result"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keyward_requests_total",
			Help: "Requests by credential kind and outcome: ok counts the example's own commands and pages served as that principal (keyward's built-in commands are counted as logins, not here); refused counts every request authn refused while resolving its credentials (401, 400, 403 for a cross-site cookie, 503).",
		}, []string{"credential", "outcome"}),
	}
	m.registry.MustRegister(m.logins, m.lockouts, m.captchas, m.storeFailures, m.storeCalls, m.requests,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// handler serves the metrics in Prometheus's text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// event counts one of authn's events (authn.Config.OnEvent).
func (m *metrics) event(_ context.Context, e event.Event) {
	switch e.Kind {
	case event.LoginOK:
		m.logins.WithLabelValues(scopeLabel(e), "ok", e.Reason).Inc() // the login's method
	case event.LoginFailed:
		m.logins.WithLabelValues(scopeLabel(e), "failed", e.Reason).Inc()
	case event.LockedOut:
		m.lockouts.Inc()
	case event.CaptchaDemanded:
		m.captchas.Inc()
	case event.StoreFailed:
		m.storeFailures.Inc()
		if e.Method != "" { // a request refused for it
			m.requests.WithLabelValues(e.Method, "refused").Inc()
		}
	case event.Refused:
		credential := e.Method
		if credential == "" {
			credential = "none" // malformed before any credential was read
		}
		m.requests.WithLabelValues(credential, "refused").Inc()
	}
}

// scopeLabel is an event's scope, "unknown" for a name that named no
// account.
func scopeLabel(e event.Event) string {
	if !e.Account.Scope.Valid() {
		return "unknown"
	}
	return e.Account.Scope.String()
}

// served counts a request served as p.
func (m *metrics) served(p authn.Principal) {
	credential := p.Method.String()
	if !p.Authenticated() {
		credential = "none"
	}
	m.requests.WithLabelValues(credential, "ok").Inc()
}

// command wraps a command's Run so that each call it answers counts as
// served as its principal.
func (m *metrics) command(cmd command.Command) command.Command {
	run := cmd.Run
	cmd.Run = func(c *command.Call) (command.Fields, error) {
		m.served(c.Principal)
		return run(c)
	}
	return cmd
}

// timeStore is the storewrap hook that times every store call. A record
// not found is an answer, not an error.
func (m *metrics) timeStore(_ context.Context, op string, call func() error) error {
	start := time.Now()
	err := call()
	result := "ok"
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		result = "error"
	}
	m.storeCalls.WithLabelValues(op, result).Observe(time.Since(start).Seconds())
	return err
}
