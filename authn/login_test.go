package authn

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
)

// loginAPI is an API on env with a helper to log in from an address.
type loginAPI struct {
	*testEnv
	api *API
}

func newLoginAPI(t *testing.T, edit func(*Config)) *loginAPI {
	t.Helper()
	env := newTestEnv(t, edit)
	return &loginAPI{testEnv: env, api: NewAPI(env.a, APIConfig{})}
}

// apiAnswer is one decoded API answer.
type apiAnswer struct {
	status     int
	code       int
	ok         bool
	body       string
	retryAfter string
	fields     map[string]any
}

// call posts the form from ip.
func (l *loginAPI) call(ip, form string) apiAnswer {
	l.t.Helper()
	r := postForm(form)
	r.RemoteAddr = ip + ":40000"
	if strings.Contains(ip, ":") {
		r.RemoteAddr = "[" + ip + "]:40000"
	}
	rec := httptest.NewRecorder()
	l.api.ServeHTTP(rec, r)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		l.t.Fatalf("not JSON: %s", rec.Body)
	}
	code, _ := body["ErrorCode"].(float64)
	ok, _ := body["Success"].(bool)
	return apiAnswer{status: rec.Code, code: int(code), ok: ok, body: rec.Body.String(), retryAfter: rec.Header().Get("Retry-After"), fields: body}
}

const aliceLogin = "Command=User.Login&Username=alice&DisableCaptcha=true&Password="

// captchaAnswer makes a captcha through Captcha.New and reads its answer
// from the store, as a person reads the image.
func (l *loginAPI) captchaAnswer(ip string) (id, digits string) {
	l.t.Helper()
	a := l.call(ip, "Command=Captcha.New")
	if !a.ok {
		l.t.Fatalf("Captcha.New: %s", a.body)
	}
	id = a.fields["CaptchaID"].(string)
	if a.fields["ImageURL"] != "/captcha/"+id+".png" || a.fields["AudioURL"] != "/captcha/"+id+".wav" {
		l.t.Fatalf("URLs: %v", a.fields)
	}
	c, err := l.mem.Challenge(context.Background(), id)
	if err != nil {
		l.t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range c.Digits {
		b.WriteByte('0' + d)
	}
	return id, b.String()
}

func TestThrottleThresholds(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, func(c *Config) { c.CaptchaPolicy = CaptchaNever })
	const ip = "192.0.2.10"
	for i := 1; i <= 6; i++ {
		if a := l.call(ip, aliceLogin+"wrong"); a.code != 3 {
			t.Fatalf("attempt %d: %s", i, a.body)
		}
	}
	// The seventh: refused before the password is looked at, right or not.
	wrong := l.call(ip, aliceLogin+"wrong")
	right := l.call(ip, aliceLogin+alicePassword)
	for _, a := range []apiAnswer{wrong, right} {
		if a.status != 429 || a.code != 429 || a.retryAfter == "" {
			t.Fatalf("locked: %d %s Retry-After %q", a.status, a.body, a.retryAfter)
		}
	}
	if wrong.body != right.body || wrong.retryAfter != right.retryAfter {
		t.Fatalf("locked answers differ:\n%s\n%s", wrong.body, right.body)
	}
	if wrong.retryAfter != "900" {
		t.Fatalf("Retry-After %q, want the whole 15 minute window", wrong.retryAfter)
	}
	// Another address, and another username from this one, are not locked.
	if a := l.call("192.0.2.11", aliceLogin+alicePassword); !a.ok {
		t.Fatalf("other address: %s", a.body)
	}
	if a := l.call(ip, "Command=Admin.Login&DisableCaptcha=true&Username=root&Password="+rootPassword); !a.ok {
		t.Fatalf("other username: %s", a.body)
	}
	// Case and spaces do not make a fresh counter (CVE-2025-6004).
	if a := l.call(ip, "Command=User.Login&DisableCaptcha=true&Username=+ALICE+&Password=x"); a.status != 429 {
		t.Fatalf("ALICE: %s", a.body)
	}
	// The window ends; the counter starts again.
	l.clock.Advance(15 * time.Minute)
	if a := l.call(ip, aliceLogin+alicePassword); !a.ok {
		t.Fatalf("after the window: %s", a.body)
	}
	if !strings.Contains(l.logBuf.String(), "locked_out") {
		t.Fatal("lockout not logged")
	}
}

