package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/internal/storewrap"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// options are what the example is told; the tests set them too.
type options struct {
	AdminPassword string
	UserPassword  string
	AdminAPIKey   string
	Logger        *slog.Logger
	// Now and Passwords are for tests: a fake clock, cheap hashing.
	Now       func() time.Time
	Passwords authn.PasswordConfig
	API       command.Config
	// Throttle is left zero (the defaults) but by tests.
	Throttle authn.ThrottleConfig
	// Disable2FASecret turns on the trusted 2FA bypass (tests only).
	Disable2FASecret []byte
	// Mailer sends password reset tokens; run sets one that prints them.
	Mailer authn.Mailer
	// DB, Redis and Prefix choose the store (see openStore); Keys are the
	// cookie and etoken keys several instances share.
	DB, Redis, Prefix string
	Keys              []authn.KeyPair
	// StoreTimeout bounds each store call (authn.Config.StoreTimeout), and
	// ReauthWindow is authn.Config.Reauth.Window; zero is keyward's
	// default.
	StoreTimeout, ReauthWindow time.Duration
	// ETokenValidity is authn.Config.EToken.Validity (WMD's
	// $api_sl_token_expiry); zero is keyward's default, 2 seconds.
	ETokenValidity time.Duration
	// wrapStore, when set, wraps the store (tests: a store whose calls
	// can be made to fail).
	wrapStore func(store.Store) store.Store
}

// app is the example server: keyward in front of a tiny list service.
type app struct {
	auth *authn.Authenticator
	api  *command.API
	// wmd and wmdSL are the WMD SED API: api.php on the session cookie,
	// api-sl.php on the Bearer etoken.
	wmd, wmdSL *command.API
	// apiPHP is /api.php: Octeth's API, and WMD's for requests with c=.
	apiPHP     http.Handler
	store      store.Store   // the store the authenticator uses
	mem        *store.Memory // when the store is memory
	closeStore func() error
	lists      *lists
	metrics    *metrics
	users      []store.Account // the user accounts, for Users.Get
	admin      store.Account
	// created names the seeded accounts this instance created (and set
	// the passwords of); the others were already in the store.
	created []string
}

// Close stops the authenticator's background work, then closes the store.
func (a *app) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), seedTimeout)
	defer cancel()
	err := a.auth.Close(ctx) // key usage written, invalidations no longer heard
	return errors.Join(err, a.closeStore())
}

// newApp opens the store, seeds the accounts, builds the authenticator and
// registers the example's commands.
func newApp(ctx context.Context, o options) (*app, error) {
	if o.AdminPassword == "" || o.UserPassword == "" {
		return nil, errors.New("both passwords are required")
	}
	st, mem, closeStore, err := openStore(ctx, o)
	if err != nil {
		return nil, err
	}
	m := newMetrics()
	if mem == nil {
		// Real stores are timed; the memory store answers in
		// nanoseconds, and authn treats it as in-process only unwrapped.
		st = storewrap.New(st, m.timeStore)
	}
	if o.wrapStore != nil {
		st = o.wrapStore(st)
	}
	a := &app{mem: mem, closeStore: closeStore, lists: newLists(), metrics: m}
	if err := a.build(ctx, st, o); err != nil {
		_ = closeStore()
		return nil, err
	}
	return a, nil
}

