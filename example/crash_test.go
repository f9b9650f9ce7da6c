package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/internal/netfault"
	"github.com/keyward/keyward/internal/storefault"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Crash-point tests: every credential change is all or nothing. For each
// command that changes what an account proves itself with, the test counts
// the store calls the command makes, then runs it once per call n and per
// mode, failing the n-th call before it is applied or after it (applied,
// the answer lost), each time on a fresh account, and checks:
//
//   - the answer is a success or a 503, nothing else;
//   - a success means the change is in force;
//   - a change in force means the account's other sessions are dead (and
//     the caller's old session too: it goes on under a new ID, which
//     works when the answer was a success);
//   - no change means the old credential still works and no session
//     ended.

// crashEnv is the example on a store whose calls a test can fail.
type crashEnv struct {
	*testApp
	fault injector
	mail  *mailbox
	seq   int
}

// injector fails the n-th of the store operations it counts.
type injector interface {
	// arm starts counting; the n-th operation fails before it is
	// applied, or after (applied, the answer lost); n 0 fails none.
	arm(n int, after bool)
	// disarm stops counting and names the operations counted.
	disarm() []string
	// lostWrite reports whether the failure of the operation named op,
	// failed after, may leave the change in force with a 503: it is the
	// change's own write, whose answer was lost.
	lostWrite(op, write string) bool
}

// callFaults injects at store calls, through a storefault.Store.
type callFaults struct{ s *storefault.Store }

func (c callFaults) arm(n int, after bool) {
	mode := storefault.Before
	if after {
		mode = storefault.After
	}
	c.s.Arm(n, mode)
}
func (c callFaults) disarm() []string                { return c.s.Disarm() }
func (c callFaults) lostWrite(op, write string) bool { return op == write }

// netFaults injects at writes on the wire, through proxies in front of
// PostgreSQL and Redis that drop the connection carrying the n-th write
// from the store client.
type netFaults struct{ c *netfault.Counter }

func (f netFaults) arm(n int, after bool) {
	mode := netfault.Before
	if after {
		mode = netfault.After
	}
	f.c.Arm(n, mode)
}

func (f netFaults) disarm() []string {
	writes := make([]string, f.c.Disarm())
	for i := range writes {
		writes[i] = "write " + strconv.Itoa(i+1)
	}
	return writes
}

// lostWrite: a write the server may have applied cannot be told from the
// change's own on the wire, so any write dropped after it was passed on
// may leave the change in force; one dropped before never may.
func (netFaults) lostWrite(string, string) bool { return true }

// mailbox is a Mailer that keeps the reset tokens, by email address.
type mailbox struct {
	mu     sync.Mutex
	tokens map[string]chan string
}

func (m *mailbox) box(email string) chan string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.tokens[email] == nil {
		m.tokens[email] = make(chan string, 4)
	}
	return m.tokens[email]
}

func (m *mailbox) SendPasswordReset(_ context.Context, acct store.Account, token authn.Secret) error {
	m.box(acct.Email) <- token.Reveal()
	return nil
}

// The stores newCrashEnv can start the example on.
const (
	crashMemory   = "memory"
	crashSQLite   = "SQLite"
	crashPGRedis  = "PostgreSQL + Redis"
	crashNetProxy = "PostgreSQL + Redis behind the network proxy"
)

// newCrashEnv starts the example behind a fault store, on memory, on an
// SQLite file of the test's own, or on the PostgreSQL and Redis of
// sharedDeployment, as backend says.
func newCrashEnv(t *testing.T, backend string) *crashEnv {
	t.Helper()
	e := &crashEnv{mail: &mailbox{tokens: map[string]chan string{}}}
	wrap := func(o *options) {
		o.wrapStore = func(s store.Store) store.Store {
			fs := storefault.New(s)
			e.fault = callFaults{fs}
			return fs
		}
		o.Mailer = e.mail
		o.Throttle = authn.ThrottleConfig{PerUserIP: 1000, PerIP: 100000, CaptchaAfter: 1000}
		// The faults are the ones injected: a busy machine must not add
		// deadlines that pass after a write was applied.
		o.StoreTimeout = time.Minute
	}
	switch backend {
	case crashMemory:
		e.testApp = newTestAppWith(t, wrap)
	case crashSQLite:
		e.testApp = newTestAppWith(t, func(o *options) {
			wrap(o)
			o.DB = "sqlite:" + filepath.Join(t.TempDir(), "keyward.db")
		})
		t.Cleanup(func() { e.Close() })
		if e.mem != nil {
			t.Fatal("the SQLite crash env runs on memory")
		}
	case crashPGRedis:
		o := sharedDeployment(t)
		wrap(&o)
		clock := clocktest.New()
		o.Now = clock.Now
		e.testApp = instance(t, o)
		e.clock = clock
	default:
		t.Fatalf("no crash backend %q", backend)
	}
	return e
}

