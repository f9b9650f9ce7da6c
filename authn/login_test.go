package authn

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/captcha"
	"github.com/keyward/keyward/internal/storewrap"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// captchaAnswer makes a captcha for the client at ip and reads its answer
// from the store, as a person reads the image.
func (e *testEnv) captchaAnswer(ip string) (id, digits string) {
	e.t.Helper()
	id, err := e.a.NewCaptcha(context.Background(), from(ip))
	if err != nil {
		e.t.Fatalf("NewCaptcha: %v", err)
	}
	c, err := e.mem.Challenge(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range c.Digits {
		b.WriteByte('0' + d)
	}
	return id, b.String()
}

// Every way a login is refused, and what a good one answers. Each refusal
// is its own sentinel, for a dialect to number.
func TestLoginErrors(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	hash, err := env.a.hashPassword(ctx, "off's own password")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "off", PasswordHash: hash, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	userKey, _ := env.key(env.alice)
	rootKey, _ := env.key(env.root)
	user := func(name, pw string) LoginRequest {
		return LoginRequest{Scope: scopes.User, Username: name, Password: pw, NoCaptcha: true}
	}
	tests := []struct {
		name   string
		req    LoginRequest
		want   error // nil: a login
		status int
		scope  scopes.Scope
		method string
	}{
		{"password", user("alice", alicePassword), nil, 200, scopes.User, "password"},
		{"email, odd case and space", user(" Alice@Example.COM ", alicePassword), nil, 200, scopes.User, "password"},
		{"admin", LoginRequest{Scope: scopes.Admin, Username: "root", Password: rootPassword, NoCaptcha: true}, nil, 200, scopes.Admin, "password"},
		{"user key", LoginRequest{Scope: scopes.User, APIKey: userKey}, nil, 200, scopes.User, "apikey"},
		{"admin key", LoginRequest{Scope: scopes.Admin, APIKey: rootKey}, nil, 200, scopes.Admin, "adminapikey"},
		{"static admin key", LoginRequest{Scope: scopes.Admin, APIKey: staticKey}, nil, 200, scopes.Admin, "adminapikey"},
		{"missing username", user("", alicePassword), ErrMissingUsername, 400, 0, ""},
		{"missing password", user("alice", ""), ErrMissingPassword, 400, 0, ""},
		// Every bad credential has one answer: nothing tells which.
		{"wrong password", user("alice", "wrong"), ErrInvalidCredential, 401, 0, ""},
		{"unknown user", user("mallory", alicePassword), ErrInvalidCredential, 401, 0, ""},
		{"disabled", user("off", "off's own password"), ErrInvalidCredential, 401, 0, ""},
		{"user at admin login", LoginRequest{Scope: scopes.Admin, Username: "alice", Password: alicePassword, NoCaptcha: true}, ErrInvalidCredential, 401, 0, ""},
		{"unknown key", LoginRequest{Scope: scopes.User, APIKey: "kw_nope"}, ErrInvalidCredential, 401, 0, ""},
		// A key logs in to its own scope only.
		{"user key at admin login", LoginRequest{Scope: scopes.Admin, APIKey: userKey}, ErrInvalidCredential, 401, 0, ""},
		{"admin key at user login", LoginRequest{Scope: scopes.User, APIKey: rootKey}, ErrInvalidCredential, 401, 0, ""},
		{"static key at user login", LoginRequest{Scope: scopes.User, APIKey: staticKey}, ErrInvalidCredential, 401, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := env.login("192.0.2.1", tc.req)
			if statusOf(err) != tc.status || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err %v (status %d), want %v (%d)", err, statusOf(err), tc.want, tc.status)
			}
			if tc.want != nil {
				if res.SessionID.Reveal() != "" {
					t.Fatal("a refused login made a session")
				}
				return
			}
			if res.Account.Scope != tc.scope || res.Method != tc.method || !res.At.Equal(env.clock.Now()) || res.TFAEnabled || res.TFAPassed {
				t.Fatalf("result %+v", res)
			}
			p := env.serve(get("SessionID=" + res.SessionID.Reveal())).principal
			if p.Account() != res.Account.Ref() || p.Login != tc.method || !p.AuthenticatedAt.Equal(res.At) {
				t.Fatalf("the session's principal %+v", p)
			}
		})
	}
	if _, err := env.a.Login(ctx, LoginRequest{Username: "alice", Password: alicePassword}); err == nil {
		t.Fatal("a login without a scope")
	}
}

