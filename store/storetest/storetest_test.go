package storetest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/clocktest"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// mutantEnv names the store TestMutantChild runs the suite against.
const mutantEnv = "KEYWARD_STORETEST_MUTANT"

// TestSuiteCatchesMutants runs the suite, in a child process, against
// stores with one bug each, and checks that it fails them in the cases
// meant to catch that bug; and against partial stores, which must pass
// with the right cases skipped. A case that no bug can fail tests nothing.
func TestSuiteCatchesMutants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mutant   string
		wantFail []string // subtests of TestMutantChild that must fail
		wantSkip []string // subtests that must be skipped
		wantLog  string   // text the output must contain
	}{
		{mutant: "none"},
		{
			mutant:  "sessionsClaimsCounters",
			wantLog: "does not implement Accounts, AccountCreator, PasswordSetter, APIKeyFinder, APIKeyManager, TFAStates, TFAUses, AccountUpdater, Challenges, Tokens, Generations, Invalidations;",
		},
		{
			mutant:   "readOnlyAccounts",
			wantSkip: []string{"Accounts/ByRef", "Accounts/ScopesAreSeparate"},
			wantLog:  "does not implement AccountCreator, PasswordSetter, APIKeyFinder",
		},
		{
			mutant:  "tokensOnly",
			wantLog: "does not implement Accounts, AccountCreator, PasswordSetter, APIKeyFinder, APIKeyManager, SessionFinder, SessionWriter, Claims, Counters, TFAStates, TFAUses, AccountUpdater, Challenges, Generations, Invalidations;",
		},
		{
			// Combine's optional writes and Generations answer
			// ErrNotSupported when its durable part has none.
			mutant:   "combinedReadOnly",
			wantSkip: []string{"Accounts/ByRef", "TFA/EnabledFlipRaisesGeneration"},
			wantLog:  "answers store.ErrNotSupported to AccountCreator, PasswordSetter, AccountUpdater, Generations;",
		},
		{mutant: "ownClock", wantFail: []string{
			"APIKeys/ExpiresAtExactTime", "Sessions/ExpiresAtExactTime", "Sessions/TouchExtends",
			"Claims/ClaimableAgainAtTTL", "Counters/WindowEndsAtResetAt", "Counters/DecrementOfEndedWindowDoesNotRevive",
			"Tokens/ExpireAtExactTime",
		}},
		{mutant: "caseSensitiveLogin", wantFail: []string{"Accounts/ByLoginIgnoresCaseAndSpace"}},
		{mutant: "loginInAnyScope", wantFail: []string{"Accounts/ScopesAreSeparate"}},
		{mutant: "emptyLoginMatches", wantFail: []string{"Accounts/EmptyLoginMatchesNothing"}},
		{mutant: "dropsDisabled", wantFail: []string{"Accounts/ByRef"}},
		{mutant: "emailIgnored", wantFail: []string{"AccountCreator/EmailTaken"}},
		{mutant: "setsEveryPassword", wantFail: []string{"PasswordSetter/SetsOnlyThatAccount"}},
		{mutant: "revokeAnyOwner", wantFail: []string{"APIKeys/RevokeByOtherAccount"}},
		{mutant: "keysNewestFirst", wantFail: []string{"APIKeys/ListOldestFirst"}},
		{mutant: "sharedKeyList", wantFail: []string{"APIKeys/ListIsACopy"}},
		{mutant: "keyValidAtExpiry", wantFail: []string{"APIKeys/ExpiresAtExactTime"}},
		{mutant: "recordUseIgnored", wantFail: []string{
			"APIKeys/RecordUseCountsAndSetsLastUse", "APIKeys/RecordUseConcurrentCountsAll",
		}},
		{mutant: "recordUseReadThenWrite", wantFail: []string{"APIKeys/RecordUseConcurrentCountsAll"}},
		{mutant: "recordUseLastWriteWins", wantFail: []string{"APIKeys/RecordUseOlderDoesNotGoBack"}},
		{mutant: "recordUseNegative", wantFail: []string{"APIKeys/RecordUseNegativeIsAnError"}},
		{mutant: "sessionDropsSwitch", wantFail: []string{"Sessions/SwitchedSessionKeepsItsAdministrator"}},
		{mutant: "sessionValidAtExpiry", wantFail: []string{"Sessions/ExpiresAtExactTime"}},
		{mutant: "touchRevives", wantFail: []string{
			"Sessions/TouchOfExpiredSessionStaysGone", "Sessions/TouchOfDeletedSessionStaysGone",
		}},
		{mutant: "deleteIgnoresKeep", wantFail: []string{"Sessions/DeleteAccountSessionsKeepsOne"}},
		{mutant: "claimAlwaysWins", wantFail: []string{"Claims/FirstWins", "Claims/ConcurrentExactlyOne"}},
		{mutant: "claimCheckThenSet", wantFail: []string{"Claims/ConcurrentExactlyOne"}},
		{mutant: "claimZeroTTL", wantFail: []string{"Claims/NonPositiveTTLIsAnError"}},
		{mutant: "slidingWindow", wantFail: []string{"Counters/CountsWithinWindow"}},
		{mutant: "incrementReadThenWrite", wantFail: []string{"Counters/ConcurrentIncrements"}},
		{mutant: "decrementIgnored", wantFail: []string{"Counters/DecrementTakesBackOne", "Counters/ConcurrentDecrements"}},
		{mutant: "decrementBelowZero", wantFail: []string{
			"Counters/DecrementNeverBelowZero", "Counters/ConcurrentDecrementsStopAtZero",
		}},
		{mutant: "decrementUpserts", wantFail: []string{
			"Counters/DecrementOfAbsentCounterKeepsItAbsent", "Counters/DecrementOfEndedWindowDoesNotRevive",
		}},
		{mutant: "decrementRevives", wantFail: []string{"Counters/DecrementOfEndedWindowDoesNotRevive"}},
		{mutant: "decrementMovesWindow", wantFail: []string{"Counters/DecrementKeepsWindowEnd"}},
		{mutant: "decrementReadThenWrite", wantFail: []string{
			"Counters/ConcurrentIncrementDecrementPairs", "Counters/ConcurrentDecrements",
			"Counters/ConcurrentDecrementsStopAtZero",
		}},
		{mutant: "tokenTakeKeeps", wantFail: []string{"Tokens/TakeIsSingleUse", "Tokens/ConcurrentTakeExactlyOne"}},
		{mutant: "tokenTakeCheckThenDelete", wantFail: []string{"Tokens/ConcurrentTakeExactlyOne"}},
		{mutant: "tokenReplacesLive", wantFail: []string{"Tokens/HashTakenWhileLive"}},
		{mutant: "tfaIgnoresVersion", wantFail: []string{
			"TFA/StalePutIsConflict", "TFA/NewStateNeedsVersionZero",
			"TFA/ConcurrentCreateExactlyOne", "TFA/ConcurrentPutExactlyOne",
		}},
		{mutant: "tfaCheckThenPut", wantFail: []string{"TFA/ConcurrentCreateExactlyOne", "TFA/ConcurrentPutExactlyOne"}},
		{mutant: "tfaUseBumpsVersion", wantFail: []string{"TFA/UsesKeepVersion"}},
		{mutant: "createsInvalid", wantFail: []string{"AccountCreator/InvalidAccountIsAnError"}},
		{mutant: "generationNotFound", wantFail: []string{"Generations/NoneRecordedIsZero", "Generations/AgreesWithAccounts"}},
		{mutant: "generationLags", wantFail: []string{"Generations/AgreesWithAccounts"}},
		{mutant: "generationOfKeptAccountsOnly", wantFail: []string{"Generations/TFAFlipRaisesWithoutAccount"}},
		{mutant: "setPasswordKeepsGeneration", wantFail: []string{
			"PasswordSetter/SetPasswordRaisesGeneration", "PasswordSetter/ConcurrentSetPasswordLosesNoRaise",
			"PasswordSetter/ConcurrentRehashNeverUndoesSetPassword",
		}},
		{mutant: "setPasswordRaisesIfChanged", wantFail: []string{"PasswordSetter/SetPasswordRaisesGeneration"}},
		{mutant: "setPasswordRaiseReadThenWrite", wantFail: []string{"PasswordSetter/ConcurrentSetPasswordLosesNoRaise"}},
		{mutant: "rehashRaisesGeneration", wantFail: []string{"PasswordSetter/RehashKeepsGeneration"}},
		{mutant: "rehashIgnoresOld", wantFail: []string{
			"PasswordSetter/RehashOfChangedHashIsConflict", "PasswordSetter/ConcurrentRehashNeverUndoesSetPassword",
		}},
		{mutant: "rehashCheckThenSet", wantFail: []string{"PasswordSetter/ConcurrentRehashNeverUndoesSetPassword"}},
		{mutant: "updateIgnoresEmail", wantFail: []string{"AccountUpdater/EmailChangeRaisesGeneration"}},
		{mutant: "updateComparesEmailVerbatim", wantFail: []string{"AccountUpdater/EmailChangeRaisesGeneration"}},
		{mutant: "updateRaisesOnAnyChange", wantFail: []string{"AccountUpdater/EmailChangeRaisesGeneration"}},
		{mutant: "updateDropsHash", wantFail: []string{"AccountUpdater/PasswordHashRaisesGeneration"}},
		{mutant: "updateRaisesTwice", wantFail: []string{"AccountUpdater/PasswordHashRaisesGeneration"}},
		{mutant: "updateRaisesOnRefusal", wantFail: []string{"AccountUpdater/RefusedUpdateDoesNotRaise"}},
		{mutant: "tfaKeepsGeneration", wantFail: []string{
			"TFA/EnabledFlipRaisesGeneration", "TFA/ConcurrentFlipsRaiseOnce", "TFA/RaisesWithoutAccountRecord",
		}},
		{mutant: "tfaRaisesEveryPut", wantFail: []string{"TFA/EnabledFlipRaisesGeneration"}},
		{mutant: "tfaRaisesOnConflict", wantFail: []string{"TFA/RefusedPutDoesNotRaise", "TFA/ConcurrentFlipsRaiseOnce"}},
		{mutant: "tfaRaisesOnlyKeptAccounts", wantFail: []string{"TFA/RaisesWithoutAccountRecord"}},
		{mutant: "tfaUseRaises", wantFail: []string{"TFA/EnabledFlipRaisesGeneration"}},
		{mutant: "sessionDropsGeneration", wantFail: []string{"Sessions/KeepsGenerationAndParent", "Sessions/CreateAndGet"}},
		{mutant: "sessionDropsParent", wantFail: []string{
			"Sessions/KeepsGenerationAndParent", "Sessions/SwitchedSessionKeepsItsAdministrator",
		}},
		{mutant: "sessionReuseKeepsGeneration", wantFail: []string{"Sessions/KeepsGenerationAndParent"}},
		{mutant: "generationFromCaller", wantFail: []string{"Accounts/ByRef", "AccountUpdater/EmailChangeRaisesGeneration"}},
		{
			// SQLite's answer: the group is skipped, with a log line.
			mutant:  "invalidationsNotSupported",
			wantLog: "answers store.ErrNotSupported to Invalidations;",
		},
		{mutant: "invalidatedBeforeListening", wantFail: []string{"Invalidations/FirstCallIsListening"}},
		{mutant: "dropsEveryOther", wantFail: []string{
			"Invalidations/FirstCallIsListening", "Invalidations/HeardWithExactRef", "Invalidations/EveryWatcherHears",
			"Invalidations/NoCallAfterStop", "Invalidations/OneCallAtATime",
		}},
		{mutant: "scopeLost", wantFail: []string{"Invalidations/HeardWithExactRef"}},
		{mutant: "refThroughFloat", wantFail: []string{"Invalidations/HeardWithExactRef"}},
		{mutant: "lastWatcherOnly", wantFail: []string{"Invalidations/EveryWatcherHears", "Invalidations/NoCallAfterStop"}},
		{mutant: "callsAfterStop", wantFail: []string{"Invalidations/NoCallAfterStop"}},
		{mutant: "stopDoesNotWait", wantFail: []string{"Invalidations/StopWaitsForRunningCall"}},
		{mutant: "concurrentCalls", wantFail: []string{"Invalidations/OneCallAtATime"}},
		{mutant: "acceptsInvalidRef", wantFail: []string{"Invalidations/InvalidRefIsAnError"}},
	}
	for _, tc := range tests {
		t.Run(tc.mutant, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run="+childRun(tc.wantFail), "-test.v", "-test.count=1")
			// A Memory's watchers hear at once: a case that waits longer
			// waits for a message its mutant lost.
			cmd.Env = append(os.Environ(), mutantEnv+"="+tc.mutant, storetest.WaitEnv+"=250ms")
			out, err := cmd.CombinedOutput()
			output := string(out)
			if len(tc.wantFail) == 0 && err != nil {
				t.Fatalf("the suite failed store %s: %v\n%s", tc.mutant, err, output)
			}
			if len(tc.wantFail) > 0 && err == nil {
				t.Fatalf("the suite passed store %s, which has a bug", tc.mutant)
			}
			for _, name := range tc.wantFail {
				if !hasResult(output, "FAIL", name) {
					t.Errorf("store %s: %s did not fail\n%s", tc.mutant, name, failures(output))
				}
			}
			for _, name := range tc.wantSkip {
				if !hasResult(output, "SKIP", name) {
					t.Errorf("store %s: %s was not skipped", tc.mutant, name)
				}
			}
			if !strings.Contains(output, tc.wantLog) {
				t.Errorf("store %s: output lacks %q\n%s", tc.mutant, tc.wantLog, output)
			}
		})
	}
}

