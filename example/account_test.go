package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyward/keyward/authn/command"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Seed 003's Admin.Update, as written: SessionID and APIKey together, with
// a new password.
func TestSeedAdminUpdate(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	sid := ta.adminSession()
	other := ta.adminSession()
	up := mustOK(t, ta.send(urlencoded("SessionID", sid, "APIKey", staticKey, "Command", "Admin.Update", "AdminID", "1",
		"Name", "John Doe", "Username", "johndoe", "EmailAddress", "john.doe@example.com", "Password", "newpassword123")))

	// The new names and password work; the old ones do not.
	mustFail(t, ta.send(urlencoded("Command", "Admin.Login", "Username", "admin", "Password", adminPassword)), 200, 3)
	mustFail(t, ta.send(urlencoded("Command", "Admin.Login", "Username", "johndoe", "Password", adminPassword)), 200, 3)
	mustOK(t, ta.send(urlencoded("Command", "Admin.Login", "Username", "johndoe", "Password", "newpassword123")))
	mustOK(t, ta.send(urlencoded("Command", "Admin.Login", "Username", "John.Doe@example.com", "Password", "newpassword123")))
	// The password change ended the other session; the calling one goes
	// on under the new ID the answer gives (ASVS 3.2.1), and the old ID,
	// which a thief may hold a copy of, is dead.
	mustFail(t, ta.send(urlencoded("Command", "Users.Get", "SessionID", other)), 401, 401)
	mustFail(t, ta.send(urlencoded("Command", "Users.Get", "SessionID", sid)), 401, 401)
	mustOK(t, ta.send(urlencoded("Command", "Users.Get", "SessionID", up.str("SessionID"))))
}

func TestAdminUpdateErrors(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	sid := ta.adminSession()
	// A second admin, to try to change.
	if _, err := ta.mem.CreateAccount(t.Context(), adminAccount("other", "other@example.com")); err != nil {
		t.Fatal(err)
	}
	update := func(kv ...string) envelope {
		base := map[string]string{"Command": "Admin.Update", "SessionID": sid, "AdminID": "1", "Name": "Admin", "Username": "admin", "EmailAddress": "admin@example.com"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<absent>" {
				delete(base, kv[i])
				continue
			}
			base[kv[i]] = kv[i+1]
		}
		var pairs []string
		for k, v := range base {
			pairs = append(pairs, k, v)
		}
		return ta.send(urlencoded(pairs...))
	}
	tests := []struct {
		name string
		kv   []string
		code int
	}{
		{"missing name", []string{"Name", "<absent>"}, 1},
		{"blank name", []string{"Name", "  "}, 1},
		{"missing username", []string{"Username", ""}, 2},
		{"missing email", []string{"EmailAddress", "<absent>"}, 4},
		{"admin ID not a number", []string{"AdminID", "one"}, 6},
		{"admin ID missing", []string{"AdminID", "<absent>"}, 6},
		{"admin ID zero", []string{"AdminID", "0"}, 6},
		{"bad email", []string{"EmailAddress", "not-an-email"}, 7},
		{"email with a display name", []string{"EmailAddress", "Admin <admin@example.com>"}, 7},
		{"email without a dotted domain", []string{"EmailAddress", "admin@localhost"}, 7},
		// Another admin's account is 8; an ID that names no admin, 6.
		{"another admin", []string{"AdminID", "3"}, 8},
		{"no such admin", []string{"AdminID", "999"}, 6},
		{"username taken", []string{"Username", "OTHER"}, 9},
		{"email taken", []string{"EmailAddress", "other@example.com"}, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustFail(t, update(tc.kv...), 200, tc.code)
		})
	}
	mustOK(t, update("Name", "Renamed"))
	// A user's session is refused before any of that.
	mustFail(t, ta.send(urlencoded("Command", "Admin.Update", "SessionID", ta.userSession(), "AdminID", "2")), 403, 403)
	// Changing the password with the static key alone (no session) is
	// refused: a key must not take over its account's password.
	mustFail(t, ta.send(urlencoded("Command", "Admin.Update", "AdminAPIKey", staticKey, "AdminID", "1", "Name", "A",
		"Username", "admin", "EmailAddress", "admin@example.com", "Password", "taken-over")), 403, 403)
	mustOK(t, ta.send(urlencoded("Command", "Admin.Update", "AdminAPIKey", staticKey, "AdminID", "1", "Name", "A",
		"Username", "admin", "EmailAddress", "admin@example.com")))
	// A new username or address with the key alone is refused too.
	mustFail(t, ta.send(urlencoded("Command", "Admin.Update", "AdminAPIKey", staticKey, "AdminID", "1", "Name", "A",
		"Username", "admin", "EmailAddress", "evil@example.com")), 403, 403)
	if !strings.Contains(ta.sendRaw(urlencoded("Command", "Admin.Login", "Username", "admin", "Password", adminPassword)), `"Success":true`) {
		t.Fatal("the password changed")
	}
}

