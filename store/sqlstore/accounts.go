package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// row is what scanning needs of *sql.Row and *sql.Rows.
type row interface{ Scan(dest ...any) error }

// scanAccount reads the columns of accountCols.
func scanAccount(r row) (store.Account, error) {
	var (
		a       store.Account
		scope   int64
		created sql.NullInt64
	)
	err := r.Scan(&a.ID, &scope, &a.Username, &a.Email, &a.Name, &a.FirstName, &a.LastName,
		&a.PasswordHash, &a.Disabled, &created)
	if err != nil {
		return store.Account{}, err
	}
	a.Scope = scopes.Scope(scope)
	a.CreatedAt = fromNullNanos(created)
	return a, nil
}

// Account returns the account with the given scope and ID, or
// [store.ErrNotFound].
func (s *Store) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	a, err := scanAccount(s.hot.account.QueryRowContext(ctx, ref.ID, int64(ref.Scope)))
	if err != nil {
		return store.Account{}, s.fail("account", err)
	}
	return a, nil
}

// AccountByLogin returns the account of the scope whose username or email
// address equals login after [store.NormalizeLogin], or
// [store.ErrNotFound]. A login that is empty after normalization matches
// no account; so does one that the database could not have stored (on
// PostgreSQL, one with a NUL byte or invalid UTF-8).
func (s *Store) AccountByLogin(ctx context.Context, scope scopes.Scope, login string) (store.Account, error) {
	login = store.NormalizeLogin(login)
	if login == "" || !s.storable(login) {
		return store.Account{}, store.ErrNotFound
	}
	a, err := scanAccount(s.hot.accountByLogin.QueryRowContext(ctx, int64(scope), login))
	if err != nil {
		return store.Account{}, s.fail("account by login", err)
	}
	return a, nil
}

// storable reports whether s can be stored in a TEXT column. PostgreSQL's
// refuses NUL bytes and invalid UTF-8; a login with either, from a
// request, is no account's, not a store failure.
func (s *Store) storable(text string) bool {
	return s.dialect != Postgres || (utf8.ValidString(text) && !strings.ContainsRune(text, 0))
}

// logins returns the distinct normalized logins of a, sorted, so that
// concurrent transactions insert them in one order and cannot deadlock.
func logins(a store.Account) []string {
	l := []string{store.NormalizeLogin(a.Username)}
	if email := store.NormalizeLogin(a.Email); email != "" && email != l[0] {
		l = append(l, email)
	}
	slices.Sort(l)
	return l
}

// CreateAccount stores a with a new ID and returns it; a.ID is ignored, and
// a zero CreatedAt is set to now. IDs come from one sequence across
// scopes.
//
// a's username, and its email address if not empty, must not equal after
// [store.NormalizeLogin] the username or email address of another account
// of the scope, or the result is [store.ErrConflict]. An account with no
// valid scope or an empty username is an error.
func (s *Store) CreateAccount(ctx context.Context, a store.Account) (store.Account, error) {
	if !a.Scope.Valid() {
		return store.Account{}, errors.New("sqlstore: account has no valid scope")
	}
	if store.NormalizeLogin(a.Username) == "" {
		return store.Account{}, errors.New("sqlstore: account has no username")
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now()
	}
	err := s.inTx(ctx, "create account", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, s.q.insertAccount, int64(a.Scope), a.Username, a.Email, a.Name,
			a.FirstName, a.LastName, a.PasswordHash, a.Disabled, nullNanos(a.CreatedAt)).Scan(&a.ID)
		if err != nil {
			return err
		}
		return s.insertLogins(ctx, tx, a)
	})
	if err != nil {
		return store.Account{}, err
	}
	return a, nil
}

// insertLogins adds a's logins; one taken is a unique violation.
func (s *Store) insertLogins(ctx context.Context, tx *sql.Tx, a store.Account) error {
	for _, login := range logins(a) {
		if _, err := tx.ExecContext(ctx, s.q.insertLogin, int64(a.Scope), login, a.ID); err != nil {
			return err
		}
	}
	return nil
}

// SetPasswordHash stores hash as the account's password hash, or returns
// [store.ErrNotFound].
func (s *Store) SetPasswordHash(ctx context.Context, ref store.AccountRef, hash string) error {
	n, err := s.exec(ctx, "set password hash", s.q.setPassword, ref.ID, int64(ref.Scope), hash)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// UpdateAccount sets the account's username, email address and names, or
// returns [store.ErrNotFound], or [store.ErrConflict] when another account
// of the scope has the username or email address; a refused update changes
// nothing.
func (s *Store) UpdateAccount(ctx context.Context, a store.Account) error {
	if store.NormalizeLogin(a.Username) == "" {
		return errors.New("sqlstore: account has no username")
	}
	return s.inTx(ctx, "update account", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q.updateAccount, a.ID, int64(a.Scope), a.Username, a.Email,
			a.Name, a.FirstName, a.LastName)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, s.q.deleteLogins, a.ID, int64(a.Scope)); err != nil {
			return err
		}
		return s.insertLogins(ctx, tx, a)
	})
}
