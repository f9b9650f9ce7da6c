package authn

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"time"

	"github.com/gorilla/sessions"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/captcha"
	"github.com/keyward/keyward/store"
)

// CaptchaPolicy says when a password login needs a captcha. Logins by API
// key never do, and neither does a dialect without a captcha parameter
// (WMD's): there the throttle alone protects.
type CaptchaPolicy uint8

const (
	// CaptchaOcteth, the default: a captcha unless DisableCaptcha=true,
	// and even then once the throttle's CaptchaAfter failures are
	// reached, as Octeth does.
	CaptchaOcteth CaptchaPolicy = iota
	// CaptchaAlways: every password login.
	CaptchaAlways
	// CaptchaNever: no login; the throttle alone protects.
	CaptchaNever
	// CaptchaAfterFailures: only once the throttle's CaptchaAfter failures
	// are reached, whatever DisableCaptcha says. For clients that send no
	// captcha parameters at all (seed 003's Admin.Login).
	CaptchaAfterFailures
)

// Config is everything an [Authenticator] can be told. The zero Config is a
// working, secure configuration: an in-memory store, random cookie keys,
// Secure __Host- cookies, OWASP argon2id parameters. Each field's comment
// gives its default. [New] copies the Config; changing it afterwards changes
// nothing.
type Config struct {
	// Store keeps accounts, keys, sessions, claims and counters.
	// Default: a new [store.Memory] on Now, which forgets everything on
	// restart and is not shared between instances.
	Store store.Store
	// StoreTimeout bounds every store call on the request path, waiting
	// for a pooled connection included: a store that does not answer in
	// time fails the call, and the request is refused with 503 instead of
	// hanging. Default 2 seconds. Background work (API key usage) has
	// deadlines of its own and never holds up a request.
	StoreTimeout time.Duration

	// Resolvers are tried in order on every request. Default:
	// [DefaultResolvers]. A present but bad credential refuses the request
	// (401); it never falls through to the next resolver.
	Resolvers []Resolver

	// Keys sign and encrypt the session cookie and the etoken: the first
	// pair encodes, every pair decodes, so a new pair goes first and an
	// old one stays last until its cookies have expired. Unless TFAKeys
	// is set, keys derived from them seal TOTP secrets too (see
	// TFAKeys): then a retired pair stays until every account with 2FA on
	// has logged in with a code since. Default: one random pair, made at
	// New, for the default in-memory store only: with any other Store,
	// New refuses to run without Keys or TFAKeys, since second factors
	// sealed with random keys could not be opened after a restart.
	Keys []KeyPair

	// AllowPlaintextHTTP drops the Secure attribute and the __Host- prefix
	// from the session cookie, for development over plain http on
	// loopback. Default false: the cookie is only ever sent over HTTPS.
	AllowPlaintextHTTP bool

	// CookieName is the session cookie's name. Default "__Host-keyward",
	// or "keyward" with AllowPlaintextHTTP. A name starting "__Host-" with
	// AllowPlaintextHTTP is an error, since browsers would drop it.
	CookieName string

	// CookieStore, when set, reads and writes the session cookie through a
	// gorilla/sessions store of the host's (migrating an existing cookie,
	// say), keeping the session ID under the key "keyward.sid". Default
	// nil: keyward's own codec, which carries the bare session ID over
	// securecookie and costs a fraction of a gob-encoded session.
	CookieStore sessions.Store

	// CrossOrigin protects unsafe requests authenticated by the session
	// cookie (and every command of an [API], whatever its method).
	// Requests with header or parameter credentials are not checked: a
	// browser does not attach those by itself. Default:
	// [http.NewCrossOriginProtection] with no trusted origins. It is
	// shared, not copied: origins added to it later apply.
	CrossOrigin *http.CrossOriginProtection

	// ETokenValidity is how long an etoken may be redeemed after it is
	// issued (WMD's $api_sl_token_expiry). Default 2 seconds.
	ETokenValidity time.Duration
	// ETokenReuse lets an etoken be used any number of times within its
	// validity, as a short script sending it on every request may want.
	// Default false: single use, claimed in the store across instances.
	ETokenReuse bool
	// ETokenSetsCookie sets the session cookie on the answer to a request
	// that redeemed an etoken: a hand-off from a server to a browser.
	// Default false.
	ETokenSetsCookie bool
	// StrictBearer refuses (401) an Authorization header that is not a
	// keyward etoken. Default false: other schemes and other Bearer tokens
	// are left to the host's own middleware.
	StrictBearer bool

	// SessionIdleTimeout ends a session not used for this long. Default 30
	// minutes.
	SessionIdleTimeout time.Duration
	// SessionLifetime ends a session this long after login, used or not.
	// Default 12 hours.
	SessionLifetime time.Duration
	// TouchInterval is how stale a session's last-seen time may get before
	// a request writes it again, and how often API key usage is written,
	// so that most requests only read. Default 1 minute; it must be less
	// than SessionIdleTimeout.
	TouchInterval time.Duration

	// ReauthWindow is how long after a password login a session may make
	// sensitive changes (2FA, API keys, a new password, email address or
	// username) without the password given again. Default 10 minutes.
	ReauthWindow time.Duration

	// DisableAPIKeyUsage turns off the recording of API keys' use (request
	// count, last use and its address). Default false: recorded, in
	// memory, and written to the store in the background at most once a
	// TouchInterval.
	DisableAPIKeyUsage bool

	// AdminAPIKey is a static admin API key (Octeth's ADMIN_API_KEY),
	// compared in constant time. Default "": none. It needs
	// AdminAPIKeyAccountID.
	AdminAPIKey string
	// AdminAPIKeyAccountID is the admin account the static key acts as.
	AdminAPIKeyAccountID int64

	// TFAIssuer names the service in authenticator apps when an account
	// sets up 2FA. Default "keyward".
	TFAIssuer string
	// TFAKeys seal TOTP secrets at rest with AES-GCM: 16, 24 or 32 bytes
	// each; the first seals, all open. Default: one AES-256 key derived
	// from each pair of Keys, in the same order (HKDF-SHA256 over the
	// pair's Hash and Block, info "keyward totp seal v1"), so secrets are
	// sealed with no setting at all, and rotate when Keys do. Give
	// TFAKeys to keep second factors apart from the cookie keys; the keys
	// derived from Keys then only open, so secrets sealed before still do.
	// A secret stored plainly, or sealed with a key that is no longer
	// first, still opens, and is sealed again with the first key at its
	// owner's next login with a code. A secret whose key is gone no longer
	// opens (logins with a code fail with 503): its owner can log in only
	// with a recovery code.
	TFAKeys [][]byte

	// Disable2FASecret turns on the trusted 2FA bypass: a login with
	// Disable2FA=true and a valid Disable2FAToken made with this secret
	// skips the 2FA step. For a host's own trusted front end that did the
	// second factor itself; keep the secret on the server side only. The
	// token is bound to the account and the command and good for 5 to 10
	// minutes ([Disable2FAToken], [BypassBound]), except for an [API] with
	// the [OctethV5] profile, which takes Octeth 5.9's static token: the
	// same for every account of a scope, forever ([BypassStatic]).
	// Default none: no bypass.
	Disable2FASecret []byte

	// Mailer sends password reset tokens. Default nil: no password
	// recovery (the *.PasswordRemind and *.PasswordReset commands are not
	// there).
	Mailer Mailer
	// ResetTokenTTL is how long a password reset token works. Default 30
	// minutes.
	ResetTokenTTL time.Duration

	// Throttle limits failed logins. Default: see [ThrottleConfig].
	Throttle ThrottleConfig
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// when finding a client's address (see [Authenticator.ClientIP]).
	// Default none: the peer's address is the client's.
	TrustedProxies []netip.Prefix

	// CaptchaPolicy says when a password login needs a captcha. Default
	// [CaptchaOcteth].
	CaptchaPolicy CaptchaPolicy
	// Captcha checks captchas. Default: [captcha.Digits] on Store.
	Captcha captcha.Checker

	// MaxBodyBytes bounds a form body the middleware reads. Default 1 MiB.
	MaxBodyBytes int64
	// MaxParamBytes bounds one parameter's value. Default 64 KiB.
	MaxParamBytes int
	// MaxParams bounds the number of parameters. Default 1000.
	MaxParams int

	// Argon2 sets the cost of new password hashes. Default
	// [DefaultArgon2].
	Argon2 Argon2Params
	// MaxConcurrentHashes bounds the password hashes computed at once; the
	// rest wait under their request's context. Default GOMAXPROCS.
	MaxConcurrentHashes int

	// ErrorWriter answers a refused request. Default: a small JSON body
	// {"status":401,"error":"..."} with the status of [HTTPStatus].
	ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)

	// Logger receives events and store failures. Default slog.Default().
	Logger *slog.Logger
	// OnEvent, when set, receives every [Event] too, with the request's
	// context. It runs on the request's goroutine: keep it short.
	OnEvent func(context.Context, event.Event)

	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Rand is the source of session IDs, keys and salts. Default
	// crypto/rand.Reader. Anything else is for tests.
	Rand io.Reader
}

