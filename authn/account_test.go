package authn

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/totp"
)

func TestCreateAccount(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	bob, err := env.a.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "bob", Email: "bob@example.com", PasswordHash: "ignored"}, "bob's password")
	if err != nil || bob.ID == 0 || !strings.HasPrefix(bob.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("CreateAccount = %+v, %v", bob, err)
	}
	if _, err := env.login("192.0.2.1", LoginRequest{Scope: scopes.User, Username: "bob", Password: "bob's password", NoCaptcha: true}); err != nil {
		t.Fatalf("bob's login: %v", err)
	}
	for _, dup := range []store.Account{{Scope: scopes.User, Username: "BOB"}, {Scope: scopes.User, Username: "bobby", Email: "Bob@Example.com"}} {
		if _, err := env.a.CreateAccount(ctx, dup, "pw"); !errors.Is(err, store.ErrConflict) {
			t.Errorf("%+v: %v", dup, err)
		}
	}
	// The same name in the other scope is another account.
	if _, err := env.a.CreateAccount(ctx, store.Account{Scope: scopes.Admin, Username: "bob"}, "pw"); err != nil {
		t.Errorf("an administrator bob: %v", err)
	}
	if _, err := env.a.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "long"}, strings.Repeat("x", 2000)); !errors.Is(err, ErrBadRequest) {
		t.Errorf("an over-long password: %v", err)
	}
	// A store keyward may not write accounts to.
	ro := newTestEnv(t, func(c *Config) { c.Store = struct{ store.Store }{c.Store} })
	if _, err := ro.a.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "carol"}, "pw"); !errors.Is(err, ErrForbidden) {
		t.Errorf("a read-only store: %v", err)
	}
}

func TestAccount(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	if acct, err := env.a.Account(ctx, env.alice.Ref()); err != nil || acct.Username != "alice" {
		t.Fatalf("Account = %+v, %v", acct, err)
	}
	off, err := env.mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "off", Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []store.AccountRef{off.Ref(), {Scope: scopes.User, ID: 999}, {Scope: scopes.Admin, ID: env.alice.ID}} {
		if _, err := env.a.Account(ctx, ref); !errors.Is(err, ErrInvalidCredential) {
			t.Errorf("%v: %v", ref, err)
		}
	}
	fs := &failingStore{fail: map[string]bool{"Account": true}}
	down := newTestEnv(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
	if _, err := down.a.Account(ctx, down.alice.Ref()); !errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("a failing store: %v", err)
	}
}

