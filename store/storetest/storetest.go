package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Run runs the conformance cases of every interface of package store that
// the values made by newStore implement.
//
// newStore must return a fresh, empty store that decides every expiry with
// now, and no other clock: not the database's NOW(), not a cache's TTL
// alone. Run calls it once to find which interfaces the store implements,
// then once per case. Cases run one at a time and do not use their store
// after they end, so a factory may hand out one database emptied each time
// (with t.Cleanup, say). A factory that cannot make a store should call
// t.Fatal, or t.Skip when a server is not configured.
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) any) {
	t.Helper()
	probe := newStore(t, clocktest.New().Now)
	if probe == nil {
		t.Fatal("storetest: newStore returned nil")
	}
	have := implemented(probe)
	refused := notSupported(probe, have)
	var missing []string
	for _, i := range allInterfaces() {
		if have&i == 0 {
			missing = append(missing, i.String())
		}
	}
	if len(missing) > 0 {
		t.Logf("storetest: the store does not implement %s; their cases are skipped", strings.Join(missing, ", "))
	}
	if refused != 0 {
		t.Logf("storetest: the store answers store.ErrNotSupported to %s; their cases are skipped", refused)
	}
	have &^= refused
	for _, g := range groups() {
		if have&g.of == 0 {
			continue
		}
		t.Run(g.name, func(t *testing.T) {
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					clock := clocktest.New()
					s := newStore(t, clock.Now)
					if lack := c.needs &^ implemented(s); lack != 0 {
						t.Skipf("needs %s, which the store does not implement", lack)
					}
					if lack := c.needs & refused; lack != 0 {
						t.Skipf("needs %s, to which the store answers store.ErrNotSupported", lack)
					}
					c.run(t, newEnv(s, clock, refused))
				})
			}
		})
	}
}

// iface is a set of the interfaces of package store, one bit each.
type iface uint16

const (
	accounts iface = 1 << iota
	accountCreator
	passwordSetter
	apiKeyFinder
	apiKeyManager
	sessionFinder
	sessionWriter
	claims
	counters
	tfaStates
	tfaUses
	accountUpdater
	challenges
	tokens
	generations
	invalidations
)

// allInterfaces returns each interface the suite knows, one per element.
func allInterfaces() []iface {
	return []iface{accounts, accountCreator, passwordSetter, apiKeyFinder, apiKeyManager, sessionFinder, sessionWriter, claims, counters, tfaStates, tfaUses, accountUpdater, challenges, tokens, generations, invalidations}
}

// String names the interfaces in i, as package store does.
func (i iface) String() string {
	var names []string
	for _, one := range allInterfaces() {
		if i&one == 0 {
			continue
		}
		switch one {
		case accounts:
			names = append(names, "Accounts")
		case accountCreator:
			names = append(names, "AccountCreator")
		case passwordSetter:
			names = append(names, "PasswordSetter")
		case apiKeyFinder:
			names = append(names, "APIKeyFinder")
		case apiKeyManager:
			names = append(names, "APIKeyManager")
		case sessionFinder:
			names = append(names, "SessionFinder")
		case sessionWriter:
			names = append(names, "SessionWriter")
		case claims:
			names = append(names, "Claims")
		case counters:
			names = append(names, "Counters")
		case tfaStates:
			names = append(names, "TFAStates")
		case tfaUses:
			names = append(names, "TFAUses")
		case accountUpdater:
			names = append(names, "AccountUpdater")
		case challenges:
			names = append(names, "Challenges")
		case tokens:
			names = append(names, "Tokens")
		case generations:
			names = append(names, "Generations")
		case invalidations:
			names = append(names, "Invalidations")
		}
	}
	return strings.Join(names, ", ")
}

