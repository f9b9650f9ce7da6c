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
	"slices"
	"time"

	"github.com/gorilla/sessions"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/captcha"
	"github.com/keyward/keyward/store"
)

// Config is everything an [Authenticator] can be told, grouped by concern.
// The zero Config is a working, secure configuration: an in-memory store,
// random keys, Secure __Host- cookies, OWASP's argon2id parameters. Each
// field's comment gives its default, and [New] fills them in, in one place
// each. [New] copies the Config; changing it afterwards changes nothing.
type Config struct {
	// Store keeps accounts, keys, sessions, claims and counters; see
	// package store for stores, and store.Combine and store.WithAccounts
	// to compose them. Default: a new [store.Memory] on Now, which
	// forgets everything on restart and is not shared between instances.
	Store store.Store
	// StoreTimeout bounds every store call on the request path, waiting
	// for a pooled connection included: a store that does not answer in
	// time fails the call, and the request is refused with 503 instead of
	// hanging. Default 2 seconds. Background work (API key usage) has
	// deadlines of its own and never holds up a request.
	StoreTimeout time.Duration

	// Keys sign and encrypt the session cookie and the etoken: the first
	// pair encodes, every pair decodes, so a new pair goes first and an
	// old one stays last until its cookies have expired. Unless
	// [TFAConfig].Keys are set, keys derived from them seal TOTP secrets
	// too: then a retired pair stays until every account with 2FA on has
	// logged in with a code since. Default: one random pair, made at New,
	// for the default in-memory store only: with any other Store, New
	// refuses to run without Keys or TFA.Keys, since second factors sealed
	// with random keys could not be opened after a restart.
	Keys []KeyPair

	// Credentials are keyward's own credentials the middleware tries, in
	// this order, each named by the [Method] it makes: MethodEToken (a
	// Bearer etoken), MethodAdminKey (AdminAPIKey or X-Admin-API-Key),
	// MethodAPIKey (APIKey or X-API-Key), MethodSession (SessionID),
	// MethodCookie (the session cookie). Default: all five, in that order.
	Credentials []Method
	// Resolvers are the host's own credentials, tried after Credentials.
	// Default none.
	Resolvers []Resolver

	// AdminAPIKey is a static admin API key (Octeth's ADMIN_API_KEY),
	// compared in constant time. Default "": none. It needs
	// AdminAPIKeyAccountID, the admin account it acts as.
	AdminAPIKey          string
	AdminAPIKeyAccountID int64
	// DisableAPIKeyUsage turns off the recording of API keys' use (request
	// count, last use and its address). Default false: recorded, in
	// memory, and written to the store in the background at most once a
	// [SessionConfig].TouchInterval.
	DisableAPIKeyUsage bool
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// when finding a client's address, for throttling, key bindings and
	// the log. Default none: the peer's address is the client's.
	TrustedProxies []netip.Prefix

	Cookie    CookieConfig
	Sessions  SessionConfig
	Cache     CacheConfig
	EToken    ETokenConfig
	Reauth    ReauthConfig
	Throttle  ThrottleConfig
	Passwords PasswordConfig
	TFA       TFAConfig
	// Limits bound the parameters the middleware and [Authenticator.Request]
	// read: see form.Limits for each limit and its default.
	Limits form.Limits

	// Captcha checks captchas. Default: captcha.Digits on Store.
	Captcha captcha.Checker
	// ErrorWriter answers a request the middleware refuses. Default:
	// [WriteJSONError].
	ErrorWriter func(w http.ResponseWriter, r *http.Request, err error)
	// Logger receives events and store failures. Default slog.Default().
	Logger *slog.Logger
	// OnEvent, when set, receives every event too, with the request's
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

// CookieConfig is the session cookie.
type CookieConfig struct {
	// Name is the cookie's name. Default "__Host-keyward", or "keyward"
	// with AllowPlaintextHTTP. A name starting "__Host-" with
	// AllowPlaintextHTTP is an error, since browsers would drop it.
	Name string
	// AllowPlaintextHTTP drops the Secure attribute and the __Host- prefix,
	// for development over plain http on loopback. Default false: the
	// cookie is only ever sent over HTTPS.
	AllowPlaintextHTTP bool
	// Store, when set, reads and writes the cookie through a
	// gorilla/sessions store of the host's (migrating an existing cookie,
	// say), keeping the session ID under the key "keyward.sid". Default
	// nil: keyward's own codec, which carries the bare session ID over
	// securecookie and costs a fraction of a gob-encoded session.
	Store sessions.Store
	// CrossOrigin protects unsafe requests authenticated by the cookie
	// (and every command of a command API, whatever its method). Requests
	// with header or parameter credentials are not checked: a browser does
	// not attach those by itself. Default:
	// [http.NewCrossOriginProtection] with no trusted origins. It is
	// shared, not copied: origins added to it later apply.
	CrossOrigin *http.CrossOriginProtection
}

// SessionConfig is how long sessions last.
type SessionConfig struct {
	// IdleTimeout ends a session not used for this long. Default 30
	// minutes.
	IdleTimeout time.Duration
	// Lifetime ends a session this long after login, used or not. Default
	// 12 hours.
	Lifetime time.Duration
	// TouchInterval is how stale a session's last-seen time may get before
	// a request writes it again, and how often API key usage is written,
	// so that most requests only read. Default 1 minute; it must be less
	// than IdleTimeout.
	TouchInterval time.Duration
}

// CacheConfig is the cache of credentials each Authenticator keeps: the
// sessions, API keys and accounts that requests' credentials resolved to,
// so that a credential seen again costs no store round trip.
//
// It serves only while the store's invalidation channel is listening
// ([store.Invalidations]: Redis pub/sub, PostgreSQL LISTEN/NOTIFY, or
// within the process for [store.Memory]); on a store without one (SQLite,
// a host's own), or while the channel is down, every request reads the
// store. A key revoked, a logout, a password or 2FA change made through
// keyward is in force at once on the instance that made it and, through
// the channel, within [store.InvalidationBound] (1 s) on every other. A
// change made outside keyward (an account disabled in a host's own table)
// needs [Authenticator.Invalidate]; without it, MaxAge bounds how long it
// goes unseen. The cache only ever lets a request through: every refusal
// is decided on what the store says.
type CacheConfig struct {
	// Entries bounds the sessions, the API keys and the accounts kept,
	// each. Default 10,000; negative turns the cache off.
	Entries int
	// MaxAge bounds how long an entry serves before the store is read
	// again, whatever the channel says. Default 10 seconds.
	MaxAge time.Duration
}

func (c CacheConfig) withDefaults() (CacheConfig, error) {
	if c.Entries == 0 {
		c.Entries = 10_000
	}
	if c.MaxAge == 0 {
		c.MaxAge = 10 * time.Second
	}
	if c.MaxAge < 0 {
		return c, errors.New("authn: negative Cache.MaxAge")
	}
	return c, nil
}

// ETokenConfig is the etoken: a session, encrypted, handed over as a Bearer
// credential for a moment (WMD SED API's api-sl.php).
type ETokenConfig struct {
	// Validity is how long an etoken may be redeemed after it is issued
	// (WMD's $api_sl_token_expiry). Default 2 seconds, at most an hour.
	Validity time.Duration
	// Reuse lets an etoken be used any number of times within its
	// validity, as a short script sending it on every request may want.
	// Default false: single use, claimed in the store across instances.
	Reuse bool
	// SetsCookie sets the session cookie on the answer to a request that
	// redeemed an etoken: a hand-off from a server to a browser. Default
	// false.
	SetsCookie bool
	// StrictBearer refuses (401) an Authorization header that is not a
	// keyward etoken. Default false: other schemes and other Bearer tokens
	// are left to the host's own middleware.
	StrictBearer bool
}

// ReauthConfig is re-authentication: the password proven again before a
// sensitive change.
type ReauthConfig struct {
	// Window is how long after a password login a session may make
	// sensitive changes (2FA, API keys, a new password, email address or
	// username) without the password again ([Authenticator.Reauthenticate]).
	// Default 10 minutes.
	Window time.Duration
}

// PasswordConfig is how passwords are hashed, and recovered.
type PasswordConfig struct {
	// Memory (in KiB), Iterations and Parallelism are the argon2id cost of
	// new hashes; SaltLength and KeyLength are in bytes. Defaults: the
	// OWASP Password Storage Cheat Sheet's first argon2id option, 19 MiB,
	// 2 iterations, 1 lane, with a 16-byte salt and a 32-byte key. They
	// are written into every hash, so changing them breaks no old hash:
	// it verifies with its own and is rehashed with these at its owner's
	// next login. bcrypt hashes verify too, and are rehashed the same way.
	Memory, Iterations uint32
	Parallelism        uint8
	SaltLength         uint32
	KeyLength          uint32
	// MaxConcurrentHashes bounds the password hashes computed at once; the
	// rest wait under their request's context. Default GOMAXPROCS.
	MaxConcurrentHashes int
	// Mailer sends password reset tokens. Default nil: no password
	// recovery.
	Mailer Mailer
	// ResetTokenTTL is how long a password reset token works. Default 30
	// minutes; between a minute and a day.
	ResetTokenTTL time.Duration
}

// TFAConfig is the second factor (TOTP).
type TFAConfig struct {
	// Issuer names the service in authenticator apps. Default: package
	// totp's, "keyward".
	Issuer string
	// Keys seal TOTP secrets at rest with AES-GCM: 16, 24 or 32 bytes
	// each; the first seals, all open. Default: one AES-256 key derived
	// from each pair of [Config].Keys, in the same order (HKDF-SHA256 over
	// the pair's Hash and Block, info "keyward totp seal v1"), so secrets
	// are sealed with no setting at all, and rotate when Keys do. Give
	// Keys here to keep second factors apart from the cookie keys; the
	// keys derived from [Config].Keys then only open, so secrets sealed
	// before still do. A secret stored plainly, or sealed with a key that
	// is no longer first, still opens, and is sealed again with the first
	// key at its owner's next login with a code. A secret whose key is
	// gone no longer opens (logins with a code fail with 503): its owner
	// can log in only with a recovery code.
	Keys [][]byte
	// Disable2FASecret turns on the trusted 2FA bypass: a login with
	// Disable2FA=true and a valid Disable2FAToken made with this secret
	// skips the 2FA step. For a host's own trusted front end that did the
	// second factor itself; keep the secret on the server side only. The
	// token is bound to the account and the command and good for 5 to 10
	// minutes ([Disable2FAToken]), unless the login asks for Octeth 5.9's
	// static one ([LoginRequest].StaticBypass). At least 16 bytes. Default
	// none: no bypass.
	Disable2FASecret []byte
}

// errRandomKeys refuses a store that outlives the process with keys that
// do not.
var errRandomKeys = errors.New("authn: Config.Keys (or TFA.Keys) is required with a store other than the default in-memory one: " +
	"TOTP secrets are sealed with keys derived from Keys, and random keys, made anew at each start, could not open them after a restart " +
	"(cookies and etokens would not survive one either, nor be shared between instances)")

// keysSurviveRestarts refuses, before any default is filled in, a
// configuration whose TOTP secrets would be sealed with random keys in a
// store that outlives the process. Only the default store (nil, or a
// [store.Memory] itself) forgets its secrets with its keys.
func (c Config) keysSurviveRestarts() error {
	if len(c.Keys) > 0 || len(c.TFA.Keys) > 0 || c.Store == nil {
		return nil
	}
	if _, inProcess := c.Store.(*store.Memory); inProcess {
		return nil
	}
	return errRandomKeys
}

// withDefaults returns a copy of c with every zero field filled in, deep
// copies of everything a host could change afterwards, or an error for a
// setting that cannot work.
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
	if c.Keys, err = keysWithDefaults(c.Keys, c.Rand); err != nil {
		return c, err
	}
	if c.Credentials == nil {
		c.Credentials = defaultCredentials[:]
	}
	c.Credentials = slices.Clone(c.Credentials)
	for _, m := range c.Credentials {
		if m < MethodSession || m == MethodCustom || m > MethodCustom {
			return c, fmt.Errorf("authn: Credentials: %v is not a credential of keyward's", m)
		}
	}
	c.Resolvers = slices.Clone(c.Resolvers)
	if c.AdminAPIKey != "" {
		if c.AdminAPIKeyAccountID <= 0 {
			return c, errors.New("authn: AdminAPIKey needs AdminAPIKeyAccountID")
		}
		if len(c.AdminAPIKey) < 16 {
			return c, errors.New("authn: AdminAPIKey is shorter than 16 characters")
		}
	}
	c.TrustedProxies = slices.Clone(c.TrustedProxies)
	if c.Cookie, err = c.Cookie.withDefaults(); err != nil {
		return c, err
	}
	if c.Sessions, err = c.Sessions.withDefaults(); err != nil {
		return c, err
	}
	if c.Cache, err = c.Cache.withDefaults(); err != nil {
		return c, err
	}
	if c.EToken, err = c.EToken.withDefaults(); err != nil {
		return c, err
	}
	if c.Reauth, err = c.Reauth.withDefaults(); err != nil {
		return c, err
	}
	if c.Throttle, err = c.Throttle.withDefaults(); err != nil {
		return c, err
	}
	if c.Passwords, err = c.Passwords.withDefaults(); err != nil {
		return c, err
	}
	if c.TFA, err = c.TFA.withDefaults(); err != nil {
		return c, err
	}
	if c.Limits.MaxParams < 0 || c.Limits.MaxName < 0 || c.Limits.MaxValue < 0 || c.Limits.MaxBody < 0 {
		return c, errors.New("authn: negative limit")
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

// keysWithDefaults returns deep copies of keys (securecookie keeps the
// slices it is given, and a host reusing its buffer must not change the
// keys after New), or one random pair if there are none, each checked.
func keysWithDefaults(keys []KeyPair, random io.Reader) ([]KeyPair, error) {
	if len(keys) == 0 {
		pair := KeyPair{Hash: make([]byte, 32), Block: make([]byte, 32)}
		if _, err := io.ReadFull(random, pair.Hash); err != nil {
			return nil, fmt.Errorf("authn: making cookie keys: %w", err)
		}
		if _, err := io.ReadFull(random, pair.Block); err != nil {
			return nil, fmt.Errorf("authn: making cookie keys: %w", err)
		}
		return []KeyPair{pair}, nil
	}
	out := make([]KeyPair, len(keys))
	for i, k := range keys {
		if n := len(k.Hash); n != 32 && n != 64 {
			return nil, fmt.Errorf("authn: Keys[%d].Hash is %d bytes, want 32 or 64", i, n)
		}
		if n := len(k.Block); n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("authn: Keys[%d].Block is %d bytes, want 16, 24 or 32", i, n)
		}
		out[i] = KeyPair{Hash: bytes.Clone(k.Hash), Block: bytes.Clone(k.Block)}
	}
	return out, nil
}

func (c CookieConfig) withDefaults() (CookieConfig, error) {
	if c.Name == "" {
		c.Name = "__Host-keyward"
		if c.AllowPlaintextHTTP {
			c.Name = "keyward"
		}
	}
	if c.AllowPlaintextHTTP && len(c.Name) >= 7 && c.Name[:7] == "__Host-" {
		return c, errors.New("authn: a __Host- cookie needs Secure; rename it or leave AllowPlaintextHTTP off")
	}
	if c.CrossOrigin == nil {
		c.CrossOrigin = http.NewCrossOriginProtection()
	}
	return c, nil
}

func (c SessionConfig) withDefaults() (SessionConfig, error) {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 30 * time.Minute
	}
	if c.Lifetime == 0 {
		c.Lifetime = 12 * time.Hour
	}
	if c.TouchInterval == 0 {
		c.TouchInterval = time.Minute
	}
	switch {
	case c.IdleTimeout < 0 || c.Lifetime < 0 || c.TouchInterval < 0:
		return c, errors.New("authn: negative session duration")
	case c.TouchInterval >= c.IdleTimeout:
		return c, errors.New("authn: Sessions.TouchInterval must be less than Sessions.IdleTimeout")
	}
	return c, nil
}

