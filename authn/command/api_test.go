package command

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
)

func TestAPIHandleValidation(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	api := New(env.a, Config{})
	run := func(*Call) (Fields, error) { return nil, nil }
	user := []scopes.Scope{scopes.User}
	tests := []struct {
		name string
		cmd  string
		c    Command
	}{
		{"empty name", "", Command{Scopes: user, Run: run}},
		{"space in name", "List Create", Command{Scopes: user, Run: run}},
		{"no Run", "X.Y", Command{Scopes: user}},
		// Forgetting Scopes must not make a command public.
		{"neither scoped nor public", "X.Y", Command{Run: run}},
		{"both scoped and public", "X.Y", Command{Scopes: user, Public: true, Run: run}},
		{"invalid scope", "X.Y", Command{Scopes: []scopes.Scope{0}, Run: run}},
		{"duplicate of a built-in", "User.Login", Command{Public: true, Run: run}},
	}
	for _, tc := range tests {
		if err := api.Handle(tc.cmd, tc.c); err == nil {
			t.Errorf("%s: Handle accepted it", tc.name)
		}
	}
	if err := api.Handle("X.Y", Command{Scopes: user, Run: run}); err != nil {
		t.Fatalf("a good command: %v", err)
	}
}

// callAPI sends a form to the API and decodes the envelope.
func callAPI(t *testing.T, h http.Handler, r *http.Request) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("not JSON: %s", rec.Body)
	}
	return rec.Code, body
}

func TestAPICommandFailures(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	api := New(env.a, Config{})
	user := []scopes.Scope{scopes.User}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(api.Handle("Boom", Command{Scopes: user, Run: func(*Call) (Fields, error) { panic("bug") }}))
	must(api.Handle("Reserved", Command{Scopes: user, Run: func(*Call) (Fields, error) { return Fields{"Success": false}, nil }}))
	must(api.Handle("Unencodable", Command{Scopes: user, Run: func(*Call) (Fields, error) { return Fields{"F": func() {}}, nil }}))
	must(api.Handle("Secret", Command{Scopes: user, Run: func(*Call) (Fields, error) {
		return nil, errors.New("pq: password authentication failed for user keyward")
	}}))
	must(api.Handle("Own", Command{Scopes: user, Run: func(*Call) (Fields, error) { return nil, Fail(42, "Not today") }}))
	must(api.Handle("Forbidden", Command{Scopes: user, Run: func(*Call) (Fields, error) { return nil, authn.ErrForbidden }}))
	must(api.Handle("Echo", Command{Scopes: user, Run: func(c *Call) (Fields, error) {
		v, err := c.Param("Value")
		return Fields{"Value": v, "Account": c.Principal.AccountID, "Nested": map[string]any{"A": []int{1, 2}}}, err
	}}))
	sid := env.session(env.alice)

	tests := []struct {
		command      string
		status, code int
		text         string
	}{
		{"Boom", 500, 500, "Internal error"},
		{"Reserved", 500, 500, "Internal error"},
		{"Unencodable", 500, 500, "Internal error"},
		// A host command's unexpected error fails closed without its text.
		{"Secret", 503, 503, "Service unavailable"},
		{"Own", 200, 42, "Not today"},
		{"Forbidden", 403, 403, "Not allowed for this account"},
	}
	for _, tc := range tests {
		t.Run(tc.command, func(t *testing.T) {
			status, body := callAPI(t, api, postForm("Command="+tc.command+"&SessionID="+sid))
			if status != tc.status || body["ErrorCode"] != float64(tc.code) || body["ErrorText"] != tc.text || body["Success"] != false {
				t.Fatalf("HTTP %d %v", status, body)
			}
		})
	}
	status, body := callAPI(t, api, postForm("Command=Echo&Value=hi&SessionID="+sid))
	if status != 200 || body["Value"] != "hi" || body["Account"] != float64(env.alice.ID) || body["Success"] != true {
		t.Fatalf("Echo: %d %v", status, body)
	}
	if log := env.logBuf.String(); !strings.Contains(log, "keyward command_failed") || !strings.Contains(log, "command panicked: bug") {
		t.Errorf("panic not logged: %s", log)
	}
	var reasons []string
	for _, e := range env.events.all() {
		if e.Kind == event.CommandFailed {
			reasons = append(reasons, e.Reason)
		}
	}
	for _, want := range []string{"command Boom failed", "command Reserved set the field Success", "answer does not encode"} {
		if !slices.Contains(reasons, want) {
			t.Errorf("no command_failed event %q in %q", want, reasons)
		}
	}
	// A host command's unexpected error is the server's: logged for
	// operators with its cause.
	if e := env.events.last(event.StoreFailed); e.Err == nil || !strings.Contains(e.Err.Error(), "password authentication failed") {
		t.Errorf("store_failed event %+v", e)
	}
	if strings.Contains(env.logBuf.String(), "password authentication failed") && strings.Contains(env.logBuf.String(), sid) {
		t.Error("session ID logged")
	}
}