func TestUpdateAccount(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	if _, err := env.a.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "bob", Email: "bob@example.com"}, "bob's password"); err != nil {
		t.Fatal(err)
	}
	principal := func() Principal { return env.serve(get("SessionID=" + env.session(env.alice))).principal }
	current := func() store.Account {
		acct, err := env.a.Account(ctx, env.alice.Ref())
		if err != nil {
			t.Fatal(err)
		}
		return acct
	}

	// Names: no credential change, no session ends, no proof needed.
	p := principal()
	env.clock.Advance(11 * time.Minute) // the login is older than the window, the session alive
	other := env.session(env.alice)
	acct := current()
	acct.FirstName, acct.LastName, acct.Name = "Alicia", "Liddell", "Alice L."
	if next, err := env.a.UpdateAccount(ctx, p, acct, ""); err != nil || next.Reveal() != "" {
		t.Fatalf("names: %q, %v", next.Reveal(), err)
	}
	if got := current(); got.FirstName != "Alicia" || got.LastName != "Liddell" || got.Name != "Alice L." || got.PasswordHash != env.alice.PasswordHash {
		t.Fatalf("stored %+v", got)
	}
	if env.serve(get("SessionID="+other)).status != 200 {
		t.Fatal("a names change ended a session")
	}
	// A new username, email address or password needs a recent proof.
	for name, change := range map[string]func(*store.Account) string{
		"username": func(a *store.Account) string { a.Username = "alicia"; return "" },
		"email":    func(a *store.Account) string { a.Email = "alicia@example.com"; return "" },
		"password": func(*store.Account) string { return "a-brand-new-password" },
	} {
		acct := current()
		pw := change(&acct)
		if _, err := env.a.UpdateAccount(ctx, p, acct, pw); !errors.Is(err, ErrReauthenticate) {
			t.Errorf("%s, an old login: %v", name, err)
		}
		// A key is no proof at all.
		key, _ := env.key(env.alice)
		if _, err := env.a.UpdateAccount(ctx, env.serve(get("APIKey="+key)).principal, acct, pw); !errors.Is(err, ErrForbidden) {
			t.Errorf("%s, by key: %v", name, err)
		}
	}
	// Reauthenticate is the proof, for the rest of the request.
	p, err := env.a.Reauthenticate(ctx, from("192.0.2.1"), p, alicePassword, "")
	if err != nil || !p.AuthenticatedAt.Equal(env.clock.Now()) {
		t.Fatalf("Reauthenticate: %+v %v", p, err)
	}
	// A taken email address: nothing changes.
	acct = current()
	acct.Email = "BOB@example.com"
	if _, err := env.a.UpdateAccount(ctx, p, acct, "a-brand-new-password"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a taken email address: %v", err)
	}
	if _, err := env.login("192.0.2.2", aliceLogin(alicePassword)); err != nil || env.serve(get("SessionID="+other)).status != 200 {
		t.Fatalf("a refused change changed something: %v", err)
	}
	// A new email address and password: one credential change; the other
	// sessions end, the caller's goes on under a new ID.
	acct.Email = "alicia@example.com"
	next, err := env.a.UpdateAccount(ctx, p, acct, "a-brand-new-password")
	if err != nil || next.Reveal() == "" {
		t.Fatalf("email and password: %q, %v", next.Reveal(), err)
	}
	if env.serve(get("SessionID="+other)).status != 401 || env.serve(get("SessionID="+next.Reveal())).status != 200 {
		t.Fatal("the sessions after a credential change")
	}
	if _, err := env.login("192.0.2.3", aliceLogin(alicePassword)); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("the old password: %v", err)
	}
	req := aliceLogin("a-brand-new-password")
	req.Username = "alicia@example.com"
	if _, err := env.login("192.0.2.3", req); err != nil {
		t.Fatalf("the new email address and password: %v", err)
	}
	kinds := env.events.kinds()
	if !slices.Contains(kinds, event.PasswordChanged) || !slices.Contains(kinds, event.AccountUpdated) {
		t.Fatalf("events %v", kinds)
	}
	// An account is changed by its owner only.
	root, _ := env.a.Account(ctx, env.root.Ref())
	if _, err := env.a.UpdateAccount(ctx, p, root, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another's account: %v", err)
	}
	// A store keyward may not write accounts to.
	ro := newTestEnv(t, func(c *Config) { c.Store = struct{ store.Store }{c.Store} })
	rp := ro.serve(get("SessionID=" + ro.session(ro.alice))).principal
	if _, err := ro.a.UpdateAccount(ctx, rp, ro.alice, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a read-only store: %v", err)
	}
}

