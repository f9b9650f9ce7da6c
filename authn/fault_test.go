package authn

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/internal/netfault"
	"github.com/keyward/keyward/internal/testservers"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
	"github.com/keyward/keyward/store/sqlstore"
)

// faultEnv is an authenticator on a real SQL store whose connection a test
// can break, with an account, a session and a key.
type faultEnv struct {
	a     *Authenticator
	sid   string
	key   string
	clock *clocktest.Clock
}

func newFaultEnv(t *testing.T, st store.Store, clock *clocktest.Clock, edit ...func(*Config)) *faultEnv {
	t.Helper()
	ctx := context.Background()
	cfg := Config{Store: st, Keys: testKeys, Now: clock.Now, Passwords: cheapPasswords, Logger: slog.New(slog.DiscardHandler)}
	for _, e := range edit {
		e(&cfg)
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := a.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice"}, alicePassword)
	if err != nil {
		t.Fatal(err)
	}
	sid, err := a.StartSession(ctx, acct, SessionOptions{Method: "password"})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := a.CreateAPIKey(ctx, acct.Ref(), APIKeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &faultEnv{a: a, sid: sid.Reveal(), key: key.Reveal(), clock: clock}
}

// login logs alice in with her password, under ctx.
func (f *faultEnv) login(ctx context.Context) error {
	_, err := f.a.Login(ctx, LoginRequest{Scope: scopes.User, Username: "alice", Password: alicePassword, NoCaptcha: true, HTTP: from("192.0.2.1")})
	return err
}

// wantClosed fails t unless every kind of request is refused with 503:
// the middleware's credentials and a login, which must not answer
// "invalid credentials" when it could not look. With keyOpen, an API key
// request must pass instead: its key and account are in a part of the
// store that still answers.
func (f *faultEnv) wantClosed(t *testing.T, ctx context.Context, keyOpen ...bool) {
	t.Helper()
	h := f.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, q := range []string{"SessionID=" + f.sid, "APIKey=" + f.key} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, get(q).WithContext(ctx))
		want := 503
		if q[:6] == "APIKey" && len(keyOpen) > 0 && keyOpen[0] {
			want = 200
		}
		if rec.Code != want {
			t.Errorf("%s: status %d, want %d", q[:6], rec.Code, want)
		}
	}
	if err := f.login(ctx); statusOf(err) != 503 || !errors.Is(err, ErrStoreUnavailable) || errors.Is(err, ErrInvalidCredential) {
		t.Errorf("login: %v", err)
	}
}

// A closed pool: the store is gone, every request is refused.
func TestFaultClosedPoolSQLite(t *testing.T) {
	t.Parallel()
	clock := clocktest.New()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "keyward.db"), sqlstore.Config{Now: clock.Now, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	f := newFaultEnv(t, st, clock)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	f.wantClosed(t, context.Background())
}