// implemented returns the interfaces that s implements.
func implemented(s any) iface {
	var i iface
	if _, ok := s.(store.Accounts); ok {
		i |= accounts
	}
	if _, ok := s.(store.AccountCreator); ok {
		i |= accountCreator
	}
	if _, ok := s.(store.PasswordSetter); ok {
		i |= passwordSetter
	}
	if _, ok := s.(store.APIKeyFinder); ok {
		i |= apiKeyFinder
	}
	if _, ok := s.(store.APIKeyManager); ok {
		i |= apiKeyManager
	}
	if _, ok := s.(store.SessionFinder); ok {
		i |= sessionFinder
	}
	if _, ok := s.(store.SessionWriter); ok {
		i |= sessionWriter
	}
	if _, ok := s.(store.Claims); ok {
		i |= claims
	}
	if _, ok := s.(counterStore); ok {
		i |= counters
	}
	if _, ok := s.(store.TFAStates); ok {
		i |= tfaStates
	}
	if _, ok := s.(store.TFAUses); ok {
		i |= tfaUses
	}
	if _, ok := s.(store.AccountUpdater); ok {
		i |= accountUpdater
	}
	if _, ok := s.(store.Challenges); ok {
		i |= challenges
	}
	if _, ok := s.(store.Tokens); ok {
		i |= tokens
	}
	if _, ok := s.(store.Generations); ok {
		i |= generations
	}
	if _, ok := s.(store.Invalidations); ok {
		i |= invalidations
	}
	return i
}

// probeID is an account ID that no fresh store has given out.
const probeID = math.MaxInt64

// notSupported returns the interfaces, of the optional ones in have, to
// which s answers [store.ErrNotSupported], as a composed store does when
// the part it would forward to has none (such a store answers it to every
// call). Each probe is a call that changes nothing in a store that
// supports it: a write of an account that does not exist, or of one that
// cannot be created, or an invalidation of an account that cannot exist
// (an error, and nothing is sent).
func notSupported(s any, have iface) iface {
	ctx := context.Background()
	var refused iface
	probe := func(i iface, call func() error) {
		if have&i != 0 && errors.Is(call(), store.ErrNotSupported) {
			refused |= i
		}
	}
	absent := store.AccountRef{Scope: scopes.User, ID: probeID}
	probe(accountCreator, func() error {
		_, err := s.(store.AccountCreator).CreateAccount(ctx, store.Account{}) // no scope, no username
		return err
	})
	probe(passwordSetter, func() error { return s.(store.PasswordSetter).SetPassword(ctx, absent, "") })
	probe(accountUpdater, func() error {
		return s.(store.AccountUpdater).UpdateAccount(ctx, store.Account{Scope: absent.Scope, ID: absent.ID, Username: "storetest probe"})
	})
	probe(generations, func() error {
		_, err := s.(store.Generations).Generation(ctx, absent)
		return err
	})
	probe(invalidations, func() error { return s.(store.Invalidations).Invalidate(ctx, store.AccountRef{}) })
	return refused
}

// group is the cases of one part of the store, run when the store
// implements any interface in of.
type group struct {
	name  string
	of    iface
	cases []testCase
}

// testCase is one conformance check. It is skipped when the store lacks an
// interface in needs.
type testCase struct {
	name  string
	needs iface
	run   func(t *testing.T, e *env)
}

// groups returns every case, by group, in the order they run.
func groups() []group {
	return []group{
		{name: "Accounts", of: accounts, cases: accountsCases()},
		{name: "AccountCreator", of: accountCreator, cases: accountCreatorCases()},
		{name: "PasswordSetter", of: passwordSetter, cases: passwordSetterCases()},
		{name: "AccountUpdater", of: accountUpdater, cases: accountUpdaterCases()},
		{name: "APIKeys", of: apiKeyFinder | apiKeyManager, cases: apiKeyCases()},
		{name: "Sessions", of: sessionFinder | sessionWriter, cases: sessionCases()},
		{name: "Claims", of: claims, cases: claimCases()},
		{name: "Counters", of: counters, cases: counterCases()},
		{name: "TFA", of: tfaStates | tfaUses, cases: tfaCases()},
		{name: "Challenges", of: challenges, cases: challengeCases()},
		{name: "Tokens", of: tokens, cases: tokenCases()},
		{name: "Generations", of: generations, cases: generationsCases()},
		{name: "Invalidations", of: invalidations, cases: invalidationCases()},
	}
}