// Behind the middleware, the API uses what the middleware found instead of
// resolving again, and still answers in its envelope.
func TestAPIBehindMiddleware(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	api := New(env.a, Config{})
	calls := 0
	if err := api.Handle("Who", Command{Scopes: []scopes.Scope{scopes.User}, Run: func(c *Call) (Fields, error) {
		calls++
		return Fields{"Username": c.Principal.Username, "Method": c.Principal.Method.String()}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	h := env.a.Middleware(api)
	key := env.key(env.alice)
	status, body := callAPI(t, h, postForm("Command=Who&APIKey="+key))
	if status != 200 || body["Username"] != "alice" || body["Method"] != "apikey" || calls != 1 {
		t.Fatalf("%d %v", status, body)
	}
	status, body = callAPI(t, h, postForm("Command=Who"))
	if status != 401 || body["ErrorCode"] != float64(401) {
		t.Fatalf("anonymous: %d %v", status, body)
	}
}

// The API reads parameters strictly: a body over the limit, a repeated
// parameter, broken encoding are malformed requests (400), in the
// profile's numbers; a command's name matches ignoring ASCII case.
func TestAPIMalformed(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, func(c *authn.Config) { c.Limits.MaxBody = 1 << 10 })
	v5 := New(env.a, Config{Profile: OctethV5})
	tests := []struct {
		name       string
		form       string
		status     int
		v5, v5Code int
	}{
		{"body over the limit", "Command=User.Login&x=" + strings.Repeat("x", 2<<10), 400, 400, 100000},
		{"Command twice", "Command=User.Login&Command=Admin.Login", 400, 400, 100000},
		{"bad escape", "Command=User.Login&x=%zz", 400, 400, 100000},
		{"no command", "Username=alice", 400, 400, 100000},
		{"unknown command", "Command=User.Nothing", 404, 400, 100003},
		{"a name in another case", "command=user.login&username=alice&password=" + alicePassword + "&disablecaptcha=true", 200, 200, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := env.call("192.0.2.1", tc.form)
			if a.status != tc.status || (a.status != 200 && a.code != tc.status) {
				t.Errorf("Seeds: %s", a.body)
			}
			b := env.callAPI(v5, "192.0.2.1", tc.form)
			if b.status != tc.v5 || b.code != tc.v5Code || (tc.v5Code != 0 && b.fields["Errors"] == nil) {
				t.Errorf("OctethV5: %d %s", b.status, b.body)
			}
		})
	}
}

// FuzzAPI sends arbitrary requests to the command API: a 5xx or a panic is
// a bug, whatever the client sent.
func FuzzAPI(f *testing.F) {
	env := newTestEnv(f, func(c *authn.Config) { c.Logger = slog.New(slog.DiscardHandler); c.OnEvent = nil })
	sid := env.session(env.alice)
	octeth, wmd := New(env.a, Config{}), New(env.a, Config{Dialect: WMD, Profile: OctethV5})
	f.Add("Command=User.Login", "application/x-www-form-urlencoded", "Username=alice&DisableCaptcha=true&Password="+alicePassword)
	f.Add("Command=User.Current&SessionID="+sid, "", "")
	f.Add("Command=User.APIKey.Create&ResponseFormat=XML", "application/x-www-form-urlencoded", "SessionID="+sid+"&Label=%ff")
	f.Add("c=auth", "multipart/form-data; boundary=XX", "--XX\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nalice\r\n--XX--\r\n")
	f.Add("Command=Admin.Update&AdminID=1", "application/x-www-form-urlencoded", "Name=%00&EmailAddress=a@b")
	f.Fuzz(func(t *testing.T, query, contentType, body string) {
		for _, api := range []*API{octeth, wmd} {
			r := httptest.NewRequest("POST", "/api.php", strings.NewReader(body))
			r.URL.RawQuery = query
			r.Header.Set("Content-Type", contentType)
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, r)
			if rec.Code >= 500 {
				t.Fatalf("status %d for %q %q %q: %s", rec.Code, query, contentType, body, rec.Body)
			}
		}
	})
}
