package authn

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

func TestResolvers(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()

	aliceKey, _ := env.key(env.alice)
	rootKey, _ := env.key(env.root)
	revokedKey, revokedRec := env.key(env.alice)
	if err := env.a.RevokeAPIKey(ctx, env.alice.Ref(), revokedRec.ID); err != nil {
		t.Fatal(err)
	}
	expiring, _, err := env.a.CreateAPIKey(ctx, env.alice.Ref(), APIKeyOptions{ExpiresAt: env.clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	aliceSession := env.session(env.alice)
	rootSession := env.session(env.root)
	loggedOut := env.session(env.alice)
	if err := env.a.EndSession(httptest.NewRecorder(), get(""), Principal{Scope: scopes.User, AccountID: env.alice.ID, session: mustHash(t, loggedOut)}); err != nil {
		t.Fatal(err)
	}
	// A well-formed session ID that was never issued.
	unknownSession := strings.Repeat("A", sessionIDLen)

	withHeader := func(r *http.Request, k, v string) *http.Request { r.Header.Set(k, v); return r }
	withCookie := func(r *http.Request, c *http.Cookie) *http.Request { r.AddCookie(c); return r }

	tests := []struct {
		name   string
		req    *http.Request
		status int
		scope  scopes.Scope
		id     int64
		method Method
	}{
		{"anonymous", get("Command=Lists.Get"), 200, 0, 0, 0},

		{"APIKey param", get("APIKey=" + aliceKey), 200, scopes.User, env.alice.ID, MethodAPIKey},
		{"apikey lowercase", get("apikey=" + aliceKey), 200, scopes.User, env.alice.ID, MethodAPIKey},
		{"APIKey in urlencoded body", postForm("APIKey=" + aliceKey), 200, scopes.User, env.alice.ID, MethodAPIKey},
		{"X-API-Key header", withHeader(get(""), "X-API-Key", aliceKey), 200, scopes.User, env.alice.ID, MethodAPIKey},
		{"admin key as APIKey", get("APIKey=" + rootKey), 200, scopes.Admin, env.root.ID, MethodAdminKey},
		{"APIKey unknown", get("APIKey=kw_nope"), 401, 0, 0, 0},
		{"APIKey revoked", get("APIKey=" + revokedKey), 401, 0, 0, 0},
		{"APIKey not expired yet", get("APIKey=" + expiring.Reveal()), 200, scopes.User, env.alice.ID, MethodAPIKey},
		// Over-long garbage must be refused cheaply, not hashed at length.
		{"APIKey absurdly long", get("APIKey=" + strings.Repeat("k", 4000)), 401, 0, 0, 0},

		{"AdminAPIKey stored", get("AdminAPIKey=" + rootKey), 200, scopes.Admin, env.root.ID, MethodAdminKey},
		{"adminapikey lowercase", get("adminapikey=" + rootKey), 200, scopes.Admin, env.root.ID, MethodAdminKey},
		{"AdminAPIKey static", get("AdminAPIKey=" + staticKey), 200, scopes.Admin, env.root.ID, MethodAdminKey},
		{"X-Admin-API-Key static", withHeader(get(""), "X-Admin-API-Key", staticKey), 200, scopes.Admin, env.root.ID, MethodAdminKey},
		// A user's key must not become an admin credential by its name.
		{"AdminAPIKey with user key", get("AdminAPIKey=" + aliceKey), 401, 0, 0, 0},
		// One character off the static key.
		{"AdminAPIKey static near miss", get("AdminAPIKey=" + staticKey[:len(staticKey)-1] + "0"), 401, 0, 0, 0},

		{"SessionID", get("SessionID=" + aliceSession), 200, scopes.User, env.alice.ID, MethodSession},
		{"sessionid lowercase in body", postForm("sessionid=" + rootSession), 200, scopes.Admin, env.root.ID, MethodSession},
		{"SessionID unknown", get("SessionID=" + unknownSession), 401, 0, 0, 0},
		{"SessionID logged out", get("SessionID=" + loggedOut), 401, 0, 0, 0},
		{"SessionID malformed", get("SessionID=not-a-session"), 401, 0, 0, 0},
		// Non-canonical base64 (trailing bits set) must not alias a real ID.
		{"SessionID non-canonical", get("SessionID=" + aliceSession[:sessionIDLen-1] + nonCanonical(aliceSession)), 401, 0, 0, 0},
		{"empty SessionID is absent", get("SessionID="), 200, 0, 0, 0},

		{"cookie", withCookie(get(""), env.cookie(aliceSession)), 200, scopes.User, env.alice.ID, MethodCookie},
		{"cookie of ended session", withCookie(get(""), env.cookie(loggedOut)), 401, 0, 0, 0},
		{"cookie tampered", withCookie(get(""), tamper(env.cookie(aliceSession))), 401, 0, 0, 0},
		{"cookie garbage", withCookie(get(""), &http.Cookie{Name: "__Host-keyward", Value: "%%%"}), 401, 0, 0, 0},
		{"other cookies only", withCookie(get(""), &http.Cookie{Name: "theme", Value: "dark"}), 200, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := env.serve(tc.req)
			if res.status != tc.status {
				t.Fatalf("status %d (%s), want %d", res.status, res.errText, tc.status)
			}
			if tc.status != 200 {
				if res.reached {
					t.Fatal("refused request reached the handler")
				}
				return
			}
			p := res.principal
			if p.Scope != tc.scope || p.AccountID != tc.id || p.Method != tc.method {
				t.Fatalf("principal %+v, want scope %v id %d method %v", p, tc.scope, tc.id, tc.method)
			}
		})
	}
}

// nonCanonical returns a last character that decodes to the same bytes as
// id's last character but with non-zero padding bits.
func nonCanonical(id string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, id[len(id)-1])
	return string(alphabet[i|1])
}