// adminAccount is an administrator's record, for tests that add one.
func adminAccount(username, email string) store.Account {
	return store.Account{Scope: scopes.Admin, Username: username, Email: email, Name: username}
}

func TestUserUpdate(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	sid := ta.userSession()
	other := ta.userSession()
	e := mustOK(t, ta.send(urlencoded("Command", "User.Update", "SessionID", sid, "FirstName", "Ada", "LastName", "Lovelace")))
	var info map[string]any
	_ = json.Unmarshal(e.fields["UserInfo"], &info)
	if info["FirstName"] != "Ada" || info["LastName"] != "Lovelace" || info["EmailAddress"] != "user@example.com" {
		t.Fatalf("UserInfo %v", info)
	}
	tests := []struct {
		name string
		kv   []string
		code int
	}{
		{"empty email", []string{"EmailAddress", ""}, 4},
		{"bad email", []string{"EmailAddress", "nope"}, 7},
		{"password without the current one", []string{"Password", "long-enough-pw"}, 3},
		{"password with a wrong current one", []string{"Password", "long-enough-pw", "CurrentPassword", "nope"}, 3},
		{"password too short", []string{"Password", "short", "CurrentPassword", userPassword}, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mustFail(t, ta.send(urlencoded(append([]string{"Command", "User.Update", "SessionID", sid}, tc.kv...)...)), 200, tc.code)
		})
	}
	// A second user, whose address is taken.
	if _, err := ta.mem.CreateAccount(t.Context(), store.Account{Scope: scopes.User, Username: "bob", Email: "bob@example.com"}); err != nil {
		t.Fatal(err)
	}
	mustFail(t, ta.send(urlencoded("Command", "User.Update", "SessionID", sid, "EmailAddress", "BOB@example.com", "CurrentPassword", userPassword)), 200, 9)
	// A new address needs the current password, and a session: a key
	// alone must not take the account over (a reset mail goes there).
	mustFail(t, ta.send(urlencoded("Command", "User.Update", "SessionID", sid, "EmailAddress", "evil@example.com")), 200, 3)
	key, _ := ta.userKey()
	mustFail(t, ta.send(urlencoded("Command", "User.Update", "APIKey", key, "EmailAddress", "evil@example.com", "CurrentPassword", userPassword)), 403, 403)
	// Names alone are fine with a key.
	mustOK(t, ta.send(urlencoded("Command", "User.Update", "APIKey", key, "FirstName", "Ada")))
	// A new email and password: other sessions end, this one goes on
	// under a new ID.
	up := mustOK(t, ta.send(urlencoded("Command", "User.Update", "SessionID", sid, "EmailAddress", "ada@example.com", "Password", "a-new-password", "CurrentPassword", userPassword)))
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", other)), 401, 401)
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", sid)), 401, 401)
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", up.str("SessionID"))))
	mustOK(t, ta.send(urlencoded("Command", "User.Login", "Username", "ada@example.com", "Password", "a-new-password")))
	// Admins have Admin.Update, not this.
	mustFail(t, ta.send(urlencoded("Command", "User.Update", "SessionID", ta.adminSession(), "FirstName", "x")), 403, 403)
}

func TestPasswordChange(t *testing.T) {
	t.Parallel()
	ta := newTestApp(t, command.Config{})
	sid := ta.userSession()
	other := ta.userSession()
	mustFail(t, ta.send(urlencoded("Command", "User.PasswordChange", "SessionID", sid, "NewPassword", "a-new-password")), 200, 3)
	mustFail(t, ta.send(urlencoded("Command", "User.PasswordChange", "SessionID", sid, "CurrentPassword", "wrong", "NewPassword", "a-new-password")), 200, 3)
	mustFail(t, ta.send(urlencoded("Command", "User.PasswordChange", "SessionID", sid, "CurrentPassword", userPassword)), 200, 11)
	mustFail(t, ta.send(urlencoded("Command", "User.PasswordChange", "SessionID", sid, "CurrentPassword", userPassword, "NewPassword", "1234567")), 200, 10)
	// With a key, even the right current password does not change it,
	// and a wrong one is not even looked at: no password oracle.
	key, _ := ta.userKey()
	mustFail(t, ta.send(urlencoded("Command", "User.PasswordChange", "APIKey", key, "CurrentPassword", userPassword, "NewPassword", "a-new-password")), 403, 403)
	mustFail(t, ta.send(urlencoded("Command", "User.PasswordChange", "APIKey", key, "CurrentPassword", "wrong", "NewPassword", "a-new-password")), 403, 403)
	changed := mustOK(t, ta.send(urlencoded("Command", "User.PasswordChange", "SessionID", sid, "CurrentPassword", userPassword, "NewPassword", "a-new-password")))
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", other)), 401, 401)
	mustFail(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", sid)), 401, 401)
	mustOK(t, ta.send(urlencoded("Command", "Lists.Get", "SessionID", changed.str("SessionID"))))
	mustFail(t, ta.send(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", userPassword)), 200, 3)
	mustOK(t, ta.send(urlencoded("Command", "User.Login", "Username", "user@example.com", "Password", "a-new-password")))
}
