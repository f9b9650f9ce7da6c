package authn

import (
	"bytes"
	"net/http"
	"runtime"
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
	if len(c.Resolvers) != 5 {
		t.Errorf("Resolvers: %d", len(c.Resolvers))
	}
	if len(c.Keys) != 1 || len(c.Keys[0].Hash) != 32 || len(c.Keys[0].Block) != 32 || bytes.Equal(c.Keys[0].Hash, c.Keys[0].Block) {
		t.Errorf("Keys = %d pairs", len(c.Keys))
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"AllowPlaintextHTTP", c.AllowPlaintextHTTP, false},
		{"CookieName", c.CookieName, "__Host-keyward"},
		{"CookieStore", c.CookieStore, nil},
		{"CrossOrigin set", c.CrossOrigin != nil, true},
		{"ETokenValidity", c.ETokenValidity, 2 * time.Second},
		{"ETokenReuse", c.ETokenReuse, false},
		{"ETokenSetsCookie", c.ETokenSetsCookie, false},
		{"StrictBearer", c.StrictBearer, false},
		{"CaptchaPolicy", c.CaptchaPolicy, CaptchaOcteth},
		{"Captcha set", c.Captcha != nil, true},
		{"Throttle", c.Throttle, ThrottleConfig{Window: 15 * time.Minute, PerUserIP: 6, PerIP: 100, PerAccount: 100, AccountWindow: time.Hour, CaptchaAfter: 3}},
		{"TrustedProxies", len(c.TrustedProxies), 0},
		{"TFAIssuer", c.TFAIssuer, ""},
		{"SessionIdleTimeout", c.SessionIdleTimeout, 30 * time.Minute},
		{"SessionLifetime", c.SessionLifetime, 12 * time.Hour},
		{"TouchInterval", c.TouchInterval, time.Minute},
		{"AdminAPIKey", c.AdminAPIKey, ""},
		{"MaxBodyBytes", c.MaxBodyBytes, int64(1 << 20)},
		{"MaxParamBytes", c.MaxParamBytes, 64 << 10},
		{"MaxParams", c.MaxParams, 1000},
		{"Argon2", c.Argon2, DefaultArgon2()},
		{"MaxConcurrentHashes", c.MaxConcurrentHashes, runtime.GOMAXPROCS(0)},
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
	if p, _ := (Config{AllowPlaintextHTTP: true}).withDefaults(); p.CookieName != "keyward" {
		t.Errorf("plaintext CookieName = %q", p.CookieName)
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
		{"__Host- over plain http", Config{AllowPlaintextHTTP: true, CookieName: "__Host-x"}, "__Host-"},
		{"touch not below idle", Config{SessionIdleTimeout: time.Minute, TouchInterval: time.Minute}, "TouchInterval"},
		{"negative lifetime", Config{SessionLifetime: -1}, "negative"},
		{"admin key without account", Config{AdminAPIKey: "0123456789abcdef0123"}, "AdminAPIKeyAccountID"},
		{"short admin key", Config{AdminAPIKey: "short", AdminAPIKeyAccountID: 1}, "shorter"},
		{"negative body limit", Config{MaxBodyBytes: -1}, "negative"},
		{"argon2 memory too big", Config{Argon2: Argon2Params{Memory: 1 << 30, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}, "Memory"},
		{"argon2 short salt", Config{Argon2: Argon2Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 4, KeyLength: 32}}, "SaltLength"},
		{"negative hashes", Config{MaxConcurrentHashes: -1}, "MaxConcurrentHashes"},
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
	resolvers := []Resolver{FromSessionID()}
	a, err := New(Config{Keys: keys, Resolvers: resolvers, Argon2: cheapArgon2})
	if err != nil {
		t.Fatal(err)
	}
	keys[0].Hash[0] = 99 // the caller reuses its buffer
	keys[0] = keyPair(9)
	resolvers[0] = FromAPIKey()
	if a.cfg.Keys[0].Hash[0] != 1 {
		t.Error("Keys shared with the caller")
	}
	if _, ok := a.cfg.Resolvers[0].(builtin); !ok {
		t.Error("Resolvers shared with the caller")
	}
}

func TestHTTPStatusAndPublicText(t *testing.T) {
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
		{storeFailure(errDown), 503, "Service unavailable"},
		// Anything unexpected fails closed.
		{errDown, 503, "Service unavailable"},
	}
	for _, tc := range tests {
		if got := HTTPStatus(tc.err); got != tc.status {
			t.Errorf("HTTPStatus(%v) = %d, want %d", tc.err, got, tc.status)
		}
		if got := PublicText(tc.err); got != tc.text {
			t.Errorf("PublicText(%v) = %q, want %q", tc.err, got, tc.text)
		}
	}
}