// tamper flips one character in the middle of a cookie's value.
func tamper(c *http.Cookie) *http.Cookie {
	b := []byte(c.Value)
	mid := len(b) / 2
	if b[mid] == 'A' {
		b[mid] = 'B'
	} else {
		b[mid] = 'A'
	}
	c.Value = string(b)
	return c
}

func mustHash(t *testing.T, id string) store.Hash {
	t.Helper()
	h, ok := sessionHash(id)
	if !ok {
		t.Fatalf("%q is not a session ID", id)
	}
	return h
}

func TestPrincipalFields(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	key, rec := env.key(env.alice)
	loginAt := env.clock.Now()
	id, err := env.a.StartSession(context.Background(), env.alice, SessionOptions{TFA: true, Method: "password"})
	if err != nil {
		t.Fatal(err)
	}
	env.clock.Advance(5 * time.Minute)

	p := env.serve(get("APIKey=" + key)).principal
	want := Principal{Scope: scopes.User, AccountID: env.alice.ID, Username: "alice", Method: MethodAPIKey, AuthenticatedAt: env.clock.Now(), APIKeyID: rec.ID}
	if p != want {
		t.Errorf("API key principal\n got %+v\nwant %+v", p, want)
	}
	p = env.serve(get("SessionID=" + id.Reveal())).principal
	if p.AuthenticatedAt != loginAt || !p.TFA || p.APIKeyID != 0 || !p.HasSession() || p.Username != "alice" {
		t.Errorf("session principal %+v: want login time %v, TFA, a session, no key", p, loginAt)
	}
}