// childRun returns the -test.run pattern of a child that must fail the
// subtests in wantFail: only their groups, or every group if there are
// none (a store that must pass).
func childRun(wantFail []string) string {
	var groups []string
	for _, name := range wantFail {
		group, _, _ := strings.Cut(name, "/")
		if !slices.Contains(groups, group) {
			groups = append(groups, group)
		}
	}
	if len(groups) == 0 {
		return "^TestMutantChild$"
	}
	return "^TestMutantChild$/^(" + strings.Join(groups, "|") + ")$"
}

// hasResult reports whether output has a result line for subtest name.
func hasResult(output, result, name string) bool {
	return regexp.MustCompile(`--- ` + result + `: TestMutantChild/` + regexp.QuoteMeta(name) + ` `).MatchString(output)
}

// failures returns the FAIL lines of output.
func failures(output string) string {
	var lines []string
	for line := range strings.Lines(output) {
		if strings.Contains(line, "--- FAIL") {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "")
}

// TestMutantChild runs the suite against the store named by
// KEYWARD_STORETEST_MUTANT; TestSuiteCatchesMutants starts it.
func TestMutantChild(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("run by TestSuiteCatchesMutants")
	}
	storetest.Run(t, func(t *testing.T, now func() time.Time) any {
		s := newMutant(name, now)
		if s == nil {
			t.Fatalf("no store %q", name)
		}
		return s
	})
}

