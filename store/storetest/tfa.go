package storetest

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// tfaCases checks [store.TFAStates] and [store.TFAUses].
func tfaCases() []testCase {
	both := tfaStates | tfaUses
	return []testCase{
		{"AbsentIsNotFound", both, tfaAbsent},
		{"PutAndGet", both, tfaPutGet},
		{"ReturnsCopies", both, tfaCopies},
		{"AccountsAreSeparate", both, tfaSeparate},
		{"StepOnlyAdvances", both, tfaStepAdvances},
		{"PutNeverLowersStep", both, tfaPutKeepsStep},
		{"ConcurrentStepExactlyOne", both, tfaConcurrentStep},
		{"PutBumpsVersion", both, tfaPutBumpsVersion},
		{"StalePutIsConflict", both, tfaStalePut},
		{"NewStateNeedsVersionZero", both, tfaNewStateVersion},
		{"ConcurrentCreateExactlyOne", both, tfaConcurrentCreate},
		{"ConcurrentPutExactlyOne", both, tfaConcurrentPut},
		{"UsesKeepVersion", both, tfaUsesKeepVersion},
		{"EnabledFlipRaisesGeneration", both | accounts | accountCreator, tfaFlipsRaise},
		{"RefusedPutDoesNotRaise", tfaStates | accounts | accountCreator, tfaConflictKeeps},
		{"ConcurrentFlipsRaiseOnce", tfaStates | accounts | accountCreator, tfaConcurrentFlipsRaiseOnce},
		{"RaisesWithoutAccountRecord", tfaStates | accounts | accountCreator, tfaRaisesWithoutAccount},
	}
}

// sampleTFA returns a full 2FA state for ref.
func sampleTFA(ref store.AccountRef) store.TFA {
	return store.TFA{
		Account:       ref,
		Enabled:       true,
		Secret:        []byte("sealed secret"),
		PendingSecret: []byte("pending"),
		LastStep:      100,
		RecoverySalt:  []byte("salt"),
		RecoveryCodes: []store.Hash{hash("code 1"), hash("code 2"), hash("code 3")},
	}
}

func (e *env) getTFA(t *testing.T, what string, ref store.AccountRef) store.TFA {
	t.Helper()
	got, err := e.tfaStates.TFA(e.ctx, ref)
	ok(t, what, err)
	return got
}

// tfaEqual reports whether a and b hold the same state, whatever their
// Versions.
func tfaEqual(a, b store.TFA) bool {
	return a.Account == b.Account && a.Enabled == b.Enabled && string(a.Secret) == string(b.Secret) &&
		string(a.PendingSecret) == string(b.PendingSecret) && a.LastStep == b.LastStep &&
		string(a.RecoverySalt) == string(b.RecoverySalt) && slices.Equal(a.RecoveryCodes, b.RecoveryCodes)
}

func tfaAbsent(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "nobody")
	_, err := e.tfaStates.TFA(e.ctx, ref)
	wantNotFound(t, "TFA of an account without 2FA", err)
	_, err = e.tfaUses.AdvanceTFAStep(e.ctx, ref, 5)
	wantNotFound(t, "AdvanceTFAStep without 2FA", err)
}

func tfaPutGet(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	want := sampleTFA(ref)
	ok(t, "PutTFA", e.tfaStates.PutTFA(e.ctx, want))
	got := e.getTFA(t, "TFA", ref)
	if !tfaEqual(got, want) {
		t.Fatalf("TFA = %+v, want %+v", got, want)
	}
	// A second put, from that read, replaces the state (regenerated
	// codes, 2FA off).
	next := got
	next.Enabled = false
	next.Secret = nil
	next.RecoveryCodes = []store.Hash{hash("new")}
	ok(t, "second PutTFA", e.tfaStates.PutTFA(e.ctx, next))
	got = e.getTFA(t, "TFA after the second put", ref)
	if got.Enabled || len(got.Secret) != 0 || !slices.Equal(got.RecoveryCodes, next.RecoveryCodes) {
		t.Fatalf("TFA after replace = %+v", got)
	}
}

func tfaCopies(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	in := sampleTFA(ref)
	ok(t, "PutTFA", e.tfaStates.PutTFA(e.ctx, in))
	in.Secret[0] = 'X'
	in.RecoveryCodes[0] = hash("changed")
	got := e.getTFA(t, "TFA", ref)
	if got.Secret[0] == 'X' || got.RecoveryCodes[0] == hash("changed") {
		t.Fatal("the store keeps the caller's slices")
	}
	got.Secret[0] = 'Y'
	got.RecoveryCodes[1] = hash("changed")
	again := e.getTFA(t, "TFA again", ref)
	if again.Secret[0] == 'Y' || again.RecoveryCodes[1] == hash("changed") {
		t.Fatal("the store hands out its own slices")
	}
}