// Every present credential is checked: the first decides, a bad one
// anywhere refuses, and two good ones must agree on the account.
func TestResolverOrderAndConflicts(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	aliceKey, _ := env.key(env.alice)
	aliceKey2, _ := env.key(env.alice)
	rootKey, _ := env.key(env.root)
	aliceSession := env.session(env.alice)
	rootSession := env.session(env.root)
	bob, err := env.mem.CreateAccount(context.Background(), store.Account{Scope: scopes.User, Username: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	bobSession := env.session(bob)

	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		method Method
	}{
		{"key and session of one account: key decides", func() *http.Request { return get("SessionID=" + aliceSession + "&APIKey=" + aliceKey) }, 200, MethodAPIKey},
		// Seed 003 sends SessionID and APIKey together to Admin.Update.
		{"admin session and admin key", func() *http.Request { return get("SessionID=" + rootSession + "&APIKey=" + rootKey) }, 200, MethodAdminKey},
		{"admin key param beats session", func() *http.Request { return get("AdminAPIKey=" + staticKey + "&SessionID=" + rootSession) }, 200, MethodAdminKey},
		{"cookie and SessionID agree", func() *http.Request {
			r := get("SessionID=" + aliceSession)
			r.AddCookie(env.cookie(aliceSession))
			return r
		}, 200, MethodSession},
		// Parameter pollution: which identity wins must never be a guess.
		{"two accounts", func() *http.Request { return get("SessionID=" + bobSession + "&APIKey=" + aliceKey) }, 400, 0},
		{"two scopes", func() *http.Request { return get("SessionID=" + rootSession + "&APIKey=" + aliceKey) }, 400, 0},
		{"cookie of another account", func() *http.Request {
			r := get("SessionID=" + aliceSession)
			r.AddCookie(env.cookie(bobSession))
			return r
		}, 400, 0},
		{"header and param keys differ", func() *http.Request {
			r := get("APIKey=" + aliceKey)
			r.Header.Set("X-API-Key", aliceKey2)
			return r
		}, 400, 0},
		{"header and param keys equal", func() *http.Request {
			r := get("APIKey=" + aliceKey)
			r.Header.Set("X-API-Key", aliceKey)
			return r
		}, 200, MethodAPIKey},
		{"header repeated", func() *http.Request {
			r := get("")
			r.Header.Add("X-API-Key", aliceKey)
			r.Header.Add("X-API-Key", aliceKey)
			return r
		}, 400, 0},
		{"APIKey repeated", func() *http.Request { return get("APIKey=" + aliceKey + "&apikey=" + aliceKey) }, 400, 0},
		// A bad credential is refused, never skipped for a good one.
		{"good key, bad session", func() *http.Request {
			return get("APIKey=" + aliceKey + "&SessionID=" + strings.Repeat("B", sessionIDLen))
		}, 401, 0},
		{"bad key, good session", func() *http.Request { return get("APIKey=kw_bad&SessionID=" + aliceSession) }, 401, 0},
		{"bad admin key, good cookie", func() *http.Request {
			r := get("AdminAPIKey=wrong")
			r.AddCookie(env.cookie(rootSession))
			return r
		}, 401, 0},
		{"good session, tampered cookie", func() *http.Request {
			r := get("SessionID=" + aliceSession)
			r.AddCookie(tamper(env.cookie(aliceSession)))
			return r
		}, 401, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := env.serve(tc.req())
			if res.status != tc.status {
				t.Fatalf("status %d (%s), want %d", res.status, res.errText, tc.status)
			}
			if tc.status == 200 && res.principal.Method != tc.method {
				t.Fatalf("method %v, want %v", res.principal.Method, tc.method)
			}
			if tc.status != 200 && res.reached {
				t.Fatal("refused request reached the handler")
			}
		})
	}
}

// hostToken is a host's own credential: a fixed header naming alice.
type hostToken struct{ alice int64 }

func (h hostToken) Resolve(ctx context.Context, r *Request) (Principal, error) {
	switch r.HTTP.Header.Get("X-Host-Token") {
	case "":
		return Principal{}, nil // none of mine
	case "alice-token":
		return Principal{Scope: scopes.User, AccountID: h.alice, Username: "alice"}, nil
	case "store-down":
		return Principal{}, errDown
	case "bad-request":
		return Principal{}, ErrBadRequest
	}
	return Principal{}, because(ErrInvalidCredential, "forged host token")
}

