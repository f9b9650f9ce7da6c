package store

import (
	"context"
	"errors"
	"sync"

	"github.com/keyward/keyward/scopes"
)

// memoryAccounts holds the accounts of a [Memory].
type memoryAccounts struct {
	mu     sync.RWMutex
	byRef  map[AccountRef]Account
	lastID int64
	// byLogin maps every normalized username and non-empty email address
	// of a scope to its account's ID. Usernames and email addresses share
	// it, so a login names at most one account.
	byLogin map[loginKey]int64
	// generations holds the accounts' credential generations, apart from
	// the accounts: a 2FA change raises the generation of an account this
	// store keeps the 2FA state of, even one it does not keep (a host's).
	generations map[AccountRef]int64
}

// withGeneration returns a with its generation. s.mu must be held.
func (s *memoryAccounts) withGeneration(a Account) Account {
	a.Generation = s.generations[a.Ref()]
	return a
}

// raiseLocked raises ref's generation by one. s.mu must be held.
func (s *memoryAccounts) raiseLocked(ref AccountRef) { s.generations[ref]++ }

// loginKey is a normalized username or email address within a scope.
type loginKey struct {
	scope scopes.Scope
	login string
}

// Account returns the account with the given scope and ID, or
// [ErrNotFound]. It takes a read lock and does not allocate.
func (m *Memory) Account(_ context.Context, ref AccountRef) (Account, error) {
	m.ready()
	s := &m.accounts
	s.mu.RLock()
	a, ok := s.byRef[ref]
	a.Generation = s.generations[ref]
	s.mu.RUnlock()
	if !ok {
		return Account{}, ErrNotFound
	}
	return a, nil
}

// Generation returns the account's credential generation, also for an
// account this store does not keep (whose 2FA state it keeps): 0 when
// none is recorded. It takes a read lock and does not allocate.
func (m *Memory) Generation(_ context.Context, ref AccountRef) (int64, error) {
	m.ready()
	s := &m.accounts
	s.mu.RLock()
	g := s.generations[ref]
	s.mu.RUnlock()
	return g, nil
}

// AccountByLogin returns the account of the scope whose username or email
// address equals login after [NormalizeLogin], or [ErrNotFound]. A login
// that is empty after normalization matches no account.
func (m *Memory) AccountByLogin(_ context.Context, scope scopes.Scope, login string) (Account, error) {
	m.ready()
	login = NormalizeLogin(login)
	if login == "" {
		return Account{}, ErrNotFound
	}
	s := &m.accounts
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.byLogin[loginKey{scope: scope, login: login}]
	if !ok {
		return Account{}, ErrNotFound
	}
	return s.withGeneration(s.byRef[AccountRef{Scope: scope, ID: id}]), nil
}

// CreateAccount stores a with the next free ID (1, 2, ... across scopes)
// and returns it; a.ID is ignored, and a zero CreatedAt is set to now.
//
// a's username, and its email address if not empty, must not equal after
// [NormalizeLogin] the username or email address of another account of the
// scope, or the result is [ErrConflict]: a login names at most one account.
// An account with no valid scope or an empty username is an error.
func (m *Memory) CreateAccount(_ context.Context, a Account) (Account, error) {
	m.ready()
	if !a.Scope.Valid() {
		return Account{}, errors.New("store: account has no valid scope")
	}
	username, email := NormalizeLogin(a.Username), NormalizeLogin(a.Email)
	if username == "" {
		return Account{}, errors.New("store: account has no username")
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = m.now()
	}
	userKey := loginKey{scope: a.Scope, login: username}
	emailKey := loginKey{scope: a.Scope, login: email}

	s := &m.accounts
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, taken := s.byLogin[userKey]; taken {
		return Account{}, ErrConflict
	}
	if email != "" {
		if _, taken := s.byLogin[emailKey]; taken {
			return Account{}, ErrConflict
		}
	}
	s.lastID++
	a.ID = s.lastID
	s.byRef[a.Ref()] = a
	s.byLogin[userKey] = a.ID
	if email != "" {
		s.byLogin[emailKey] = a.ID
	}
	return s.withGeneration(a), nil
}

// SetPassword stores hash as the account's password hash and raises its
// generation, or returns [ErrNotFound].
func (m *Memory) SetPassword(_ context.Context, ref AccountRef, hash string) error {
	m.ready()
	s := &m.accounts
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byRef[ref]
	if !ok {
		return ErrNotFound
	}
	a.PasswordHash = hash
	s.byRef[ref] = a
	s.raiseLocked(ref)
	return nil
}

// RehashPassword replaces the account's password hash with hash if it is
// still old: [ErrConflict] if it is not, [ErrNotFound] if there is no
// account. The generation stays.
func (m *Memory) RehashPassword(_ context.Context, ref AccountRef, old, hash string) error {
	m.ready()
	s := &m.accounts
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.byRef[ref]
	switch {
	case !ok:
		return ErrNotFound
	case a.PasswordHash != old:
		return ErrConflict
	}
	a.PasswordHash = hash
	s.byRef[ref] = a
	return nil
}

// UpdateAccount sets the account's username, email address and names, and
// its password hash if a.PasswordHash is not empty, raising its generation
// when the email address or the password changes; or returns
// [ErrNotFound], or [ErrConflict] when another account of the scope has
// the username or email address.
func (m *Memory) UpdateAccount(_ context.Context, a Account) error {
	m.ready()
	username, email := NormalizeLogin(a.Username), NormalizeLogin(a.Email)
	if username == "" {
		return errors.New("store: account has no username")
	}
	userKey := loginKey{scope: a.Scope, login: username}
	emailKey := loginKey{scope: a.Scope, login: email}

	s := &m.accounts
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.byRef[a.Ref()]
	if !ok {
		return ErrNotFound
	}
	if id, taken := s.byLogin[userKey]; taken && id != a.ID {
		return ErrConflict
	}
	if email != "" {
		if id, taken := s.byLogin[emailKey]; taken && id != a.ID {
			return ErrConflict
		}
	}
	for _, login := range []string{NormalizeLogin(old.Username), NormalizeLogin(old.Email)} {
		k := loginKey{scope: a.Scope, login: login}
		if id, ok := s.byLogin[k]; ok && id == a.ID {
			delete(s.byLogin, k)
		}
	}
	s.byLogin[userKey] = a.ID
	if email != "" {
		s.byLogin[emailKey] = a.ID
	}
	if a.PasswordHash != "" || NormalizeLogin(old.Email) != email {
		s.raiseLocked(a.Ref())
	}
	if a.PasswordHash != "" {
		old.PasswordHash = a.PasswordHash
	}
	old.Username, old.Email, old.Name, old.FirstName, old.LastName = a.Username, a.Email, a.Name, a.FirstName, a.LastName
	s.byRef[a.Ref()] = old
	return nil
}