// newNetCrashEnv starts the example on the PostgreSQL and Redis of
// sharedDeployment, each behind a proxy; the proxies count the store
// clients' writes together and drop the connection of the one to fail.
func newNetCrashEnv(t *testing.T) *crashEnv {
	t.Helper()
	e := &crashEnv{mail: &mailbox{tokens: map[string]chan string{}}}
	o := sharedDeployment(t)
	counter := &netfault.Counter{}
	for _, u := range []*string{&o.DB, &o.Redis} {
		parsed, err := url.Parse(*u)
		if err != nil {
			t.Fatal(err)
		}
		parsed.Host = netfault.Start(t, parsed.Host, counter).Addr()
		*u = parsed.String()
	}
	e.fault = netFaults{counter}
	// No invalidation channel here: its pings and sends, in the
	// background, would be counted among the command's writes. The
	// channel's own failures are tested in authn and the stores.
	o.wrapStore = withoutChannel
	o.StoreTimeout = time.Minute // as in newCrashEnv
	o.Mailer = e.mail
	o.Throttle = authn.ThrottleConfig{PerUserIP: 1000, PerIP: 100000, CaptchaAfter: 1000}
	clock := clocktest.New()
	o.Now = clock.Now
	e.testApp = instance(t, o)
	e.clock = clock
	return e
}

// crashAccount is a fresh account of one crash point, with what the case
// readied for it.
type crashAccount struct {
	scope                    scopes.Scope
	ref                      store.AccountRef
	username, email          string
	password, newPassword    string
	newEmail                 string
	a, b                     string   // the caller's session and another
	secret                   string   // the TOTP secret, when 2FA is on
	codes                    []string // its recovery codes
	token                    string   // a password reset token
	key, keySession          string   // an API key and a session made with it
	keyID                    int64
	otherSessions, sessionOK []string
}

// newAccount makes a fresh account of the scope with a password.
func (e *crashEnv) newAccount(t *testing.T, scope scopes.Scope) *crashAccount {
	t.Helper()
	ctx := context.Background()
	e.seq++
	acct := &crashAccount{
		scope:       scope,
		username:    fmt.Sprintf("crash%d-%s", e.seq, scope),
		email:       fmt.Sprintf("crash%d-%s@example.com", e.seq, scope),
		newEmail:    fmt.Sprintf("moved%d-%s@example.com", e.seq, scope),
		password:    "the-old-password-" + strconv.Itoa(e.seq),
		newPassword: "the-new-password-" + strconv.Itoa(e.seq),
	}
	created, err := e.auth.CreateAccount(ctx, store.Account{Scope: scope, Username: acct.username, Email: acct.email, Name: "Crash Test", FirstName: "Crash", LastName: "Test"}, acct.password)
	if err != nil {
		t.Fatal(err)
	}
	acct.ref = created.Ref()
	return acct
}