// newMutant returns the store called name, deciding expiry with now.
func newMutant(name string, now func() time.Time) any {
	m := store.NewMemory(store.MemoryConfig{Now: now})
	b := &broken{Memory: m, now: now, name: name, keys: make(map[store.Hash]store.APIKey),
		sessions: make(map[store.Hash]store.Session), offsets: make(map[store.AccountRef]int64)}
	switch name {
	case "none":
		return m
	case "sessionsClaimsCounters":
		return struct {
			store.SessionFinder
			store.SessionWriter
			store.Claims
			store.Counters
			store.CounterReader
		}{m, m, m, m, m}
	case "readOnlyAccounts":
		return struct{ store.Accounts }{m}
	case "tokensOnly":
		return struct{ store.Tokens }{m}
	case "combinedReadOnly":
		return store.Combine(struct{ store.Durable }{m}, m)
	case "ownClock":
		start := clocktest.Start()
		return store.NewMemory(store.MemoryConfig{Now: func() time.Time { return start }})
	case "claimCheckThenSet":
		return &racyClaims{Memory: m, now: now, until: make(map[string]time.Time)}
	case "incrementReadThenWrite":
		return &racyCounters{Memory: m}
	case "decrementIgnored", "decrementBelowZero", "decrementUpserts", "decrementRevives",
		"decrementMovesWindow", "decrementReadThenWrite":
		return &brokenDecrement{Memory: m, now: now, name: name, byKey: make(map[string]mapCounter)}
	case "recordUseReadThenWrite", "recordUseLastWriteWins":
		return &racyKeyUse{Memory: m, lastWriteWins: name == "recordUseLastWriteWins"}
	case "tokenTakeCheckThenDelete":
		return &racyTokens{Memory: m, now: now, byHash: make(map[store.Hash]store.Token)}
	case "tfaCheckThenPut":
		return &racyTFA{Memory: m}
	case "setPasswordRaiseReadThenWrite":
		return &racyRaise{broken: b}
	case "rehashCheckThenSet":
		return &racyRehash{Memory: m}
	case "invalidationsNotSupported", "invalidatedBeforeListening", "dropsEveryOther", "scopeLost",
		"refThroughFloat", "lastWatcherOnly", "callsAfterStop", "stopDoesNotWait", "concurrentCalls",
		"acceptsInvalidRef":
		return &brokenChannel{Memory: m, name: name}
	case "caseSensitiveLogin", "loginInAnyScope", "emptyLoginMatches", "dropsDisabled",
		"emailIgnored", "setsEveryPassword", "revokeAnyOwner", "keysNewestFirst",
		"sharedKeyList", "keyValidAtExpiry", "recordUseIgnored", "recordUseNegative",
		"sessionValidAtExpiry", "sessionDropsSwitch", "touchRevives", "deleteIgnoresKeep",
		"claimAlwaysWins", "claimZeroTTL", "slidingWindow", "tokenTakeKeeps", "tokenReplacesLive",
		"tfaIgnoresVersion", "tfaUseBumpsVersion",
		"setPasswordKeepsGeneration", "setPasswordRaisesIfChanged", "rehashRaisesGeneration", "rehashIgnoresOld",
		"updateIgnoresEmail", "updateComparesEmailVerbatim", "updateRaisesOnAnyChange", "updateDropsHash",
		"updateRaisesTwice", "updateRaisesOnRefusal", "tfaKeepsGeneration", "tfaRaisesEveryPut",
		"tfaRaisesOnConflict", "tfaRaisesOnlyKeptAccounts", "tfaUseRaises", "createsInvalid",
		"generationNotFound", "generationLags", "generationOfKeptAccountsOnly",
		"sessionDropsGeneration", "sessionDropsParent", "sessionReuseKeepsGeneration", "generationFromCaller":
		return b
	}
	return nil
}

