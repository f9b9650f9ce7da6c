package authn

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/scopes"
)

func TestAPIHandleValidation(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, nil)
	api := NewAPI(env.a, APIConfig{})
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
	api := NewAPI(env.a, APIConfig{})
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
	must(api.Handle("Forbidden", Command{Scopes: user, Run: func(*Call) (Fields, error) { return nil, ErrForbidden }}))
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
	if !strings.Contains(env.logBuf.String(), "keyward command panicked") {
		t.Error("panic not logged")
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
	api := NewAPI(env.a, APIConfig{})
	calls := 0
	if err := api.Handle("Who", Command{Scopes: []scopes.Scope{scopes.User}, Run: func(c *Call) (Fields, error) {
		calls++
		return Fields{"Username": c.Principal.Username, "Method": c.Principal.Method.String()}, nil
	}}); err != nil {
		t.Fatal(err)
	}
	h := env.a.Middleware(api)
	key, _ := env.key(env.alice)
	status, body := callAPI(t, h, postForm("Command=Who&APIKey="+key))
	if status != 200 || body["Username"] != "alice" || body["Method"] != "apikey" || calls != 1 {
		t.Fatalf("%d %v", status, body)
	}
	status, body = callAPI(t, h, postForm("Command=Who"))
	if status != 401 || body["ErrorCode"] != float64(401) {
		t.Fatalf("anonymous: %d %v", status, body)
	}
}