func tfaSeparate(t *testing.T, e *env) {
	user := e.owner(t, scopes.User, "bob")
	admin := e.owner(t, scopes.Admin, "bob")
	ok(t, "PutTFA user", e.tfaStates.PutTFA(e.ctx, sampleTFA(user)))
	_, err := e.tfaStates.TFA(e.ctx, admin)
	wantNotFound(t, "TFA of the admin bob after the user bob's was put", err)
	adv, err := e.tfaUses.AdvanceTFAStep(e.ctx, user, 200)
	if err != nil || !adv {
		t.Fatalf("AdvanceTFAStep: %v, %v", adv, err)
	}
	ok(t, "PutTFA admin", e.tfaStates.PutTFA(e.ctx, sampleTFA(admin)))
	if got := e.getTFA(t, "TFA admin", admin); got.LastStep != 100 {
		t.Fatalf("the admin's LastStep is %d: moved by the user's", got.LastStep)
	}
}

func tfaStepAdvances(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	ok(t, "PutTFA", e.tfaStates.PutTFA(e.ctx, sampleTFA(ref))) // LastStep 100
	for _, c := range []struct {
		step int64
		want bool
	}{{99, false}, {100, false}, {101, true}, {101, false}, {100, false}, {105, true}, {103, false}} {
		got, err := e.tfaUses.AdvanceTFAStep(e.ctx, ref, c.step)
		ok(t, "AdvanceTFAStep", err)
		if got != c.want {
			t.Fatalf("AdvanceTFAStep(%d) = %v, want %v", c.step, got, c.want)
		}
	}
	if got := e.getTFA(t, "TFA", ref); got.LastStep != 105 {
		t.Fatalf("LastStep = %d, want 105", got.LastStep)
	}
}

func tfaPutKeepsStep(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	ok(t, "PutTFA", e.tfaStates.PutTFA(e.ctx, sampleTFA(ref)))
	stale := e.getTFA(t, "TFA", ref) // read before a login used step 150
	if adv, err := e.tfaUses.AdvanceTFAStep(e.ctx, ref, 150); err != nil || !adv {
		t.Fatalf("AdvanceTFAStep(150): %v, %v", adv, err)
	}
	// The login did not change the Version, so the put is not refused;
	// but its LastStep, 100, is older than the store's.
	stale.RecoveryCodes = []store.Hash{hash("regenerated")}
	ok(t, "PutTFA from a read before the login", e.tfaStates.PutTFA(e.ctx, stale))
	if got := e.getTFA(t, "TFA", ref); got.LastStep != 150 {
		t.Fatalf("LastStep = %d after a stale put: a used code would work again", got.LastStep)
	}
	if adv, _ := e.tfaUses.AdvanceTFAStep(e.ctx, ref, 150); adv {
		t.Fatal("step 150 accepted twice")
	}
}

func tfaConcurrentStep(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	ok(t, "PutTFA", e.tfaStates.PutTFA(e.ctx, sampleTFA(ref)))
	var wins atomic.Int64
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			// The same code sent by many logins at once.
			adv, err := e.tfaUses.AdvanceTFAStep(e.ctx, ref, 101)
			if err != nil {
				t.Error(err)
			}
			if adv {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of %d concurrent uses of one step succeeded, want exactly 1", n, concurrency)
	}
}

func tfaPutBumpsVersion(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	ok(t, "PutTFA at version 0", e.tfaStates.PutTFA(e.ctx, sampleTFA(ref)))
	got := e.getTFA(t, "TFA", ref)
	if got.Version != 1 {
		t.Fatalf("Version = %d after the first put, want 1", got.Version)
	}
	for want := int64(2); want <= 4; want++ {
		got.Enabled = !got.Enabled
		ok(t, "PutTFA with the Version read", e.tfaStates.PutTFA(e.ctx, got))
		next := e.getTFA(t, "TFA", ref)
		if next.Version != want || next.Enabled != got.Enabled {
			t.Fatalf("after a put at version %d: Version %d, Enabled %v; want %d, %v",
				got.Version, next.Version, next.Enabled, want, got.Enabled)
		}
		got = next
	}
}