// broken is a [store.Memory] with the bug its name says.
type broken struct {
	*store.Memory
	now  func() time.Time
	name string

	mu       sync.Mutex
	noEmail  []store.Account // accounts created without an email
	accounts []store.Account
	keys     map[store.Hash]store.APIKey
	sessions map[store.Hash]store.Session
	keyLists map[store.AccountRef][]store.APIKey
	// offsets are added to the generations the Memory reports: -1 for
	// each raise the bug forgets, +1 for each it makes up.
	offsets map[store.AccountRef]int64
}

// shift adds n to the generation b reports for ref.
func (b *broken) shift(ref store.AccountRef, n int64) {
	b.mu.Lock()
	b.offsets[ref] += n
	b.mu.Unlock()
}

// withOffset returns a with the generation b reports.
func (b *broken) withOffset(a store.Account, err error) (store.Account, error) {
	if err != nil {
		return a, err
	}
	b.mu.Lock()
	a.Generation += b.offsets[a.Ref()]
	b.mu.Unlock()
	return a, nil
}

// generation returns the generation the Memory keeps for ref, if it
// keeps the account.
func (b *broken) generation(ctx context.Context, ref store.AccountRef) (int64, bool) {
	a, err := b.Memory.Account(ctx, ref)
	return a.Generation, err == nil
}

func (b *broken) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	return b.withOffset(b.Memory.Account(ctx, ref))
}

func (b *broken) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	if b.name == "createsInvalid" {
		// Fills in what is missing rather than refuse.
		if !a.Scope.Valid() {
			a.Scope = scopes.User
		}
		if store.NormalizeLogin(a.Username) == "" {
			a.Username = "user " + a.Email
		}
	}
	if b.name == "dropsDisabled" {
		a.Disabled = false
	}
	if b.name == "emailIgnored" {
		a.Email = ""
	}
	got, err := b.Memory.CreateAccount(ctx, a)
	if err == nil && b.name == "generationFromCaller" {
		// Writes the account's Generation as given.
		b.shift(got.Ref(), a.Generation)
	}
	if err == nil {
		b.mu.Lock()
		b.accounts = append(b.accounts, got)
		if got.Email == "" {
			b.noEmail = append(b.noEmail, got)
		}
		b.mu.Unlock()
	}
	return got, err
}

func (b *broken) AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, error) {
	return b.withOffset(b.accountByLogin(ctx, scope, login))
}

func (b *broken) accountByLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, error) {
	switch b.name {
	case "caseSensitiveLogin":
		if login != store.NormalizeLogin(login) {
			return store.Account{}, store.ErrNotFound
		}
	case "loginInAnyScope":
		if a, err := b.Memory.AccountByLogin(ctx, scope, login); err == nil {
			return a, nil
		}
		return b.Memory.AccountByLogin(ctx, scopes.User+scopes.Admin-scope, login)
	case "emptyLoginMatches":
		b.mu.Lock()
		defer b.mu.Unlock()
		if store.NormalizeLogin(login) == "" && len(b.noEmail) > 0 {
			return b.noEmail[0], nil
		}
	}
	return b.Memory.AccountByLogin(ctx, scope, login)
}

func (b *broken) SetPassword(ctx context.Context, ref store.AccountRef, hash string) error {
	old, _ := b.Memory.Account(ctx, ref)
	if err := b.Memory.SetPassword(ctx, ref, hash); err != nil {
		return err
	}
	switch b.name {
	case "setPasswordKeepsGeneration":
		b.shift(ref, -1)
	case "setPasswordRaisesIfChanged":
		// Raises only when the hash differs: a reset to the same
		// password leaves the sessions of whoever knew it.
		if old.PasswordHash == hash {
			b.shift(ref, -1)
		}
	case "setsEveryPassword":
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, a := range b.accounts {
			_ = b.Memory.SetPassword(ctx, a.Ref(), hash)
		}
	}
	return nil
}