// Config.Credentials chooses keyward's credentials and their order; a
// host's Resolvers come after them.
func TestCustomResolverOrder(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) {
		c.Credentials = []Method{MethodSession}
		c.Resolvers = []Resolver{hostToken{alice: 1}}
	})
	if env.alice.ID != 1 {
		t.Fatalf("alice is %d", env.alice.ID)
	}
	aliceKey, _ := env.key(env.alice)
	bob, err := env.mem.CreateAccount(context.Background(), store.Account{Scope: scopes.User, Username: "bob"})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		token   string
		query   string
		status  int
		method  Method
		refused bool
	}{
		// A principal without a Method is the host's own.
		{"host token", "alice-token", "", 200, MethodCustom, false},
		// keyward's credentials come first: the session decides, and the
		// host's credential must name the same account.
		{"session and host token of one account", "alice-token", "SessionID=" + env.session(env.alice), 200, MethodSession, false},
		{"session and host token of two accounts", "alice-token", "SessionID=" + env.session(bob), 400, 0, true},
		{"bad host token", "forged", "", 401, 0, true},
		// A bad host credential is refused, never skipped for a good one.
		{"session and bad host token", "forged", "SessionID=" + env.session(env.alice), 401, 0, true},
		{"host store down", "store-down", "", 503, 0, true},
		{"malformed host token", "bad-request", "", 400, 0, true},
		// APIKey is not among the configured credentials: it is ignored.
		{"unconfigured credential", "", "APIKey=" + aliceKey, 200, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := get(tc.query)
			if tc.token != "" {
				r.Header.Set("X-Host-Token", tc.token)
			}
			res := env.serve(r)
			if res.status != tc.status || res.principal.Method != tc.method || res.reached == tc.refused {
				t.Fatalf("%d %+v reached %v", res.status, res.principal, res.reached)
			}
		})
	}
}

func TestRequire(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	aliceSession := env.session(env.alice)
	rootSession := env.session(env.root)

	tests := []struct {
		name    string
		allowed []scopes.Scope
		query   string
		status  int
	}{
		{"anonymous, user route", []scopes.Scope{scopes.User}, "", 401},
		{"user on user route", []scopes.Scope{scopes.User}, "SessionID=" + aliceSession, 200},
		{"admin on user route", []scopes.Scope{scopes.User}, "SessionID=" + rootSession, 403},
		{"user on admin route", []scopes.Scope{scopes.Admin}, "SessionID=" + aliceSession, 403},
		{"admin on admin route", []scopes.Scope{scopes.Admin}, "SessionID=" + rootSession, 200},
		{"user on either", []scopes.Scope{scopes.User, scopes.Admin}, "SessionID=" + aliceSession, 200},
		{"anyone signed in", nil, "SessionID=" + rootSession, 200},
		{"anonymous, any scope", nil, "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reached := false
			h := env.a.Middleware(env.a.Require(tc.allowed...)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true })))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, get(tc.query))
			if rec.Code != tc.status || reached != (tc.status == 200) {
				t.Fatalf("status %d reached %v, want %d", rec.Code, reached, tc.status)
			}
		})
	}

	t.Run("without middleware everything is anonymous", func(t *testing.T) {
		h := env.a.Require(scopes.User)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("reached") }))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, get("SessionID="+aliceSession))
		if rec.Code != 401 {
			t.Fatalf("status %d", rec.Code)
		}
	})
}