// KeyPair is one securecookie key pair.
type KeyPair struct {
	// Hash signs: 32 or 64 random bytes.
	Hash []byte
	// Block encrypts with AES: 16, 24 or 32 random bytes.
	Block []byte
}

// errRandomKeys refuses a store that outlives the process with keys that
// do not.
var errRandomKeys = errors.New("authn: Config.Keys (or TFAKeys) is required with a store other than the default in-memory one: " +
	"TOTP secrets are sealed with keys derived from Keys, and random keys, made anew at each start, could not open them after a restart " +
	"(cookies and etokens would not survive one either, nor be shared between instances)")

// keysSurviveRestarts refuses, before any default is filled in, a
// configuration whose TOTP secrets would be sealed with random keys in a
// store that outlives the process. Only the default store (nil, or a
// [store.Memory] itself) forgets its secrets with its keys.
func (c Config) keysSurviveRestarts() error {
	if len(c.Keys) > 0 || len(c.TFAKeys) > 0 || c.Store == nil {
		return nil
	}
	if _, inProcess := c.Store.(*store.Memory); inProcess {
		return nil
	}
	return errRandomKeys
}

// withDefaults returns a copy of c with every zero field filled in, or an
// error for a setting that cannot work.
func (c Config) withDefaults() (Config, error) {
	var err error
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Rand == nil {
		c.Rand = rand.Reader
	}
	if c.Store == nil {
		c.Store = store.NewMemory(store.MemoryConfig{Now: c.Now})
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = 2 * time.Second
	}
	if c.StoreTimeout < 0 {
		return c, errors.New("authn: negative StoreTimeout")
	}
	if c.Resolvers == nil {
		c.Resolvers = DefaultResolvers()
	} else {
		c.Resolvers = append([]Resolver(nil), c.Resolvers...)
	}
	if len(c.Keys) == 0 {
		pair := KeyPair{Hash: make([]byte, 32), Block: make([]byte, 32)}
		if _, err := io.ReadFull(c.Rand, pair.Hash); err != nil {
			return c, fmt.Errorf("authn: making cookie keys: %w", err)
		}
		if _, err := io.ReadFull(c.Rand, pair.Block); err != nil {
			return c, fmt.Errorf("authn: making cookie keys: %w", err)
		}
		c.Keys = []KeyPair{pair}
	} else {
		// Deep copies: securecookie keeps the slices it is given, and a
		// host reusing its buffer must not change the keys after New.
		keys := make([]KeyPair, len(c.Keys))
		for i, k := range c.Keys {
			keys[i] = KeyPair{Hash: bytes.Clone(k.Hash), Block: bytes.Clone(k.Block)}
		}
		c.Keys = keys
	}
	for i, k := range c.Keys {
		if n := len(k.Hash); n != 32 && n != 64 {
			return c, fmt.Errorf("authn: Keys[%d].Hash is %d bytes, want 32 or 64", i, n)
		}
		if n := len(k.Block); n != 16 && n != 24 && n != 32 {
			return c, fmt.Errorf("authn: Keys[%d].Block is %d bytes, want 16, 24 or 32", i, n)
		}
	}
	if c.CookieName == "" {
		c.CookieName = "__Host-keyward"
		if c.AllowPlaintextHTTP {
			c.CookieName = "keyward"
		}
	}
	if c.AllowPlaintextHTTP && len(c.CookieName) >= 7 && c.CookieName[:7] == "__Host-" {
		return c, errors.New("authn: a __Host- cookie needs Secure; rename it or leave AllowPlaintextHTTP off")
	}
	if c.CrossOrigin == nil {
		c.CrossOrigin = http.NewCrossOriginProtection()
	}
	if c.ResetTokenTTL == 0 {
		c.ResetTokenTTL = 30 * time.Minute
	}
	if c.ResetTokenTTL < time.Minute || c.ResetTokenTTL > 24*time.Hour {
		return c, errors.New("authn: ResetTokenTTL must be between a minute and a day")
	}
	if c.ETokenValidity == 0 {
		c.ETokenValidity = 2 * time.Second
	}
	if c.ETokenValidity < 0 || c.ETokenValidity > time.Hour {
		return c, errors.New("authn: ETokenValidity must be positive and at most an hour")
	}
	if c.SessionIdleTimeout == 0 {
		c.SessionIdleTimeout = 30 * time.Minute
	}
	if c.SessionLifetime == 0 {
		c.SessionLifetime = 12 * time.Hour
	}
	if c.TouchInterval == 0 {
		c.TouchInterval = time.Minute
	}
	switch {
	case c.SessionIdleTimeout < 0 || c.SessionLifetime < 0 || c.TouchInterval < 0:
		return c, errors.New("authn: negative session duration")
	case c.TouchInterval >= c.SessionIdleTimeout:
		return c, errors.New("authn: TouchInterval must be less than SessionIdleTimeout")
	}
	if c.ReauthWindow == 0 {
		c.ReauthWindow = 10 * time.Minute
	}
	if c.ReauthWindow < 0 {
		return c, errors.New("authn: negative ReauthWindow")
	}
	if c.AdminAPIKey != "" {
		if c.AdminAPIKeyAccountID <= 0 {
			return c, errors.New("authn: AdminAPIKey needs AdminAPIKeyAccountID")
		}
		if len(c.AdminAPIKey) < 16 {
			return c, errors.New("authn: AdminAPIKey is shorter than 16 characters")
		}
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxParamBytes == 0 {
		c.MaxParamBytes = 64 << 10
	}
	if c.MaxParams == 0 {
		c.MaxParams = 1000
	}
	if c.MaxBodyBytes < 0 || c.MaxParamBytes < 0 || c.MaxParams < 0 {
		return c, errors.New("authn: negative limit")
	}
	if c.Argon2 == (Argon2Params{}) {
		c.Argon2 = DefaultArgon2()
	}
	if err := c.Argon2.validate(); err != nil {
		return c, err
	}
	if c.MaxConcurrentHashes == 0 {
		c.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	if c.MaxConcurrentHashes < 0 {
		return c, errors.New("authn: negative MaxConcurrentHashes")
	}
	tfaKeys := make([][]byte, len(c.TFAKeys))
	for i, k := range c.TFAKeys {
		tfaKeys[i] = bytes.Clone(k)
	}
	c.TFAKeys = tfaKeys
	if c.Throttle, err = c.Throttle.withDefaults(); err != nil {
		return c, err
	}
	c.TrustedProxies = append([]netip.Prefix(nil), c.TrustedProxies...)
	c.Disable2FASecret = bytes.Clone(c.Disable2FASecret)
	if len(c.Disable2FASecret) > 0 && len(c.Disable2FASecret) < 16 {
		return c, errors.New("authn: Disable2FASecret is shorter than 16 bytes")
	}
	if c.CaptchaPolicy > CaptchaAfterFailures {
		return c, errors.New("authn: unknown CaptchaPolicy")
	}
	if c.Captcha == nil {
		if c.Captcha, err = captcha.New(captcha.Config{Store: withDeadline(c.Store, c.StoreTimeout), Now: c.Now, Rand: c.Rand}); err != nil {
			return c, err
		}
	}
	if c.ErrorWriter == nil {
		c.ErrorWriter = WriteJSONError
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