func (c ETokenConfig) withDefaults() (ETokenConfig, error) {
	if c.Validity == 0 {
		c.Validity = 2 * time.Second
	}
	if c.Validity < 0 || c.Validity > time.Hour {
		return c, errors.New("authn: EToken.Validity must be positive and at most an hour")
	}
	return c, nil
}

func (c ReauthConfig) withDefaults() (ReauthConfig, error) {
	if c.Window == 0 {
		c.Window = 10 * time.Minute
	}
	if c.Window < 0 {
		return c, errors.New("authn: negative Reauth.Window")
	}
	return c, nil
}

func (c PasswordConfig) withDefaults() (PasswordConfig, error) {
	if c.Memory == 0 {
		c.Memory = 19 * 1024
	}
	if c.Iterations == 0 {
		c.Iterations = 2
	}
	if c.Parallelism == 0 {
		c.Parallelism = 1
	}
	if c.SaltLength == 0 {
		c.SaltLength = 16
	}
	if c.KeyLength == 0 {
		c.KeyLength = 32
	}
	if err := c.argon2().validate(); err != nil {
		return c, err
	}
	if c.MaxConcurrentHashes == 0 {
		c.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	if c.MaxConcurrentHashes < 0 {
		return c, errors.New("authn: negative Passwords.MaxConcurrentHashes")
	}
	if c.ResetTokenTTL == 0 {
		c.ResetTokenTTL = 30 * time.Minute
	}
	if c.ResetTokenTTL < time.Minute || c.ResetTokenTTL > 24*time.Hour {
		return c, errors.New("authn: Passwords.ResetTokenTTL must be between a minute and a day")
	}
	return c, nil
}

// argon2 returns the argon2id parameters of new hashes.
func (c PasswordConfig) argon2() argon2Params {
	return argon2Params{Memory: c.Memory, Iterations: c.Iterations, Parallelism: c.Parallelism, SaltLength: c.SaltLength, KeyLength: c.KeyLength}
}

func (c TFAConfig) withDefaults() (TFAConfig, error) {
	keys := make([][]byte, len(c.Keys))
	for i, k := range c.Keys {
		keys[i] = bytes.Clone(k)
	}
	c.Keys = keys
	c.Disable2FASecret = bytes.Clone(c.Disable2FASecret)
	if len(c.Disable2FASecret) > 0 && len(c.Disable2FASecret) < 16 {
		return c, errors.New("authn: TFA.Disable2FASecret is shorter than 16 bytes")
	}
	return c, nil
}