// principal starts a password session of the account and returns the
// principal a request on it has, as a handler would see it.
func (e *crashEnv) principal(t *testing.T, acct *crashAccount) authn.Principal {
	t.Helper()
	ctx := context.Background()
	fresh, err := e.store.Account(ctx, acct.ref)
	if err != nil {
		t.Fatal(err)
	}
	id, err := e.auth.StartSession(ctx, fresh, authn.SessionOptions{Method: "password"})
	if err != nil {
		t.Fatal(err)
	}
	var p authn.Principal
	h := e.auth.Middleware(e.auth.Require(acct.scope)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ = authn.PrincipalFrom(r.Context())
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/?SessionID="+url.QueryEscape(id.Reveal()), nil))
	if rec.Code != 200 || p.Account() != acct.ref {
		t.Fatalf("session of the account: HTTP %d %s", rec.Code, rec.Body)
	}
	return p
}

// setupTFA starts the account's 2FA enrolment and returns its secret.
func (e *crashEnv) setupTFA(t *testing.T, acct *crashAccount) string {
	t.Helper()
	en, err := e.auth.SetupTFA(context.Background(), e.principal(t, acct))
	if err != nil {
		t.Fatal(err)
	}
	return en.Secret
}

// startSessions gives the account its two sessions: a, the caller's, and
// b, another (a phone, or an attacker's stolen copy).
func (e *crashEnv) startSessions(t *testing.T, acct *crashAccount) {
	t.Helper()
	ctx := context.Background()
	for _, sid := range []*string{&acct.a, &acct.b} {
		fresh, err := e.store.Account(ctx, acct.ref)
		if err != nil {
			t.Fatal(err)
		}
		id, err := e.auth.StartSession(ctx, fresh, authn.SessionOptions{Method: "password", TFA: acct.secret != ""})
		if err != nil {
			t.Fatal(err)
		}
		*sid = id.Reveal()
	}
}

// alive reports whether the session ID authenticates the account.
func (e *crashEnv) alive(t *testing.T, acct *crashAccount, sid string) bool {
	t.Helper()
	var got authn.Principal
	h := e.auth.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = authn.PrincipalFrom(r.Context())
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/?SessionID="+url.QueryEscape(sid), nil))
	switch {
	case rec.Code == 401:
		return false
	case rec.Code == 200 && got.Account() == acct.ref:
		return true
	}
	t.Fatalf("session check: HTTP %d %s, principal %+v", rec.Code, rec.Body, got)
	return false
}

// works reports whether password is the account's password.
func (e *crashEnv) works(acct *crashAccount, password string) bool {
	_, err := e.auth.Login(context.Background(), authn.LoginRequest{Scope: acct.scope, Username: acct.username, Password: password, NoCaptcha: true})
	// With 2FA on, a right password is asked for a code.
	return err == nil || errors.Is(err, authn.ErrTFARequired)
}

// tfaOn reports whether the account has 2FA on.
func (e *crashEnv) tfaOn(t *testing.T, acct *crashAccount) bool {
	t.Helper()
	on, err := e.auth.TFAEnabled(context.Background(), acct.ref)
	if err != nil {
		t.Fatal(err)
	}
	return on
}

// enable2FA turns 2FA on for the account directly, before its sessions
// are made, and moves the clock past the code it used.
func (e *crashEnv) enable2FA(t *testing.T, acct *crashAccount) {
	t.Helper()
	p := e.principal(t, acct)
	en, err := e.auth.SetupTFA(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	acct.secret = en.Secret
	if acct.codes, _, err = e.auth.EnableTFA(context.Background(), p, e.code(acct.secret, 0)); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Second)
}

// crashCase is one credential change.
type crashCase struct {
	name  string
	scope scopes.Scope
	// prepare readies a fresh account before its sessions are made.
	prepare func(t *testing.T, e *crashEnv, acct *crashAccount)
	// run sends the command; the caller, if any, is session a.
	run func(e *crashEnv, acct *crashAccount) envelope
	// inForce and oldWorks read, with no fault armed, whether the change
	// is in force and whether the old credential still works.
	inForce, oldWorks func(t *testing.T, e *crashEnv, acct *crashAccount) bool
	// rotates says the caller rides on session a, which goes on under a
	// new ID; otherwise a is one more session that must end with the
	// change. login says a success answers a new session of the account.
	rotates, login bool
	// others returns the sessions the change must end (default a and b).
	others func(acct *crashAccount) []string
	// write is the store call that writes the change: the one call whose
	// lost answer may leave a 503 with the change in force.
	write string
}

func passwordInForce(t *testing.T, e *crashEnv, acct *crashAccount) bool {
	return e.works(acct, acct.newPassword)
}

func passwordOld(t *testing.T, e *crashEnv, acct *crashAccount) bool {
	return e.works(acct, acct.password) && !e.works(acct, acct.newPassword)
}

func emailInForce(t *testing.T, e *crashEnv, acct *crashAccount) bool {
	t.Helper()
	got, err := e.store.AccountByLogin(context.Background(), acct.scope, acct.newEmail)
	return err == nil && got.Ref() == acct.ref
}

func emailOld(t *testing.T, e *crashEnv, acct *crashAccount) bool {
	t.Helper()
	got, err := e.store.AccountByLogin(context.Background(), acct.scope, acct.email)
	return err == nil && got.Ref() == acct.ref && e.works(acct, acct.password)
}

func tfaOff(t *testing.T, e *crashEnv, acct *crashAccount) bool { return !e.tfaOn(t, acct) }
func tfaOn(t *testing.T, e *crashEnv, acct *crashAccount) bool  { return e.tfaOn(t, acct) }

func crashCases() []crashCase {
	user, admin := scopes.User, scopes.Admin
	adminUpdate := func(e *crashEnv, acct *crashAccount, email, password string) envelope {
		return e.send(urlencoded("Command", "Admin.Update", "SessionID", acct.a, "AdminID", strconv.FormatInt(acct.ref.ID, 10),
			"Name", "Crash Test", "Username", acct.username, "EmailAddress", email, "Password", password))
	}
	return []crashCase{
		{
			name: "User.PasswordChange", scope: user, rotates: true, write: "UpdateAccount",
			run: func(e *crashEnv, acct *crashAccount) envelope {
				return e.send(urlencoded("Command", "User.PasswordChange", "SessionID", acct.a, "CurrentPassword", acct.password, "NewPassword", acct.newPassword))
			},
			inForce: passwordInForce, oldWorks: passwordOld,
		},
		{
			name: "User.PasswordReset", scope: user, write: "SetPassword",
			prepare: func(t *testing.T, e *crashEnv, acct *crashAccount) {
				mustOK(t, e.send(urlencoded("Command", "User.PasswordRemind", "EmailAddress", acct.email)))
				select {
				case acct.token = <-e.mail.box(acct.email):
				case <-time.After(time.Minute): // a bound on a background send, not a measurement
					t.Fatal("no reset mail")
				}
			},
			run: func(e *crashEnv, acct *crashAccount) envelope {
				// Each point from an address of its own: failed tries
				// count against the address, and 10 of them are a 429.
				ip := fmt.Sprintf("198.51.%d.%d", e.seq/250, e.seq%250+1)
				return e.send(from(ip, urlencoded("Command", "User.PasswordReset", "Token", acct.token, "NewPassword", acct.newPassword)))
			},
			inForce: passwordInForce, oldWorks: passwordOld,
		},
		{
			name: "User.Update/Password", scope: user, rotates: true, write: "UpdateAccount",
			run: func(e *crashEnv, acct *crashAccount) envelope {
				return e.send(urlencoded("Command", "User.Update", "SessionID", acct.a, "CurrentPassword", acct.password, "Password", acct.newPassword))
			},
			inForce: passwordInForce, oldWorks: passwordOld,
		},
		{
			name: "User.Update/EmailAddress", scope: user, rotates: true, write: "UpdateAccount",
			run: func(e *crashEnv, acct *crashAccount) envelope {
				return e.send(urlencoded("Command", "User.Update", "SessionID", acct.a, "CurrentPassword", acct.password, "EmailAddress", acct.newEmail))
			},
			inForce: emailInForce, oldWorks: emailOld,
		},
		{
			name: "Admin.Update/Password", scope: admin, rotates: true, write: "UpdateAccount",
			run: func(e *crashEnv, acct *crashAccount) envelope {
				return adminUpdate(e, acct, acct.email, acct.newPassword)
			},
			inForce: passwordInForce, oldWorks: passwordOld,
		},
		{
			name: "Admin.Update/EmailAddress", scope: admin, rotates: true, write: "UpdateAccount",
			run: func(e *crashEnv, acct *crashAccount) envelope {
				return adminUpdate(e, acct, acct.newEmail, "")
			},
			inForce: emailInForce, oldWorks: emailOld,
		},
		{
			name: "User.TFA.Enable", scope: user, rotates: true, write: "PutTFA",
			prepare: func(t *testing.T, e *crashEnv, acct *crashAccount) {
				acct.secret = e.setupTFA(t, acct)
			},
			run: func(e *crashEnv, acct *crashAccount) envelope {
				return e.send(urlencoded("Command", "User.TFA.Enable", "SessionID", acct.a, "TFACode", e.code(acct.secret, 0)))
			},
			inForce: tfaOn, oldWorks: tfaOff,
		},
		{
			name: "Admin.TFA.Disable", scope: admin, rotates: true, write: "PutTFA",
			prepare: func(t *testing.T, e *crashEnv, acct *crashAccount) { e.enable2FA(t, acct) },
			run: func(e *crashEnv, acct *crashAccount) envelope {
				return e.send(urlencoded("Command", "Admin.TFA.Disable", "SessionID", acct.a, "Password", acct.password, "TFACode", e.code(acct.secret, 0)))
			},
			inForce: tfaOff, oldWorks: tfaOn,
		},
		{
			name: "User.Login/TFARecoveryCode", scope: user, login: true, write: "PutTFA",
			prepare: func(t *testing.T, e *crashEnv, acct *crashAccount) { e.enable2FA(t, acct) },
			run: func(e *crashEnv, acct *crashAccount) envelope {
				return e.send(urlencoded("Command", "User.Login", "Username", acct.username, "Password", acct.password, "TFARecoveryCode", acct.codes[3], "DisableCaptcha", "true"))
			},
			inForce: tfaOff, oldWorks: tfaOn,
		},
		{
			name: "Admin.Login/Disable2FA", scope: admin, login: true, write: "PutTFA",
			prepare: func(t *testing.T, e *crashEnv, acct *crashAccount) { e.enable2FA(t, acct) },
			run: func(e *crashEnv, acct *crashAccount) envelope {
				return e.send(urlencoded("Command", "Admin.Login", "Username", acct.username, "Password", acct.password, "TFACode", e.code(acct.secret, 0), "Disable2FA", "true", "DisableCaptcha", "true"))
			},
			inForce: tfaOff, oldWorks: tfaOn,
		},
		{
			name: "User.APIKey.Delete", scope: user, write: "RevokeAPIKey",
			prepare: func(t *testing.T, e *crashEnv, acct *crashAccount) {
				key, rec, err := e.auth.CreateAPIKey(context.Background(), acct.ref, authn.APIKeyOptions{Label: "crash"})
				if err != nil {
					t.Fatal(err)
				}
				acct.key, acct.keyID = key.Reveal(), rec.ID
				login := mustOK(t, e.send(urlencoded("Command", "User.Login", "apikey", acct.key)))
				acct.keySession = login.str("SessionID")
			},
			run: func(e *crashEnv, acct *crashAccount) envelope {
				return e.send(urlencoded("Command", "User.APIKey.Delete", "SessionID", acct.a, "APIKeyID", strconv.FormatInt(acct.keyID, 10)))
			},
			inForce:  func(t *testing.T, e *crashEnv, acct *crashAccount) bool { return !e.keyWorks(t, acct) },
			oldWorks: func(t *testing.T, e *crashEnv, acct *crashAccount) bool { return e.keyWorks(t, acct) },
			// Revoking a key ends the sessions made with it; the
			// account's other sessions, and the caller's, go on.
			others: func(acct *crashAccount) []string { return []string{acct.keySession} },
		},
	}
}

// keyWorks reports whether the account's API key authenticates it.
func (e *crashEnv) keyWorks(t *testing.T, acct *crashAccount) bool {
	t.Helper()
	rec := httptest.NewRecorder()
	e.auth.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, httptest.NewRequest("GET", "/?APIKey="+url.QueryEscape(acct.key), nil))
	switch rec.Code {
	case 200:
		return true
	case 401:
		return false
	}
	t.Fatalf("key check: HTTP %d %s", rec.Code, rec.Body)
	return false
}