func TestThrottleSuccessResets(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, func(c *Config) { c.CaptchaPolicy = CaptchaNever })
	const ip = "192.0.2.20"
	for range 3 {
		for range 5 {
			if a := l.call(ip, aliceLogin+"wrong"); a.code != 3 {
				t.Fatalf("%s", a.body)
			}
		}
		if a := l.call(ip, aliceLogin+alicePassword); !a.ok {
			t.Fatalf("the sixth attempt, right: %s", a.body)
		}
	}
}

func TestThrottlePerIPAndAccount(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, func(c *Config) {
		c.CaptchaPolicy = CaptchaNever
		c.Throttle = ThrottleConfig{PerUserIP: 100, PerIP: 5, PerAccount: 8}
	})
	// One address guessing many usernames.
	for i := range 5 {
		l.call("192.0.2.30", "Command=User.Login&Username=user"+string(rune('a'+i))+"&Password=x")
	}
	if a := l.call("192.0.2.30", "Command=User.Login&Username=other&Password=x"); a.status != 429 {
		t.Fatalf("per address: %s", a.body)
	}
	// And a key login from it too: the address is what is counted.
	if a := l.call("192.0.2.30", "Command=User.Login&apikey=kw_x"); a.status != 429 {
		t.Fatalf("key login from a locked address: %s", a.body)
	}
	// One username guessed from many addresses.
	for i := range 8 {
		l.call("198.51.100."+string(rune('1'+i)), aliceLogin+"wrong")
	}
	if a := l.call("203.0.113.1", aliceLogin+alicePassword); a.status != 429 {
		t.Fatalf("per account: %s", a.body)
	}
}

// An IPv6 client holds a /64: every address in it shares one counter.
func TestThrottleIPv6Prefix(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, func(c *Config) { c.CaptchaPolicy = CaptchaNever })
	for i := range 6 {
		l.call("2001:db8:1:2::"+string(rune('a'+i)), aliceLogin+"wrong")
	}
	if a := l.call("2001:db8:1:2:ffff::1", aliceLogin+alicePassword); a.status != 429 {
		t.Fatalf("same /64: %s", a.body)
	}
	if a := l.call("2001:db8:1:3::1", aliceLogin+alicePassword); !a.ok {
		t.Fatalf("another /64: %s", a.body)
	}
}

// Concurrent guesses never get more attempts through than the limit.
func TestThrottleConcurrent(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, func(c *Config) { c.CaptchaPolicy = CaptchaNever })
	var checked, throttled atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			r := postForm(aliceLogin + "wrong")
			r.RemoteAddr = "192.0.2.40:1"
			rec := httptest.NewRecorder()
			l.api.ServeHTTP(rec, r)
			switch {
			case rec.Code == 429:
				throttled.Add(1)
			case strings.Contains(rec.Body.String(), `"ErrorCode":3`):
				checked.Add(1)
			}
		})
	}
	wg.Wait()
	if checked.Load() > 6 || checked.Load()+throttled.Load() != 50 {
		t.Fatalf("%d of 50 concurrent wrong logins had their password checked (limit 6), %d throttled", checked.Load(), throttled.Load())
	}
}