// Reauthenticate: a recent password login passes as it is; an old one
// needs the password (or a code) again; keys and switched sessions never
// pass.
func TestReauthenticate(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	sid := env.session(env.alice)
	p := env.serve(get("SessionID=" + sid)).principal
	if got, err := env.a.Reauthenticate(ctx, nil, p, "", ""); err != nil || got != p {
		t.Fatalf("a fresh login: %+v %v", got, err)
	}
	env.clock.Advance(10*time.Minute - time.Second)
	if _, err := env.a.Reauthenticate(ctx, nil, env.serve(get("SessionID="+sid)).principal, "", ""); err != nil {
		t.Fatalf("just inside the window: %v", err)
	}
	env.clock.Advance(time.Second)
	p = env.serve(get("SessionID=" + sid)).principal
	if _, err := env.a.Reauthenticate(ctx, nil, p, "", ""); !errors.Is(err, ErrReauthenticate) || statusOf(err) != 403 {
		t.Fatalf("the window over: %v", err)
	}
	if _, err := env.a.Reauthenticate(ctx, from("192.0.2.1"), p, "wrong", ""); !errors.Is(err, ErrInvalidCredential) {
		t.Fatalf("a wrong password: %v", err)
	}
	if _, err := env.a.Reauthenticate(ctx, from("192.0.2.1"), p, alicePassword, "123456"); !errors.Is(err, ErrTFAWrong) {
		t.Fatalf("a code with 2FA off: %v", err)
	}
	proved, err := env.a.Reauthenticate(ctx, nil, p, alicePassword, "")
	if err != nil || !proved.AuthenticatedAt.Equal(env.clock.Now()) {
		t.Fatalf("the password: %+v %v", proved, err)
	}
	// The proof is the request's: the session's own login time is not
	// moved by it.
	if got := env.serve(get("SessionID=" + sid)).principal; got.AuthenticatedAt.Equal(env.clock.Now()) {
		t.Fatal("the session's login time moved")
	}
	// With 2FA on, a code proves too.
	tfaSecret, _ := env.enableTFA(env.root)
	root := env.serve(get("SessionID=" + env.session(env.root))).principal
	env.clock.Advance(time.Hour)
	if _, err := env.a.Reauthenticate(ctx, nil, root, "", totpCode(t, tfaSecret, env.clock.Now())); err != nil {
		t.Fatalf("a code: %v", err)
	}
	// The static admin key beside the session is the deployment's proof
	// (seed 003 sends both) of a change of the administrator's own
	// account (UpdateAccount), and of nothing else; a stored key beside
	// it is not.
	withStatic := env.serve(get("SessionID=" + env.session(env.root) + "&AdminAPIKey=" + staticKey)).principal
	env.clock.Advance(env.a.cfg.Reauth.Window) // the login is too old, the session still alive
	if _, err := env.a.Reauthenticate(ctx, nil, withStatic, "", ""); !errors.Is(err, ErrReauthenticate) {
		t.Fatalf("the static key beside an old session, for anything: %v", err)
	}
	if _, err := env.a.SetupTFA(ctx, withStatic); !errors.Is(err, ErrReauthenticate) {
		t.Fatalf("the static key beside an old session, for 2FA: %v", err)
	}
	rootAcct, err := env.a.Account(ctx, env.root.Ref())
	if err != nil {
		t.Fatal(err)
	}
	rootAcct.Email = "root2@example.com"
	if _, err := env.a.UpdateAccount(ctx, withStatic, rootAcct, "a new password"); err != nil {
		t.Fatalf("the static key beside a session, for the admin's own account: %v", err)
	}
	// Only keyward marks the static key: a session principal edited to look
	// like one (a key's method, no key ID) proves nothing.
	forged := env.serve(get("SessionID=" + env.session(env.root))).principal
	env.clock.Advance(env.a.cfg.Reauth.Window)
	forged.Method, forged.APIKeyID = MethodAdminKey, 0
	if rootAcct, err = env.a.Account(ctx, env.root.Ref()); err != nil {
		t.Fatal(err)
	}
	rootAcct.Email = "root3@example.com"
	if _, err := env.a.UpdateAccount(ctx, forged, rootAcct, ""); !errors.Is(err, ErrReauthenticate) {
		t.Fatalf("a principal edited to look like the static key's: %v", err)
	}
	rootKey, _ := env.key(env.root)
	withKey := env.serve(get("SessionID=" + env.session(env.root) + "&AdminAPIKey=" + rootKey)).principal
	env.clock.Advance(time.Hour)
	if _, err := env.a.Reauthenticate(ctx, nil, withKey, "", ""); !errors.Is(err, ErrReauthenticate) {
		t.Fatalf("a stored key beside an old session: %v", err)
	}
	// Not a password session: forbidden, before any password is looked at.
	key, _ := env.key(env.alice)
	keyLogin, err := env.login("192.0.2.2", LoginRequest{Scope: scopes.User, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]string{
		"a key":                "APIKey=" + key,
		"a key login":          "SessionID=" + keyLogin.SessionID.Reveal(),
		"the static key alone": "AdminAPIKey=" + staticKey,
	} {
		p := env.serve(get(q)).principal
		for _, pw := range []string{"", alicePassword} {
			if _, err := env.a.Reauthenticate(ctx, nil, p, pw, ""); !errors.Is(err, ErrForbidden) {
				t.Errorf("%s, password %q: %v", name, pw, err)
			}
		}
	}
}

// 2FA changes: each needs a recent password login, and turning it on or
// off ends the account's other sessions.
func TestTFAChanges(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	p := env.serve(get("SessionID=" + env.session(env.alice))).principal
	other := env.session(env.alice)
	if _, _, err := env.a.EnableTFA(ctx, p, "123456"); !errors.Is(err, totp.ErrNotSetUp) {
		t.Fatalf("Enable before Setup: %v", err)
	}
	enr, err := env.a.SetupTFA(ctx, p)
	if err != nil || enr.Secret == "" || !strings.HasPrefix(enr.URL, "otpauth://") || len(enr.QRCode) == 0 {
		t.Fatalf("SetupTFA = %+v, %v", enr, err)
	}
	if _, _, err := env.a.EnableTFA(ctx, p, "000000"); !errors.Is(err, totp.ErrInvalidCode) {
		t.Fatalf("a wrong code: %v", err)
	}
	if on, _ := env.a.TFAEnabled(ctx, env.alice.Ref()); on {
		t.Fatal("2FA on after a wrong code")
	}
	codes, next, err := env.a.EnableTFA(ctx, p, totpCode(t, enr.Secret, env.clock.Now()))
	if err != nil || len(codes) != 10 || next.Reveal() == "" {
		t.Fatalf("EnableTFA = %d codes, %q, %v", len(codes), next.Reveal(), err)
	}
	if env.serve(get("SessionID="+other)).status != 401 || env.serve(get("SessionID="+next.Reveal())).status != 200 {
		t.Fatal("the sessions after 2FA went on")
	}
	p = env.serve(get("SessionID=" + next.Reveal())).principal
	if _, err := env.a.SetupTFA(ctx, p); !errors.Is(err, totp.ErrAlreadyEnabled) {
		t.Fatalf("Setup with 2FA on: %v", err)
	}
	fresh, err := env.a.RegenerateRecoveryCodes(ctx, p)
	if err != nil || len(fresh) != 10 || slices.Contains(fresh, codes[0]) {
		t.Fatalf("RegenerateRecoveryCodes = %v, %v", fresh, err)
	}
	// The old recovery codes are gone.
	req := aliceLogin(alicePassword)
	req.TFARecoveryCode = codes[0]
	if _, err := env.login("192.0.2.1", req); !errors.Is(err, ErrTFAWrong) {
		t.Fatalf("an old recovery code: %v", err)
	}
	// Too long after the login, every change is refused.
	env.clock.Advance(11 * time.Minute)
	old := env.serve(get("SessionID=" + next.Reveal())).principal
	if _, err := env.a.SetupTFA(ctx, old); !errors.Is(err, ErrReauthenticate) {
		t.Errorf("SetupTFA: %v", err)
	}
	if _, _, err := env.a.EnableTFA(ctx, old, "123456"); !errors.Is(err, ErrReauthenticate) {
		t.Errorf("EnableTFA: %v", err)
	}
	if _, err := env.a.DisableTFA(ctx, old); !errors.Is(err, ErrReauthenticate) {
		t.Errorf("DisableTFA: %v", err)
	}
	if _, err := env.a.RegenerateRecoveryCodes(ctx, old); !errors.Is(err, ErrReauthenticate) {
		t.Errorf("RegenerateRecoveryCodes: %v", err)
	}
	proved, err := env.a.Reauthenticate(ctx, nil, old, alicePassword, "")
	if err != nil {
		t.Fatal(err)
	}
	other = env.session(env.alice)
	next, err = env.a.DisableTFA(ctx, proved)
	if err != nil || next.Reveal() == "" {
		t.Fatalf("DisableTFA: %q, %v", next.Reveal(), err)
	}
	if on, _ := env.a.TFAEnabled(ctx, env.alice.Ref()); on {
		t.Fatal("2FA still on")
	}
	if env.serve(get("SessionID="+other)).status != 401 || env.serve(get("SessionID="+next.Reveal())).status != 200 {
		t.Fatal("the sessions after 2FA went off")
	}
	kinds := env.events.kinds()
	if !slices.Contains(kinds, event.TFAEnabled) || !slices.Contains(kinds, event.TFADisabled) {
		t.Fatalf("events %v", kinds)
	}
}

// Emit sends a host's event to the hook and the log, stamped with the
// authenticator's clock unless it has a time.
func TestEmit(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	env.a.Emit(context.Background(), event.Event{Kind: "list_created", Account: env.alice.Ref(), Reason: "a host's"})
	if e := env.events.last("list_created"); !e.Time.Equal(env.clock.Now()) || e.Account != env.alice.Ref() {
		t.Fatalf("event %+v", e)
	}
	at := env.clock.Now().Add(-time.Hour)
	env.a.Emit(context.Background(), event.Event{Kind: event.Refused, Time: at})
	if e := env.events.last(event.Refused); !e.Time.Equal(at) {
		t.Fatalf("the event's own time replaced: %+v", e)
	}
	if log := env.logBuf.String(); !strings.Contains(log, `msg="keyward list_created"`) || !strings.Contains(log, "level=WARN msg=\"keyward request_refused\"") {
		t.Fatalf("log %s", log)
	}
}

// A request for a command router: Request reads the parameters strictly,
// Authenticate the credentials it is told to, checking every cookie
// request's origin.
func TestAuthenticate(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	sid := env.session(env.alice)
	key, _ := env.key(env.alice)
	cookie := env.cookie(sid)
	// auth does what a command router does: the parameters first (they
	// name the command), then the credentials.
	auth := func(t *testing.T, r *http.Request, credentials []Method) (Principal, int) {
		t.Helper()
		req := env.a.Request(r)
		read, err := req.Params()
		if err != nil {
			return Principal{}, statusOf(err)
		}
		rec := httptest.NewRecorder()
		next, err := env.a.Authenticate(rec, req, credentials)
		if err != nil {
			if next != nil {
				t.Fatal("a refused request handed on")
			}
			return Principal{}, statusOf(err)
		}
		p, _ := PrincipalFrom(next.Context())
		if params, err := env.a.Request(next).Params(); err != nil || params != read {
			t.Fatal("the parameters read were not handed on")
		}
		return p, 200
	}
	tests := []struct {
		name        string
		req         func() *http.Request
		credentials []Method
		status      int
		method      Method
	}{
		{"the configured credentials", func() *http.Request { return get("APIKey=" + key) }, nil, 200, MethodAPIKey},
		{"none", func() *http.Request { return get("") }, nil, 200, 0},
		{"only the cookie: a key is not looked at", func() *http.Request { return get("APIKey=" + key) }, []Method{MethodCookie}, 200, 0},
		{"only the cookie: the cookie", func() *http.Request { return withCookie(get(""), cookie) }, []Method{MethodCookie}, 200, MethodCookie},
		{"a bad key", func() *http.Request { return get("APIKey=kw_bad") }, nil, 401, 0},
		// Commands change state on GET too: a cookie GET from another
		// site is refused here, as the middleware refuses only unsafe
		// methods.
		{"a cross-site GET with the cookie", func() *http.Request {
			r := withCookie(get(""), cookie)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			return r
		}, nil, 403, 0},
		{"a cross-site GET with a key", func() *http.Request {
			r := get("APIKey=" + key)
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			return r
		}, nil, 200, MethodAPIKey},
		// Parameters are the point of a command: an upload is refused.
		{"an oversized body", func() *http.Request {
			return postForm("SessionID=" + sid + "&x=" + strings.Repeat("x", 2<<20))
		}, nil, 400, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, status := auth(t, tc.req(), tc.credentials)
			if status != tc.status || p.Method != tc.method {
				t.Fatalf("%d %+v, want %d %v", status, p, tc.status, tc.method)
			}
		})
	}
}