// point readies a fresh account for a crash point of c.
func (e *crashEnv) point(t *testing.T, c crashCase) *crashAccount {
	t.Helper()
	acct := e.newAccount(t, c.scope)
	if c.prepare != nil {
		c.prepare(t, e, acct)
	}
	e.startSessions(t, acct)
	return acct
}

// others returns the sessions c's change must end.
func (c crashCase) ended(acct *crashAccount) []string {
	switch {
	case c.others != nil:
		return c.others(acct)
	case c.rotates:
		return []string{acct.b}
	}
	return []string{acct.a, acct.b}
}

// check asserts the invariants on one outcome. lostWrite says the fault
// was the change's own write, applied with its answer lost.
func (c crashCase) check(t *testing.T, e *crashEnv, acct *crashAccount, got envelope, where string, lostWrite bool) {
	t.Helper()
	ok := got.status == 200 && got.Success
	if !ok && got.status != 503 {
		t.Errorf("%s: answered HTTP %d %d %q; want a success or 503", where, got.status, got.Code, got.Text)
		return
	}
	inForce := c.inForce(t, e, acct)
	if ok && !inForce {
		t.Errorf("%s: answered success, but the change is not in force", where)
	}
	if !ok && inForce && !lostWrite {
		t.Errorf("%s: answered 503, but the change is in force", where)
	}
	if !inForce {
		if !c.oldWorks(t, e, acct) {
			t.Errorf("%s: the change is not in force, and the old credential does not work", where)
		}
		for _, sid := range append(c.ended(acct), acct.a) {
			if !e.alive(t, acct, sid) {
				t.Errorf("%s: nothing changed, but a session ended", where)
			}
		}
		return
	}
	for _, sid := range c.ended(acct) {
		if e.alive(t, acct, sid) {
			t.Errorf("%s: the change is in force, but another session still works", where)
		}
	}
	if c.rotates {
		if e.alive(t, acct, acct.a) {
			t.Errorf("%s: the change is in force, but the caller's old session ID still works", where)
		}
		if ok && !e.alive(t, acct, got.str("SessionID")) {
			t.Errorf("%s: the caller's new session does not work: %s", where, got.fields["SessionID"])
		}
	}
	if c.login && ok && !e.alive(t, acct, got.str("SessionID")) {
		t.Errorf("%s: the login's session does not work", where)
	}
}