// Two authenticators on one store count together.
func TestThrottleShared(t *testing.T) {
	t.Parallel()
	one := newLoginAPI(t, func(c *Config) { c.CaptchaPolicy = CaptchaNever })
	two := &loginAPI{testEnv: one.testEnv}
	a2, err := New(Config{Store: one.mem, Now: one.clock.Now, Argon2: cheapArgon2, CaptchaPolicy: CaptchaNever, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	two.api = NewAPI(a2, APIConfig{})
	for i := range 6 {
		l := one
		if i%2 == 1 {
			l = two
		}
		l.call("192.0.2.50", aliceLogin+"wrong")
	}
	if a := two.call("192.0.2.50", aliceLogin+alicePassword); a.status != 429 {
		t.Fatalf("the second instance let the seventh attempt through: %s", a.body)
	}
}

func TestCaptchaPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		policy         CaptchaPolicy
		disableCaptcha bool
		failures       int
		want           bool
	}{
		{CaptchaOcteth, false, 0, true},
		{CaptchaOcteth, true, 0, false},
		{CaptchaOcteth, true, 2, false},
		{CaptchaOcteth, true, 3, true}, // the throttle overrules DisableCaptcha
		{CaptchaAlways, true, 0, true},
		{CaptchaNever, false, 5, false},
		{CaptchaAfterFailures, false, 2, false},
		{CaptchaAfterFailures, false, 3, true},
	}
	for _, tc := range tests {
		l := newLoginAPI(t, func(c *Config) { c.CaptchaPolicy = tc.policy })
		at := attempt{failures: int64(tc.failures)}
		if got := l.a.captchaRequired(LoginRequest{DisableCaptcha: tc.disableCaptcha}, at); got != tc.want {
			t.Errorf("policy %d, DisableCaptcha %v, %d failures: %v", tc.policy, tc.disableCaptcha, tc.failures, got)
		}
		// A dialect without a captcha parameter never gets one.
		if l.a.captchaRequired(LoginRequest{NoCaptcha: true}, at) {
			t.Errorf("policy %d asked WMD for a captcha", tc.policy)
		}
	}
}

func TestCaptchaLogin(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, nil) // CaptchaOcteth
	const ip = "192.0.2.60"
	login := "Command=User.Login&Username=alice&Password="
	// No DisableCaptcha: a captcha is needed. Missing: 4. (Each attempt
	// still counts toward the throttle's limit of 6.)
	for range 2 {
		if a := l.call(ip, login+alicePassword); a.code != 4 {
			t.Fatalf("no captcha: %s", a.body)
		}
	}
	// Wrong: 5, before the password is looked at, so a right password
	// with a wrong captcha says nothing about the password.
	id, _ := l.captchaAnswer(ip)
	wrongCaptchaRightPw := l.call(ip, login+alicePassword+"&CaptchaID="+id+"&Captcha=000000x")
	id, _ = l.captchaAnswer(ip)
	wrongCaptchaWrongPw := l.call(ip, login+"wrong&CaptchaID="+id+"&Captcha=000000x")
	if wrongCaptchaRightPw.code != 5 || wrongCaptchaRightPw.body != wrongCaptchaWrongPw.body {
		t.Fatalf("wrong captcha: %s / %s", wrongCaptchaRightPw.body, wrongCaptchaWrongPw.body)
	}
	// Right: the login goes on. The solved captcha does not work twice.
	id, digits := l.captchaAnswer(ip)
	if a := l.call(ip, login+alicePassword+"&CaptchaID="+id+"&Captcha="+digits); !a.ok {
		t.Fatalf("right captcha: %s", a.body)
	}
	if a := l.call(ip, login+alicePassword+"&CaptchaID="+id+"&Captcha="+digits); a.code != 5 {
		t.Fatalf("solved captcha reused: %s", a.body)
	}
	// With DisableCaptcha=true, after 3 failures a captcha is needed again.
	const ip2 = "192.0.2.61"
	for range 3 {
		if a := l.call(ip2, aliceLogin+"wrong"); a.code != 3 {
			t.Fatalf("%s", a.body)
		}
	}
	if a := l.call(ip2, aliceLogin+alicePassword); a.code != 4 {
		t.Fatalf("after 3 failures with DisableCaptcha: %s", a.body)
	}
	id, digits = l.captchaAnswer(ip2)
	if a := l.call(ip2, aliceLogin+alicePassword+"&CaptchaID="+id+"&Captcha="+digits); !a.ok {
		t.Fatalf("with the captcha: %s", a.body)
	}
	// Key logins never need one.
	key, _ := l.key(l.alice)
	if a := l.call(ip, "Command=User.Login&apikey="+key); !a.ok {
		t.Fatalf("key login: %s", a.body)
	}
}