func (b *broken) RehashPassword(ctx context.Context, ref store.AccountRef, old, hash string) error {
	switch b.name {
	case "rehashIgnoresOld":
		// Writes the new hash over whatever is there, without a raise.
		if _, ok := b.generation(ctx, ref); !ok {
			return store.ErrNotFound
		}
		if err := b.Memory.SetPassword(ctx, ref, hash); err != nil {
			return err
		}
		b.shift(ref, -1)
		return nil
	case "rehashRaisesGeneration":
		if err := b.Memory.RehashPassword(ctx, ref, old, hash); err != nil {
			return err
		}
		b.shift(ref, 1)
		return nil
	}
	return b.Memory.RehashPassword(ctx, ref, old, hash)
}

func (b *broken) UpdateAccount(ctx context.Context, a store.Account) error {
	old, _ := b.Memory.Account(ctx, a.Ref())
	if b.name == "updateDropsHash" {
		a.PasswordHash = ""
	}
	err := b.Memory.UpdateAccount(ctx, a)
	if err != nil {
		if b.name == "updateRaisesOnRefusal" && errors.Is(err, store.ErrConflict) {
			b.shift(a.Ref(), 1)
		}
		return err
	}
	emailChanged := store.NormalizeLogin(old.Email) != store.NormalizeLogin(a.Email)
	raised := a.PasswordHash != "" || emailChanged
	switch b.name {
	case "generationFromCaller":
		// Writes the account's Generation as given (then raises it).
		shown, _ := b.Account(ctx, a.Ref())
		if raised {
			a.Generation++
		}
		b.shift(a.Ref(), a.Generation-shown.Generation)
	case "updateIgnoresEmail":
		if raised && a.PasswordHash == "" {
			b.shift(a.Ref(), -1)
		}
	case "updateComparesEmailVerbatim":
		if !raised && old.Email != a.Email {
			b.shift(a.Ref(), 1)
		}
	case "updateRaisesOnAnyChange":
		if !raised {
			b.shift(a.Ref(), 1)
		}
	case "updateRaisesTwice":
		if a.PasswordHash != "" && emailChanged {
			b.shift(a.Ref(), 1)
		}
	}
	return nil
}

func (b *broken) CreateAPIKey(ctx context.Context, k store.APIKey) (store.APIKey, error) {
	got, err := b.Memory.CreateAPIKey(ctx, k)
	if err == nil {
		b.mu.Lock()
		b.keys[got.Hash] = got
		b.keyLists = nil
		b.mu.Unlock()
	}
	return got, err
}

func (b *broken) APIKeyByHash(ctx context.Context, h store.Hash) (store.APIKey, error) {
	got, err := b.Memory.APIKeyByHash(ctx, h)
	if b.name == "keyValidAtExpiry" && err != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		if k, ok := b.keys[h]; ok && k.ExpiresAt.Equal(b.now()) {
			return k, nil
		}
	}
	return got, err
}

func (b *broken) RecordAPIKeyUse(ctx context.Context, id int64, at time.Time, ip string, requests int64) error {
	switch b.name {
	case "recordUseIgnored":
		return nil
	case "recordUseNegative":
		requests = max(requests, 0)
	}
	return b.Memory.RecordAPIKeyUse(ctx, id, at, ip, requests)
}

func (b *broken) APIKeys(ctx context.Context, owner store.AccountRef) ([]store.APIKey, error) {
	switch b.name {
	case "keysNewestFirst":
		keys, err := b.Memory.APIKeys(ctx, owner)
		slices.Reverse(keys)
		return keys, err
	case "sharedKeyList":
		b.mu.Lock()
		defer b.mu.Unlock()
		if keys, ok := b.keyLists[owner]; ok {
			return keys, nil
		}
		keys, err := b.Memory.APIKeys(ctx, owner)
		if b.keyLists == nil {
			b.keyLists = make(map[store.AccountRef][]store.APIKey)
		}
		b.keyLists[owner] = keys
		return keys, err
	}
	return b.Memory.APIKeys(ctx, owner)
}

func (b *broken) RevokeAPIKey(ctx context.Context, owner store.AccountRef, id int64) error {
	b.mu.Lock()
	b.keyLists = nil
	if b.name == "revokeAnyOwner" {
		for _, k := range b.keys {
			if k.ID == id {
				owner = k.Account
			}
		}
	}
	b.mu.Unlock()
	return b.Memory.RevokeAPIKey(ctx, owner, id)
}

func (b *broken) CreateSession(ctx context.Context, s store.Session) error {
	switch b.name {
	case "sessionDropsSwitch":
		// A store whose schema predates switched sessions.
		s.SwitchedBy, s.SwitchPrivilege = store.AccountRef{}, ""
	case "sessionDropsGeneration":
		s.Generation = 0
	case "sessionDropsParent":
		s.Parent = store.Hash{}
	case "sessionReuseKeepsGeneration":
		// An upsert over an expired session that forgets the new
		// columns: the old generation and parent stay.
		b.mu.Lock()
		prev, ok := b.sessions[s.Hash]
		b.mu.Unlock()
		if _, err := b.Memory.Session(ctx, s.Hash); ok && errors.Is(err, store.ErrNotFound) {
			s.Generation, s.Parent = prev.Generation, prev.Parent
		}
	}
	err := b.Memory.CreateSession(ctx, s)
	if err == nil {
		b.mu.Lock()
		b.sessions[s.Hash] = s
		b.mu.Unlock()
	}
	return err
}

func (b *broken) Session(ctx context.Context, h store.Hash) (store.Session, error) {
	got, err := b.Memory.Session(ctx, h)
	if b.name == "sessionValidAtExpiry" && err != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		if s, ok := b.sessions[h]; ok && s.ExpiresAt.Equal(b.now()) {
			return s, nil
		}
	}
	return got, err
}

