package authn

import (
	"bytes"
	"fmt"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/store"
)

// What the zero Config becomes: every default, in one place.
func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Store.(*store.Memory); !ok {
		t.Errorf("Store = %T, want *store.Memory", c.Store)
	}
	if want := []Method{MethodEToken, MethodAdminKey, MethodAPIKey, MethodSession, MethodCookie}; !slices.Equal(c.Credentials, want) {
		t.Errorf("Credentials = %v, want %v", c.Credentials, want)
	}
	if len(c.Keys) != 1 || len(c.Keys[0].Hash) != 32 || len(c.Keys[0].Block) != 32 || bytes.Equal(c.Keys[0].Hash, c.Keys[0].Block) {
		t.Errorf("Keys = %d pairs", len(c.Keys))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"StoreTimeout", c.StoreTimeout, 2 * time.Second},
		{"Resolvers", len(c.Resolvers), 0},
		{"AdminAPIKey", c.AdminAPIKey, ""},
		{"DisableAPIKeyUsage", c.DisableAPIKeyUsage, false},
		{"TrustedProxies", len(c.TrustedProxies), 0},
		{"Cookie.AllowPlaintextHTTP", c.Cookie.AllowPlaintextHTTP, false},
		{"Cookie.Name", c.Cookie.Name, "__Host-keyward"},
		{"Cookie.Store", c.Cookie.Store, nil},
		{"Cookie.CrossOrigin set", c.Cookie.CrossOrigin != nil, true},
		{"Sessions", c.Sessions, SessionConfig{IdleTimeout: 30 * time.Minute, Lifetime: 12 * time.Hour, TouchInterval: time.Minute}},
		{"EToken", c.EToken, ETokenConfig{Validity: 2 * time.Second}},
		{"Reauth", c.Reauth, ReauthConfig{Window: 10 * time.Minute}},
		{"Throttle", c.Throttle, ThrottleConfig{Window: 15 * time.Minute, PerUserIP: 6, PerIP: 100, PerAccount: 100, AccountWindow: time.Hour, CaptchaAfter: 3}},
		// OWASP's first argon2id option.
		{"Passwords", c.Passwords, PasswordConfig{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32,
			MaxConcurrentHashes: runtime.GOMAXPROCS(0), ResetTokenTTL: 30 * time.Minute}},
		{"TFA.Issuer", c.TFA.Issuer, ""},
		{"TFA.Keys", len(c.TFA.Keys), 0},
		{"TFA.Disable2FASecret", len(c.TFA.Disable2FASecret), 0},
		// Each zero limit is package form's default.
		{"Limits", c.Limits, form.Limits{}},
		{"Captcha set", c.Captcha != nil, true},
		{"ErrorWriter set", c.ErrorWriter != nil, true},
		{"Logger set", c.Logger != nil, true},
		{"OnEvent", c.OnEvent == nil, true},
		{"Now set", c.Now != nil, true},
		{"Rand set", c.Rand != nil, true},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	// Two zero configs do not share random keys.
	c2, _ := Config{}.withDefaults()
	if bytes.Equal(c.Keys[0].Hash, c2.Keys[0].Hash) {
		t.Error("two authenticators got the same random keys")
	}
	if p, _ := (Config{Cookie: CookieConfig{AllowPlaintextHTTP: true}}).withDefaults(); p.Cookie.Name != "keyward" {
		t.Errorf("plaintext Cookie.Name = %q", p.Cookie.Name)
	}
	// Part of a group given, the rest of it is still the default.
	if p, _ := (Config{Sessions: SessionConfig{Lifetime: time.Hour}, Passwords: PasswordConfig{Memory: 64}}).withDefaults(); p.Sessions.IdleTimeout != 30*time.Minute || p.Passwords.Iterations != 2 {
		t.Errorf("a partial group: %+v %+v", p.Sessions, p.Passwords)
	}
}

// mebibyteForm is an urlencoded body of exactly 1 MiB, in 17 parameters of
// at most 64 KiB each.
var mebibyteForm = func() string {
	var b strings.Builder
	for i := 0; b.Len() < 1<<20; i++ {
		if i > 0 {
			b.WriteByte('&')
		}
		fmt.Fprintf(&b, "p%02d=", i)
		b.WriteString(strings.Repeat("v", min(60<<10, 1<<20-b.Len())))
	}
	return b.String()
}()

