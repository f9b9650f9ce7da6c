package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// accountsCases checks [store.Accounts]. Only NotFound runs on a store
// without [store.AccountCreator]; the others need accounts to find.
func accountsCases() []testCase {
	return []testCase{
		{"NotFound", accounts, accountsNotFound},
		{"ByRef", accounts | accountCreator, accountsByRef},
		{"ByLoginIgnoresCaseAndSpace", accounts | accountCreator, accountsByLogin},
		{"StoredLoginIsNormalized", accounts | accountCreator, accountsStoredLoginNormalized},
		{"EmptyLoginMatchesNothing", accounts | accountCreator, accountsEmptyLogin},
		{"ScopesAreSeparate", accounts | accountCreator, accountsScopesSeparate},
	}
}

// accountCreatorCases checks [store.AccountCreator], reading back with
// [store.Accounts].
func accountCreatorCases() []testCase {
	return []testCase{
		{"AssignsIDs", accounts | accountCreator, creatorAssignsIDs},
		{"UsernameTaken", accounts | accountCreator, creatorUsernameTaken},
		{"EmailTaken", accounts | accountCreator, creatorEmailTaken},
		{"UsernameAndEmailShareOneNamespace", accounts | accountCreator, creatorLoginNamespace},
		{"EmptyEmailsDoNotConflict", accounts | accountCreator, creatorEmptyEmails},
		{"SameLoginInOtherScope", accounts | accountCreator, creatorOtherScope},
		{"ConcurrentSameUsername", accounts | accountCreator, creatorConcurrent},
		{"InvalidAccountIsAnError", accounts | accountCreator, creatorInvalid},
	}
}

// passwordSetterCases checks [store.PasswordSetter], reading back with
// [store.Accounts].
func passwordSetterCases() []testCase {
	all := passwordSetter | accounts | accountCreator
	return []testCase{
		{"AbsentAccount", passwordSetter, setterAbsent},
		{"SetsOnlyThatAccount", all, setterSets},
		{"SetPasswordRaisesGeneration", all, setterRaises},
		{"RehashKeepsGeneration", all, setterRehashKeeps},
		{"RehashOfChangedHashIsConflict", all, setterRehashConflict},
		{"ConcurrentSetPasswordLosesNoRaise", all, setterConcurrentRaises},
		{"ConcurrentRehashNeverUndoesSetPassword", all, setterConcurrentRehash},
	}
}

// createAccount creates a through e.creator, failing t on error.
func (e *env) createAccount(t *testing.T, a store.Account) store.Account {
	t.Helper()
	if a.CreatedAt.IsZero() {
		a.CreatedAt = e.now()
	}
	got, err := e.creator.CreateAccount(e.ctx, a)
	if err != nil {
		t.Fatalf("CreateAccount(%q): %v", a.Username, err)
	}
	if got.ID <= 0 {
		t.Fatalf("CreateAccount(%q) assigned ID %d, want positive", a.Username, got.ID)
	}
	return got
}

// user returns a user account to create, with every field set.
func user(username, email string) store.Account {
	return store.Account{
		Scope:        scopes.User,
		Username:     username,
		Email:        email,
		FirstName:    "First " + username,
		LastName:     "Last " + username,
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=4$" + username,
	}
}

// admin returns an administrator account to create, with every field set.
func admin(username, email string) store.Account {
	return store.Account{
		Scope:        scopes.Admin,
		Username:     username,
		Email:        email,
		Name:         "Name " + username,
		PasswordHash: "$2a$10$" + username,
	}
}