func (b *broken) TouchSession(ctx context.Context, h store.Hash, lastSeen, expires time.Time) error {
	err := b.Memory.TouchSession(ctx, h, lastSeen, expires)
	if b.name == "touchRevives" && err != nil {
		// An upsert: the session comes back.
		b.mu.Lock()
		s, ok := b.sessions[h]
		b.mu.Unlock()
		if ok {
			s.LastSeenAt, s.ExpiresAt = lastSeen, expires
			_ = b.Memory.DeleteSession(ctx, h)
			return b.Memory.CreateSession(ctx, s)
		}
	}
	return err
}

func (b *broken) DeleteAccountSessions(ctx context.Context, owner store.AccountRef, keep store.Hash) (int, error) {
	if b.name == "deleteIgnoresKeep" {
		keep = store.Hash{}
	}
	return b.Memory.DeleteAccountSessions(ctx, owner, keep)
}

func (b *broken) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	switch b.name {
	case "claimAlwaysWins":
		_, _ = b.Memory.Claim(ctx, key, ttl)
		return true, nil
	case "claimZeroTTL":
		if ttl <= 0 {
			return true, nil
		}
	}
	return b.Memory.Claim(ctx, key, ttl)
}

func (b *broken) TakeToken(ctx context.Context, h store.Hash) (store.Token, error) {
	tok, err := b.Memory.TakeToken(ctx, h)
	if b.name == "tokenTakeKeeps" && err == nil {
		// Checks the token but forgets to use it up.
		_ = b.Memory.PutToken(ctx, tok)
	}
	return tok, err
}

func (b *broken) PutToken(ctx context.Context, tok store.Token) error {
	if b.name == "tokenReplacesLive" {
		// An upsert: a new token with a live one's hash replaces it.
		_, _ = b.Memory.TakeToken(ctx, tok.Hash)
	}
	return b.Memory.PutToken(ctx, tok)
}

func (b *broken) PutTFA(ctx context.Context, t store.TFA) error {
	if b.name == "tfaIgnoresVersion" {
		// The upsert of old: the caller's Version is not compared.
		t.Version = 0
		if cur, err := b.Memory.TFA(ctx, t.Account); err == nil {
			t.Version = cur.Version
		}
	}
	was, _ := b.Memory.TFA(ctx, t.Account) // none: off
	err := b.Memory.PutTFA(ctx, t)
	if err != nil {
		if b.name == "tfaRaisesOnConflict" && errors.Is(err, store.ErrConflict) {
			// Raises before it compares the version.
			b.shift(t.Account, 1)
		}
		return err
	}
	flipped := was.Enabled != t.Enabled
	switch b.name {
	case "tfaKeepsGeneration":
		if flipped {
			b.shift(t.Account, -1)
		}
	case "tfaRaisesEveryPut":
		if !flipped {
			b.shift(t.Account, 1)
		}
	case "tfaRaisesOnlyKeptAccounts":
		// Raises a column of the account's record: none, no raise.
		if _, kept := b.generation(ctx, t.Account); flipped && !kept {
			b.shift(t.Account, -1)
		}
	}
	return nil
}

func (b *broken) AdvanceTFAStep(ctx context.Context, ref store.AccountRef, step int64) (bool, error) {
	adv, err := b.Memory.AdvanceTFAStep(ctx, ref, step)
	switch {
	case !adv:
	case b.name == "tfaUseRaises":
		b.shift(ref, 1)
	case b.name == "tfaUseBumpsVersion":
		// Writes the state back through PutTFA.
		if st, err := b.Memory.TFA(ctx, ref); err == nil {
			_ = b.Memory.PutTFA(ctx, st)
		}
	}
	return adv, err
}

func (b *broken) Generation(ctx context.Context, ref store.AccountRef) (int64, error) {
	g, err := b.Memory.Generation(ctx, ref)
	b.mu.Lock()
	g += b.offsets[ref]
	b.mu.Unlock()
	switch b.name {
	case "generationNotFound":
		if g == 0 {
			return 0, store.ErrNotFound
		}
	case "generationLags":
		// Reads a copy that a raise reaches late.
		g = max(g-1, 0)
	case "generationOfKeptAccountsOnly":
		// Reads a column of the account's record: none, none recorded.
		if _, kept := b.generation(ctx, ref); !kept {
			return 0, nil
		}
	}
	return g, err
}

func (b *broken) Increment(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	if b.name == "slidingWindow" {
		// Each attempt pushes the window out: a steady guesser is never
		// reset, but neither does the reported end hold still.
		n, _, err := b.Memory.Increment(ctx, key, window)
		return n, b.now().Add(window), err
	}
	return b.Memory.Increment(ctx, key, window)
}

// racyClaims checks and then sets, in two steps: concurrent claims of one
// key can all win.
type racyClaims struct {
	*store.Memory
	now   func() time.Time
	mu    sync.Mutex
	until map[string]time.Time
}

func (r *racyClaims) Claim(_ context.Context, key string, ttl time.Duration) (bool, error) {
	r.mu.Lock()
	until, ok := r.until[key]
	r.mu.Unlock()
	if ok && until.After(r.now()) {
		return false, nil
	}
	time.Sleep(10 * time.Millisecond) // widen the window between check and set
	r.mu.Lock()
	r.until[key] = r.now().Add(ttl)
	r.mu.Unlock()
	return true, nil
}

// racyCounters reads and then writes, in two steps: concurrent increments
// are lost.
type racyCounters struct {
	*store.Memory
	mu     sync.Mutex
	counts map[string]int64
}

func (r *racyCounters) Increment(ctx context.Context, key string, window time.Duration) (int64, time.Time, error) {
	_, reset, err := r.Memory.Increment(ctx, key, window)
	r.mu.Lock()
	if r.counts == nil {
		r.counts = make(map[string]int64)
	}
	n := r.counts[key]
	r.mu.Unlock()
	time.Sleep(10 * time.Millisecond) // widen the window between read and write
	r.mu.Lock()
	r.counts[key] = n + 1
	r.mu.Unlock()
	return n + 1, reset, err
}

