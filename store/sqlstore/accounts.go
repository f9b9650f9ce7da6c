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
		&a.PasswordHash, &a.Disabled, &created, &a.Generation)
	if err != nil {
		return store.Account{}, err
	}
	a.Scope = scopes.Scope(scope)
	a.CreatedAt = fromNullNanos(created)
	return a, nil
}

// Account returns the account with the given scope and ID, with its
// generation, or [store.ErrNotFound]. It is one prepared SELECT.
func (s *Store) Account(ctx context.Context, ref store.AccountRef) (store.Account, error) {
	a, err := scanAccount(s.hot.account.QueryRowContext(ctx, ref.ID, int64(ref.Scope)))
	if err != nil {
		return store.Account{}, s.fail("account", err)
	}
	return a, nil
}

// AccountByLogin returns the account of the scope whose username or email
// address equals login after [store.NormalizeLogin], with its generation,
// or [store.ErrNotFound]. It is one prepared SELECT. A login that is empty after normalization matches
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

// CreateAccount stores a with a new ID and returns it, with its
// generation; a.ID and a.Generation are ignored, and a zero CreatedAt is
// set to now. IDs come from one sequence across scopes. A new account is at
// generation 0, unless a 2FA change was made under its scope and ID before
// it was created here (see [Store.PutTFA]).
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
		if err := s.insertLogins(ctx, tx, a); err != nil {
			return err
		}
		a.Generation, err = s.generationIn(ctx, tx, a.Ref())
		return err
	})
	if err != nil {
		return store.Account{}, err
	}
	return a, nil
}

// Generation returns the account's credential generation, also for an
// account this store does not keep (whose 2FA state it keeps): 0 when none
// is recorded. It is one prepared SELECT of the generations table.
func (s *Store) Generation(ctx context.Context, ref store.AccountRef) (int64, error) {
	var g int64
	err := s.hot.generation.QueryRowContext(ctx, int64(ref.Scope), ref.ID).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.fail("generation", err)
	}
	return g, nil
}

// generationIn returns the account's generation, read within tx.
func (s *Store) generationIn(ctx context.Context, tx *sql.Tx, ref store.AccountRef) (int64, error) {
	var g int64
	err := tx.QueryRowContext(ctx, s.q.generation, int64(ref.Scope), ref.ID).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return g, err
}

// raiseGeneration raises the account's generation by one, within tx.
func (s *Store) raiseGeneration(ctx context.Context, tx *sql.Tx, ref store.AccountRef) error {
	_, err := tx.ExecContext(ctx, s.q.raiseGeneration, int64(ref.Scope), ref.ID)
	return err
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

// SetPassword stores hash as the account's password hash and raises its
// generation by one, or returns [store.ErrNotFound]. One transaction: the
// UPDATE of the hash, then the upsert that raises the generation, whose
// row lock orders concurrent raises so that none is lost.
func (s *Store) SetPassword(ctx context.Context, ref store.AccountRef, hash string) error {
	return s.inTx(ctx, "set password", func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q.setPassword, ref.ID, int64(ref.Scope), hash)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		return s.raiseGeneration(ctx, tx, ref)
	})
}

// RehashPassword replaces the account's password hash with hash if it is
// still old, leaving the generation as it is: one UPDATE whose WHERE
// compares the hash on the locked row. A hash that has changed is
// [store.ErrConflict]; an absent account [store.ErrNotFound].
func (s *Store) RehashPassword(ctx context.Context, ref store.AccountRef, old, hash string) error {
	n, err := s.exec(ctx, "rehash password", s.q.rehashPassword, ref.ID, int64(ref.Scope), old, hash)
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	var one int
	switch err := s.db.QueryRowContext(ctx, s.q.accountExists, ref.ID, int64(ref.Scope)).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case err != nil:
		return s.fail("rehash password", err)
	}
	return store.ErrConflict
}

// UpdateAccount sets the account's username, email address and names, and
// its password hash if a.PasswordHash is not empty; or returns
// [store.ErrNotFound], or [store.ErrConflict] when another account of the
// scope has the username or email address. One transaction: it reads the
// old email address under the account's row lock, writes the account and
// its logins, and raises the generation when the address changes (after
// [store.NormalizeLogin]) or a hash is given. A refused update changes
// nothing, the generation included.
func (s *Store) UpdateAccount(ctx context.Context, a store.Account) error {
	if store.NormalizeLogin(a.Username) == "" {
		return errors.New("sqlstore: account has no username")
	}
	return s.inTx(ctx, "update account", func(tx *sql.Tx) error {
		var oldEmail string
		if err := tx.QueryRowContext(ctx, s.q.lockEmail, a.ID, int64(a.Scope)).Scan(&oldEmail); err != nil {
			return err // no row: ErrNotFound
		}
		_, err := tx.ExecContext(ctx, s.q.updateAccount, a.ID, int64(a.Scope), a.Username, a.Email,
			a.Name, a.FirstName, a.LastName, a.PasswordHash)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q.deleteLogins, a.ID, int64(a.Scope)); err != nil {
			return err
		}
		if err := s.insertLogins(ctx, tx, a); err != nil {
			return err
		}
		if a.PasswordHash != "" || store.NormalizeLogin(oldEmail) != store.NormalizeLogin(a.Email) {
			return s.raiseGeneration(ctx, tx, a.Ref())
		}
		return nil
	})
}
