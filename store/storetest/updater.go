package storetest

import (
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// accountUpdaterCases checks [store.AccountUpdater], with accounts made by
// [store.AccountCreator] and read back with [store.Accounts].
func accountUpdaterCases() []testCase {
	all := accounts | accountCreator | accountUpdater
	return []testCase{
		{"AbsentAccount", accountUpdater, updaterAbsent},
		{"ChangesNamesOnly", all, updaterChangesNames},
		{"OldLoginsStopNewOnesWork", all, updaterLogins},
		{"TakenLoginIsConflict", all, updaterConflict},
		{"KeepingOwnLoginIsFine", all, updaterKeepOwn},
		{"EmailChangeRaisesGeneration", all, updaterEmailRaises},
		{"PasswordHashRaisesGeneration", all, updaterHashRaises},
		{"RefusedUpdateDoesNotRaise", all, updaterRefusedKeeps},
	}
}

func updaterAbsent(t *testing.T, e *env) {
	err := e.updater.UpdateAccount(e.ctx, store.Account{Scope: scopes.Admin, ID: 999_999, Username: "ghost"})
	wantNotFound(t, "UpdateAccount of an absent account", err)
}

func updaterChangesNames(t *testing.T, e *env) {
	a := e.createAccount(t, store.Account{Scope: scopes.Admin, Username: "admin", Email: "admin@example.com", Name: "Admin", PasswordHash: "hash", Disabled: false})
	upd := a
	upd.Username, upd.Email, upd.Name, upd.FirstName, upd.LastName = "johndoe", "john.doe@example.com", "John Doe", "John", "Doe"
	upd.PasswordHash = ""       // none given: the hash stays
	upd.Disabled = true         // not the updater's to change
	upd.CreatedAt = time.Time{} // nor this
	ok(t, "UpdateAccount", e.updater.UpdateAccount(e.ctx, upd))
	got, err := e.accounts.Account(e.ctx, a.Ref())
	ok(t, "Account", err)
	if got.Username != "johndoe" || got.Email != "john.doe@example.com" || got.Name != "John Doe" || got.FirstName != "John" || got.LastName != "Doe" {
		t.Fatalf("names not updated: %+v", got)
	}
	if got.PasswordHash != "hash" || got.Disabled || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("UpdateAccount changed more than names: %+v", got)
	}
}

func updaterLogins(t *testing.T, e *env) {
	a := e.createAccount(t, store.Account{Scope: scopes.Admin, Username: "admin", Email: "admin@example.com"})
	upd := a
	upd.Username, upd.Email = "JohnDoe", "John.Doe@Example.com"
	ok(t, "UpdateAccount", e.updater.UpdateAccount(e.ctx, upd))
	for _, old := range []string{"admin", "admin@example.com"} {
		_, err := e.accounts.AccountByLogin(e.ctx, scopes.Admin, old)
		wantNotFound(t, "login by the old "+quote(old), err)
	}
	for _, login := range []string{"johndoe", " JOHN.DOE@example.com"} {
		got, err := e.accounts.AccountByLogin(e.ctx, scopes.Admin, login)
		if err != nil || got.ID != a.ID {
			t.Fatalf("login by the new %q: %v, %v", login, got.ID, err)
		}
	}
	// The old names are free for another account now.
	e.createAccount(t, store.Account{Scope: scopes.Admin, Username: "admin", Email: "admin@example.com"})
}

func updaterConflict(t *testing.T, e *env) {
	a := e.createAccount(t, store.Account{Scope: scopes.Admin, Username: "alice", Email: "alice@example.com"})
	e.createAccount(t, store.Account{Scope: scopes.Admin, Username: "bob", Email: "bob@example.com"})
	e.createAccount(t, store.Account{Scope: scopes.User, Username: "carol", Email: "carol@example.com"})
	for _, c := range []struct{ username, email string }{
		{"BOB", "alice@example.com"},
		{"alice", "bob@example.com"},
		{"bob@example.com", "alice@example.com"}, // a username equal to another's email
	} {
		upd := a
		upd.Username, upd.Email = c.username, c.email
		wantConflict(t, "UpdateAccount to "+quote(c.username)+" "+quote(c.email), e.updater.UpdateAccount(e.ctx, upd))
	}
	got, err := e.accounts.Account(e.ctx, a.Ref())
	if err != nil || got.Username != "alice" || got.Email != "alice@example.com" {
		t.Fatalf("a refused update changed the account: %+v, %v", got, err)
	}
	// Another scope's names do not conflict.
	upd := a
	upd.Username = "carol"
	ok(t, "UpdateAccount to a user's name", e.updater.UpdateAccount(e.ctx, upd))
}

func updaterKeepOwn(t *testing.T, e *env) {
	a := e.createAccount(t, store.Account{Scope: scopes.User, Username: "user@example.com", Email: "user@example.com"})
	upd := a
	upd.FirstName = "Example"
	ok(t, "UpdateAccount keeping the username", e.updater.UpdateAccount(e.ctx, upd))
	got, err := e.accounts.AccountByLogin(e.ctx, scopes.User, "user@example.com")
	if err != nil || got.FirstName != "Example" {
		t.Fatalf("%+v, %v", got, err)
	}
}