func TestCaptchaNewLimited(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, nil)
	for i := range captchasPerIP {
		if a := l.call("192.0.2.70", "Command=Captcha.New"); !a.ok {
			t.Fatalf("captcha %d: %s", i, a.body)
		}
	}
	if a := l.call("192.0.2.70", "Command=Captcha.New"); a.status != 429 || a.retryAfter == "" {
		t.Fatalf("past the limit: %s", a.body)
	}
	// Drawing is limited too: images cost CPU.
	id, _ := l.captchaAnswer("192.0.2.71")
	h := l.a.CaptchaHandler()
	var last int
	for range captchaDrawsPerIP + 1 {
		r := httptest.NewRequest("GET", "/captcha/"+id+".png", nil)
		r.RemoteAddr = "192.0.2.72:1"
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		last = rec.Code
	}
	if last != 429 {
		t.Fatalf("drawing past the limit: %d", last)
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	})
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct", "203.0.113.5:1234", nil, "203.0.113.5"},
		// A client cannot set its own address.
		{"untrusted peer's header ignored", "203.0.113.5:1234", []string{"1.2.3.4"}, "203.0.113.5"},
		{"through a trusted proxy", "10.0.0.2:80", []string{"203.0.113.7"}, "203.0.113.7"},
		// The client prepends a fake; the proxy appends the truth.
		{"spoofed left of the real one", "10.0.0.2:80", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"two trusted hops", "10.0.0.2:80", []string{"203.0.113.7, 10.0.0.9"}, "203.0.113.7"},
		{"several headers", "10.0.0.2:80", []string{"1.2.3.4", "203.0.113.8"}, "203.0.113.8"},
		{"garbage stops the walk", "10.0.0.2:80", []string{"203.0.113.7, nonsense, 10.0.0.9"}, "10.0.0.9"},
		{"only proxies", "10.0.0.2:80", []string{"10.1.1.1"}, "10.1.1.1"},
		{"IPv6 peer", "[2001:db8::1]:80", nil, "2001:db8::1"},
		{"IPv4-mapped", "[::ffff:203.0.113.9]:80", nil, "203.0.113.9"},
		{"trusted IPv6 proxy", "[fd00::1]:80", []string{"2001:db8::2"}, "2001:db8::2"},
		{"no port", "203.0.113.5", nil, "203.0.113.5"},
		{"unreadable, no proxy header", "@", nil, "invalid IP"},
		// A unix socket peer is a local proxy: its header is believed.
		{"unix socket proxy", "@", []string{"203.0.113.10"}, "203.0.113.10"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := env.a.ClientIP(r).String(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// The login events: what happened, to whom, from where; never a secret.
func TestLoginEvents(t *testing.T) {
	t.Parallel()
	l := newLoginAPI(t, func(c *Config) { c.CaptchaPolicy = CaptchaNever })
	l.call("192.0.2.80", aliceLogin+"wrong")
	l.call("192.0.2.80", aliceLogin+alicePassword)
	var got []string
	for _, e := range l.events.events {
		if e.Kind == event.LoginFailed || e.Kind == event.LoginOK {
			got = append(got, string(e.Kind)+" "+e.Username+" "+e.ClientIP+" "+e.Reason)
		}
	}
	want := []string{"login_failed alice 192.0.2.80 wrong password", "login_ok alice 192.0.2.80 password"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("events %q, want %q", got, want)
	}
}

// A name that names no account is never logged as typed (it is often a
// password typed into the wrong box): events carry a short keyed hash of
// it, the same for the same name. A real account's username is logged.
func TestUnknownNamesLoggedHashed(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.CaptchaPolicy = CaptchaNever })
	typed := "Hunter2-my-actual-password"
	var names []string
	for _, login := range []string{typed, " " + strings.ToUpper(typed), "alice"} {
		env.events.reset()
		_, err := env.a.Login(context.Background(), LoginRequest{Scope: scopes.User, Username: login, Password: "wrong"})
		if err == nil {
			t.Fatal("a wrong password logged in")
		}
		e := env.events.last(event.LoginFailed)
		names = append(names, e.Username)
	}
	if strings.Contains(env.logBuf.String(), strings.ToLower(typed)) || strings.Contains(env.logBuf.String(), "Hunter2") {
		t.Fatalf("the unknown name is in the log: %s", env.logBuf.String())
	}
	if !strings.HasPrefix(names[0], "?") || names[0] != names[1] || len(names[0]) > 20 {
		t.Fatalf("unknown names logged as %q and %q, want one short keyed hash", names[0], names[1])
	}
	if names[2] != "alice" {
		t.Fatalf("a real account logged as %q", names[2])
	}
}