// build seeds the accounts, then makes the authenticator and the APIs.
func (a *app) build(ctx context.Context, st store.Store, o options) error {
	a.store = st
	passwords := o.Passwords
	passwords.Mailer = o.Mailer
	cfg := authn.Config{
		Store:        st,
		StoreTimeout: o.StoreTimeout,
		Keys:         o.Keys,
		Logger:       o.Logger,
		Now:          o.Now,
		Passwords:    passwords,
		Reauth:       authn.ReauthConfig{Window: o.ReauthWindow},
		EToken:       authn.ETokenConfig{Validity: o.ETokenValidity},
		// The example serves plain http on loopback, where a Secure
		// __Host- cookie would never be sent back. Behind TLS, leave this
		// false.
		Cookie:   authn.CookieConfig{AllowPlaintextHTTP: true},
		Throttle: o.Throttle,
		TFA:      authn.TFAConfig{Disable2FASecret: o.Disable2FASecret},
		OnEvent:  a.metrics.event,
	}
	// The accounts first: the static admin key acts as the administrator,
	// whose ID the Config names. An authenticator without the key makes
	// them, with their passwords; an account already in the store
	// (another instance made it) keeps its own.
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	seederCfg := cfg
	seederCfg.Cache.Entries = -1 // it serves no request: no cache to keep
	seeder, err := authn.New(seederCfg)
	if err != nil {
		return err
	}
	defer seeder.Close(ctx)
	for _, s := range []struct {
		acct     *store.Account
		account  store.Account
		password string
	}{
		{&a.admin, store.Account{Scope: scopes.Admin, Username: "admin", Email: "admin@example.com", Name: "Administrator"}, o.AdminPassword},
		{new(store.Account), store.Account{Scope: scopes.User, Username: "user@example.com", Email: "user@example.com", FirstName: "Example", LastName: "User"}, o.UserPassword},
	} {
		created, err := seedAccount(ctx, seeder, st, s.account, s.password)
		if err != nil {
			return err
		}
		if *s.acct, err = st.AccountByLogin(ctx, s.account.Scope, s.account.Username); err != nil {
			return err
		}
		if s.account.Scope == scopes.User {
			a.users = []store.Account{*s.acct}
		}
		if created {
			a.created = append(a.created, s.account.Username)
		}
	}
	if o.AdminAPIKey != "" {
		cfg.AdminAPIKey = o.AdminAPIKey
		cfg.AdminAPIKeyAccountID = a.admin.ID
	}
	if a.auth, err = authn.New(cfg); err != nil {
		return err
	}
	// Seed 003 logs in with no captcha parameters at all, so the example
	// asks for a captcha only once a username has failed from an address
	// a few times (the default, CaptchaOcteth, asks for one unless
	// DisableCaptcha=true).
	api := o.API
	if api.CaptchaPolicy == command.CaptchaOcteth {
		api.CaptchaPolicy = command.CaptchaAfterFailures
	}
	a.api = command.New(a.auth, api)
	a.wmd = command.New(a.auth, command.Config{Dialect: command.WMD, Credentials: []authn.Method{authn.MethodCookie}})
	a.wmdSL = command.New(a.auth, command.Config{Dialect: command.WMD, Credentials: []authn.Method{authn.MethodEToken}})
	if a.apiPHP, err = command.Dialects(a.api, a.wmd); err != nil {
		return err
	}
	return a.registerCommands()
}

// seedAccount makes the account with the password, unless an account of
// its username is in the store already; it reports whether it made it.
// Two instances starting at once on one database end up with the one
// account.
func seedAccount(ctx context.Context, auth *authn.Authenticator, st store.Store, acct store.Account, password string) (bool, error) {
	_, err := st.AccountByLogin(ctx, acct.Scope, acct.Username)
	switch {
	case err == nil:
		return false, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, err
	}
	_, err = auth.CreateAccount(ctx, acct, password)
	if errors.Is(err, store.ErrConflict) {
		return false, nil // another instance made it between the two calls
	}
	return err == nil, err
}

// Handler returns the example's routes: the Octeth command API at /api.php
// and /api, the WMD SED API at /wmd/api.php (cookie) and /wmd/api-sl.php
// (Bearer etoken), and also at /api.php for requests with c= and at
// /api-sl.php (seed 004's URLs), each API authenticating its own
// requests; the
// captcha images and sounds at /captcha/, and the browser UI (ui.go) at
// everything else under /.
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api.php", a.apiPHP)
	mux.Handle("/api", a.api)
	mux.Handle("/wmd/api.php", a.wmd)
	mux.Handle("/wmd/api-sl.php", a.wmdSL)
	mux.Handle("/api-sl.php", a.wmdSL) // seed 004's name
	mux.Handle("/captcha/", a.auth.CaptchaHandler())
	// Prometheus's scrape. Counts only, nothing about any account; in
	// production, keep it to the network your Prometheus scrapes from.
	mux.Handle("GET /metrics", a.metrics.handler())
	mux.Handle("/", a.uiHandler())
	return mux
}