// brokenDecrement keeps counters of its own beside a [store.Memory], right
// but for the bug in Decrement its name says.
type brokenDecrement struct {
	*store.Memory
	now  func() time.Time
	name string

	mu    sync.Mutex
	byKey map[string]mapCounter
}

// mapCounter is one of brokenDecrement's counters, with the length of the
// window it was started with.
type mapCounter struct {
	n       int64
	resetAt time.Time
	window  time.Duration
}

func (b *brokenDecrement) Increment(_ context.Context, key string, window time.Duration) (int64, time.Time, error) {
	if window <= 0 {
		return 0, time.Time{}, errors.New("window is not positive")
	}
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.byKey[key]
	if !ok || !c.resetAt.After(now) {
		c = mapCounter{resetAt: now.Add(window), window: window}
	}
	c.n++
	b.byKey[key] = c
	return c.n, c.resetAt, nil
}

func (b *brokenDecrement) Count(_ context.Context, key string) (int64, time.Time, error) {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.byKey[key]
	if !ok || !c.resetAt.After(now) {
		return 0, time.Time{}, nil
	}
	return c.n, c.resetAt, nil
}

func (b *brokenDecrement) Reset(_ context.Context, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.byKey, key)
	return nil
}

func (b *brokenDecrement) Decrement(_ context.Context, key string) error {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.byKey[key]
	live := ok && c.resetAt.After(now)
	switch b.name {
	case "decrementIgnored":
		return nil
	case "decrementBelowZero":
		// Checks the window but not the count.
		if live {
			c.n--
			b.byKey[key] = c
		}
		return nil
	case "decrementUpserts":
		// An upsert with a default window: an absent or ended counter
		// comes back at zero.
		if !live {
			b.byKey[key] = mapCounter{resetAt: now.Add(time.Minute), window: time.Minute}
			return nil
		}
	case "decrementRevives":
		// Checks the count but not the window, then starts a window
		// for what it wrote: an ended counter comes back, one lower.
		if ok && !live && c.n > 0 {
			c.n--
			c.resetAt = now.Add(c.window)
			b.byKey[key] = c
			return nil
		}
	case "decrementMovesWindow":
		// Writes the counter back with a window from now.
		if live && c.n > 0 {
			c.n--
			c.resetAt = now.Add(c.window)
			b.byKey[key] = c
		}
		return nil
	case "decrementReadThenWrite":
		// Reads, then writes one less, in two steps: what others wrote
		// between is lost.
		if !live || c.n <= 0 {
			return nil
		}
		b.mu.Unlock()
		time.Sleep(10 * time.Millisecond) // widen the window between read and write
		b.mu.Lock()
		c.n--
		b.byKey[key] = c
		return nil
	}
	if live && c.n > 0 {
		c.n--
		b.byKey[key] = c
	}
	return nil
}

// racyKeyUse keeps API key usage beside the store: it reads the count and
// then writes it, in two steps, so concurrent uses are lost; or, with
// lastWriteWins, it counts right but sets the last use to whichever
// arrives last, older or not.
type racyKeyUse struct {
	*store.Memory
	lastWriteWins bool
	mu            sync.Mutex
	uses          map[int64]store.APIKey // only the usage fields
}

func (r *racyKeyUse) RecordAPIKeyUse(ctx context.Context, id int64, at time.Time, ip string, requests int64) error {
	// The store keeps the truth, so that absent, expired and negative
	// are as they should be; the usage read back is r's.
	if err := r.Memory.RecordAPIKeyUse(ctx, id, at, ip, requests); err != nil {
		return err
	}
	r.mu.Lock()
	if r.uses == nil {
		r.uses = make(map[int64]store.APIKey)
	}
	u := r.uses[id]
	if r.lastWriteWins {
		u.RequestCount += requests
		u.LastUsedAt, u.LastUsedIP = at, ip
		r.uses[id] = u
		r.mu.Unlock()
		return nil
	}
	r.mu.Unlock()
	time.Sleep(10 * time.Millisecond) // widen the window between read and write
	u.RequestCount += requests
	if at.After(u.LastUsedAt) {
		u.LastUsedAt, u.LastUsedIP = at, ip
	}
	r.mu.Lock()
	r.uses[id] = u
	r.mu.Unlock()
	return nil
}

// withUse returns k with r's usage fields.
func (r *racyKeyUse) withUse(k store.APIKey) store.APIKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.uses[k.ID]
	k.RequestCount, k.LastUsedAt, k.LastUsedIP = u.RequestCount, u.LastUsedAt, u.LastUsedIP
	return k
}

func (r *racyKeyUse) APIKeyByHash(ctx context.Context, h store.Hash) (store.APIKey, error) {
	k, err := r.Memory.APIKeyByHash(ctx, h)
	if err != nil {
		return k, err
	}
	return r.withUse(k), nil
}

func (r *racyKeyUse) APIKeys(ctx context.Context, owner store.AccountRef) ([]store.APIKey, error) {
	keys, err := r.Memory.APIKeys(ctx, owner)
	for i := range keys {
		keys[i] = r.withUse(keys[i])
	}
	return keys, err
}

// racyTokens checks for a token and then deletes it, in two steps:
// concurrent takes of one token can all get it.
type racyTokens struct {
	*store.Memory
	now    func() time.Time
	mu     sync.Mutex
	byHash map[store.Hash]store.Token
}

func (r *racyTokens) PutToken(_ context.Context, tok store.Token) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byHash[tok.Hash]; ok && old.ExpiresAt.After(r.now()) {
		return store.ErrConflict
	}
	r.byHash[tok.Hash] = tok
	return nil
}