// runCrashPoints runs every case at every crash point and returns how many
// operations the injector counted (store calls, or writes on the wire) in
// each case's clean run: its crash points are twice that.
func runCrashPoints(t *testing.T, e *crashEnv) map[string]int {
	counts := map[string]int{}
	for _, c := range crashCases() {
		t.Run(c.name, func(t *testing.T) {
			// The calls of a clean run, which must succeed.
			acct := e.point(t, c)
			e.fault.arm(0, false)
			got := c.run(e, acct)
			calls := e.fault.disarm()
			mustOK(t, got)
			c.check(t, e, acct, got, "no fault", false)
			counts[c.name] = len(calls)
			t.Logf("%d counted operations: %v", len(calls), calls)
			for n := 1; n <= len(calls); n++ {
				for _, after := range []bool{false, true} {
					acct := e.point(t, c)
					e.fault.arm(n, after)
					got := c.run(e, acct)
					made := e.fault.disarm()
					failed := callName(made, n)
					where := fmt.Sprintf("%s (%d) failed before it was applied", failed, n)
					if after {
						where = fmt.Sprintf("%s (%d) failed after it was applied", failed, n)
					}
					c.check(t, e, acct, got, where, after && e.fault.lostWrite(failed, c.write))
				}
			}
		})
	}
	return counts
}