// The zero Limits are form's defaults: 1000 parameters of up to 64 KiB
// each, names of up to 256 bytes, a body of up to 1 MiB.
func TestConfigDefaultLimits(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	tests := []struct {
		name string
		req  *http.Request
		ok   bool
	}{
		{"1000 parameters", get(strings.Repeat("a=1&", 999) + "a=1"), true},
		{"1001 parameters", get(strings.Repeat("a=1&", 1000) + "a=1"), false},
		{"a value of 64 KiB", get("a=" + strings.Repeat("v", 64<<10)), true},
		{"a value over 64 KiB", get("a=" + strings.Repeat("v", 64<<10+1)), false},
		{"a name of 256 bytes", get(strings.Repeat("n", 256) + "=1"), true},
		{"a name over 256 bytes", get(strings.Repeat("n", 257) + "=1"), false},
		{"a body of 1 MiB", postForm(mebibyteForm), true},
		{"a body over 1 MiB", postForm(mebibyteForm + "&z=1"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := env.a.Request(tc.req).Params(); (err == nil) != tc.ok {
				t.Fatalf("Params: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// Limits given are the limits, for the middleware and for a command
// router's Request alike.
func TestConfigLimits(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Limits = form.Limits{MaxParams: 3, MaxValue: 8, MaxName: 4, MaxBody: 64} })
	tests := []struct {
		name string
		req  func() *http.Request
		ok   bool
	}{
		{"at every limit", func() *http.Request { return get("abcd=12345678&b=1&c=1") }, true},
		{"a parameter too many", func() *http.Request { return get("a=1&b=1&c=1&d=1") }, false},
		{"a value too long", func() *http.Request { return get("a=123456789") }, false},
		{"a name too long", func() *http.Request { return get("abcde=1") }, false},
		{"a body at the limit", func() *http.Request { return postForm("a=" + strings.Repeat("b", 6) + strings.Repeat("&", 56)) }, true},
		// (The middleware passes a body over the limit on unread; a
		// router's Request refuses it.)
		{"a body over the limit", func() *http.Request { return postForm("a=1" + strings.Repeat("&", 62)) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := env.a.Request(tc.req()).Params(); (err == nil) != tc.ok || (err != nil && statusOf(err) != 400) {
				t.Errorf("Request.Params: %v, want ok %v", err, tc.ok)
			}
			if tc.name == "a body over the limit" {
				return
			}
			if res := env.serve(tc.req()); (res.status == 200) != tc.ok || (!tc.ok && res.status != 400) {
				t.Errorf("middleware: %d, want ok %v", res.status, tc.ok)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"short hash key", Config{Keys: []KeyPair{{Hash: make([]byte, 16), Block: make([]byte, 32)}}}, "Keys[0].Hash"},
		{"no block key", Config{Keys: []KeyPair{{Hash: make([]byte, 32)}}}, "Keys[0].Block"},
		// Second factors sealed with keys made anew at each start would
		// not open after a restart.
		{"random keys for a store that outlives the process", Config{Store: struct{ store.Store }{store.NewMemory(store.MemoryConfig{})}}, "Keys"},
		{"a host's method as a credential", Config{Credentials: []Method{MethodSession, MethodCustom}}, "Credentials"},
		{"anonymous as a credential", Config{Credentials: []Method{0}}, "Credentials"},
		{"a method out of range", Config{Credentials: []Method{MethodCustom + 1}}, "Credentials"},
		{"negative StoreTimeout", Config{StoreTimeout: -1}, "StoreTimeout"},
		{"__Host- over plain http", Config{Cookie: CookieConfig{AllowPlaintextHTTP: true, Name: "__Host-x"}}, "__Host-"},
		{"touch not below idle", Config{Sessions: SessionConfig{IdleTimeout: time.Minute, TouchInterval: time.Minute}}, "TouchInterval"},
		{"negative lifetime", Config{Sessions: SessionConfig{Lifetime: -1}}, "negative"},
		{"etoken valid over an hour", Config{EToken: ETokenConfig{Validity: 2 * time.Hour}}, "EToken.Validity"},
		{"negative etoken validity", Config{EToken: ETokenConfig{Validity: -1}}, "EToken.Validity"},
		{"negative reauthentication window", Config{Reauth: ReauthConfig{Window: -1}}, "Reauth.Window"},
		{"negative throttle limit", Config{Throttle: ThrottleConfig{PerIP: -1}}, "Throttle"},
		{"throttle window under a second", Config{Throttle: ThrottleConfig{Window: time.Millisecond}}, "Throttle"},
		{"admin key without account", Config{AdminAPIKey: "0123456789abcdef0123"}, "AdminAPIKeyAccountID"},
		{"short admin key", Config{AdminAPIKey: "short", AdminAPIKeyAccountID: 1}, "shorter"},
		{"negative body limit", Config{Limits: form.Limits{MaxBody: -1}}, "negative"},
		{"negative name limit", Config{Limits: form.Limits{MaxName: -1}}, "negative"},
		{"argon2 memory too big", Config{Passwords: PasswordConfig{Memory: 1 << 30}}, "Memory"},
		{"argon2 too many passes", Config{Passwords: PasswordConfig{Iterations: 1000}}, "Iterations"},
		{"argon2 short salt", Config{Passwords: PasswordConfig{SaltLength: 4}}, "SaltLength"},
		{"argon2 short key", Config{Passwords: PasswordConfig{KeyLength: 8}}, "KeyLength"},
		{"negative hashes", Config{Passwords: PasswordConfig{MaxConcurrentHashes: -1}}, "MaxConcurrentHashes"},
		{"reset tokens for a second", Config{Passwords: PasswordConfig{ResetTokenTTL: time.Second}}, "ResetTokenTTL"},
		{"reset tokens for a week", Config{Passwords: PasswordConfig{ResetTokenTTL: 7 * 24 * time.Hour}}, "ResetTokenTTL"},
		{"short Disable2FASecret", Config{TFA: TFAConfig{Disable2FASecret: []byte("short")}}, "Disable2FASecret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// New copies the Config: changing the caller's slices afterwards changes
// nothing.
func TestConfigFrozen(t *testing.T) {
	t.Parallel()
	keys := []KeyPair{keyPair(1)}
	credentials := []Method{MethodSession, MethodCookie}
	resolvers := []Resolver{hostToken{alice: 1}}
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tfaKeys := [][]byte{bytes.Repeat([]byte{7}, 32)}
	secret := bytes.Repeat([]byte{9}, 16)
	a, err := New(Config{Keys: keys, Credentials: credentials, Resolvers: resolvers, TrustedProxies: proxies, Passwords: cheapPasswords,
		TFA: TFAConfig{Keys: tfaKeys, Disable2FASecret: secret}})
	if err != nil {
		t.Fatal(err)
	}
	keys[0].Hash[0] = 99 // the caller reuses its buffer
	keys[0] = keyPair(9)
	credentials[0] = MethodAPIKey
	resolvers[0] = hostToken{alice: 2}
	proxies[0] = netip.MustParsePrefix("0.0.0.0/0")
	tfaKeys[0][0] = 0
	secret[0] = 0
	if a.cfg.Keys[0].Hash[0] != 1 {
		t.Error("Keys shared with the caller")
	}
	if a.cfg.Credentials[0] != MethodSession {
		t.Error("Credentials shared with the caller")
	}
	if a.cfg.Resolvers[0] != (hostToken{alice: 1}) {
		t.Error("Resolvers shared with the caller")
	}
	if a.cfg.TrustedProxies[0].Bits() != 8 {
		t.Error("TrustedProxies shared with the caller")
	}
	if a.cfg.TFA.Keys[0][0] != 7 || a.cfg.TFA.Disable2FASecret[0] != 9 {
		t.Error("TFA keys shared with the caller")
	}
}

func TestPublicError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err    error
		status int
		text   string
	}{
		{nil, http.StatusOK, ""},
		{ErrBadRequest, 400, "Malformed request"},
		{form.ErrBodyTooLarge, 400, "Malformed request: body too large"},
		{errConflictingCreds, 400, "Malformed request: credentials name different accounts"},
		{ErrInvalidCredential, 401, "Authentication failure or session expired"},
		{errSessionExpired, 401, "Authentication failure or session expired"},
		{errUnknownLogin, 401, "Authentication failure or session expired"},
		{ErrUnauthenticated, 401, "Authentication required"},
		{ErrForbidden, 403, "Not allowed for this account"},
		{ErrCrossOrigin, 403, "Cross-origin request refused"},
		{ErrReauthenticate, 403, "Re-authentication required: send CurrentPassword, or sign in again"},
		{because(ErrForbidden, "a reason for the log"), 403, "Not allowed for this account"},
		{ErrMissingUsername, 400, "Missing username"},
		{ErrMissingPassword, 400, "Missing password"},
		{ErrCaptchaRequired, 401, "Captcha required"},
		{ErrCaptchaWrong, 401, "Invalid captcha"},
		{ErrTFARequired, 401, "2FA code required"},
		{because(ErrTFAWrong, "wrong 2FA or recovery code"), 401, "Invalid 2FA code"},
		{&ThrottledError{RetryAfter: time.Minute}, 429, "Too many failed attempts; try again later"},
		{storeFailure(errDown), 503, "Service unavailable"},
		// Anything unexpected fails closed.
		{errDown, 503, "Service unavailable"},
		{(*form.Error)(nil), 503, "Service unavailable"}, // a typed nil, as careless code returns
		{fmt.Errorf("wrapped: %w", (*form.Error)(nil)), 503, "Service unavailable"},
	}
	for _, tc := range tests {
		if status, text := PublicError(tc.err); status != tc.status || text != tc.text {
			t.Errorf("PublicError(%v) = %d, %q; want %d, %q", tc.err, status, text, tc.status, tc.text)
		}
	}
}