func (r *racyTokens) TakeToken(_ context.Context, h store.Hash) (store.Token, error) {
	r.mu.Lock()
	tok, ok := r.byHash[h]
	r.mu.Unlock()
	if !ok || !tok.ExpiresAt.After(r.now()) {
		return store.Token{}, store.ErrNotFound
	}
	time.Sleep(10 * time.Millisecond) // widen the window between check and delete
	r.mu.Lock()
	delete(r.byHash, h)
	r.mu.Unlock()
	return tok, nil
}

// racyTFA compares the version and then writes, in two steps: concurrent
// puts from one read can all pass the check, and the last write wins.
type racyTFA struct {
	*store.Memory
}

func (r *racyTFA) PutTFA(ctx context.Context, t store.TFA) error {
	version := func() int64 {
		cur, err := r.Memory.TFA(ctx, t.Account)
		if err != nil {
			return 0
		}
		return cur.Version
	}
	if version() != t.Version {
		return store.ErrConflict
	}
	time.Sleep(10 * time.Millisecond) // widen the window between check and write
	for {
		// Writes whatever was stored meanwhile.
		t.Version = version()
		if err := r.Memory.PutTFA(ctx, t); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
}

// racyRaise raises the generation by reading it and then writing one
// more, in two steps: concurrent password changes lose raises. (The
// Memory raises right; racyRaise hides the raises its own count lost.)
type racyRaise struct {
	*broken
	racy, exact map[store.AccountRef]int64
}

func (r *racyRaise) SetPassword(ctx context.Context, ref store.AccountRef, hash string) error {
	if err := r.Memory.SetPassword(ctx, ref, hash); err != nil {
		return err
	}
	r.mu.Lock()
	if r.racy == nil {
		r.racy, r.exact = make(map[store.AccountRef]int64), make(map[store.AccountRef]int64)
	}
	r.exact[ref]++
	read := r.racy[ref]
	r.mu.Unlock()
	time.Sleep(10 * time.Millisecond) // widen the window between read and write
	r.mu.Lock()
	r.racy[ref] = read + 1
	r.offsets[ref] = r.racy[ref] - r.exact[ref]
	r.mu.Unlock()
	return nil
}

// racyRehash compares the hash and then writes, in two steps: a rehash
// that passed the check lands after a password change and undoes it.
type racyRehash struct {
	*store.Memory
}

func (r *racyRehash) RehashPassword(ctx context.Context, ref store.AccountRef, old, hash string) error {
	a, err := r.Memory.Account(ctx, ref)
	if err != nil {
		return err
	}
	if a.PasswordHash != old {
		return store.ErrConflict
	}
	time.Sleep(10 * time.Millisecond) // widen the window between check and write
	for {
		// Writes over whatever was stored meanwhile, without a raise.
		cur, err := r.Memory.Account(ctx, ref)
		if err != nil {
			return err
		}
		if err := r.Memory.RehashPassword(ctx, ref, cur.PasswordHash, hash); !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
}

// brokenChannel is a [store.Memory] whose invalidations have the bug its
// name says.
type brokenChannel struct {
	*store.Memory
	name string

	mu    sync.Mutex
	sent  int    // valid refs invalidated so far
	watch func() // the stop of the latest watch
}

func (b *brokenChannel) Invalidate(ctx context.Context, ref store.AccountRef) error {
	_, invalid := ref.MarshalText()
	switch {
	case b.name == "invalidationsNotSupported":
		return store.ErrNotSupported
	case invalid != nil:
		if b.name == "acceptsInvalidRef" {
			return nil // checks nothing, and sends nothing either
		}
	case b.name == "dropsEveryOther":
		// A channel that loses messages, and says nothing.
		b.mu.Lock()
		b.sent++
		lost := b.sent%2 == 0
		b.mu.Unlock()
		if lost {
			return nil
		}
	case b.name == "scopeLost":
		// Sends the ID alone.
		ref.Scope = scopes.User
	case b.name == "refThroughFloat":
		// Sends the ref as a JSON number would carry it.
		ref.ID = int64(float64(ref.ID))
	}
	return b.Memory.Invalidate(ctx, ref)
}

func (b *brokenChannel) WatchInvalidations(w store.InvalidationWatcher) (func(), error) {
	if b.name == "invalidationsNotSupported" {
		return nil, store.ErrNotSupported
	}
	r := &relay{w: w, name: b.name}
	stop, err := b.Memory.WatchInvalidations(r)
	if err != nil {
		return nil, err
	}
	switch b.name {
	case "lastWatcherOnly":
		// One subscriber slot, which a new watch takes over.
		b.mu.Lock()
		prev := b.watch
		b.watch = stop
		b.mu.Unlock()
		if prev != nil {
			prev()
		}
	case "callsAfterStop":
		return func() {}, nil
	case "stopDoesNotWait":
		// Stops new calls but not one that is running.
		return func() {
			r.stopped.Store(true)
			go stop()
		}, nil
	}
	return stop, nil
}

// relay passes a [brokenChannel]'s calls on to w, as its bug says.
type relay struct {
	w       store.InvalidationWatcher
	name    string
	stopped atomic.Bool
}

func (r *relay) Listening() {
	if r.name == "invalidatedBeforeListening" {
		// Registers the watcher, then says it listens from a goroutine:
		// what is sent meanwhile comes first.
		go func() {
			time.Sleep(20 * time.Millisecond)
			r.w.Listening()
		}()
		return
	}
	r.w.Listening()
}

func (r *relay) Deaf() { r.w.Deaf() }

func (r *relay) Invalidated(ref store.AccountRef) {
	switch {
	case r.name == "concurrentCalls":
		go r.w.Invalidated(ref) // a goroutine for each message
	case !r.stopped.Load():
		r.w.Invalidated(ref)
	}
}
