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
}

// app is the example server: keyward in front of a tiny list service.
type app struct {
	auth *authn.Authenticator
	api  *authn.API
	// wmd and wmdSL are the WMD SED API: api.php on the session cookie,
	// api-sl.php on the Bearer etoken.
	wmd, wmdSL *authn.API
	mem        *store.Memory
	lists      *lists
	users      []store.Account // the user accounts, for Users.Get
	admin      store.Account
}

// newApp builds the authenticator, seeds the accounts and registers the
// example's commands.
func newApp(ctx context.Context, o options) (*app, error) {
	if o.AdminPassword == "" || o.UserPassword == "" {
		return nil, errors.New("both passwords are required")
	}
	mem := store.NewMemory(store.MemoryConfig{Now: o.Now})
	cfg := authn.Config{
		Store:  mem,
		Logger: o.Logger,
		Now:    o.Now,
		Argon2: o.Argon2,
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
	}
	// Create the accounts first (the static admin key needs the admin's
	// ID), then the authenticator, then set the passwords with its hasher.
	a := &app{mem: mem, lists: newLists()}
	var err error
	if a.admin, err = mem.CreateAccount(ctx, store.Account{Scope: scopes.Admin, Username: "admin", Email: "admin@example.com", Name: "Administrator"}); err != nil {
		return nil, err
	}
	user, err := mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "user@example.com", Email: "user@example.com", FirstName: "Example", LastName: "User"})
	if err != nil {
		return nil, err
	}
	a.users = append(a.users, user)
	if o.AdminAPIKey != "" {
		cfg.AdminAPIKey = o.AdminAPIKey
		cfg.AdminAPIKeyAccountID = a.admin.ID
	}
	if a.auth, err = authn.New(cfg); err != nil {
		return nil, err
	}
	for ref, password := range map[store.AccountRef]string{a.admin.Ref(): o.AdminPassword, user.Ref(): o.UserPassword} {
		hash, err := a.auth.HashPassword(ctx, password)
		if err != nil {
			return nil, err
		}
		if err := mem.SetPasswordHash(ctx, ref, hash); err != nil {
			return nil, err
		}
	}
	a.api = authn.NewAPI(a.auth, o.API)
	a.wmd = authn.NewAPI(a.auth, authn.APIConfig{Dialect: authn.WMD, Resolvers: []authn.Resolver{authn.FromCookie()}})
	a.wmdSL = authn.NewAPI(a.auth, authn.APIConfig{Dialect: authn.WMD, Resolvers: []authn.Resolver{authn.FromBearer()}})
	if err := a.registerCommands(); err != nil {
		return nil, err
	}
	return a, nil
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