// callName names the n-th call of calls, if it was made.
func callName(calls []string, n int) string {
	if n <= len(calls) {
		return calls[n-1]
	}
	return "not reached"
}

// logCrashPoints logs, per command in crashCases' order, how many
// operations (unit: store calls, or writes on the wire) its clean run
// made and how many crash points that is, each operation failed once
// before it was applied and once after; then the totals.
func logCrashPoints(t *testing.T, backend, unit string, counts map[string]int) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "crash points on %s, per command (%s x 2 modes: failed before it was applied, failed after):", backend, unit)
	total := 0
	for _, c := range crashCases() {
		if n, ok := counts[c.name]; ok {
			fmt.Fprintf(&b, "\n  %-28s %3d %s -> %3d crash points", c.name, n, unit, 2*n)
			total += n
		}
	}
	fmt.Fprintf(&b, "\n  %-28s %3d %s -> %3d crash points", "total", total, unit, 2*total)
	t.Log(b.String())
}

func TestCrashPointsMemory(t *testing.T) {
	t.Parallel()
	logCrashPoints(t, crashMemory, "store calls", runCrashPoints(t, newCrashEnv(t, crashMemory)))
}

// SQLite, on a file of the test's own: all or nothing holds on every
// store, so here too, with no skip.
func TestCrashPointsSQLite(t *testing.T) {
	t.Parallel()
	logCrashPoints(t, crashSQLite, "store calls", runCrashPoints(t, newCrashEnv(t, crashSQLite)))
}

func TestCrashPointsPostgresRedis(t *testing.T) {
	t.Parallel()
	logCrashPoints(t, crashPGRedis, "store calls", runCrashPoints(t, newCrashEnv(t, crashPGRedis)))
}

// The same on the wire: the connection to PostgreSQL or Redis dropped at
// each write a command makes, before or after passing it on.
func TestCrashPointsNetwork(t *testing.T) {
	t.Parallel()
	logCrashPoints(t, crashNetProxy, "writes", runCrashPoints(t, newNetCrashEnv(t)))
}

// withoutChannel hides the store's invalidation channel (and so turns the
// credential cache off), keeping everything else it does.
func withoutChannel(s store.Store) store.Store {
	return struct {
		store.Store
		store.AccountCreator
		store.PasswordSetter
		store.AccountUpdater
	}{s, s.(store.AccountCreator), s.(store.PasswordSetter), s.(store.AccountUpdater)}
}