// A store that fails never lets a request through.
func TestStoreFailureFailsClosed(t *testing.T) {
	t.Parallel()
	// (RecordAPIKeyUse is not among them: usage is written in the
	// background, and its failure is TestAPIKeyUsageStoreDown's.)
	for _, method := range []string{"APIKeyByHash", "Session", "Account", "TouchSession"} {
		t.Run(method, func(t *testing.T) {
			fs := &failingStore{fail: map[string]bool{}}
			env := newTestEnv(t, func(c *Config) { fs.Store = c.Store; c.Store = fs })
			key, _ := env.key(env.alice)
			sid := env.session(env.alice)
			env.clock.Advance(2 * time.Minute) // make the touches due
			fs.fail[method] = true
			for _, q := range []string{"APIKey=" + key, "SessionID=" + sid} {
				res := env.serve(get(q))
				usesMethod := !(strings.HasPrefix(q, "APIKey") && (method == "Session" || method == "TouchSession")) &&
					!(strings.HasPrefix(q, "SessionID") && (method == "APIKeyByHash" || method == "RecordAPIKeyUse"))
				if usesMethod && res.reached {
					t.Fatalf("%s with %s failing reached the handler", q[:6], method)
				}
				if usesMethod && res.status != 503 {
					t.Fatalf("%s with %s failing: status %d, want 503", q[:6], method, res.status)
				}
				if usesMethod && strings.Contains(res.body, errDown.Error()) {
					t.Fatalf("store's error leaked to the client: %s", res.body)
				}
			}
			if !strings.Contains(env.logBuf.String(), "store_failed") {
				t.Fatalf("store failure not logged: %s", env.logBuf.String())
			}
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []time.Duration // advance, then request, for each
		last  int             // status of the last request
	}{
		{"fresh", []time.Duration{0}, 200},
		{"used within idle", []time.Duration{29 * time.Minute}, 200},
		{"idle exactly", []time.Duration{30 * time.Minute}, 401},
		{"idle past", []time.Duration{31 * time.Minute}, 401},
		// Each use within the idle timeout keeps it alive, up to the lifetime.
		{"kept alive", []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, 200},
		// Touches are throttled to one a minute: a use 30 s after the last
		// write does not move the deadline, which stays 30 min after that
		// write.
		{"touch throttled", []time.Duration{10 * time.Minute, 30 * time.Second, 29*time.Minute + 29*time.Second}, 200},
		{"touch throttled past", []time.Duration{10 * time.Minute, 30 * time.Second, 29*time.Minute + 30*time.Second}, 401},
		{"lifetime", keepAlive(12*time.Hour, 20*time.Minute), 401},
		{"just inside lifetime", keepAlive(12*time.Hour-time.Minute, 20*time.Minute), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t, nil)
			sid := env.session(env.alice)
			var status int
			for i, d := range tc.steps {
				env.clock.Advance(d)
				status = env.serve(get("SessionID=" + sid)).status
				if i < len(tc.steps)-1 && status != 200 {
					t.Fatalf("step %d: status %d", i, status)
				}
			}
			if status != tc.last {
				t.Fatalf("last status %d, want %d", status, tc.last)
			}
		})
	}
}

// keepAlive returns steps of every that add up to total.
func keepAlive(total, every time.Duration) []time.Duration {
	var steps []time.Duration
	for ; total > every; total -= every {
		steps = append(steps, every)
	}
	return append(steps, total)
}

// staleStore returns sessions as a store that does not check expiry
// would: the authenticator must decide on its own.
type staleStore struct {
	store.Store
	idle time.Duration
}

func (s staleStore) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	sess, err := s.Store.Session(ctx, h)
	sess.LastSeenAt = sess.LastSeenAt.Add(-s.idle)
	return sess, err
}

func TestSessionExpiryDecidedByAuthenticator(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Store = staleStore{Store: c.Store, idle: 31 * time.Minute} })
	sid := env.session(env.alice)
	if res := env.serve(get("SessionID=" + sid)); res.status != 401 || res.errText != "Authentication failure or session expired" {
		t.Fatalf("status %d %q", res.status, res.errText)
	}
	if !slices.Contains(env.events.kinds(), event.SessionExpired) {
		t.Fatalf("no session_expired event: %v", env.events.kinds())
	}
}

