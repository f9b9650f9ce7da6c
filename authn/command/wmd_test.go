package command

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// WMD's c=auth (seed 004): a login of either scope by user and pass, its
// etoken and cookie; "(n/m)" on failure; logout=1.
func TestWMDAuth(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	api := New(env.a, Config{Dialect: WMD})
	const ip = "192.0.2.1"
	a := env.callAPI(api, ip, "c=auth&user=alice&pass="+alicePassword)
	want := map[string]any{"status": "ok", "error": "", "user": "alice", "group": "", "userid": float64(env.alice.ID), "admin": false,
		"fullname": "Alice Liddell", "displayname": "Alice Liddell", "lastsignin": env.clock.Now().UTC().Format("2006-01-02 15:04:05"),
		"secondary": float64(0), "rights": float64(0), "url": "https://example.com/api.php"}
	for k, v := range want {
		if a.fields[k] != v {
			t.Errorf("%s = %v, want %v", k, a.fields[k], v)
		}
	}
	etoken, _ := a.fields["etoken"].(string)
	if !strings.HasPrefix(etoken, "kwe_") || len(a.header["Set-Cookie"]) != 1 || a.fields["SessionID"] != nil {
		t.Fatalf("c=auth: %s %v", a.body, a.header)
	}
	cookie, err := http.ParseSetCookie(a.header["Set-Cookie"][0])
	if err != nil {
		t.Fatal(err)
	}
	if a := env.callAPI(api, ip, "c=auth&user=root&pass="+rootPassword); a.fields["admin"] != true || a.fields["displayname"] != "Root" {
		t.Fatalf("an administrator: %s", a.body)
	}
	// A failure says where the throttle stands, and blanks the user.
	for i, wantErr := range []string{"Invalid name or password (1/6)", "Invalid name or password (2/6)"} {
		a := env.callAPI(api, "192.0.2.2", "c=auth&user=alice&pass=wrong")
		if a.status != 200 || a.ok || a.text != wantErr || a.fields["user"] != "" || a.fields["group"] != "" {
			t.Fatalf("failure %d: %s", i, a.body)
		}
	}
	if a := env.callAPI(api, "192.0.2.2", "c=auth&user=nobody&pass=wrong"); a.text != "Invalid name or password (1/6)" {
		t.Fatalf("an unknown name: %s", a.body)
	}
	// A name or password left out is a bad name or password too, counted
	// nowhere.
	for _, q := range []string{"c=auth&pass=wrong", "c=auth&user=alice", "c=auth&user=&pass="} {
		if a := env.callAPI(api, "192.0.2.3", q); a.ok || a.status != 200 || a.text != "Invalid name or password (0/6)" {
			t.Fatalf("%s: %s", q, a.body)
		}
	}
	for range 4 {
		env.callAPI(api, "192.0.2.2", "c=auth&user=alice&pass=wrong")
	}
	if a := env.callAPI(api, "192.0.2.2", "c=auth&user=alice&pass="+alicePassword); a.status != 429 || a.ok || a.retryAfter == "" {
		t.Fatalf("throttled: %s", a.body)
	}
	// Octeth's commands are not WMD's.
	if a := env.callAPI(api, ip, "c=User.Login&Username=alice&Password="+alicePassword); a.status != 404 || a.ok {
		t.Fatalf("an Octeth command: %s", a.body)
	}

	// api-sl.php takes the Bearer etoken only; api.php the cookie.
	whoami := Command{Scopes: []scopes.Scope{scopes.User}, Run: func(c *Call) (Fields, error) {
		return Fields{"user": c.Principal.Username, "method": c.Principal.Method.String()}, nil
	}}
	sl := New(env.a, Config{Dialect: WMD, Credentials: []authn.Method{authn.MethodEToken}})
	if err := sl.Handle("whoami", whoami); err != nil {
		t.Fatal(err)
	}
	r := postForm("c=whoami")
	r.Header.Set("Authorization", "Bearer "+etoken)
	rec := httptest.NewRecorder()
	sl.ServeHTTP(rec, r)
	if a := decode(t, rec); !a.ok || a.fields["method"] != "etoken" {
		t.Fatalf("api-sl with the etoken: %s", a.body)
	}
	r = postForm("c=whoami")
	r.AddCookie(cookie)
	rec = httptest.NewRecorder()
	sl.ServeHTTP(rec, r)
	if a := decode(t, rec); a.status != 401 || a.ok {
		t.Fatalf("api-sl with the cookie: %s", a.body)
	}

	// Logout ends the cookie's session and drops the cookie.
	r = postForm("c=auth&logout=1")
	r.AddCookie(cookie)
	rec = httptest.NewRecorder()
	api.ServeHTTP(rec, r)
	if a := decode(t, rec); !a.ok || len(rec.Result().Cookies()) != 1 || rec.Result().Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: %s %v", a.body, rec.Header())
	}
	r = postForm("c=auth&logout=1")
	r.AddCookie(cookie)
	rec = httptest.NewRecorder()
	api.ServeHTTP(rec, r)
	if a := decode(t, rec); a.status != 401 {
		t.Fatalf("the cookie after logout: %s", a.body)
	}
	if a := env.callAPI(api, ip, "c=auth&logout=1"); a.status != 401 {
		t.Fatalf("logout without a session: %s", a.body)
	}
}

// WMD has no captcha: its logins never ask for one, however many failed.
func TestWMDNoCaptcha(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	api := New(env.a, Config{Dialect: WMD})
	for range 4 {
		env.callAPI(api, "192.0.2.3", "c=auth&user=alice&pass=wrong")
	}
	if a := env.callAPI(api, "192.0.2.3", "c=auth&user=alice&pass="+alicePassword); !a.ok {
		t.Fatalf("after 4 failures: %s", a.body)
	}
}

// A host fills what keyward does not keep.
func TestWMDInfo(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	api := New(env.a, Config{Dialect: WMD, WMDInfo: func(_ context.Context, acct store.Account) WMDInfo {
		return WMDInfo{Group: "staff", Secondary: 1, Rights: 1009 + int(acct.ID), URL: "https://wmd.example/api.php"}
	}})
	a := env.callAPI(api, "192.0.2.1", "c=auth&user=alice&pass="+alicePassword)
	want := map[string]any{"status": "ok", "group": "staff", "secondary": float64(1), "rights": float64(1009 + env.alice.ID), "url": "https://wmd.example/api.php"}
	for k, v := range want {
		if a.fields[k] != v {
			t.Errorf("%s = %v, want %v", k, a.fields[k], v)
		}
	}
}

// The default url never sends a script to plain http but on loopback.
func TestRequestURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host string
		tls  bool
		want string
	}{
		{"example.com", false, "https://example.com/api.php"}, // a proxy ended TLS
		{"example.com", true, "https://example.com/api.php"},
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080/api.php"},
		{"localhost:8080", false, "http://localhost:8080/api.php"},
		{"[::1]:8080", false, "http://[::1]:8080/api.php"},
		{"127.0.0.1:8443", true, "https://127.0.0.1:8443/api.php"},
		{"", false, ""}, // HTTP/1.0 without a Host
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/api.php?c=auth", nil)
		r.Host = tc.host
		if !tc.tls {
			r.TLS = nil
		} else {
			r.TLS = &tls.ConnectionState{}
		}
		if got := requestURL(r); got != tc.want {
			t.Errorf("Host %q, TLS %v: %q, want %q", tc.host, tc.tls, got, tc.want)
		}
	}
}
