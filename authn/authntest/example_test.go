package authntest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/authntest"
	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/scopes"
)

// notes is a host application's own service: what its commands work on.
type notes struct {
	mu    sync.Mutex
	byOwn map[int64][]string
}

// Note.Add error codes: the host's own, in the envelope.
const (
	codeMissingText = 1
	codeTextTooLong = 2
)

// register adds the host's two commands to an API: Note.Add for users,
// Notes.Count for administrators.
func (n *notes) register(api *command.API) error {
	err := api.Handle("Note.Add", command.Command{
		Scopes: []scopes.Scope{scopes.User},
		Run: func(c *command.Call) (command.Fields, error) {
			text, err := c.Param("Text")
			if err != nil {
				return nil, err // given twice: 400
			}
			switch {
			case strings.TrimSpace(text) == "":
				return nil, command.Fail(codeMissingText, "Missing text")
			case utf8.RuneCountInString(text) > 280:
				return nil, command.Fail(codeTextTooLong, "Text longer than 280 characters")
			}
			n.mu.Lock()
			defer n.mu.Unlock()
			n.byOwn[c.Principal.AccountID] = append(n.byOwn[c.Principal.AccountID], text)
			return command.Fields{"NoteCount": len(n.byOwn[c.Principal.AccountID])}, nil
		},
	})
	if err != nil {
		return err
	}
	return api.Handle("Notes.Count", command.Command{
		Scopes: []scopes.Scope{scopes.Admin},
		Run: func(c *command.Call) (command.Fields, error) {
			n.mu.Lock()
			defer n.mu.Unlock()
			total := 0
			for _, ns := range n.byOwn {
				total += len(ns)
			}
			return command.Fields{"TotalNotes": total}, nil
		},
	})
}

func newNotes(t *testing.T) (*authntest.Env, *notes) {
	t.Helper()
	env := authntest.New(t, authntest.Options{})
	n := &notes{byOwn: map[int64][]string{}}
	if err := n.register(env.API); err != nil {
		t.Fatal(err)
	}
	return env, n
}

// The host's commands, tested with authntest only: no store of the
// host's, no server.
func TestNoteAdd(t *testing.T) {
	t.Parallel()
	env, _ := newNotes(t)
	user := env.UserPrincipal()
	tests := []struct {
		name string
		p    authn.Principal
		kv   []string
		code int
	}{
		{"adds", user, []string{"Text", "hello"}, 0},
		{"missing text", user, []string{"Text", "  "}, codeMissingText},
		{"too long", user, []string{"Text", strings.Repeat("x", 281)}, codeTextTooLong},
		{"given twice", user, []string{"Text", "a", "text", "b"}, 400},
		{"anonymous", authn.Principal{}, []string{"Text", "hello"}, 401},
		{"an administrator", env.AdminPrincipal(), []string{"Text", "hello"}, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := env.Call(t, tc.p, append([]string{"Command", "Note.Add"}, tc.kv...)...)
			if tc.code == 0 {
				authntest.WantOK(t, e)
				return
			}
			authntest.WantCode(t, e, tc.code)
		})
	}
}

func TestNotesCount(t *testing.T) {
	t.Parallel()
	env, _ := newNotes(t)
	bob := env.AddUser(t, "bob@example.com", "bob-password-for-tests")
	for _, p := range []authn.Principal{env.UserPrincipal(), env.UserPrincipal(), {Scope: scopes.User, AccountID: bob.ID, Username: bob.Username}} {
		authntest.WantOK(t, env.Call(t, p, "Command", "Note.Add", "Text", "n"))
	}
	e := env.Call(t, env.AdminPrincipal(), "Command", "Notes.Count")
	authntest.WantOK(t, e)
	if e.Int("TotalNotes") != 3 {
		t.Fatalf("TotalNotes %d", e.Int("TotalNotes"))
	}
	authntest.WantCode(t, env.Call(t, env.UserPrincipal(), "Command", "Notes.Count"), 403)
}

// The same commands reached with real credentials: a session, a key.
func TestNoteAddWithCredentials(t *testing.T) {
	t.Parallel()
	env, _ := newNotes(t)
	s := env.Login(t, env.User)
	authntest.WantOK(t, env.Call(t, authn.Principal{}, "Command", "Note.Add", "Text", "by session", "SessionID", s.ID))
	authntest.WantOK(t, env.Call(t, authn.Principal{}, "Command", "Note.Add", "Text", "by key", "APIKey", env.APIKey(t, env.User)))
	authntest.WantCode(t, env.Call(t, authn.Principal{}, "Command", "Note.Add", "Text", "x", "SessionID", strings.Repeat("A", 43)), 401)
}

// A plain handler behind keyward, tested by giving its request a
// principal.
func TestHandlerWithPrincipal(t *testing.T) {
	t.Parallel()
	env := authntest.New(t, authntest.Options{})
	h := env.Auth.Require(scopes.Admin)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := authn.PrincipalFrom(r.Context())
		fmt.Fprint(w, "hello ", p.Username)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, authntest.WithPrincipal(httptest.NewRequest("GET", "/admin", nil), env.AdminPrincipal()))
	if rec.Code != 200 || rec.Body.String() != "hello admin" {
		t.Fatalf("%d %q", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, authntest.WithPrincipal(httptest.NewRequest("GET", "/admin", nil), env.UserPrincipal()))
	if rec.Code != 403 {
		t.Fatalf("user: %d", rec.Code)
	}
}

// exampleT stands in for the *testing.T a real test is given.
type exampleT struct{}

func (exampleT) Helper()                        {}
func (exampleT) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }

// A host command, registered and called as a test would.
func Example() {
	var t exampleT // in a real test, the *testing.T you are given
	env := authntest.New(t, authntest.Options{})
	n := &notes{byOwn: map[int64][]string{}}
	if err := n.register(env.API); err != nil {
		panic(err)
	}
	e := env.Call(t, env.UserPrincipal(), "Command", "Note.Add", "Text", "hello")
	fmt.Println(e.Success, e.Int("NoteCount"))
	e = env.Call(t, env.UserPrincipal(), "Command", "Note.Add")
	fmt.Println(e.Success, e.Code, e.Text)
	// Output:
	// true 1
	// false 1 Missing text
}