func TestEndSessions(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	current := env.session(env.alice)
	others := []string{env.session(env.alice), env.session(env.alice)}
	rootSession := env.session(env.root)

	// A credential change ends the account's other sessions; the caller's
	// goes on under a new ID.
	p := env.serve(get("SessionID=" + current)).principal
	acct, err := env.a.Account(ctx, p.Account())
	if err != nil {
		t.Fatal(err)
	}
	next, err := env.a.UpdateAccount(ctx, p, acct, "a-brand-new-password")
	if err != nil || next.Reveal() == "" || next.Reveal() == current {
		t.Fatalf("UpdateAccount = %q, %v", next.Reveal(), err)
	}
	for _, sid := range append(others, current) {
		if res := env.serve(get("SessionID=" + sid)); res.status != 401 {
			t.Fatalf("an old session still works: %d", res.status)
		}
	}
	if res := env.serve(get("SessionID=" + next.Reveal())); res.status != 200 {
		t.Fatalf("the caller's next session: %d", res.status)
	}
	if res := env.serve(get("SessionID=" + rootSession)); res.status != 200 {
		t.Fatalf("another account's session ended: %d", res.status)
	}

	// Logout: EndSession ends the session, and drops the cookie the
	// request came with.
	current = next.Reveal()
	withCookie := get("")
	withCookie.AddCookie(env.cookie(current))
	p = env.serve(withCookie).principal
	rec := httptest.NewRecorder()
	if err := env.a.EndSession(rec, withCookie, p); err != nil {
		t.Fatal(err)
	}
	if !clearsCookie(rec.Header(), "__Host-keyward") {
		t.Fatalf("the cookie is not dropped: %v", rec.Header())
	}
	if res := env.serve(get("SessionID=" + current)); res.status != 401 {
		t.Fatalf("ended session still works: %d", res.status)
	}
	if e := env.events.last(event.Logout); e.Account != env.alice.Ref() || e.Method != "cookie" {
		t.Fatalf("logout event %+v", e)
	}
	// Ending it again is not an error, and a request without the cookie
	// gets no cookie dropped; a principal with no session is an error.
	rec = httptest.NewRecorder()
	if err := env.a.EndSession(rec, get(""), p); err != nil || len(rec.Header()["Set-Cookie"]) != 0 {
		t.Fatalf("second EndSession: %v %v", err, rec.Header())
	}
	key, _ := env.key(env.alice)
	if err := env.a.EndSession(httptest.NewRecorder(), get(""), env.serve(get("APIKey="+key)).principal); statusOf(err) != 400 {
		t.Fatalf("EndSession of an API key principal: %v", err)
	}
	n, err := env.a.EndAllSessions(ctx, env.root.Ref())
	if err != nil || n != 1 {
		t.Fatalf("EndAllSessions = %d, %v; want 1", n, err)
	}
	if res := env.serve(get("SessionID=" + rootSession)); res.status != 401 {
		t.Fatalf("a session after EndAllSessions: %d", res.status)
	}
	if e := env.events.last(event.SessionsEnded); e.Account != env.root.Ref() || e.Count != 1 {
		t.Fatalf("sessions_ended event %+v", e)
	}
}

func TestDisabledAccount(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	ctx := context.Background()
	bob, err := env.mem.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: "bob", Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.a.StartSession(ctx, bob, SessionOptions{}); statusOf(err) != 401 {
		t.Fatalf("session for a disabled account: %v", err)
	}
	if _, _, err := env.a.CreateAPIKey(ctx, bob.Ref(), APIKeyOptions{}); statusOf(err) != 401 {
		t.Fatalf("key for a disabled account: %v", err)
	}
}

func TestBodyStaysReadable(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	sid := env.session(env.alice)
	body := "Command=List.Create&SubscriberListName=My+Test+List&SessionID=" + sid

	var got string
	var params *form.Params
	h := env.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		params, _ = env.a.Request(r).Params()
	}))
	h.ServeHTTP(httptest.NewRecorder(), postForm(body))
	if got != body {
		t.Fatalf("next handler read %q, want %q", got, body)
	}
	if params == nil {
		t.Fatal("Request(r).Params found nothing")
	}
	if v, _ := params.Get("subscriberlistname"); v != "My Test List" {
		t.Fatalf("param = %q", v)
	}

	t.Run("ParseForm after the middleware", func(t *testing.T) {
		h := env.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err != nil || r.PostForm.Get("SubscriberListName") != "My Test List" {
				t.Errorf("ParseForm: %v %v", err, r.PostForm)
			}
		}))
		h.ServeHTTP(httptest.NewRecorder(), postForm(body))
	})
	t.Run("anonymous form", func(t *testing.T) {
		var got string
		h := env.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got = string(b)
		}))
		h.ServeHTTP(httptest.NewRecorder(), postForm("Command=User.Login&Username=alice"))
		if got != "Command=User.Login&Username=alice" {
			t.Fatalf("body %q", got)
		}
	})
	t.Run("JSON body untouched", func(t *testing.T) {
		var got string
		h := env.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got = string(b)
		}))
		r := httptest.NewRequest("POST", "/", strings.NewReader(`{"a":1}`))
		r.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != `{"a":1}` {
			t.Fatalf("body %q", got)
		}
	})
}