// postgresThroughProxy opens a store on PostgreSQL, in a schema of its own,
// through a proxy that can stall or drop the connection.
func postgresThroughProxy(t *testing.T, clock *clocktest.Clock) (*sqlstore.Store, *netfault.Proxy) {
	t.Helper()
	dsn := testservers.Postgres(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	b := make([]byte, 6)
	rand.Read(b)
	schema := "kwfault_" + hex.EncodeToString(b)
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	p := netfault.Start(t, u.Host, nil)
	u.Host = p.Addr()
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := sqlstore.OpenPostgres(context.Background(), u.String(), sqlstore.Config{Now: clock.Now, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, p
}

// The connection dropped: refused, fast, with 503.
func TestFaultDroppedPostgres(t *testing.T) {
	t.Parallel()
	clock := clocktest.New()
	st, p := postgresThroughProxy(t, clock)
	f := newFaultEnv(t, st, clock)
	p.Drop()
	f.wantClosed(t, context.Background())
}

// stallTimeout is the StoreTimeout of the stall tests: short, so that
// they are quick, and the only deadline there is (the requests carry
// none), so that an answer at all proves the Authenticator's deadline
// ended the wait.
const stallTimeout = 300 * time.Millisecond

// A PostgreSQL that stops answering: every request is refused with 503
// once StoreTimeout has passed, instead of hanging; once the database
// answers again, so do the requests.
func TestFaultStalledPostgres(t *testing.T) {
	t.Parallel()
	clock := clocktest.New()
	st, p := postgresThroughProxy(t, clock)
	f := newFaultEnv(t, st, clock, func(c *Config) { c.StoreTimeout = stallTimeout })
	f.stallAndRecover(t, p, false)
}

// A Redis that stops answering, under sessions, claims and counters: the
// same 503 in time, and recovery.
func TestFaultStalledRedis(t *testing.T) {
	t.Parallel()
	clock := clocktest.New()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "keyward.db"), sqlstore.Config{Now: clock.Now, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	u, err := url.Parse(testservers.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	p := netfault.Start(t, u.Host, nil)
	u.Host = p.Addr()
	b := make([]byte, 6)
	rand.Read(b)
	rds, err := redisstore.Open(context.Background(), u.String(), redisstore.Config{KeyPrefix: "kwfault_" + hex.EncodeToString(b) + ":", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rds.Close() })
	// The deployment of the example: accounts, keys and second factors in
	// SQL, what requests read and write most in Redis.
	f := newFaultEnv(t, store.Combine(st, rds), clock, func(c *Config) { c.StoreTimeout = stallTimeout })
	// Keys and accounts are in SQL: an API key goes on working.
	f.stallAndRecover(t, p, true)
}

// stallAndRecover stalls p under f's store: every request that needs it
// is refused with 503, by the store deadline alone (the requests have
// none), and works again once p flows. keyOpen says API keys do not need
// it.
func (f *faultEnv) stallAndRecover(t *testing.T, p *netfault.Proxy, keyOpen bool) {
	t.Helper()
	f.wantOpen(t)
	p.Stall(true)
	// The stall takes the invalidation channel down too: until the cache
	// knows (within store.InvalidationBound), it serves what it holds, as
	// it would a credential revoked a moment ago. Then the store decides.
	if c := f.a.cache; c != nil {
		deadline := time.Now().Add(30 * time.Second) // a guard, not a bound
		for c.live.Load() {
			if time.Now().After(deadline) {
				t.Fatal("the cache never stopped serving on a stalled store")
			}
			time.Sleep(time.Millisecond)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		start := time.Now()
		f.wantClosed(t, context.Background(), keyOpen)
		t.Logf("the requests on a stalled store were answered in %v (StoreTimeout %v; each refused request waits for one call)", time.Since(start), stallTimeout)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // a hang detector, not a measurement
		t.Fatal("requests on a stalled store did not return")
	}
	p.Stall(false)
	f.wantOpen(t)
}

// wantOpen fails t unless the session, the key and a login all work.
func (f *faultEnv) wantOpen(t *testing.T) {
	t.Helper()
	h := f.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, q := range []string{"SessionID=" + f.sid, "APIKey=" + f.key} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, get(q))
		if rec.Code != 200 {
			t.Errorf("%s: status %d, want 200", q[:6], rec.Code)
		}
	}
	if err := f.login(context.Background()); err != nil {
		t.Errorf("login: %v", err)
	}
}

// deadlineProbe is a memory store that records, for each call, whether
// its context had a deadline and whether that deadline was further off
// than limit. It implements store.Store and every optional part authn
// looks for, each method its own (no embedding): a method added to one
// of them stops the build until the probe records it too.
type deadlineProbe struct {
	inner *store.Memory
	limit time.Duration

	mu      sync.Mutex
	calls   map[string]int // calls by method
	missing map[string]int // calls without a deadline
	late    map[string]int // calls whose deadline was more than limit away
}

// probed is everything the probe implements: what authn finds by type
// assertion as well as store.Store.
type probed interface {
	store.Store
	store.AccountCreator
	store.PasswordSetter
	store.AccountUpdater
	store.Generations
	store.Invalidations
}

var _ probed = (*deadlineProbe)(nil)

func newDeadlineProbe(inner *store.Memory, limit time.Duration) *deadlineProbe {
	return &deadlineProbe{inner: inner, limit: limit, calls: map[string]int{}, missing: map[string]int{}, late: map[string]int{}}
}

func (d *deadlineProbe) note(ctx context.Context, op string) {
	dl, ok := ctx.Deadline()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls[op]++
	switch {
	case !ok:
		d.missing[op]++
	case time.Until(dl) > d.limit:
		d.late[op]++
	}
}

func (d *deadlineProbe) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	d.note(ctx, "Account")
	return d.inner.Account(ctx, ref)
}

func (d *deadlineProbe) AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, error) {
	d.note(ctx, "AccountByLogin")
	return d.inner.AccountByLogin(ctx, scope, login)
}

func (d *deadlineProbe) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	d.note(ctx, "CreateAccount")
	return d.inner.CreateAccount(ctx, a)
}

func (d *deadlineProbe) SetPassword(ctx context.Context, ref store.AccountRef, hash string) error {
	d.note(ctx, "SetPassword")
	return d.inner.SetPassword(ctx, ref, hash)
}