// Every login makes a new session: a session ID known before the login is
// worth nothing after it.
func TestLoginFreshSession(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	seen := map[string]bool{}
	for range 3 {
		res, err := env.login("192.0.2.2", aliceLogin(alicePassword))
		if err != nil {
			t.Fatal(err)
		}
		if seen[res.SessionID.Reveal()] {
			t.Fatal("a session ID given twice")
		}
		seen[res.SessionID.Reveal()] = true
	}
}

func TestThrottleThresholds(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	const ip = "192.0.2.10"
	for i := 1; i <= 6; i++ {
		res, err := env.login(ip, aliceLogin("wrong"))
		if !errors.Is(err, ErrInvalidCredential) || res.Attempts != i || res.Limit != 6 {
			t.Fatalf("attempt %d: %v, %d/%d", i, err, res.Attempts, res.Limit)
		}
	}
	// The seventh: refused before the password is looked at, right or not.
	wrongRes, wrong := env.login(ip, aliceLogin("wrong"))
	rightRes, right := env.login(ip, aliceLogin(alicePassword))
	for _, err := range []error{wrong, right} {
		if te := throttled(err); te == nil || !errors.Is(err, ErrThrottled) || statusOf(err) != 429 {
			t.Fatalf("locked: %v", err)
		}
	}
	if wrong.Error() != right.Error() || wrongRes.Attempts != rightRes.Attempts || rightRes.SessionID.Reveal() != "" {
		t.Fatalf("locked answers differ: %v %+v / %v %+v", wrong, wrongRes, right, rightRes)
	}
	if got := throttled(wrong).RetryAfter; got != 15*time.Minute || retryAfterSeconds(got) != "900" {
		t.Fatalf("RetryAfter %v, want the whole 15 minute window", got)
	}
	// Another address, and another username from this one, are not locked.
	if _, err := env.login("192.0.2.11", aliceLogin(alicePassword)); err != nil {
		t.Fatalf("other address: %v", err)
	}
	if _, err := env.login(ip, LoginRequest{Scope: scopes.Admin, Username: "root", Password: rootPassword, NoCaptcha: true}); err != nil {
		t.Fatalf("other username: %v", err)
	}
	// Case and spaces do not make a fresh counter (CVE-2025-6004).
	req := aliceLogin("x")
	req.Username = " ALICE "
	if _, err := env.login(ip, req); throttled(err) == nil {
		t.Fatalf("ALICE: %v", err)
	}
	// The window ends; the counter starts again.
	env.clock.Advance(15 * time.Minute)
	if _, err := env.login(ip, aliceLogin(alicePassword)); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	if !strings.Contains(env.logBuf.String(), "locked_out") {
		t.Fatal("lockout not logged")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		15 * time.Minute:        "900",
		time.Millisecond:        "1", // rounded up: never "come back now"
		0:                       "1",
		-time.Second:            "1",
		1500 * time.Millisecond: "2",
	} {
		if got := retryAfterSeconds(d); got != want {
			t.Errorf("retryAfterSeconds(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestThrottleSuccessResets(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	const ip = "192.0.2.20"
	for range 3 {
		for range 5 {
			if _, err := env.login(ip, aliceLogin("wrong")); !errors.Is(err, ErrInvalidCredential) {
				t.Fatal(err)
			}
		}
		if _, err := env.login(ip, aliceLogin(alicePassword)); err != nil {
			t.Fatalf("the sixth attempt, right: %v", err)
		}
	}
}

func TestThrottlePerIPAndAccount(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Throttle = ThrottleConfig{PerUserIP: 100, PerIP: 5, PerAccount: 8} })
	// One address guessing many usernames.
	for i := range 5 {
		req := aliceLogin("x")
		req.Username = "user" + string(rune('a'+i))
		if _, err := env.login("192.0.2.30", req); !errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	other := aliceLogin("x")
	other.Username = "other"
	if _, err := env.login("192.0.2.30", other); throttled(err) == nil {
		t.Fatalf("per address: %v", err)
	}
	// And a key login from it too: the address is what is counted.
	if _, err := env.login("192.0.2.30", LoginRequest{Scope: scopes.User, APIKey: "kw_x"}); throttled(err) == nil {
		t.Fatalf("key login from a locked address: %v", err)
	}
	// One username guessed from many addresses.
	for i := range 8 {
		if _, err := env.login("198.51.100."+string(rune('1'+i)), aliceLogin("wrong")); !errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	// Where no captcha can be asked, the account's limit is a hard 429.
	if _, err := env.login("203.0.113.1", aliceLogin(alicePassword)); throttled(err) == nil {
		t.Fatalf("per account: %v", err)
	}
	// Where one can, it asks every address for a captcha instead of
	// locking the owner out.
	withCaptcha := aliceLogin(alicePassword)
	withCaptcha.NoCaptcha = false
	if _, err := env.login("203.0.113.2", withCaptcha); !errors.Is(err, ErrCaptchaRequired) {
		t.Fatalf("per account, a captcha possible: %v", err)
	}
	withCaptcha.CaptchaID, withCaptcha.Captcha = env.captchaAnswer("203.0.113.2")
	if _, err := env.login("203.0.113.2", withCaptcha); err != nil {
		t.Fatalf("per account, with the captcha: %v", err)
	}
}

// An IPv6 client holds a /64: every address in it shares one counter.
func TestThrottleIPv6Prefix(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	for i := range 6 {
		if _, err := env.login("2001:db8:1:2::"+string(rune('a'+i)), aliceLogin("wrong")); !errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := env.login("2001:db8:1:2:ffff::1", aliceLogin(alicePassword)); throttled(err) == nil {
		t.Fatalf("same /64: %v", err)
	}
	if _, err := env.login("2001:db8:1:3::1", aliceLogin(alicePassword)); err != nil {
		t.Fatalf("another /64: %v", err)
	}
}

// Concurrent guesses never get more attempts through than the limit.
func TestThrottleConcurrent(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	var checked, refused atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			_, err := env.a.Login(context.Background(), LoginRequest{Scope: scopes.User, Username: "alice", Password: "wrong", NoCaptcha: true, HTTP: from("192.0.2.40")})
			switch {
			case throttled(err) != nil:
				refused.Add(1)
			case errors.Is(err, ErrInvalidCredential):
				checked.Add(1)
			}
		})
	}
	wg.Wait()
	if checked.Load() > 6 || checked.Load()+refused.Load() != 50 {
		t.Fatalf("%d of 50 concurrent wrong logins had their password checked (limit 6), %d throttled", checked.Load(), refused.Load())
	}
}

// Two authenticators on one store count together.
func TestThrottleShared(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	two, err := New(Config{Store: env.mem, Now: env.clock.Now, Passwords: cheapPasswords, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		a := env.a
		if i%2 == 1 {
			a = two
		}
		req := aliceLogin("wrong")
		req.HTTP = from("192.0.2.50")
		if _, err := a.Login(context.Background(), req); !errors.Is(err, ErrInvalidCredential) {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	req := aliceLogin(alicePassword)
	req.HTTP = from("192.0.2.50")
	if _, err := two.Login(context.Background(), req); throttled(err) == nil {
		t.Fatalf("the second instance let the seventh attempt through: %v", err)
	}
}

// When a password login needs a captcha: when the dialect asks
// (AskCaptcha), or the throttle does, unless none can be asked.
func TestCaptchaPolicies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		ask, no      bool
		failures     int
		accountOver  bool
		captchaAfter int
		want         bool
	}{
		{"asked", true, false, 0, false, 0, true},
		{"not asked", false, false, 0, false, 0, false},
		{"not asked, 2 failures", false, false, 2, false, 0, false},
		// The throttle overrules the dialect (DisableCaptcha=true).
		{"not asked, 3 failures", false, false, 3, false, 0, true},
		{"not asked, account over its limit", false, false, 0, true, 0, true},
		{"CaptchaAfter 5, 4 failures", false, false, 4, false, 5, false},
		{"CaptchaAfter 5, 5 failures", false, false, 5, false, 5, true},
		// A dialect without a captcha parameter never gets one.
		{"none possible, 5 failures", false, true, 5, false, 0, false},
		{"none possible, though asked", true, true, 0, false, 0, false},
		{"none possible, account over", false, true, 0, true, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, func(c *Config) { c.Throttle.CaptchaAfter = tc.captchaAfter })
			at := attempt{failures: int64(tc.failures), accountOver: tc.accountOver}
			if got := env.a.captchaRequired(LoginRequest{AskCaptcha: tc.ask, NoCaptcha: tc.no}, at); got != tc.want {
				t.Fatalf("captchaRequired = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCaptchaLogin(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	const ip = "192.0.2.60"
	ask := LoginRequest{Scope: scopes.User, Username: "alice", Password: alicePassword, AskCaptcha: true}
	// Asked and missing. (Each attempt still counts toward the
	// throttle's limit of 6.)
	for range 2 {
		if _, err := env.login(ip, ask); !errors.Is(err, ErrCaptchaRequired) || statusOf(err) != 401 {
			t.Fatalf("no captcha: %v", err)
		}
	}
	if e := env.events.last(event.CaptchaDemanded); e.Account != env.alice.Ref() || e.ClientIP != ip {
		t.Fatalf("captcha_demanded event %+v", e)
	}
	if e := env.events.last(event.LoginFailed); e.Kind != "" {
		t.Fatalf("a missing captcha reported as a failed login: %+v", e)
	}
	// Wrong: refused before the password is looked at, so a right password
	// with a wrong captcha says nothing about the password.
	rightPw := ask
	rightPw.CaptchaID, _ = env.captchaAnswer(ip)
	rightPw.Captcha = "000000x"
	_, errRight := env.login(ip, rightPw)
	wrongPw := rightPw
	wrongPw.Password = "wrong"
	wrongPw.CaptchaID, _ = env.captchaAnswer(ip)
	_, errWrong := env.login(ip, wrongPw)
	if !errors.Is(errRight, ErrCaptchaWrong) || errRight.Error() != errWrong.Error() {
		t.Fatalf("wrong captcha: %v / %v", errRight, errWrong)
	}
	// Right: the login goes on. The solved captcha does not work twice.
	good := ask
	good.CaptchaID, good.Captcha = env.captchaAnswer(ip)
	if _, err := env.login(ip, good); err != nil {
		t.Fatalf("right captcha: %v", err)
	}
	if _, err := env.login(ip, good); !errors.Is(err, ErrCaptchaWrong) {
		t.Fatalf("solved captcha reused: %v", err)
	}
	// Not asked (DisableCaptcha=true): after 3 failures a captcha is
	// needed all the same.
	const ip2 = "192.0.2.61"
	notAsked := LoginRequest{Scope: scopes.User, Username: "alice", Password: "wrong"}
	for range 3 {
		if _, err := env.login(ip2, notAsked); !errors.Is(err, ErrInvalidCredential) {
			t.Fatal(err)
		}
	}
	notAsked.Password = alicePassword
	if _, err := env.login(ip2, notAsked); !errors.Is(err, ErrCaptchaRequired) {
		t.Fatalf("after 3 failures, not asked: %v", err)
	}
	notAsked.CaptchaID, notAsked.Captcha = env.captchaAnswer(ip2)
	if _, err := env.login(ip2, notAsked); err != nil {
		t.Fatalf("with the captcha: %v", err)
	}
	// Key logins never need one.
	key, _ := env.key(env.alice)
	if _, err := env.login(ip, LoginRequest{Scope: scopes.User, APIKey: key, AskCaptcha: true}); err != nil {
		t.Fatalf("key login: %v", err)
	}
}

func TestCaptchaNewLimited(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	for i := range captchasPerIP {
		if _, err := env.a.NewCaptcha(ctx, from("192.0.2.70")); err != nil {
			t.Fatalf("captcha %d: %v", i, err)
		}
	}
	if _, err := env.a.NewCaptcha(ctx, from("192.0.2.70")); throttled(err) == nil || throttled(err).RetryAfter <= 0 {
		t.Fatalf("past the limit: %v", err)
	}
	if _, err := env.a.NewCaptcha(ctx, from("192.0.2.71")); err != nil {
		t.Fatalf("another address: %v", err)
	}
	// Drawing is limited too: images cost CPU.
	id, _ := env.captchaAnswer("192.0.2.71")
	h := env.a.CaptchaHandler()
	var last *httptest.ResponseRecorder
	for range captchaDrawsPerIP + 1 {
		r := httptest.NewRequest("GET", "/captcha/"+id+".png", nil)
		r.RemoteAddr = "192.0.2.72:1"
		last = httptest.NewRecorder()
		h.ServeHTTP(last, r)
	}
	if last.Code != 429 || last.Header().Get("Retry-After") == "" {
		t.Fatalf("drawing past the limit: %d %v", last.Code, last.Header())
	}
}

// A host's own captcha service makes its challenges itself: keyward makes
// none and serves none.
type hostCaptcha struct{}

func (hostCaptcha) Check(_ context.Context, r captcha.Response) (bool, error) {
	return r.Answer == "ok", nil
}

func TestCaptchaOfTheHost(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Captcha = hostCaptcha{} })
	if _, err := env.a.NewCaptcha(context.Background(), from("192.0.2.73")); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("NewCaptcha: %v", err)
	}
	if h := env.a.CaptchaHandler(); h != nil {
		t.Fatal("a CaptchaHandler for the host's captcha")
	}
	// The host's checker decides.
	req := LoginRequest{Scope: scopes.User, Username: "alice", Password: alicePassword, AskCaptcha: true, CaptchaID: "theirs", Captcha: "not ok"}
	if _, err := env.login("192.0.2.73", req); !errors.Is(err, ErrCaptchaWrong) {
		t.Fatalf("login, wrong: %v", err)
	}
	req.Captcha = "ok"
	if _, err := env.login("192.0.2.73", req); err != nil {
		t.Fatalf("login: %v", err)
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
		if got := env.a.clientAddr(r).String(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	if got := env.a.clientAddr(nil); got.IsValid() {
		t.Errorf("no request: %v", got)
	}
}

// The login events: what happened, to whom, from where; never a secret.
func TestLoginEvents(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	_, _ = env.login("192.0.2.80", aliceLogin("wrong"))
	_, _ = env.login("192.0.2.80", aliceLogin(alicePassword))
	var got []string
	env.events.mu.Lock()
	for _, e := range env.events.events {
		if e.Kind == event.LoginFailed || e.Kind == event.LoginOK {
			got = append(got, string(e.Kind)+" "+e.Username+" "+e.ClientIP+" "+e.Reason)
		}
	}
	env.events.mu.Unlock()
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
	env := newTestEnv(t, nil)
	typed := "Hunter2-my-actual-password"
	var names []string
	for _, login := range []string{typed, " " + strings.ToUpper(typed), "alice"} {
		env.events.reset()
		_, err := env.a.Login(context.Background(), LoginRequest{Scope: scopes.User, Username: login, Password: "wrong", NoCaptcha: true})
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

// A login of either scope (WMD's c=auth): the name is looked up as a
// user's and an administrator's, and the scope is the one whose password
// is right.
func TestLoginEitherScope(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	// "both" is a user and an administrator, with different passwords.
	both := func(scope scopes.Scope, pw string) store.Account {
		acct, err := env.a.CreateAccount(ctx, store.Account{Scope: scope, Username: "both"}, pw)
		if err != nil {
			t.Fatal(err)
		}
		return acct
	}
	bothUser, bothAdmin := both(scopes.User, "the user's password"), both(scopes.Admin, "the admin's password")
	either := func(name, pw string) LoginRequest {
		return LoginRequest{EitherScope: true, Scope: scopes.Admin, Username: name, Password: pw, NoCaptcha: true}
	}
	tests := []struct {
		name, login, pw string
		want            store.AccountRef
	}{
		{"a user", "alice", alicePassword, env.alice.Ref()},
		{"an administrator", "root", rootPassword, env.root.Ref()},
		{"both, the user's password", "both", "the user's password", bothUser.Ref()},
		{"both, the admin's password", "both", "the admin's password", bothAdmin.Ref()},
		{"wrong", "alice", rootPassword, store.AccountRef{}},
		{"an administrator, wrong", "root", alicePassword, store.AccountRef{}},
		{"unknown", "nobody", alicePassword, store.AccountRef{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := env.login("192.0.2.81", either(tc.login, tc.pw))
			if tc.want == (store.AccountRef{}) {
				if !errors.Is(err, ErrInvalidCredential) {
					t.Fatalf("err %v", err)
				}
				// The event names the reason of the account that
				// exists, whichever scope it is of.
				wantReason := "wrong password"
				if tc.login == "nobody" {
					wantReason = "unknown username"
				}
				if e := env.events.last(event.LoginFailed); e.Reason != wantReason {
					t.Fatalf("the event's reason is %q, want %q", e.Reason, wantReason)
				}
				return
			}
			if err != nil || res.Account.Ref() != tc.want {
				t.Fatalf("logged in as %v, %v; want %v", res.Account.Ref(), err, tc.want)
			}
		})
	}
	// The attempts of a name that is both count against the administrator:
	// the counter of the account worth more.
	for i := 1; i <= 6; i++ {
		if res, _ := env.login("192.0.2.82", either("both", "wrong")); res.Attempts != i {
			t.Fatalf("attempt %d counted as %d", i, res.Attempts)
		}
	}
	if _, err := env.login("192.0.2.82", LoginRequest{Scope: scopes.Admin, Username: "both", Password: "the admin's password", NoCaptcha: true}); throttled(err) == nil {
		t.Fatalf("the administrator's login after 6 failures: %v", err)
	}
}

// countHashes makes a's password hashing countable: its slots become one,
// served by a goroutine that counts each time a hash or a verification
// takes it. Every verification takes the slot once, a missing account's
// against the dummy hash too, so the count is the password work a login
// did, seen without a clock. It returns the counter; the slot is served
// until the test ends.
func countHashes(t *testing.T, a *Authenticator) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	slot, done := make(chan struct{}), make(chan struct{})
	go func() {
		for {
			select {
			case <-slot: // taken: acquire sends
				n.Add(1)
			case <-done:
				return
			}
			select {
			case slot <- struct{}{}: // given back: release receives
			case <-done:
				return
			}
		}
	}()
	a.hasher.sem = slot
	t.Cleanup(func() { close(done) })
	return &n
}

// A login of either scope does the same work whatever the name: two
// lookups (as a user's and as an administrator's) and two password
// verifications (a missing account's against the dummy hash), for an
// unknown name, a name of one scope and a name of both, the password right
// or wrong. Counted, not timed.
func TestLoginEitherScopeSameWork(t *testing.T) {
	t.Parallel()
	var lookups atomic.Int64
	env := newTestEnv(t, func(c *Config) {
		c.Store = storewrap.New(c.Store, func(_ context.Context, op string, call func() error) error {
			if op == "AccountByLogin" {
				lookups.Add(1)
			}
			return call()
		})
	})
	ctx := context.Background()
	for _, scope := range []scopes.Scope{scopes.User, scopes.Admin} {
		if _, err := env.a.CreateAccount(ctx, store.Account{Scope: scope, Username: "both"}, "the password of "+scope.String()); err != nil {
			t.Fatal(err)
		}
	}
	hashes := countHashes(t, env.a)
	tests := []struct {
		name, login, pw string
		want            store.AccountRef // zero: refused
	}{
		{"unknown", "nobody", "guess", store.AccountRef{}},
		{"a user, wrong", "alice", "guess", store.AccountRef{}},
		{"a user, right", "alice", alicePassword, env.alice.Ref()},
		{"an administrator, wrong", "root", "guess", store.AccountRef{}},
		{"an administrator, right", "root", rootPassword, env.root.Ref()},
		{"both, wrong", "both", "guess", store.AccountRef{}},
		{"both, the user's", "both", "the password of " + scopes.User.String(), store.AccountRef{Scope: scopes.User}},
		{"both, the administrator's", "both", "the password of " + scopes.Admin.String(), store.AccountRef{Scope: scopes.Admin}},
	}
	// One after another (no t.Parallel): the counters are the
	// environment's.
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lookups.Store(0)
			hashes.Store(0)
			res, err := env.login("192.0.2."+strconv.Itoa(100+i), LoginRequest{EitherScope: true, Username: tc.login, Password: tc.pw, NoCaptcha: true})
			switch {
			case tc.want == (store.AccountRef{}) && !errors.Is(err, ErrInvalidCredential):
				t.Errorf("%v, want refused", err)
			case tc.want != (store.AccountRef{}) && (err != nil || res.Account.Scope != tc.want.Scope || (tc.want.ID != 0 && res.Account.Ref() != tc.want)):
				t.Errorf("logged in as %v, %v; want %v", res.Account.Ref(), err, tc.want)
			}
			if l, h := lookups.Load(), hashes.Load(); l != 2 || h != 2 {
				t.Errorf("%d lookups and %d password verifications, want 2 and 2", l, h)
			}
		})
	}
}

// A name that is both a user's and an administrator's, with one password
// right for both: the user wins, as LoginRequest.EitherScope documents,
// every time; an administrator is never made of a user's password.
func TestLoginEitherScopeBothRight(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	const pw = "one password for both accounts"
	var user store.Account
	for _, scope := range []scopes.Scope{scopes.Admin, scopes.User} { // the administrator made first
		acct, err := env.a.CreateAccount(ctx, store.Account{Scope: scope, Username: "both"}, pw)
		if err != nil {
			t.Fatal(err)
		}
		if scope == scopes.User {
			user = acct
		}
	}
	for i := range 3 {
		res, err := env.login("192.0.2.120", LoginRequest{EitherScope: true, Scope: scopes.Admin, Username: "both", Password: pw, NoCaptcha: true})
		if err != nil || res.Account.Ref() != user.Ref() {
			t.Fatalf("login %d: %v, %v; want the user %v", i, res.Account.Ref(), err, user.Ref())
		}
	}
}

// 2FA at login: no code is ErrTFARequired (neither counted nor reset), a
// wrong or reused code ErrTFAWrong, a recovery code logs in once and turns
// 2FA off, and the trusted bypass skips the step.
func TestLoginTFA(t *testing.T) {
	t.Parallel()
	secret := []byte("sixteen bytes or more of secret")
	env := newTestEnv(t, func(c *Config) { c.TFA.Disable2FASecret = secret })
	const ip = "192.0.2.83"
	tfaSecret, recovery := env.enableTFA(env.alice)
	if on, err := env.a.TFAEnabled(context.Background(), env.alice.Ref()); !on || err != nil {
		t.Fatalf("TFAEnabled = %v, %v", on, err)
	}

	for i := range 8 { // more than the limit: a 101 neither counts nor resets
		if _, err := env.login(ip, aliceLogin(alicePassword)); !errors.Is(err, ErrTFARequired) || statusOf(err) != 401 {
			t.Fatalf("no code, %d: %v", i, err)
		}
	}
	// The password is checked first: a wrong one says nothing of 2FA.
	if _, err := env.login(ip, aliceLogin("wrong")); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("wrong password: %v", err)
	}
	req := aliceLogin(alicePassword)
	req.TFACode = "000000"
	if _, err := env.login(ip, req); !errors.Is(err, ErrTFAWrong) {
		t.Fatalf("wrong code: %v", err)
	}
	env.clock.Advance(30 * time.Second)
	req.TFACode = totpCode(t, tfaSecret, env.clock.Now())
	res, err := env.login(ip, req)
	if err != nil || !res.TFAPassed || !res.TFAEnabled || res.TFADisabled {
		t.Fatalf("right code: %+v %v", res, err)
	}
	if p := env.serve(get("SessionID=" + res.SessionID.Reveal())).principal; !p.TFA {
		t.Fatalf("the session does not say 2FA passed: %+v", p)
	}
	if _, err := env.login(ip, req); !errors.Is(err, ErrTFAWrong) {
		t.Fatalf("the code reused: %v", err)
	}

	// The bound bypass of a trusted front end, for this account, now.
	bypass := aliceLogin(alicePassword)
	bypass.Disable2FA, bypass.Disable2FAToken = true, Disable2FAToken(secret, scopes.User, "alice", env.clock.Now())
	if res, err := env.login(ip, bypass); err != nil || res.TFAPassed || !res.TFAEnabled {
		t.Fatalf("bypass: %+v %v", res, err)
	}
	for name, tok := range map[string]string{
		"another account's": Disable2FAToken(secret, scopes.User, "root", env.clock.Now()),
		"another scope's":   Disable2FAToken(secret, scopes.Admin, "alice", env.clock.Now()),
		"an old one":        Disable2FAToken(secret, scopes.User, "alice", env.clock.Now().Add(-11*time.Minute)),
		"another secret's":  Disable2FAToken([]byte("another sixteen-byte secret"), scopes.User, "alice", env.clock.Now()),
	} {
		bad := bypass
		bad.Disable2FAToken = tok
		if _, err := env.login(ip, bad); !errors.Is(err, ErrTFARequired) {
			t.Errorf("bypass with %s token: %v", name, err)
		}
	}
	if e := env.events.last(event.TFABypassed); e.Account != env.alice.Ref() {
		t.Fatalf("tfa_bypassed event %+v", e)
	}

	// A recovery code logs in once and turns 2FA off, ending the other
	// sessions; the same code again is refused.
	other := env.session(env.alice)
	req = aliceLogin(alicePassword)
	req.TFARecoveryCode = recovery[0]
	res, err = env.login(ip, req)
	if err != nil || !res.TFADisabled || res.TFAEnabled || !res.TFAPassed {
		t.Fatalf("recovery code: %+v %v", res, err)
	}
	if got := env.serve(get("SessionID=" + other)).status; got != 401 {
		t.Fatalf("another session after 2FA went off: %d", got)
	}
	if got := env.serve(get("SessionID=" + res.SessionID.Reveal())).status; got != 200 {
		t.Fatalf("the recovery login's session: %d", got)
	}
	if _, err := env.login(ip, req); !errors.Is(err, ErrTFAWrong) {
		t.Fatalf("the recovery code again: %v", err)
	}
	kinds := env.events.kinds()
	if !slices.Contains(kinds, event.RecoveryUsed) || !slices.Contains(kinds, event.TFADisabled) {
		t.Fatalf("events %v", kinds)
	}
}

// enableTFA turns 2FA on for acct, as its owner would from a fresh
// password session, and returns the TOTP secret and the recovery codes.
func (e *testEnv) enableTFA(acct store.Account) (string, []string) {
	e.t.Helper()
	ctx := context.Background()
	p := e.serve(get("SessionID=" + e.session(acct))).principal
	enr, err := e.a.SetupTFA(ctx, p)
	if err != nil {
		e.t.Fatal(err)
	}
	codes, _, err := e.a.EnableTFA(ctx, p, totpCode(e.t, enr.Secret, e.clock.Now()))
	if err != nil {
		e.t.Fatal(err)
	}
	return enr.Secret, codes
}