func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Limits = form.Limits{MaxBody: 1 << 10, MaxValue: 256, MaxParams: 20} })
	multipartBody := func(body string) *http.Request {
		r := httptest.NewRequest("POST", "/api.php", strings.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary=XX")
		return r
	}
	tests := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"body at limit", postForm("a=" + strings.Repeat("b", 254)), 200},
		// The middleware passes uploads on unread (TestOversizedBody); the
		// API refuses them.
		{"body over limit", postForm("a=" + strings.Repeat("b", 1<<10)), 200},
		{"value too long", get("a=" + strings.Repeat("b", 257)), 400},
		{"too many params", get(strings.Repeat("a=1&", 21)), 400},
		{"bad escape", get("a=%zz"), 400},
		{"semicolon", get("a=1;b=2"), 400},
		{"invalid UTF-8", get("a=%ff%fe"), 400},
		{"invalid UTF-8 name", get("%ff=1"), 400},
		{"NUL", get("a=%00"), 400},
		{"empty name", get("=1"), 400},
		{"bad content type", func() *http.Request {
			r := postForm("a=1")
			r.Header.Set("Content-Type", "multipart/form-data; boundary=")
			return r
		}(), 400},
		{"multipart", multipartBody("--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XX--\r\n"), 200},
		{"multipart broken", multipartBody("--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1"), 400},
		{"multipart without name", multipartBody("--XX\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XX--\r\n"), 400},
		{"multipart file skipped", multipartBody("--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n" + strings.Repeat("z", 300) + "\r\n--XX--\r\n"), 200},
		{"multipart value too long", multipartBody("--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n" + strings.Repeat("z", 300) + "\r\n--XX--\r\n"), 400},
		{"empty pairs skipped", get("&&a=1&&"), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := env.serve(tc.req)
			if res.status != tc.status {
				t.Fatalf("status %d (%s), want %d", res.status, res.errText, tc.status)
			}
		})
	}
}

func TestCrossOriginCookie(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	sid := env.session(env.alice)
	crossSite := func(method string, withCookie bool, query string) *http.Request {
		r := httptest.NewRequest(method, "https://app.example/api.php?"+query, strings.NewReader("Command=List.Create"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		if withCookie {
			r.AddCookie(env.cookie(sid))
		}
		return r
	}
	tests := []struct {
		name   string
		req    *http.Request
		status int
	}{
		{"cross-site POST with cookie", crossSite("POST", true, ""), 403},
		{"cross-site GET with cookie", crossSite("GET", true, ""), 200},
		{"cross-site POST with SessionID", crossSite("POST", false, "SessionID="+sid), 200},
		{"same-origin POST with cookie", func() *http.Request {
			r := crossSite("POST", true, "")
			r.Header.Set("Sec-Fetch-Site", "same-origin")
			return r
		}(), 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if res := env.serve(tc.req); res.status != tc.status {
				t.Fatalf("status %d, want %d", res.status, tc.status)
			}
		})
	}
}

func TestAnonymousRequestUnchanged(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	in := httptest.NewRequest("GET", "/", nil)
	var seen *http.Request
	env.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r })).ServeHTTP(httptest.NewRecorder(), in)
	if seen != in {
		t.Fatal("an anonymous request without parameters was copied")
	}
}

// A form body over the limit (an upload to a host route) reaches the next
// handler whole, and the request is authenticated by its other
// credentials only.
func TestOversizedBody(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *Config) { c.Limits.MaxBody = 1 << 10 })
	key, _ := env.key(env.alice)
	body := "SessionID=" + strings.Repeat("A", sessionIDLen) + "&file=" + strings.Repeat("x", 5000)
	var got string
	var p Principal
	h := env.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
		p, _ = PrincipalFrom(r.Context())
	}))
	r := postForm(body)
	r.Header.Set("X-API-Key", key)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 200 || got != body {
		t.Fatalf("status %d, handler read %d bytes of %d", rec.Code, len(got), len(body))
	}
	if p.Method != MethodAPIKey || p.AccountID != env.alice.ID {
		t.Fatalf("principal %+v", p)
	}
	// Anonymous too.
	got = ""
	h.ServeHTTP(httptest.NewRecorder(), postForm(body))
	if got != body {
		t.Fatalf("anonymous upload: handler read %d bytes of %d", len(got), len(body))
	}
	// A command router, where parameters are the point, refuses it: its
	// Request reads strictly.
	if _, err := env.a.Request(postForm("Command=User.Login&" + body)).Params(); !errors.Is(err, form.ErrBodyTooLarge) || statusOf(err) != 400 {
		t.Fatalf("Request.Params of an oversized body: %v", err)
	}
}