// sameAccount fails t unless got equals want field by field.
func sameAccount(t *testing.T, what string, got, want store.Account) {
	t.Helper()
	if got.ID != want.ID || got.Scope != want.Scope || got.Username != want.Username ||
		got.Email != want.Email || got.Name != want.Name || got.FirstName != want.FirstName ||
		got.LastName != want.LastName || got.PasswordHash != want.PasswordHash ||
		got.Disabled != want.Disabled || !got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func accountsNotFound(t *testing.T, e *env) {
	for _, ref := range []store.AccountRef{
		{Scope: scopes.User, ID: 1},
		{Scope: scopes.Admin, ID: 1},
		{Scope: scopes.User, ID: 0},
		{Scope: scopes.User, ID: -1},
		{Scope: 0, ID: 1}, // the zero scope names nobody
	} {
		_, err := e.accounts.Account(e.ctx, ref)
		wantNotFound(t, "Account("+refString(ref)+")", err)
	}
	for _, login := range []string{"nobody", "nobody@example.com", "", "   "} {
		for _, scope := range []scopes.Scope{scopes.User, scopes.Admin} {
			_, err := e.accounts.AccountByLogin(e.ctx, scope, login)
			wantNotFound(t, "AccountByLogin("+scope.String()+", "+quote(login)+")", err)
		}
	}
}

func accountsByRef(t *testing.T, e *env) {
	e.createAccount(t, user("alice", "alice@example.com")) // so the account under test is not the first
	want := user("carol", "carol@example.com")
	want.Disabled = true // a store that drops the flag lets a disabled account log in
	want.CreatedAt = e.now().Add(-24 * time.Hour)
	want.ID = 1 << 40         // ignored
	want.Generation = 1 << 40 // ignored: the store keeps it
	got := e.createAccount(t, want)
	want.ID = got.ID
	sameAccount(t, "CreateAccount result", got, want)

	found, err := e.accounts.Account(e.ctx, got.Ref())
	ok(t, "Account", err)
	sameAccount(t, "Account", found, want)
	if found.Generation == want.Generation {
		t.Fatalf("CreateAccount stored the Generation it was given, %d", found.Generation)
	}

	_, err = e.accounts.Account(e.ctx, store.AccountRef{Scope: scopes.Admin, ID: got.ID})
	wantNotFound(t, "Account with the user's ID in admin scope", err)
	_, err = e.accounts.Account(e.ctx, store.AccountRef{Scope: scopes.User, ID: got.ID + 1000})
	wantNotFound(t, "Account of an ID never assigned", err)
}

func accountsByLogin(t *testing.T, e *env) {
	e.createAccount(t, user("alice", "alice@example.com"))
	bob := e.createAccount(t, user("Bob", "Bob@Example.com"))
	e.createAccount(t, user("bobby", "bobby@example.com"))
	for _, login := range []string{
		"Bob", "bob", "BOB", "  bob\t", "\nBoB ",
		"bob@example.com", "BOB@EXAMPLE.COM", " Bob@Example.com\r\n",
	} {
		got, err := e.accounts.AccountByLogin(e.ctx, scopes.User, login)
		ok(t, "AccountByLogin("+quote(login)+")", err)
		sameAccount(t, "AccountByLogin("+quote(login)+")", got, bob)
	}
	for _, login := range []string{
		"bo",               // a prefix is not a match
		"bob@example",      // nor is part of an address
		"bob bob",          // inner space is not trimmed
		"bob@example.com.", // nor is anything else
		"%",                // a LIKE wildcard is a character, not a pattern
		"b_b",
	} {
		_, err := e.accounts.AccountByLogin(e.ctx, scopes.User, login)
		wantNotFound(t, "AccountByLogin("+quote(login)+")", err)
	}
}

func accountsStoredLoginNormalized(t *testing.T, e *env) {
	// Stored with space and capitals; NormalizeLogin applies on both sides.
	dana := e.createAccount(t, user(" Dana ", "\tDANA@Example.COM "))
	for _, login := range []string{"dana", "DANA ", "dana@example.com"} {
		got, err := e.accounts.AccountByLogin(e.ctx, scopes.User, login)
		ok(t, "AccountByLogin("+quote(login)+")", err)
		if got.ID != dana.ID {
			t.Fatalf("AccountByLogin(%q) = account %d, want %d", login, got.ID, dana.ID)
		}
	}
}

func accountsEmptyLogin(t *testing.T, e *env) {
	// An account without an email address must not be what an empty or
	// blank login finds.
	e.createAccount(t, user("noemail", ""))
	for _, login := range []string{"", " ", "\t\n"} {
		_, err := e.accounts.AccountByLogin(e.ctx, scopes.User, login)
		wantNotFound(t, "AccountByLogin("+quote(login)+")", err)
	}
}

func accountsScopesSeparate(t *testing.T, e *env) {
	u := e.createAccount(t, user("bob", "bob@users.example"))
	a := e.createAccount(t, admin("bob", "bob@admins.example"))
	if u.Ref() == a.Ref() {
		t.Fatalf("user and admin bob share ref %s", refString(u.Ref()))
	}
	for _, tc := range []struct {
		scope scopes.Scope
		login string
		want  store.Account
	}{
		{scopes.User, "bob", u},
		{scopes.User, "BOB@users.example", u},
		{scopes.Admin, "bob", a},
		{scopes.Admin, "bob@ADMINS.example", a},
	} {
		got, err := e.accounts.AccountByLogin(e.ctx, tc.scope, tc.login)
		ok(t, "AccountByLogin("+tc.scope.String()+", "+quote(tc.login)+")", err)
		sameAccount(t, "AccountByLogin("+tc.scope.String()+", "+quote(tc.login)+")", got, tc.want)
	}
	// An address of one scope's account does not log in to the other.
	_, err := e.accounts.AccountByLogin(e.ctx, scopes.Admin, "bob@users.example")
	wantNotFound(t, "AccountByLogin(admin, the user's email)", err)
	_, err = e.accounts.AccountByLogin(e.ctx, scopes.User, "bob@admins.example")
	wantNotFound(t, "AccountByLogin(user, the admin's email)", err)

	// Stores may number each scope from 1, so {Admin, u.ID} may be the
	// admin; it must never be the user.
	for _, ref := range []store.AccountRef{
		{Scope: scopes.User, ID: u.ID}, {Scope: scopes.Admin, ID: u.ID},
		{Scope: scopes.User, ID: a.ID}, {Scope: scopes.Admin, ID: a.ID},
	} {
		got, err := e.accounts.Account(e.ctx, ref)
		switch ref {
		case u.Ref():
			ok(t, "Account("+refString(ref)+")", err)
			sameAccount(t, "Account("+refString(ref)+")", got, u)
		case a.Ref():
			ok(t, "Account("+refString(ref)+")", err)
			sameAccount(t, "Account("+refString(ref)+")", got, a)
		default:
			wantNotFound(t, "Account("+refString(ref)+"), which was never created", err)
		}
	}
}

func creatorAssignsIDs(t *testing.T, e *env) {
	seen := make(map[store.AccountRef]bool)
	for _, a := range []store.Account{
		user("u1", "u1@example.com"), user("u2", ""), user("u3", "u3@example.com"),
		admin("a1", "a1@example.com"), admin("a2", ""),
	} {
		a.ID = 7 // ignored: the store assigns IDs
		got := e.createAccount(t, a)
		if seen[got.Ref()] {
			t.Fatalf("CreateAccount assigned %s twice", refString(got.Ref()))
		}
		seen[got.Ref()] = true
		found, err := e.accounts.Account(e.ctx, got.Ref())
		ok(t, "Account("+refString(got.Ref())+")", err)
		sameAccount(t, "Account("+refString(got.Ref())+")", found, got)
	}
}

func creatorUsernameTaken(t *testing.T, e *env) {
	first := e.createAccount(t, user("bob", "bob@example.com"))
	for _, username := range []string{"bob", "BOB", " Bob\t"} {
		_, err := e.creator.CreateAccount(e.ctx, user(username, "other@example.com"))
		wantConflict(t, "CreateAccount("+quote(username)+") after bob", err)
	}
	// The refused creates left nothing behind.
	_, err := e.accounts.AccountByLogin(e.ctx, scopes.User, "other@example.com")
	wantNotFound(t, "AccountByLogin of a refused account's email", err)
	got, err := e.accounts.AccountByLogin(e.ctx, scopes.User, "bob")
	ok(t, "AccountByLogin(bob)", err)
	sameAccount(t, "AccountByLogin(bob)", got, first)
}

func creatorEmailTaken(t *testing.T, e *env) {
	first := e.createAccount(t, user("bob", "bob@example.com"))
	for _, email := range []string{"bob@example.com", "BOB@Example.COM", " bob@example.com "} {
		_, err := e.creator.CreateAccount(e.ctx, user("robert", email))
		wantConflict(t, "CreateAccount(robert, "+quote(email)+") after bob", err)
	}
	_, err := e.accounts.AccountByLogin(e.ctx, scopes.User, "robert")
	wantNotFound(t, "AccountByLogin of a refused account's username", err)
	got, err := e.accounts.AccountByLogin(e.ctx, scopes.User, "bob@example.com")
	ok(t, "AccountByLogin(bob@example.com)", err)
	sameAccount(t, "AccountByLogin(bob@example.com)", got, first)
}

func creatorLoginNamespace(t *testing.T, e *env) {
	// A login must name one account, or one account's password would be
	// checked for another's login.
	eve := e.createAccount(t, user("eve@example.com", ""))
	_, err := e.creator.CreateAccount(e.ctx, user("mallory", "EVE@example.com"))
	wantConflict(t, "CreateAccount with another account's username as email", err)

	frank := e.createAccount(t, user("frank", "frank@example.com"))
	_, err = e.creator.CreateAccount(e.ctx, user(" Frank@Example.com", ""))
	wantConflict(t, "CreateAccount with another account's email as username", err)

	for login, want := range map[string]store.Account{"eve@example.com": eve, "frank@example.com": frank} {
		got, err := e.accounts.AccountByLogin(e.ctx, scopes.User, login)
		ok(t, "AccountByLogin("+login+")", err)
		sameAccount(t, "AccountByLogin("+login+")", got, want)
	}
	// One account may use one string as both.
	e.createAccount(t, user("grace@example.com", "Grace@example.com"))
}

func creatorEmptyEmails(t *testing.T, e *env) {
	a := e.createAccount(t, user("one", ""))
	b := e.createAccount(t, user("two", ""))
	if a.ID == b.ID {
		t.Fatalf("two accounts got ID %d", a.ID)
	}
}

func creatorOtherScope(t *testing.T, e *env) {
	u := e.createAccount(t, user("bob", "bob@example.com"))
	a := e.createAccount(t, admin("bob", "bob@example.com"))
	if u.Ref() == a.Ref() {
		t.Fatalf("user and admin share ref %s", refString(u.Ref()))
	}
}

func creatorConcurrent(t *testing.T, e *env) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []store.Account
		errs    []error
	)
	for i := range concurrency {
		wg.Go(func() {
			got, err := e.creator.CreateAccount(e.ctx, user("race", "race"+itoa(i)+"@example.com"))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, got)
			case !errors.Is(err, store.ErrConflict):
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent CreateAccount failed: %v", errs[0])
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent CreateAccount(race) succeeded, want exactly 1", len(winners), concurrency)
	}
	got, err := e.accounts.AccountByLogin(e.ctx, scopes.User, "race")
	ok(t, "AccountByLogin(race)", err)
	sameAccount(t, "AccountByLogin(race)", got, winners[0])
}