func (d *deadlineProbe) RehashPassword(ctx context.Context, ref store.AccountRef, old, hash string) error {
	d.note(ctx, "RehashPassword")
	return d.inner.RehashPassword(ctx, ref, old, hash)
}

func (d *deadlineProbe) UpdateAccount(ctx context.Context, a store.Account) error {
	d.note(ctx, "UpdateAccount")
	return d.inner.UpdateAccount(ctx, a)
}

func (d *deadlineProbe) APIKeyByHash(ctx context.Context, h store.Hash) (store.APIKey, error) {
	d.note(ctx, "APIKeyByHash")
	return d.inner.APIKeyByHash(ctx, h)
}

func (d *deadlineProbe) RecordAPIKeyUse(ctx context.Context, id int64, at time.Time, ip string, requests int64) error {
	d.note(ctx, "RecordAPIKeyUse")
	return d.inner.RecordAPIKeyUse(ctx, id, at, ip, requests)
}

func (d *deadlineProbe) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	d.note(ctx, "CreateAPIKey")
	return d.inner.CreateAPIKey(ctx, k)
}

func (d *deadlineProbe) APIKeys(ctx context.Context, owner store.AccountRef) ([]store.APIKey, error) {
	d.note(ctx, "APIKeys")
	return d.inner.APIKeys(ctx, owner)
}

func (d *deadlineProbe) RevokeAPIKey(ctx context.Context, owner store.AccountRef, id int64) error {
	d.note(ctx, "RevokeAPIKey")
	return d.inner.RevokeAPIKey(ctx, owner, id)
}

func (d *deadlineProbe) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	d.note(ctx, "Session")
	return d.inner.Session(ctx, h)
}

func (d *deadlineProbe) TouchSession(ctx context.Context, h store.Hash, lastSeen, expires time.Time) error {
	d.note(ctx, "TouchSession")
	return d.inner.TouchSession(ctx, h, lastSeen, expires)
}

func (d *deadlineProbe) CreateSession(ctx context.Context, s store.Session) error {
	d.note(ctx, "CreateSession")
	return d.inner.CreateSession(ctx, s)
}

func (d *deadlineProbe) DeleteSession(ctx context.Context, h store.Hash) error {
	d.note(ctx, "DeleteSession")
	return d.inner.DeleteSession(ctx, h)
}

func (d *deadlineProbe) DeleteAccountSessions(ctx context.Context, owner store.AccountRef, keep store.Hash) (int, error) {
	d.note(ctx, "DeleteAccountSessions")
	return d.inner.DeleteAccountSessions(ctx, owner, keep)
}

func (d *deadlineProbe) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	d.note(ctx, "Claim")
	return d.inner.Claim(ctx, key, ttl)
}

func (d *deadlineProbe) Increment(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	d.note(ctx, "Increment")
	return d.inner.Increment(ctx, key, window)
}

func (d *deadlineProbe) Reset(ctx context.Context, key string) error {
	d.note(ctx, "Reset")
	return d.inner.Reset(ctx, key)
}

func (d *deadlineProbe) Decrement(ctx context.Context, key string) error {
	d.note(ctx, "Decrement")
	return d.inner.Decrement(ctx, key)
}

func (d *deadlineProbe) TFA(ctx context.Context, ref store.AccountRef) (store.TFA, error) {
	d.note(ctx, "TFA")
	return d.inner.TFA(ctx, ref)
}

func (d *deadlineProbe) PutTFA(ctx context.Context, t store.TFA) error {
	d.note(ctx, "PutTFA")
	return d.inner.PutTFA(ctx, t)
}

func (d *deadlineProbe) AdvanceTFAStep(ctx context.Context, ref store.AccountRef, step int64) (bool, error) {
	d.note(ctx, "AdvanceTFAStep")
	return d.inner.AdvanceTFAStep(ctx, ref, step)
}

func (d *deadlineProbe) PutChallenge(ctx context.Context, c store.Challenge) error {
	d.note(ctx, "PutChallenge")
	return d.inner.PutChallenge(ctx, c)
}

func (d *deadlineProbe) Challenge(ctx context.Context, id string) (store.Challenge, error) {
	d.note(ctx, "Challenge")
	return d.inner.Challenge(ctx, id)
}

func (d *deadlineProbe) TakeChallenge(ctx context.Context, id string) (store.Challenge, error) {
	d.note(ctx, "TakeChallenge")
	return d.inner.TakeChallenge(ctx, id)
}

func (d *deadlineProbe) PutToken(ctx context.Context, t store.Token) error {
	d.note(ctx, "PutToken")
	return d.inner.PutToken(ctx, t)
}