// CheckOrigin: http.CrossOriginProtection's answer, and a Referer judged
// as an Origin when a browser sent neither Sec-Fetch-Site nor Origin.
func TestCheckOrigin(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		ok      bool
	}{
		{"no browser headers: a script", nil, true},
		{"same-origin fetch", map[string]string{"Sec-Fetch-Site": "same-origin"}, true},
		{"cross-site fetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, false},
		{"same Origin", map[string]string{"Origin": "http://example.com"}, true},
		{"other Origin", map[string]string{"Origin": "https://evil.example"}, false},
		// The attack: a cross-site form post from a browser that sends
		// only Referer.
		{"Referer alone, other site", map[string]string{"Referer": "https://evil.example/x"}, false},
		{"Referer alone, this site", map[string]string{"Referer": "http://example.com/login"}, true},
		{"Referer alone, naming no origin", map[string]string{"Referer": "/relative"}, false},
		{"Referer alone, another scheme", map[string]string{"Referer": "ftp://example.com/"}, false},
		// Sec-Fetch-Site decides when present; Referer is not looked at.
		{"same-origin fetch, odd Referer", map[string]string{"Sec-Fetch-Site": "same-origin", "Referer": "https://evil.example/"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://example.com/login", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			err := env.a.CheckOrigin(r)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckOrigin: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// A refusal's event names the kind of credential refused, so operators can
// count refusals by kind; a malformed request names none.
func TestRefusedEventNamesTheCredential(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	tests := []struct {
		name, target string
		header       [2]string
		want         string
	}{
		{"session", "/?SessionID=" + strings.Repeat("A", 43), [2]string{}, "session"},
		{"api key", "/?APIKey=kw_nosuchkey", [2]string{}, "apikey"},
		{"admin key header", "/", [2]string{"X-Admin-API-Key", "nope"}, "adminapikey"},
		{"etoken", "/", [2]string{"Authorization", "Bearer kwe_garbage"}, "etoken"},
		{"session given twice", "/?SessionID=a&SessionID=b", [2]string{}, "session"},
		{"malformed query", "/?a=%zz", [2]string{}, ""},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", tc.target, nil)
		if tc.header[0] != "" {
			r.Header.Set(tc.header[0], tc.header[1])
		}
		if res := env.serve(r); res.reached {
			t.Fatalf("%s: not refused", tc.name)
		}
		if e := env.events.last(event.Refused); e.Method != tc.want {
			t.Errorf("%s: the refusal's method is %q, want %q (%+v)", tc.name, e.Method, tc.want, e)
		}
	}
}

// The middleware's allocations per request are part of its cost, and
// easy to lose unseen (an errors.Is over an Unwrap() []error allocates on
// every absent credential): the Request, and the request handed on.
// Anonymous requests allocate the Request alone.
func TestMiddlewareAllocations(t *testing.T) {
	env := newTestEnv(t, nil)
	key, _, err := env.a.CreateAPIKey(context.Background(), env.alice.Ref(), APIKeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sid := env.session(env.alice)
	seen := 0
	h := env.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := PrincipalFrom(r.Context()); ok {
			seen++
		}
	}))
	header := httptest.NewRequest("GET", "/api.php", nil)
	header.Header.Set("X-API-Key", key.Reveal())
	tests := []struct {
		name   string
		r      *http.Request
		allocs float64
	}{
		{"APIKey", httptest.NewRequest("GET", "/api.php?APIKey="+key.Reveal(), nil), 2},
		{"X-API-Key", header, 2},
		{"SessionID", httptest.NewRequest("GET", "/api.php?SessionID="+sid, nil), 2},
		{"anonymous", httptest.NewRequest("GET", "/api.php", nil), 1},
	}
	w := &discardWriter{h: http.Header{}}
	for _, tc := range tests {
		h.ServeHTTP(w, tc.r) // fill the cache
		if got := testing.AllocsPerRun(200, func() { h.ServeHTTP(w, tc.r) }); got > tc.allocs {
			t.Errorf("%s: %v allocations per request, want at most %v", tc.name, got, tc.allocs)
		}
	}
	if seen == 0 {
		t.Fatal("no request reached the handler with a principal")
	}
}
