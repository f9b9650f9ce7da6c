package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// sessionCases checks [store.SessionFinder] and [store.SessionWriter].
func sessionCases() []testCase {
	both := sessionFinder | sessionWriter
	return []testCase{
		{"FinderNotFound", sessionFinder, sessionsFinderNotFound},
		{"WriterDeleteAbsent", sessionWriter, sessionsDeleteAbsent},
		{"CreateAndGet", both, sessionsCreateAndGet},
		{"SwitchedSessionKeepsItsAdministrator", both, sessionsSwitched},
		{"KeepsGenerationAndParent", both, sessionsGenerationAndParent},
		{"HashTaken", both, sessionsHashTaken},
		{"ConcurrentSameHash", both, sessionsConcurrentSameHash},
		{"ExpiresAtExactTime", both, sessionsExpire},
		{"TouchExtends", both, sessionsTouchExtends},
		{"TouchShortens", both, sessionsTouchShortens},
		{"TouchOfExpiredSessionStaysGone", both, sessionsTouchExpired},
		{"TouchOfDeletedSessionStaysGone", both, sessionsTouchDeleted},
		{"Delete", both, sessionsDelete},
		{"DeleteAccountSessionsKeepsOne", both, sessionsDeleteAccountKeep},
		{"DeleteAccountSessionsKeepsNone", both, sessionsDeleteAccountAll},
		{"DeleteAccountSessionsKeepOfOtherAccount", both, sessionsDeleteAccountForeignKeep},
		{"DeleteAccountSessionsCountsLiveOnly", both, sessionsDeleteAccountCountsLive},
	}
}

// createSession creates a session named name for owner, expiring at
// expires, through e.sessWriter, failing t on error.
func (e *env) createSession(t *testing.T, name string, owner store.AccountRef, expires time.Time) store.Session {
	t.Helper()
	s := store.Session{
		Hash:       hash("session " + name),
		Account:    owner,
		TFA:        true,
		Method:     "apikey",
		APIKeyHash: hash("key of " + name),
		Generation: 7,
		CreatedAt:  e.now(),
		LastSeenAt: e.now(),
		ExpiresAt:  expires,
	}
	if err := e.sessWriter.CreateSession(e.ctx, s); err != nil {
		t.Fatalf("CreateSession(%s): %v", name, err)
	}
	return s
}