func creatorInvalid(t *testing.T, e *env) {
	for _, a := range []store.Account{
		{Username: "noscope", Email: "noscope@example.com"}, // the zero scope names nobody
		{Scope: scopes.Admin + 1, Username: "badscope", Email: "badscope@example.com"},
		user("", "nousername@example.com"),
		user(" \t", "blank@example.com"),
		{}, // what storetest probes with
	} {
		if _, err := e.creator.CreateAccount(e.ctx, a); err == nil {
			t.Fatalf("CreateAccount(%+v) of an account without a valid scope or username succeeded", a)
		}
	}
	// Nothing was stored: no login finds anything.
	for _, login := range []string{"noscope", "badscope", "nousername@example.com", "blank@example.com"} {
		for _, scope := range []scopes.Scope{0, scopes.User, scopes.Admin, scopes.Admin + 1} {
			_, err := e.accounts.AccountByLogin(e.ctx, scope, login)
			wantNotFound(t, "AccountByLogin("+scope.String()+", "+quote(login)+") after a refused create", err)
		}
	}
}

func setterAbsent(t *testing.T, e *env) {
	nobody := store.AccountRef{Scope: scopes.User, ID: 424242}
	wantNotFound(t, "SetPassword of an absent account", e.setter.SetPassword(e.ctx, nobody, "hash"))
	wantNotFound(t, "RehashPassword of an absent account", e.setter.RehashPassword(e.ctx, nobody, "", "hash"))
	wantNotFound(t, "RehashPassword of an absent account", e.setter.RehashPassword(e.ctx, nobody, "hash", "new"))
}