func (d *deadlineProbe) TakeToken(ctx context.Context, h store.Hash) (store.Token, error) {
	d.note(ctx, "TakeToken")
	return d.inner.TakeToken(ctx, h)
}

func (d *deadlineProbe) Generation(ctx context.Context, ref store.AccountRef) (int64, error) {
	d.note(ctx, "Generation")
	return d.inner.Generation(ctx, ref)
}

func (d *deadlineProbe) Invalidate(ctx context.Context, ref store.AccountRef) error {
	d.note(ctx, "Invalidate")
	return d.inner.Invalidate(ctx, ref)
}

// WatchInvalidations takes no context: it starts a listener, and is no
// call a deadline bounds.
func (d *deadlineProbe) WatchInvalidations(w store.InvalidationWatcher) (func(), error) {
	return d.inner.WatchInvalidations(w)
}

// contextMethods names the methods of the interfaces that take a context:
// the store calls a deadline can bound.
func contextMethods(types ...reflect.Type) []string {
	ctxType := reflect.TypeFor[context.Context]()
	var names []string
	for _, it := range types {
		for i := range it.NumMethod() {
			m := it.Method(i)
			if m.Type.NumIn() > 0 && m.Type.In(0) == ctxType && !slices.Contains(names, m.Name) {
				names = append(names, m.Name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// notCalledByAuthn are the store methods authn never calls, and why; the
// test fails if one is called, so that the list only ever shrinks.
var notCalledByAuthn = map[string]string{
	"Generation": "only store.WithAccounts reads generations apart from the accounts, inside the store",
}

// Every store call authn makes carries a deadline of at most StoreTimeout,
// though the caller's context has none: the calls of a login (password,
// rehash, captcha, 2FA code), the middleware (session, touch, etoken, API
// key), key creation, listing, use and revocation, 2FA setup, enabling
// and disabling, an account's creation and update, a password reset, and
// logouts. Every method of store.Store and of the optional parts authn
// finds by type assertion must be called at least once, so that the check
// cannot silently shrink.
func TestStoreCallsHaveDeadline(t *testing.T) {
	t.Parallel()
	const limit = 7 * time.Second // not the default, 2 s
	var probe *deadlineProbe
	box := &mailbox{}
	env := newTestEnv(t, func(c *Config) {
		probe = newDeadlineProbe(c.Store.(*store.Memory), limit)
		c.Store = probe
		c.StoreTimeout = limit
		c.Passwords.Mailer = box
	})
	ctx := context.Background()
	serve := func(r *http.Request) result {
		t.Helper()
		res := env.serve(r)
		if res.status != 200 {
			t.Fatalf("%s %s: HTTP %d %s", r.Method, r.URL, res.status, res.body)
		}
		return res
	}

	// An account made through authn, logged in to with a password hashed
	// with old parameters: the login rehashes it.
	bob, err := env.a.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "bob", Email: "bob@example.com"}, "bob's password")
	if err != nil {
		t.Fatal(err)
	}
	weak := argon2Params{Memory: 32, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	old, err := (&hasher{params: weak, rand: env.a.cfg.Rand, sem: make(chan struct{}, 1)}).hash(ctx, "bob's password")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.mem.SetPassword(ctx, bob.Ref(), old); err != nil {
		t.Fatal(err)
	}
	if _, err := env.login("192.0.2.1", LoginRequest{Scope: scopes.User, Username: "bob", Password: "bob's password", NoCaptcha: true}); err != nil {
		t.Fatalf("bob's login: %v", err)
	}
	if got, _ := env.mem.Account(ctx, bob.Ref()); got.PasswordHash == old {
		t.Fatal("bob's password was not rehashed")
	}

	// A captcha made, drawn and answered by a login.
	id, digits := env.captchaAnswer("192.0.2.2")
	rec := httptest.NewRecorder()
	env.a.CaptchaHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/captcha/"+id+".png", nil))
	if rec.Code != 200 {
		t.Fatalf("captcha image: HTTP %d", rec.Code)
	}
	req := aliceLogin(alicePassword)
	req.NoCaptcha, req.AskCaptcha, req.CaptchaID, req.Captcha = false, true, id, digits
	res, err := env.login("192.0.2.2", req)
	if err != nil {
		t.Fatalf("login with a captcha: %v", err)
	}

	// The middleware: a session read, then touched once stale, and an
	// etoken, claimed once.
	sid := res.SessionID.Reveal()
	serve(get("SessionID=" + sid))
	env.clock.Advance(2 * time.Minute)
	serve(get("SessionID=" + sid))
	serve(bearer(env.etoken(sid)))

	// API keys: made, listed, used (the use written on Close) and
	// revoked.
	key, kr := env.key(env.alice)
	if _, err := env.a.APIKeys(ctx, env.alice.Ref()); err != nil {
		t.Fatal(err)
	}
	serve(get("APIKey=" + key))
	if err := env.a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := env.a.RevokeAPIKey(ctx, env.alice.Ref(), kr.ID); err != nil {
		t.Fatal(err)
	}

	// 2FA: set up and enabled from a fresh login, a login with a code,
	// then disabled.
	p := serve(get("SessionID=" + env.session(env.alice))).principal
	enr, err := env.a.SetupTFA(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.a.EnableTFA(ctx, p, totpCode(t, enr.Secret, env.clock.Now())); err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(30 * time.Second)
	req = aliceLogin(alicePassword)
	req.TFACode = totpCode(t, enr.Secret, env.clock.Now())
	if res, err = env.login("192.0.2.3", req); err != nil {
		t.Fatalf("login with a 2FA code: %v", err)
	}
	p = serve(get("SessionID=" + res.SessionID.Reveal())).principal
	next, err := env.a.DisableTFA(ctx, p)
	if err != nil {
		t.Fatal(err)
	}

	// The account's names changed.
	p = serve(get("SessionID=" + next.Reveal())).principal
	acct, err := env.a.Account(ctx, env.alice.Ref())
	if err != nil {
		t.Fatal(err)
	}
	acct.FirstName = "Alicia"
	if _, err := env.a.UpdateAccount(ctx, p, acct, ""); err != nil {
		t.Fatal(err)
	}

	// A password reset: reminded (the token stored as the mail goes out
	// in the background), then used.
	if err := env.remind("192.0.2.4", scopes.User, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	drainMail(env.a)
	tokens := box.tokens("alice@example.com")
	if len(tokens) != 1 {
		t.Fatalf("reset mails: %v", tokens)
	}
	if err := env.reset("192.0.2.4", scopes.User, tokens[0], "a-brand-new-password"); err != nil {
		t.Fatal(err)
	}

	// Logouts: one session, then every session of the account.
	res, err = env.login("192.0.2.5", aliceLogin("a-brand-new-password"))
	if err != nil {
		t.Fatal(err)
	}
	p = serve(get("SessionID=" + res.SessionID.Reveal())).principal
	if err := env.a.EndSession(httptest.NewRecorder(), get(""), p); err != nil {
		t.Fatal(err)
	}
	if _, err := env.a.EndAllSessions(ctx, env.alice.Ref()); err != nil {
		t.Fatal(err)
	}

	probe.mu.Lock()
	defer probe.mu.Unlock()
	t.Logf("store calls made: %v", probe.calls)
	if len(probe.missing) > 0 {
		t.Errorf("store calls without a deadline (method: calls): %v", probe.missing)
	}
	if len(probe.late) > 0 {
		t.Errorf("store calls with a deadline more than StoreTimeout (%v) away (method: calls): %v", limit, probe.late)
	}
	var never []string
	methods := contextMethods(reflect.TypeFor[probed]())
	for _, m := range methods {
		why, excused := notCalledByAuthn[m]
		switch {
		case excused && probe.calls[m] > 0:
			t.Errorf("%s is called now (%d calls), though listed as not (%q): take it off notCalledByAuthn", m, probe.calls[m], why)
		case !excused && probe.calls[m] == 0:
			never = append(never, m)
		}
	}
	if len(never) > 0 {
		t.Errorf("store methods never called, so never checked for a deadline: %v; make the test drive an operation that calls each", never)
	}
	for m := range notCalledByAuthn {
		if !slices.Contains(methods, m) {
			t.Errorf("notCalledByAuthn names %s, no store method", m)
		}
	}
}

// lostReply is a store whose CreateSession writes the session and then
// loses the answer, as a connection that drops after the write does.
type lostReply struct{ store.Store }

func (l lostReply) CreateSession(ctx context.Context, s store.Session) error {
	if err := l.Store.CreateSession(ctx, s); err != nil {
		return err
	}
	return errors.New("connection reset by peer")
}

// A login that fails after the session is written leaves no session: the
// login answers 503, and the account has none.
func TestFaultLoginLeavesNoSession(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Store = lostReply{c.Store} })
	res, err := env.login("192.0.2.1", aliceLogin(alicePassword))
	if statusOf(err) != 503 || res.SessionID.Reveal() != "" {
		t.Fatalf("login: %v, session %q", err, res.SessionID.Reveal())
	}
	n, err := env.mem.DeleteAccountSessions(context.Background(), env.alice.Ref(), store.Hash{})
	if err != nil || n != 0 {
		t.Fatalf("%d sessions left behind, %v", n, err)
	}
}
