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

// deadlineProbe is a store that records, for each call, how far off the
// context's deadline was.
type deadlineProbe struct {
	store.Store
	mu      sync.Mutex
	missing []string
	longest time.Duration
}

func (d *deadlineProbe) note(ctx context.Context, op string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	dl, ok := ctx.Deadline()
	if !ok {
		d.missing = append(d.missing, op)
		return
	}
	d.longest = max(d.longest, time.Until(dl))
}

func (d *deadlineProbe) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	d.note(ctx, "Session")
	return d.Store.Session(ctx, h)
}

func (d *deadlineProbe) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	d.note(ctx, "Account")
	return d.Store.Account(ctx, ref)
}

func (d *deadlineProbe) AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, error) {
	d.note(ctx, "AccountByLogin")
	return d.Store.AccountByLogin(ctx, scope, login)
}

func (d *deadlineProbe) APIKeyByHash(ctx context.Context, h store.Hash) (store.APIKey, error) {
	d.note(ctx, "APIKeyByHash")
	return d.Store.APIKeyByHash(ctx, h)
}

func (d *deadlineProbe) Increment(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	d.note(ctx, "Increment")
	return d.Store.Increment(ctx, key, window)
}

func (d *deadlineProbe) CreateSession(ctx context.Context, s store.Session) error {
	d.note(ctx, "CreateSession")
	return d.Store.CreateSession(ctx, s)
}

// Every store call on the request path carries a deadline of at most
// StoreTimeout, though the request itself has none.
func TestStoreCallsHaveDeadline(t *testing.T) {
	t.Parallel()
	probe := &deadlineProbe{}
	env := newTestEnv(t, func(c *Config) {
		probe.Store = c.Store
		c.Store = probe
		c.StoreTimeout = 7 * time.Second
	})
	h := env.a.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	key, _ := env.key(env.alice)
	for _, q := range []string{"SessionID=" + env.session(env.alice), "APIKey=" + key} {
		h.ServeHTTP(httptest.NewRecorder(), get(q))
	}
	if _, err := env.login("192.0.2.1", aliceLogin(alicePassword)); err != nil {
		t.Fatalf("login: %v", err)
	}
	if len(probe.missing) > 0 || probe.longest == 0 || probe.longest > 7*time.Second {
		t.Fatalf("calls without a deadline: %v; the latest deadline %v away, want at most 7s", probe.missing, probe.longest)
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
