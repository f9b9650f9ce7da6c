package storetest

import (
	"errors"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// The credential generation ([store.Account].Generation) goes up by one in
// the same atomic write as every credential change, and by nothing else:
// a store that forgets a raise lets sessions made under the old password
// live on, and one that raises without a change (or on a refused change)
// logs everyone out for nothing. The cases below read it back through
// [store.Accounts], so they need the store to keep accounts as well.

// generation returns the account's generation as Account reads it, and
// fails t unless AccountByLogin, by login, reads the same.
func (e *env) generation(t *testing.T, ref store.AccountRef, login string) int64 {
	t.Helper()
	a, err := e.accounts.Account(e.ctx, ref)
	ok(t, "Account("+refString(ref)+")", err)
	byLogin, err := e.accounts.AccountByLogin(e.ctx, ref.Scope, login)
	ok(t, "AccountByLogin("+quote(login)+")", err)
	if byLogin.ID != a.ID || byLogin.Generation != a.Generation {
		t.Fatalf("Account(%s) is at generation %d, AccountByLogin(%q) finds account %d at %d",
			refString(ref), a.Generation, login, byLogin.ID, byLogin.Generation)
	}
	return a.Generation
}

// wantGeneration fails t unless the account is at generation want.
func (e *env) wantGeneration(t *testing.T, what string, ref store.AccountRef, login string, want int64) {
	t.Helper()
	if got := e.generation(t, ref, login); got != want {
		t.Fatalf("%s: generation %d, want %d", what, got, want)
	}
}

// passwordHash returns the account's stored password hash.
func (e *env) passwordHash(t *testing.T, ref store.AccountRef) string {
	t.Helper()
	a, err := e.accounts.Account(e.ctx, ref)
	ok(t, "Account("+refString(ref)+")", err)
	return a.PasswordHash
}

// PasswordSetter.

func setterRaises(t *testing.T, e *env) {
	alice := e.createAccount(t, user("alice", "alice@example.com"))
	bob := e.createAccount(t, user("bob", "bob@example.com"))
	g, bobG := e.generation(t, alice.Ref(), "alice"), e.generation(t, bob.Ref(), "bob")

	ok(t, "SetPassword", e.setter.SetPassword(e.ctx, alice.Ref(), "new hash"))
	e.wantGeneration(t, "after SetPassword", alice.Ref(), "alice@example.com", g+1)
	if h := e.passwordHash(t, alice.Ref()); h != "new hash" {
		t.Fatalf("password hash %q after SetPassword, want %q", h, "new hash")
	}
	// A reset to the same hash is still a reset: it ends the sessions.
	ok(t, "SetPassword to the same hash", e.setter.SetPassword(e.ctx, alice.Ref(), "new hash"))
	e.wantGeneration(t, "after a second SetPassword", alice.Ref(), "alice", g+2)
	e.wantGeneration(t, "bob after alice's SetPassword", bob.Ref(), "bob", bobG)

	// Refused: nobody has alice's ID in admin scope.
	err := e.setter.SetPassword(e.ctx, store.AccountRef{Scope: scopes.Admin, ID: alice.ID}, "x")
	wantNotFound(t, "SetPassword with the user's ID in admin scope", err)
	e.wantGeneration(t, "after a SetPassword of nobody", alice.Ref(), "alice", g+2)
}

func setterRehashKeeps(t *testing.T, e *env) {
	alice := e.createAccount(t, user("alice", "alice@example.com"))
	g := e.generation(t, alice.Ref(), "alice")
	// Logged in with a hash of old parameters: the same password,
	// hashed anew.
	ok(t, "RehashPassword", e.setter.RehashPassword(e.ctx, alice.Ref(), alice.PasswordHash, "rehashed"))
	if h := e.passwordHash(t, alice.Ref()); h != "rehashed" {
		t.Fatalf("password hash %q after RehashPassword, want %q", h, "rehashed")
	}
	e.wantGeneration(t, "after RehashPassword (the password is the same)", alice.Ref(), "alice", g)
}

func setterRehashConflict(t *testing.T, e *env) {
	alice := e.createAccount(t, user("alice", "alice@example.com"))
	read := alice.PasswordHash // a login read this, and verified the password
	ok(t, "SetPassword", e.setter.SetPassword(e.ctx, alice.Ref(), "changed"))
	g := e.generation(t, alice.Ref(), "alice")
	// The login's upgrade comes after the change: writing it would bring
	// the old password back.
	wantConflict(t, "RehashPassword from a hash changed since", e.setter.RehashPassword(e.ctx, alice.Ref(), read, "rehashed old"))
	if h := e.passwordHash(t, alice.Ref()); h != "changed" {
		t.Fatalf("password hash %q after a refused RehashPassword, want %q", h, "changed")
	}
	e.wantGeneration(t, "after a refused RehashPassword", alice.Ref(), "alice", g)
	// The other scope's ID names nobody.
	err := e.setter.RehashPassword(e.ctx, store.AccountRef{Scope: scopes.Admin, ID: alice.ID}, "changed", "x")
	wantNotFound(t, "RehashPassword with the user's ID in admin scope", err)
}

func setterConcurrentRaises(t *testing.T, e *env) {
	alice := e.createAccount(t, user("alice", "alice@example.com"))
	g := e.generation(t, alice.Ref(), "alice")
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			if err := e.setter.SetPassword(e.ctx, alice.Ref(), "hash "+itoa(i)); err != nil {
				t.Errorf("SetPassword: %v", err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every change raised, none lost: a lost raise would leave a session
	// made between two changes alive after the second.
	e.wantGeneration(t, itoa(concurrency)+" concurrent SetPassword calls", alice.Ref(), "alice", g+concurrency)
}

func setterConcurrentRehash(t *testing.T, e *env) {
	alice := e.createAccount(t, user("alice", "alice@example.com"))
	// Logins that read alice's hash upgrade it while she changes her
	// password: half the goroutines rehash from the hash read, half set
	// new passwords, all let go at once. Some rounds, since which comes
	// first is up to the scheduler.
	const rounds, each = 10, concurrency / 10
	for round := range rounds {
		read := e.passwordHash(t, alice.Ref())
		g := e.generation(t, alice.Ref(), "alice")
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			rehashed atomic.Int64
			sets     []string
		)
		for i := range each {
			name := itoa(round) + "/" + itoa(i)
			if i < each/2 {
				sets = append(sets, "set "+name)
			}
			wg.Go(func() {
				<-start
				if i < each/2 {
					// Most racy stores lose only when a rehash reads
					// before the change: let the rehashes go first.
					runtime.Gosched()
					if err := e.setter.SetPassword(e.ctx, alice.Ref(), "set "+name); err != nil {
						t.Errorf("SetPassword: %v", err)
					}
					return
				}
				switch err := e.setter.RehashPassword(e.ctx, alice.Ref(), read, "rehash "+name); {
				case err == nil:
					rehashed.Add(1)
				case !errors.Is(err, store.ErrConflict):
					t.Errorf("RehashPassword: %v, want nil or store.ErrConflict", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if t.Failed() {
			return
		}
		if n := rehashed.Load(); n > 1 {
			t.Fatalf("%d rehashes from one hash succeeded, want at most 1", n)
		}
		// A rehash may only replace the hash it read, so none lands after
		// a new password: the last write is a SetPassword.
		if h := e.passwordHash(t, alice.Ref()); !slices.Contains(sets, h) {
			t.Fatalf("password hash %q after concurrent changes and rehashes: a rehash undid a new password", h)
		}
		e.wantGeneration(t, "after concurrent changes and rehashes", alice.Ref(), "alice", g+int64(len(sets)))
	}
}

// AccountUpdater.

func updaterEmailRaises(t *testing.T, e *env) {
	a := e.createAccount(t, store.Account{Scope: scopes.Admin, Username: "admin", Email: "admin@example.com", Name: "Admin", PasswordHash: "hash"})
	g := e.generation(t, a.Ref(), "admin")
	upd := a
	upd.PasswordHash = "" // keep the password

	// Names, and the username, are not credentials; the generation is
	// the store's, not the caller's.
	upd.Name, upd.FirstName, upd.LastName, upd.Username = "Root", "R", "Oot", "root"
	upd.Generation = g + 100
	ok(t, "UpdateAccount of the names", e.updater.UpdateAccount(e.ctx, upd))
	e.wantGeneration(t, "after a change of names and username", a.Ref(), "root", g)

	// The same address in other case and space is the same address.
	upd.Email = " Admin@EXAMPLE.com"
	ok(t, "UpdateAccount of the email's case", e.updater.UpdateAccount(e.ctx, upd))
	e.wantGeneration(t, "after a change of the email's case", a.Ref(), "root", g)
	if got, err := e.accounts.Account(e.ctx, a.Ref()); err != nil || got.Email != upd.Email {
		t.Fatalf("email after a change of case: %+v, %v; want %q as given", got, err, upd.Email)
	}

	// A new address is where a password reset goes.
	upd.Email = "root@example.com"
	ok(t, "UpdateAccount of the email", e.updater.UpdateAccount(e.ctx, upd))
	e.wantGeneration(t, "after a new email address", a.Ref(), "root@example.com", g+1)
	upd.Email = ""
	ok(t, "UpdateAccount removing the email", e.updater.UpdateAccount(e.ctx, upd))
	e.wantGeneration(t, "after the email address was removed", a.Ref(), "root", g+2)
	upd.Email = "admin@example.com"
	ok(t, "UpdateAccount adding an email", e.updater.UpdateAccount(e.ctx, upd))
	e.wantGeneration(t, "after an email address was added", a.Ref(), "root", g+3)
	if h := e.passwordHash(t, a.Ref()); h != "hash" {
		t.Fatalf("password hash %q after updates without one, want it kept", h)
	}
}

func updaterHashRaises(t *testing.T, e *env) {
	a := e.createAccount(t, user("alice", "alice@example.com"))
	bob := e.createAccount(t, user("bob", "bob@example.com"))
	g, bobG := e.generation(t, a.Ref(), "alice"), e.generation(t, bob.Ref(), "bob")
	upd := a
	upd.PasswordHash = "new hash"
	ok(t, "UpdateAccount with a password hash", e.updater.UpdateAccount(e.ctx, upd))
	if h := e.passwordHash(t, a.Ref()); h != "new hash" {
		t.Fatalf("password hash %q after UpdateAccount with one, want %q", h, "new hash")
	}
	e.wantGeneration(t, "after UpdateAccount with a password hash", a.Ref(), "alice", g+1)

	// A new address and a new password at once are one change.
	upd.Email, upd.PasswordHash = "alice@example.org", "newer hash"
	ok(t, "UpdateAccount with a new email and a password hash", e.updater.UpdateAccount(e.ctx, upd))
	if h := e.passwordHash(t, a.Ref()); h != "newer hash" {
		t.Fatalf("password hash %q, want %q", h, "newer hash")
	}
	e.wantGeneration(t, "after a new email and password in one update", a.Ref(), "alice", g+2)
	e.wantGeneration(t, "bob after alice's updates", bob.Ref(), "bob", bobG)
}

func updaterRefusedKeeps(t *testing.T, e *env) {
	a := e.createAccount(t, user("alice", "alice@example.com"))
	e.createAccount(t, user("bob", "bob@example.com"))
	g := e.generation(t, a.Ref(), "alice")
	for _, c := range []struct{ username, email string }{
		{"bob", "alice@example.org"},   // a taken username, a new address
		{"alice", "BOB@example.com"},   // a taken address
		{"bob@example.com", "new@x.y"}, // a username equal to another's address
	} {
		upd := a
		upd.Username, upd.Email, upd.PasswordHash = c.username, c.email, "refused hash"
		wantConflict(t, "UpdateAccount to "+quote(c.username)+" "+quote(c.email), e.updater.UpdateAccount(e.ctx, upd))
		e.wantGeneration(t, "after a refused update", a.Ref(), "alice", g)
		if h := e.passwordHash(t, a.Ref()); h != a.PasswordHash {
			t.Fatalf("password hash %q after a refused update, want %q", h, a.PasswordHash)
		}
	}
	upd := a
	upd.ID = a.ID + 1000
	upd.PasswordHash = "absent"
	wantNotFound(t, "UpdateAccount of an absent account", e.updater.UpdateAccount(e.ctx, upd))
	e.wantGeneration(t, "after an update of another, absent, account", a.Ref(), "alice", g)
}

// TFAStates.

func tfaFlipsRaise(t *testing.T, e *env) {
	alice := e.createAccount(t, user("alice", "alice@example.com"))
	bob := e.createAccount(t, user("bob", "bob@example.com"))
	g, bobG := e.generation(t, alice.Ref(), "alice"), e.generation(t, bob.Ref(), "bob")
	ref := alice.Ref()
	put := func(what string, st store.TFA, want int64) store.TFA {
		t.Helper()
		ok(t, what, e.tfaStates.PutTFA(e.ctx, st))
		e.wantGeneration(t, "after "+what, ref, "alice", want)
		return e.getTFA(t, "TFA after "+what, ref)
	}

	// Setup: a pending secret, 2FA still off (none stored is off).
	st := put("a Setup (off to off)", store.TFA{Account: ref, PendingSecret: []byte("pending")}, g)
	st.Enabled, st.Secret, st.PendingSecret = true, st.PendingSecret, nil
	st.RecoverySalt, st.RecoveryCodes = []byte("salt"), []store.Hash{hash("code 1"), hash("code 2")}
	st = put("an Enable (off to on)", st, g+1)
	st.RecoveryCodes = []store.Hash{hash("regenerated")}
	st = put("a Regenerate (on to on)", st, g+1)

	// A login uses the factor; it changes no credential.
	if adv, err := e.tfaUses.AdvanceTFAStep(e.ctx, ref, st.LastStep+1); err != nil || !adv {
		t.Fatalf("AdvanceTFAStep: %v, %v", adv, err)
	}
	e.wantGeneration(t, "after a login with a code", ref, "alice", g+1)
	st = e.getTFA(t, "TFA", ref)

	st.Enabled, st.Secret, st.RecoveryCodes = false, nil, nil
	st = put("a Disable (on to off)", st, g+2)
	st.PendingSecret = []byte("pending again")
	put("a second Setup (off to off)", st, g+2)
	e.wantGeneration(t, "bob after alice's 2FA changes", bob.Ref(), "bob", bobG)

	// A first put with 2FA on turns it on.
	ok(t, "PutTFA of a new state with 2FA on", e.tfaStates.PutTFA(e.ctx, sampleTFA(bob.Ref())))
	e.wantGeneration(t, "bob after a first put with 2FA on", bob.Ref(), "bob", bobG+1)
}

func tfaConflictKeeps(t *testing.T, e *env) {
	alice := e.createAccount(t, user("alice", "alice@example.com"))
	ref := alice.Ref()
	ok(t, "PutTFA of a Setup", e.tfaStates.PutTFA(e.ctx, store.TFA{Account: ref, PendingSecret: []byte("pending")}))
	g := e.generation(t, ref, "alice")
	stale := sampleTFA(ref) // Enabled, from a read that found nothing
	wantConflict(t, "a put at version 0 over a stored state", e.tfaStates.PutTFA(e.ctx, stale))
	e.wantGeneration(t, "after a refused put that would turn 2FA on", ref, "alice", g)
	for _, v := range []int64{2, 100, -1} {
		stale.Version = v
		wantConflict(t, "a put at version "+itoa(int(v)), e.tfaStates.PutTFA(e.ctx, stale))
	}
	e.wantGeneration(t, "after puts at versions the state never had", ref, "alice", g)
	if got := e.getTFA(t, "TFA", ref); got.Enabled {
		t.Fatal("a refused put turned 2FA on")
	}
}

func tfaConcurrentFlipsRaiseOnce(t *testing.T, e *env) {
	alice := e.createAccount(t, user("alice", "alice@example.com"))
	ref := alice.Ref()
	ok(t, "PutTFA of a Setup", e.tfaStates.PutTFA(e.ctx, store.TFA{Account: ref, PendingSecret: []byte("pending")}))
	from := e.getTFA(t, "TFA", ref)
	g := e.generation(t, ref, "alice")
	// Many Enables at once from one read: one is written, and raises once.
	from.Enabled, from.Secret = true, from.PendingSecret
	concurrentPuts(t, e, from)
	e.wantGeneration(t, "after "+itoa(concurrency)+" concurrent Enables from one read", ref, "alice", g+1)
}

func tfaRaisesWithoutAccount(t *testing.T, e *env) {
	first := e.createAccount(t, user("first", "first@example.com"))
	base := e.generation(t, first.Ref(), "first")
	// The account after first has no record in this store: a host's own
	// table keeps it, this store its second factor.
	host := store.AccountRef{Scope: scopes.User, ID: first.ID + 1}
	_, err := e.accounts.Account(e.ctx, host)
	wantNotFound(t, "Account of an ID not created yet", err)
	ok(t, "PutTFA turning 2FA on for an account the store has no record of",
		e.tfaStates.PutTFA(e.ctx, sampleTFA(host)))
	if got := e.getTFA(t, "TFA", host); !got.Enabled {
		t.Fatalf("TFA of the host's account = %+v, want it on", got)
	}

	// The generation can only be read through an account record: have
	// the store make one with that ID, if it numbers accounts in turn.
	later := e.createAccount(t, user("later", "later@example.com"))
	other := e.createAccount(t, user("other", "other@example.com"))
	if later.Ref() != host {
		t.Skipf("the store numbered the next account %d, not %d: the generation it keeps for an account without a record cannot be read",
			later.ID, host.ID)
	}
	if g := e.generation(t, other.Ref(), "other"); g != base {
		t.Skipf("new accounts start at generations %d and %d: cannot tell a raise", base, g)
	}
	e.wantGeneration(t, "an account whose 2FA was turned on before the store had its record", host, "later", base+1)
}

// Sessions.

func sessionsGenerationAndParent(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	root := e.owner(t, scopes.Admin, "root")
	exp := e.now().Add(time.Hour)
	rootOwn := e.createSession(t, "root's own", root, exp)
	for i, s := range []store.Session{
		{Generation: 0},
		{Generation: 1, Parent: rootOwn.Hash, SwitchedBy: root, SwitchPrivilege: "Full"},
		{Generation: 41, Parent: hash("a parent with no session")},
		{Generation: math.MaxInt64, Parent: store.Hash{31: 1}},
	} {
		s.Hash, s.Account, s.Method = hash("generation "+itoa(i)), alice, "password"
		s.CreatedAt, s.LastSeenAt, s.ExpiresAt = e.now(), e.now(), exp
		what := "a session at generation " + strconv.FormatInt(s.Generation, 10)
		ok(t, "CreateSession of "+what, e.sessWriter.CreateSession(e.ctx, s))
		e.findSession(t, what, s)
		s.LastSeenAt, s.ExpiresAt = e.now().Add(time.Minute), exp.Add(time.Minute)
		ok(t, "TouchSession of "+what, e.sessFinder.TouchSession(e.ctx, s.Hash, s.LastSeenAt, s.ExpiresAt))
		e.findSession(t, what+" after a touch", s)
	}

	// A new session on an expired one's hash has its own generation and
	// parent, not the old one's.
	old := store.Session{
		Hash: hash("reused"), Account: alice, Method: "password", Generation: 5, Parent: rootOwn.Hash,
		CreatedAt: e.now(), LastSeenAt: e.now(), ExpiresAt: e.now().Add(time.Minute),
	}
	ok(t, "CreateSession", e.sessWriter.CreateSession(e.ctx, old))
	e.clock.Advance(time.Minute)
	fresh := old
	fresh.Generation, fresh.Parent = 6, store.Hash{}
	fresh.CreatedAt, fresh.LastSeenAt, fresh.ExpiresAt = e.now(), e.now(), e.now().Add(time.Hour)
	ok(t, "CreateSession on an expired session's hash", e.sessWriter.CreateSession(e.ctx, fresh))
	e.findSession(t, "the new session on an expired one's hash", fresh)
}

// Generations.

// generationsCases checks [store.Generations].
func generationsCases() []testCase {
	return []testCase{
		{"NoneRecordedIsZero", generations, generationsNoneIsZero},
		{"AgreesWithAccounts", generations | accounts | accountCreator, generationsAgree},
		{"TFAFlipRaisesWithoutAccount", generations | tfaStates, generationsTFAWithoutAccount},
	}
}

// hostAccountID is the ID of an account the store does not keep (a
// host's): no fresh store numbers an account so.
const hostAccountID = 1 << 40

// gen returns the generation Generations reads for ref.
func (e *env) gen(t *testing.T, ref store.AccountRef) int64 {
	t.Helper()
	g, err := e.gens.Generation(e.ctx, ref)
	ok(t, "Generation("+refString(ref)+")", err)
	return g
}

// wantGen fails t unless Generations reads want for ref.
func (e *env) wantGen(t *testing.T, what string, ref store.AccountRef, want int64) {
	t.Helper()
	if g := e.gen(t, ref); g != want {
		t.Fatalf("%s: Generation(%s) = %d, want %d", what, refString(ref), g, want)
	}
}

func generationsNoneIsZero(t *testing.T, e *env) {
	// Nothing recorded is generation 0, not an absent account: a host's
	// account whose 2FA was never changed is at 0.
	for _, ref := range []store.AccountRef{
		{Scope: scopes.User, ID: 1}, {Scope: scopes.Admin, ID: 1}, {Scope: scopes.User, ID: hostAccountID},
	} {
		e.wantGen(t, "a fresh store", ref, 0)
	}
}

func generationsAgree(t *testing.T, e *env) {
	alice := e.createAccount(t, user("alice", "alice@example.com"))
	ref := alice.Ref()
	e.wantGen(t, "a new account", ref, e.generation(t, ref, "alice"))
	if e.setter != nil {
		ok(t, "SetPassword", e.setter.SetPassword(e.ctx, ref, "new hash"))
		e.wantGen(t, "after SetPassword", ref, e.generation(t, ref, "alice"))
	}
	if e.tfaStates != nil {
		ok(t, "PutTFA turning 2FA on", e.tfaStates.PutTFA(e.ctx, sampleTFA(ref)))
		e.wantGen(t, "after 2FA was turned on", ref, e.generation(t, ref, "alice"))
	}
}

func generationsTFAWithoutAccount(t *testing.T, e *env) {
	// The store keeps the second factor of an account a host's own table
	// keeps: turning it on or off must end the account's sessions, so
	// the generation goes up here, where it can be read.
	host := store.AccountRef{Scope: scopes.User, ID: hostAccountID}
	other := store.AccountRef{Scope: scopes.Admin, ID: hostAccountID}
	g, otherG := e.gen(t, host), e.gen(t, other)

	ok(t, "PutTFA turning 2FA on", e.tfaStates.PutTFA(e.ctx, sampleTFA(host)))
	e.wantGen(t, "after 2FA was turned on", host, g+1)
	st := e.getTFA(t, "TFA", host)
	stale := st
	st.RecoveryCodes = []store.Hash{hash("regenerated")}
	ok(t, "PutTFA of new recovery codes", e.tfaStates.PutTFA(e.ctx, st))
	e.wantGen(t, "after new recovery codes (2FA stays on)", host, g+1)
	stale.Enabled = false
	wantConflict(t, "PutTFA turning 2FA off from a stale read", e.tfaStates.PutTFA(e.ctx, stale))
	e.wantGen(t, "after a refused put", host, g+1)
	st = e.getTFA(t, "TFA", host)
	st.Enabled, st.Secret, st.RecoveryCodes = false, nil, nil
	ok(t, "PutTFA turning 2FA off", e.tfaStates.PutTFA(e.ctx, st))
	e.wantGen(t, "after 2FA was turned off", host, g+2)
	e.wantGen(t, "the same ID in the other scope", other, otherG)
}