// Behind the middleware, a router's Request is the middleware's, its
// credentials resolved already; a principal a host put in the context is
// kept.
func TestRequestBehindMiddleware(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.EToken.SetsCookie = true })
	key, _ := env.key(env.alice)
	var got Principal
	var value string
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := env.a.Request(r)
		if _, err := req.Params(); err != nil {
			t.Error(err)
		}
		next, err := env.a.Authenticate(w, req, []Method{MethodCookie}) // the middleware decided already
		if err != nil {
			t.Error(err)
			return
		}
		got, _ = PrincipalFrom(next.Context())
		params, _ := env.a.Request(next).Params()
		value, _ = params.Get("Value")
	})
	env.a.Middleware(router).ServeHTTP(httptest.NewRecorder(), get("Value=v&APIKey="+key))
	if got.Method != MethodAPIKey || got.AccountID != env.alice.ID || value != "v" {
		t.Fatalf("behind the middleware: %+v %q", got, value)
	}
	// An etoken that hands the cookie on: one cookie, not one from the
	// middleware and another from the router.
	rec := httptest.NewRecorder()
	env.a.Middleware(router).ServeHTTP(rec, bearer(env.etoken(env.session(env.alice))))
	if got.Method != MethodEToken || len(rec.Header()["Set-Cookie"]) != 1 {
		t.Fatalf("an etoken behind the middleware: %+v, Set-Cookie %q", got, rec.Header()["Set-Cookie"])
	}

	p := Principal{Scope: scopes.Admin, AccountID: 42, Username: "tester", Method: MethodCustom}
	r := get("APIKey=" + key) // not looked at: the host decided
	router.ServeHTTP(httptest.NewRecorder(), r.WithContext(WithPrincipal(r.Context(), p)))
	if got != p {
		t.Fatalf("a host's principal: %+v", got)
	}
}