func setterSets(t *testing.T, e *env) {
	alice := e.createAccount(t, user("alice", "alice@example.com"))
	bob := e.createAccount(t, user("bob", "bob@example.com"))
	ok(t, "SetPassword", e.setter.SetPassword(e.ctx, alice.Ref(), "new hash"))

	alice.PasswordHash = "new hash"
	got, err := e.accounts.Account(e.ctx, alice.Ref())
	ok(t, "Account(alice)", err)
	sameAccount(t, "Account(alice) after SetPassword", got, alice)
	got, err = e.accounts.AccountByLogin(e.ctx, scopes.User, "alice@example.com")
	ok(t, "AccountByLogin(alice)", err)
	sameAccount(t, "AccountByLogin(alice) after SetPassword", got, alice)
	got, err = e.accounts.Account(e.ctx, bob.Ref())
	ok(t, "Account(bob)", err)
	sameAccount(t, "Account(bob) after alice's SetPassword", got, bob)

	// No admin was created, so the user's ID names nobody in admin scope.
	err = e.setter.SetPassword(e.ctx, store.AccountRef{Scope: scopes.Admin, ID: alice.ID}, "x")
	wantNotFound(t, "SetPassword with the user's ID in admin scope", err)
	got, err = e.accounts.Account(e.ctx, alice.Ref())
	ok(t, "Account(alice)", err)
	sameAccount(t, "Account(alice) after a SetPassword in the other scope", got, alice)

	// A rehash replaces the hash too, of this account alone.
	ok(t, "RehashPassword", e.setter.RehashPassword(e.ctx, alice.Ref(), "new hash", "rehashed"))
	alice.PasswordHash = "rehashed"
	got, err = e.accounts.Account(e.ctx, alice.Ref())
	ok(t, "Account(alice)", err)
	sameAccount(t, "Account(alice) after RehashPassword", got, alice)
	got, err = e.accounts.Account(e.ctx, bob.Ref())
	ok(t, "Account(bob)", err)
	sameAccount(t, "Account(bob) after alice's RehashPassword", got, bob)
}