// findSession fails t unless the session with want's hash equals want.
func (e *env) findSession(t *testing.T, what string, want store.Session) {
	t.Helper()
	got, err := e.sessFinder.Session(e.ctx, want.Hash)
	if err != nil {
		t.Fatalf("%s: Session: %v", what, err)
	}
	if got.Hash != want.Hash || got.Account != want.Account || got.TFA != want.TFA ||
		got.Method != want.Method || got.APIKeyHash != want.APIKeyHash ||
		got.SwitchedBy != want.SwitchedBy || got.SwitchPrivilege != want.SwitchPrivilege ||
		got.Parent != want.Parent || got.Generation != want.Generation ||
		!got.CreatedAt.Equal(want.CreatedAt) ||
		!got.LastSeenAt.Equal(want.LastSeenAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// goneSession fails t unless the session with h is not found.
func (e *env) goneSession(t *testing.T, what string, h store.Hash) {
	t.Helper()
	_, err := e.sessFinder.Session(e.ctx, h)
	wantNotFound(t, what, err)
}

// deleteAccountSessions calls DeleteAccountSessions and fails t unless it
// reports want removed.
func (e *env) deleteAccountSessions(t *testing.T, owner store.AccountRef, keep store.Hash, want int) {
	t.Helper()
	n, err := e.sessWriter.DeleteAccountSessions(e.ctx, owner, keep)
	if err != nil {
		t.Fatalf("DeleteAccountSessions(%s): %v", refString(owner), err)
	}
	if n != want {
		t.Fatalf("DeleteAccountSessions(%s) removed %d, want %d", refString(owner), n, want)
	}
}

func sessionsFinderNotFound(t *testing.T, e *env) {
	e.goneSession(t, "Session of an absent hash", hash("absent"))
	e.goneSession(t, "Session of the zero hash", store.Hash{})
	err := e.sessFinder.TouchSession(e.ctx, hash("absent"), e.now(), e.now().Add(time.Hour))
	wantNotFound(t, "TouchSession of an absent hash", err)
}

func sessionsDeleteAbsent(t *testing.T, e *env) {
	ok(t, "DeleteSession of an absent hash", e.sessWriter.DeleteSession(e.ctx, hash("absent")))
	alice := e.owner(t, scopes.User, "alice")
	e.deleteAccountSessions(t, alice, store.Hash{}, 0)
}

func sessionsCreateAndGet(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	s := e.createSession(t, "one", alice, e.now().Add(time.Hour))
	e.findSession(t, "a new session", s)
	plain := store.Session{
		Hash: hash("plain"), Account: alice, Method: "apikey",
		CreatedAt: e.now(), LastSeenAt: e.now(), ExpiresAt: e.now().Add(time.Minute),
	}
	ok(t, "CreateSession without TFA", e.sessWriter.CreateSession(e.ctx, plain))
	e.findSession(t, "a session without TFA", plain)
}

func sessionsSwitched(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	root := e.owner(t, scopes.Admin, "root")
	exp := e.now().Add(time.Hour)
	// Sessions an administrator made from root's own session to act as
	// alice, one per privilege, beside alice's own.
	rootOwn := e.createSession(t, "root's own", root, exp)
	full := store.Session{
		Hash: hash("switched full"), Account: alice, Method: "switch",
		SwitchedBy: root, SwitchPrivilege: "Full", Parent: rootOwn.Hash, Generation: 3,
		CreatedAt: e.now(), LastSeenAt: e.now(), ExpiresAt: exp,
	}
	def := full
	def.Hash, def.SwitchPrivilege = hash("switched default"), "Default"
	ok(t, "CreateSession of a switched session (Full)", e.sessWriter.CreateSession(e.ctx, full))
	ok(t, "CreateSession of a switched session (Default)", e.sessWriter.CreateSession(e.ctx, def))
	own := e.createSession(t, "alice's own", alice, exp)
	e.findSession(t, "a switched session (Full)", full)
	e.findSession(t, "a switched session (Default)", def)
	e.findSession(t, "alice's own session", own)

	// A touch keeps who switched.
	e.clock.Advance(time.Minute)
	full.LastSeenAt, full.ExpiresAt = e.now(), e.now().Add(time.Hour)
	ok(t, "TouchSession of a switched session", e.sessFinder.TouchSession(e.ctx, full.Hash, full.LastSeenAt, full.ExpiresAt))
	e.findSession(t, "a switched session after a touch", full)

	// The sessions are alice's: ending root's leaves them (the
	// authenticator refuses them by their parent), and ending alice's
	// ends them.
	e.deleteAccountSessions(t, root, store.Hash{}, 1)
	e.findSession(t, "a switched session after its administrator's sessions ended", full)
	e.goneSession(t, "root's own session", rootOwn.Hash)
	e.deleteAccountSessions(t, alice, own.Hash, 2)
	e.goneSession(t, "a switched session after alice's sessions ended", full.Hash)
	e.goneSession(t, "the other switched session after alice's sessions ended", def.Hash)
	e.findSession(t, "alice's kept session", own)
}

func sessionsHashTaken(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	bob := e.owner(t, scopes.User, "bob")
	s := e.createSession(t, "one", alice, e.now().Add(time.Hour))
	dup := s
	dup.Account, dup.ExpiresAt = bob, e.now().Add(2*time.Hour)
	wantConflict(t, "CreateSession with a hash already stored", e.sessWriter.CreateSession(e.ctx, dup))
	e.findSession(t, "the first session after a refused duplicate", s)
	e.deleteAccountSessions(t, bob, store.Hash{}, 0) // the duplicate's owner has none
	e.findSession(t, "the first session after its hash's refused owner was cleared", s)
}

func sessionsConcurrentSameHash(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []store.Session
		errs    []error
	)
	for i := range concurrency {
		wg.Go(func() {
			s := store.Session{
				Hash: hash("contested"), Account: alice, Method: "m" + itoa(i),
				CreatedAt: e.now(), LastSeenAt: e.now(), ExpiresAt: e.now().Add(time.Hour),
			}
			err := e.sessWriter.CreateSession(e.ctx, s)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, s)
			case !errors.Is(err, store.ErrConflict):
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent CreateSession failed: %v", errs[0])
	}
	if len(winners) != 1 {
		t.Fatalf("%d of %d concurrent CreateSession with one hash succeeded, want exactly 1", len(winners), concurrency)
	}
	e.findSession(t, "the contested session", winners[0])
}

func sessionsExpire(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	s := e.createSession(t, "one", alice, e.now().Add(30*time.Minute))
	long := e.createSession(t, "long", alice, e.now().Add(time.Hour))
	e.clock.Advance(30*time.Minute - time.Second)
	e.findSession(t, "a second before ExpiresAt", s)
	e.clock.Advance(time.Second) // ExpiresAt is not after now: expired
	e.goneSession(t, "Session at ExpiresAt", s.Hash)
	e.findSession(t, "a session expiring later", long)
	e.clock.Advance(time.Hour)
	e.goneSession(t, "Session long after ExpiresAt", s.Hash)
	e.goneSession(t, "Session of the later one, after its ExpiresAt", long.Hash)
}

func sessionsTouchExtends(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	s := e.createSession(t, "one", alice, e.now().Add(30*time.Minute))
	e.clock.Advance(20 * time.Minute)
	s.LastSeenAt, s.ExpiresAt = e.now(), e.now().Add(30*time.Minute)
	ok(t, "TouchSession", e.sessFinder.TouchSession(e.ctx, s.Hash, s.LastSeenAt, s.ExpiresAt))
	e.findSession(t, "right after a touch", s)
	e.clock.Advance(20 * time.Minute) // past the first ExpiresAt
	e.findSession(t, "past the ExpiresAt before the touch", s)
	e.clock.Advance(10 * time.Minute) // at the new ExpiresAt
	e.goneSession(t, "Session at the touched ExpiresAt", s.Hash)
}

func sessionsTouchShortens(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	s := e.createSession(t, "one", alice, e.now().Add(time.Hour))
	s.LastSeenAt, s.ExpiresAt = e.now(), e.now().Add(time.Minute)
	ok(t, "TouchSession to an earlier ExpiresAt", e.sessFinder.TouchSession(e.ctx, s.Hash, s.LastSeenAt, s.ExpiresAt))
	e.findSession(t, "after a touch to an earlier ExpiresAt", s)
	e.clock.Advance(time.Minute)
	e.goneSession(t, "Session at the earlier ExpiresAt", s.Hash)
}

func sessionsTouchExpired(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	s := e.createSession(t, "one", alice, e.now().Add(10*time.Minute))
	e.clock.Advance(10 * time.Minute)
	err := e.sessFinder.TouchSession(e.ctx, s.Hash, e.now(), e.now().Add(time.Hour))
	wantNotFound(t, "TouchSession of an expired session", err)
	e.goneSession(t, "Session after a touch of the expired session", s.Hash)
	e.clock.Advance(30 * time.Minute)
	e.goneSession(t, "Session later on", s.Hash)
}

func sessionsTouchDeleted(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	s := e.createSession(t, "one", alice, e.now().Add(time.Hour))
	ok(t, "DeleteSession", e.sessWriter.DeleteSession(e.ctx, s.Hash))
	err := e.sessFinder.TouchSession(e.ctx, s.Hash, e.now(), e.now().Add(time.Hour))
	wantNotFound(t, "TouchSession of a deleted session", err)
	e.goneSession(t, "Session after a touch of the deleted session", s.Hash)
}

func sessionsDelete(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	s1 := e.createSession(t, "one", alice, e.now().Add(time.Hour))
	s2 := e.createSession(t, "two", alice, e.now().Add(time.Hour))
	ok(t, "DeleteSession", e.sessWriter.DeleteSession(e.ctx, s1.Hash))
	e.goneSession(t, "Session after DeleteSession", s1.Hash)
	e.findSession(t, "the session not deleted", s2)
	ok(t, "DeleteSession again", e.sessWriter.DeleteSession(e.ctx, s1.Hash))
	e.deleteAccountSessions(t, alice, store.Hash{}, 1) // only s2 is left
}

// accountSessions creates three sessions for alice and one each for bob
// and for an administrator, who is alice's ID in admin scope if the store
// numbers scopes apart.
func (e *env) accountSessions(t *testing.T) (alice store.AccountRef, a []store.Session, others []store.Session) {
	alice = e.owner(t, scopes.User, "alice")
	bob := e.owner(t, scopes.User, "bob")
	admin := e.owner(t, scopes.Admin, "alice")
	exp := e.now().Add(time.Hour)
	a = []store.Session{
		e.createSession(t, "a1", alice, exp),
		e.createSession(t, "a2", alice, exp),
		e.createSession(t, "a3", alice, exp),
	}
	others = []store.Session{
		e.createSession(t, "bob", bob, exp),
		e.createSession(t, "admin", admin, exp),
	}
	if e.creator == nil {
		// Made-up owners: also use alice's ID in admin scope.
		others = append(others, e.createSession(t, "admin alice", store.AccountRef{Scope: scopes.Admin, ID: alice.ID}, exp))
	}
	return alice, a, others
}

func sessionsDeleteAccountKeep(t *testing.T, e *env) {
	alice, a, others := e.accountSessions(t)
	e.deleteAccountSessions(t, alice, a[1].Hash, 2)
	e.goneSession(t, "alice's first session", a[0].Hash)
	e.findSession(t, "alice's kept session", a[1])
	e.goneSession(t, "alice's third session", a[2].Hash)
	for _, s := range others {
		e.findSession(t, "another account's session", s)
	}
	e.deleteAccountSessions(t, alice, a[1].Hash, 0) // the kept one stays kept
	e.findSession(t, "alice's kept session, kept again", a[1])
}

func sessionsDeleteAccountAll(t *testing.T, e *env) {
	alice, a, others := e.accountSessions(t)
	e.deleteAccountSessions(t, alice, store.Hash{}, 3)
	for _, s := range a {
		e.goneSession(t, "alice's session", s.Hash)
	}
	for _, s := range others {
		e.findSession(t, "another account's session", s)
	}
	e.deleteAccountSessions(t, alice, store.Hash{}, 0)
}

func sessionsDeleteAccountForeignKeep(t *testing.T, e *env) {
	alice, a, others := e.accountSessions(t)
	// keep names another account's session: it keeps none of alice's.
	e.deleteAccountSessions(t, alice, others[0].Hash, 3)
	for _, s := range a {
		e.goneSession(t, "alice's session", s.Hash)
	}
	for _, s := range others {
		e.findSession(t, "another account's session", s)
	}
}

func sessionsDeleteAccountCountsLive(t *testing.T, e *env) {
	alice := e.owner(t, scopes.User, "alice")
	short := e.createSession(t, "short", alice, e.now().Add(time.Minute))
	live := []store.Session{
		e.createSession(t, "live1", alice, e.now().Add(time.Hour)),
		e.createSession(t, "live2", alice, e.now().Add(time.Hour)),
	}
	e.clock.Advance(time.Minute) // short has expired: it is not there to remove
	e.deleteAccountSessions(t, alice, store.Hash{}, len(live))
	e.goneSession(t, "the expired session", short.Hash)
	for _, s := range live {
		e.goneSession(t, "a removed session", s.Hash)
	}
}
