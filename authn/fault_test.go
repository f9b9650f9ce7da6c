package authn

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlstore"
)

// faultEnv is an authenticator on a real SQL store whose connection a test
// can break, with an account, a session, a key and an API.
type faultEnv struct {
	a     *Authenticator
	api   *API
	sid   string
	key   string
	clock *clocktest.Clock
}

func newFaultEnv(t *testing.T, st *sqlstore.Store, clock *clocktest.Clock) *faultEnv {
	t.Helper()
	ctx := context.Background()
	a, err := New(Config{Store: st, Now: clock.Now, Argon2: cheapArgon2, Logger: slog.New(slog.DiscardHandler), CaptchaPolicy: CaptchaNever})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := a.HashPassword(ctx, alicePassword)
	acct, err := st.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "alice", PasswordHash: hash})
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
	return &faultEnv{a: a, api: NewAPI(a, APIConfig{}), sid: sid.Reveal(), key: key.Reveal(), clock: clock}
}

// wantClosed fails t unless every kind of request is refused with 503:
// the middleware's credentials and a login, which must not answer
// "invalid credentials" when it could not look.
func (f *faultEnv) wantClosed(t *testing.T, ctx context.Context) {
	t.Helper()
	h := f.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("a request reached the handler") }))
	for _, q := range []string{"SessionID=" + f.sid, "APIKey=" + f.key} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, get(q).WithContext(ctx))
		if rec.Code != 503 {
			t.Errorf("%s: status %d, want 503", q[:6], rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	f.api.ServeHTTP(rec, postForm("Command=User.Login&Username=alice&Password="+alicePassword).WithContext(ctx))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), `"ErrorCode":503`) {
		t.Errorf("login: %d %s", rec.Code, rec.Body)
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

// proxy is a TCP proxy on loopback that a test can stall (bytes stop
// flowing, connections hang) or drop (every connection closed, new ones
// refused), to break a real database connection.
type proxy struct {
	ln      net.Listener
	target  string
	stalled atomic.Bool
	mu      sync.Mutex
	conns   []net.Conn
	dropped bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(p.drop)
	go p.serve()
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.dropped {
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, throwing the bytes away while stalled.
func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.stalled.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close()
			}
			return
		}
	}
}

func (p *proxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dropped = true
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
}

// postgresThroughProxy opens a store on PostgreSQL, in a schema of its own,
// through a proxy, or skips when KEYWARD_TEST_POSTGRES is unset.
func postgresThroughProxy(t *testing.T, clock *clocktest.Clock) (*sqlstore.Store, *proxy) {
	t.Helper()
	dsn := os.Getenv("KEYWARD_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("set KEYWARD_TEST_POSTGRES (postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL fault tests")
	}
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
		t.Fatalf("KEYWARD_TEST_POSTGRES is set but PostgreSQL does not answer: %v", err)
	}
	t.Cleanup(func() { _, _ = admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	p := startProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
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
	p.drop()
	f.wantClosed(t, context.Background())
}

// A store that hangs: the request's deadline is respected, and the answer
// is 503, not a wait forever.
func TestFaultStalledPostgres(t *testing.T) {
	t.Parallel()
	clock := clocktest.New()
	st, p := postgresThroughProxy(t, clock)
	f := newFaultEnv(t, st, clock)
	p.stalled.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.wantClosed(t, ctx)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // a generous bound, not a measurement
		t.Fatal("requests on a stalled store did not return after their deadline")
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
	env := newTestEnv(t, func(c *Config) { c.Store = lostReply{c.Store}; c.CaptchaPolicy = CaptchaNever })
	rec := httptest.NewRecorder()
	NewAPI(env.a, APIConfig{}).ServeHTTP(rec, postForm("Command=User.Login&Username=alice&Password="+alicePassword))
	if rec.Code != 503 {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	n, err := env.mem.DeleteAccountSessions(context.Background(), env.alice.Ref(), store.Hash{})
	if err != nil || n != 0 {
		t.Fatalf("%d sessions left behind, %v", n, err)
	}
}
