package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// options are what the example is told; the tests set them too.
type options struct {
	AdminPassword string
	UserPassword  string
	AdminAPIKey   string
	Logger        *slog.Logger
	// Now and Argon2 are for tests: a fake clock, cheap hashing.
	Now    func() time.Time
	Argon2 authn.Argon2Params
	API    authn.APIConfig
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
	// ReauthWindow is authn.Config.ReauthWindow; zero is keyward's
	// default.
	StoreTimeout, ReauthWindow time.Duration
	// wrapStore, when set, wraps the store (tests: a store whose calls
	// can be made to fail).
	wrapStore func(store.Store) store.Store
}

// app is the example server: keyward in front of a tiny list service.
type app struct {
	auth *authn.Authenticator
	api  *authn.API
	// wmd and wmdSL are the WMD SED API: api.php on the session cookie,
	// api-sl.php on the Bearer etoken.
	wmd, wmdSL *authn.API
	mem        *store.Memory // when the store is memory
	closeStore func() error
	lists      *lists
	users      []store.Account // the user accounts, for Users.Get
	admin      store.Account
	// created names the seeded accounts this instance created (and set
	// the passwords of); the others were already in the store.
	created []string
}

// Close closes the store.
func (a *app) Close() error { return a.closeStore() }

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
	if o.wrapStore != nil {
		st = o.wrapStore(st)
	}
	a := &app{mem: mem, closeStore: closeStore, lists: newLists()}
	if err := a.build(ctx, st, o); err != nil {
		_ = closeStore()
		return nil, err
	}
	return a, nil
}

// build seeds the accounts, then makes the authenticator and the APIs.
func (a *app) build(ctx context.Context, st store.Store, o options) error {
	cfg := authn.Config{
		Store:        st,
		StoreTimeout: o.StoreTimeout,
		ReauthWindow: o.ReauthWindow,
		Keys:         o.Keys,
		Logger:       o.Logger,
		Now:          o.Now,
		Argon2:       o.Argon2,
		// The example serves plain http on loopback, where a Secure
		// __Host- cookie would never be sent back. Behind TLS, leave this
		// false.
		AllowPlaintextHTTP: true,
		// Seed 003 logs in with no captcha parameters at all, so the
		// example asks for a captcha only once a username has failed
		// from an address a few times (the default, CaptchaOcteth, asks
		// for one unless DisableCaptcha=true).
		CaptchaPolicy:    authn.CaptchaAfterFailures,
		Throttle:         o.Throttle,
		Disable2FASecret: o.Disable2FASecret,
		Mailer:           o.Mailer,
	}
	// Find or create the accounts first (the static admin key needs the
	// admin's ID), then the authenticator, then the passwords of the
	// accounts created here. An account already in the store (another
	// instance made it) keeps its password.
	ctx, cancel := context.WithTimeout(ctx, seedTimeout)
	defer cancel()
	admin, adminNew, err := seedAccount(ctx, st, store.Account{Scope: scopes.Admin, Username: "admin", Email: "admin@example.com", Name: "Administrator"})
	if err != nil {
		return err
	}
	user, userNew, err := seedAccount(ctx, st, store.Account{Scope: scopes.User, Username: "user@example.com", Email: "user@example.com", FirstName: "Example", LastName: "User"})
	if err != nil {
		return err
	}
	a.admin, a.users = admin, []store.Account{user}
	if o.AdminAPIKey != "" {
		cfg.AdminAPIKey = o.AdminAPIKey
		cfg.AdminAPIKeyAccountID = admin.ID
	}
	if a.auth, err = authn.New(cfg); err != nil {
		return err
	}
	setter := st.(store.PasswordSetter)
	for _, s := range []struct {
		acct     store.Account
		created  bool
		password string
	}{{admin, adminNew, o.AdminPassword}, {user, userNew, o.UserPassword}} {
		if !s.created {
			continue
		}
		hash, err := a.auth.HashPassword(ctx, s.password)
		if err != nil {
			return err
		}
		if err := setter.SetPassword(ctx, s.acct.Ref(), hash); err != nil {
			return err
		}
		a.created = append(a.created, s.acct.Username)
	}
	a.api = authn.NewAPI(a.auth, o.API)
	a.wmd = authn.NewAPI(a.auth, authn.APIConfig{Dialect: authn.WMD, Resolvers: []authn.Resolver{authn.FromCookie()}})
	a.wmdSL = authn.NewAPI(a.auth, authn.APIConfig{Dialect: authn.WMD, Resolvers: []authn.Resolver{authn.FromBearer()}})
	return a.registerCommands()
}

// seedAccount finds the account by its username, or creates it (without a
// password: the caller sets it). It reports whether it created it. Two
// instances starting at once on one database both end up with the one
// account.
func seedAccount(ctx context.Context, st store.Store, acct store.Account) (store.Account, bool, error) {
	for range 2 {
		found, err := st.AccountByLogin(ctx, acct.Scope, acct.Username)
		if err == nil {
			return found, false, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return acct, false, err
		}
		created, err := st.(store.AccountCreator).CreateAccount(ctx, acct)
		if err == nil {
			return created, true, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return acct, false, err
		}
		// Another instance created it between the two calls: find it.
	}
	return acct, false, errors.New("example: could not seed " + acct.Username)
}

// Handler returns the example's routes: the Octeth command API at /api.php
// and /api, the WMD SED API at /wmd/api.php (cookie) and /wmd/api-sl.php
// (Bearer etoken) (each API authenticates its own requests), the
// captcha images and sounds at /captcha/, and the browser UI (ui.go) at
// everything else under /.
func (a *app) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api.php", a.api)
	mux.Handle("/api", a.api)
	mux.Handle("/wmd/api.php", a.wmd)
	mux.Handle("/wmd/api-sl.php", a.wmdSL)
	mux.Handle("/captcha/", a.auth.CaptchaHandler())
	mux.Handle("/", a.uiHandler())
	return mux
}