// env is what a case works with: the store under each interface it
// implements (nil otherwise), the fake clock the store was given, and a
// context.
type env struct {
	ctx   context.Context
	clock *clocktest.Clock

	accounts   store.Accounts
	creator    store.AccountCreator
	setter     store.PasswordSetter
	keyFinder  store.APIKeyFinder
	keyManager store.APIKeyManager
	sessFinder store.SessionFinder
	sessWriter store.SessionWriter
	claims     store.Claims
	counters   counterStore
	tfaStates  store.TFAStates
	tfaUses    store.TFAUses
	updater    store.AccountUpdater
	challenges store.Challenges
	tokens     store.Tokens
	gens       store.Generations
	inval      store.Invalidations

	lastOwner int64 // see env.owner

	sentMu sync.Mutex
	sent   map[store.AccountRef]bool // the refs sent on inval; see env.send
}

// newEnv returns the env of s, leaving nil the interfaces in refused.
func newEnv(s any, clock *clocktest.Clock, refused iface) *env {
	e := &env{ctx: context.Background(), clock: clock}
	e.accounts, _ = s.(store.Accounts)
	e.creator, _ = s.(store.AccountCreator)
	e.setter, _ = s.(store.PasswordSetter)
	e.keyFinder, _ = s.(store.APIKeyFinder)
	e.keyManager, _ = s.(store.APIKeyManager)
	e.sessFinder, _ = s.(store.SessionFinder)
	e.sessWriter, _ = s.(store.SessionWriter)
	e.claims, _ = s.(store.Claims)
	e.counters, _ = s.(counterStore)
	e.tfaStates, _ = s.(store.TFAStates)
	e.tfaUses, _ = s.(store.TFAUses)
	e.updater, _ = s.(store.AccountUpdater)
	e.challenges, _ = s.(store.Challenges)
	e.tokens, _ = s.(store.Tokens)
	e.gens, _ = s.(store.Generations)
	e.inval, _ = s.(store.Invalidations)
	if refused&accountCreator != 0 {
		e.creator = nil
	}
	if refused&passwordSetter != 0 {
		e.setter = nil
	}
	if refused&accountUpdater != 0 {
		e.updater = nil
	}
	if refused&generations != 0 {
		e.gens = nil
	}
	if refused&invalidations != 0 {
		e.inval = nil
	}
	return e
}

// now returns the fake clock's time.
func (e *env) now() time.Time { return e.clock.Now() }

// owner returns an account to own keys and sessions. When the store can
// create accounts it creates one, so that a store whose keys and sessions
// must refer to an existing account passes; otherwise it makes up a ref.
// Owners made up for one env never share a ref.
func (e *env) owner(t *testing.T, scope scopes.Scope, name string) store.AccountRef {
	t.Helper()
	if e.creator != nil {
		a := store.Account{Scope: scope, Username: name, PasswordHash: "x", CreatedAt: e.now()}
		got, err := e.creator.CreateAccount(e.ctx, a)
		if err != nil {
			t.Fatalf("CreateAccount(%q) for an owner: %v", name, err)
		}
		return got.Ref()
	}
	e.lastOwner++
	return store.AccountRef{Scope: scope, ID: e.lastOwner}
}

// concurrency is how many goroutines race in the concurrency cases.
const concurrency = 100

// wantNotFound fails t unless err is [store.ErrNotFound].
func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("%s: error %v, want store.ErrNotFound", what, err)
	}
}

// wantConflict fails t unless err is [store.ErrConflict].
func wantConflict(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("%s: error %v, want store.ErrConflict", what, err)
	}
}

// ok fails t if err is not nil.
func ok(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// refString formats ref for messages: "user 12".
func refString(ref store.AccountRef) string { return fmt.Sprintf("%v %d", ref.Scope, ref.ID) }

// quote quotes s for messages.
func quote(s string) string { return strconv.Quote(s) }

// itoa formats i in decimal.
func itoa(i int) string { return strconv.Itoa(i) }

// hash returns a distinct [store.Hash] for each name.
func hash(name string) store.Hash { return store.HashOf([]byte("storetest " + name)) }

// counterStore is a store's counters as the suite checks them: raised and
// taken back as the authenticator does ([store.Counters]), and read
// ([store.CounterReader]) to see what those did.
type counterStore interface {
	store.Counters
	store.CounterReader
}