func tfaStalePut(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	ok(t, "PutTFA", e.tfaStates.PutTFA(e.ctx, sampleTFA(ref)))
	// Two read-modify-writes from one read: an Enable and a Setup, say.
	first := e.getTFA(t, "first read", ref)
	second := e.getTFA(t, "second read", ref)
	first.RecoveryCodes = []store.Hash{hash("first")}
	ok(t, "the first put", e.tfaStates.PutTFA(e.ctx, first))
	want := e.getTFA(t, "TFA after the first put", ref)
	second.Enabled = false
	second.RecoveryCodes = []store.Hash{hash("second")}
	second.LastStep = 900
	wantConflict(t, "a put from a read the first put overtook", e.tfaStates.PutTFA(e.ctx, second))
	got := e.getTFA(t, "TFA after the refused put", ref)
	if !tfaEqual(got, want) || got.Version != want.Version {
		t.Fatalf("a refused put changed the state: %+v, was %+v", got, want)
	}
	// Versions the store never had are refused too.
	for _, v := range []int64{want.Version + 1, want.Version + 100, -1} {
		second.Version = v
		wantConflict(t, "a put at version "+itoa(int(v)), e.tfaStates.PutTFA(e.ctx, second))
	}
	if got := e.getTFA(t, "TFA", ref); !tfaEqual(got, want) || got.Version != want.Version {
		t.Fatalf("a refused put changed the state: %+v, was %+v", got, want)
	}
}

func tfaNewStateVersion(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	st := sampleTFA(ref)
	for _, v := range []int64{1, 2, -1} {
		st.Version = v
		wantConflict(t, "a first put at version "+itoa(int(v)), e.tfaStates.PutTFA(e.ctx, st))
		_, err := e.tfaStates.TFA(e.ctx, ref)
		wantNotFound(t, "TFA after a refused first put", err)
	}
	st.Version = 0
	ok(t, "a first put at version 0", e.tfaStates.PutTFA(e.ctx, st))
	// A second first put (another Setup, from a read that found nothing)
	// is refused: the state is no longer at version 0.
	other := sampleTFA(ref)
	other.Enabled = false
	other.RecoveryCodes = nil
	wantConflict(t, "a put at version 0 over a stored state", e.tfaStates.PutTFA(e.ctx, other))
	if got := e.getTFA(t, "TFA", ref); !tfaEqual(got, st) || got.Version != 1 {
		t.Fatalf("TFA = %+v, want %+v at version 1", got, st)
	}
}

// concurrentPuts puts, from concurrency goroutines at once, from, each
// with a recovery code of its own, and returns the code of the only put
// that succeeded, failing t unless exactly one did and the others were
// ErrConflict.
func concurrentPuts(t *testing.T, e *env, from store.TFA) store.Hash {
	t.Helper()
	var wins atomic.Int64
	var winner atomic.Value
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			st := from
			st.RecoveryCodes = []store.Hash{hash("put " + itoa(i))}
			switch err := e.tfaStates.PutTFA(e.ctx, st); {
			case err == nil:
				wins.Add(1)
				winner.Store(st.RecoveryCodes[0])
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("PutTFA: %v, want nil or store.ErrConflict", err)
			}
		})
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d of %d concurrent puts from one read at version %d succeeded, want exactly 1",
			n, concurrency, from.Version)
	}
	return winner.Load().(store.Hash)
}

func tfaConcurrentCreate(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	// Many first Setups at once, each from a read that found nothing.
	won := concurrentPuts(t, e, sampleTFA(ref))
	got := e.getTFA(t, "TFA", ref)
	if got.Version != 1 || !slices.Equal(got.RecoveryCodes, []store.Hash{won}) {
		t.Fatalf("TFA = %+v, want the winner's state at version 1", got)
	}
}

func tfaConcurrentPut(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	ok(t, "PutTFA", e.tfaStates.PutTFA(e.ctx, sampleTFA(ref)))
	from := e.getTFA(t, "TFA", ref)
	won := concurrentPuts(t, e, from)
	got := e.getTFA(t, "TFA", ref)
	if got.Version != from.Version+1 || !slices.Equal(got.RecoveryCodes, []store.Hash{won}) {
		t.Fatalf("TFA = %+v, want the winner's state at version %d", got, from.Version+1)
	}
}

func tfaUsesKeepVersion(t *testing.T, e *env) {
	ref := e.owner(t, scopes.User, "alice")
	ok(t, "PutTFA", e.tfaStates.PutTFA(e.ctx, sampleTFA(ref)))
	before := e.getTFA(t, "TFA", ref)
	if adv, err := e.tfaUses.AdvanceTFAStep(e.ctx, ref, 200); err != nil || !adv {
		t.Fatalf("AdvanceTFAStep: %v, %v", adv, err)
	}
	got := e.getTFA(t, "TFA", ref)
	if got.Version != before.Version {
		t.Fatalf("Version %d after a login, was %d: logins would make 2FA changes fail", got.Version, before.Version)
	}
	// A put from the read before the login (a Regenerate, say) is
	// accepted, and its new codes replace the set.
	before.RecoveryCodes = []store.Hash{hash("regenerated")}
	ok(t, "PutTFA from a read before the login", e.tfaStates.PutTFA(e.ctx, before))
	got = e.getTFA(t, "TFA", ref)
	if got.LastStep != 200 || !slices.Equal(got.RecoveryCodes, before.RecoveryCodes) || got.Version != before.Version+1 {
		t.Fatalf("TFA = %+v after the put", got)
	}
}
