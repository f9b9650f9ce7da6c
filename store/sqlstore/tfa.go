package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/keyward/keyward/store"
)

// TFA returns the account's 2FA state, or [store.ErrNotFound]. The state
// and its recovery codes are read by one statement.
func (s *Store) TFA(ctx context.Context, ref store.AccountRef) (store.TFA, error) {
	const op = "2FA state"
	rows, err := s.db.QueryContext(ctx, s.q.tfa, int64(ref.Scope), ref.ID)
	if err != nil {
		return store.TFA{}, s.fail(op, err)
	}
	defer rows.Close()
	t := store.TFA{Account: ref}
	found := false
	for rows.Next() {
		var code []byte
		if err := rows.Scan(&t.Enabled, &t.Secret, &t.PendingSecret, &t.LastStep, &t.RecoverySalt, &t.Version, &code); err != nil {
			return store.TFA{}, s.fail(op, err)
		}
		found = true
		if code == nil {
			continue // no codes: the one row of the LEFT JOIN
		}
		h, err := toHash(code)
		if err != nil {
			return store.TFA{}, s.fail(op, err)
		}
		t.RecoveryCodes = append(t.RecoveryCodes, h)
	}
	if err := rows.Err(); err != nil {
		return store.TFA{}, s.fail(op, err)
	}
	if !found {
		return store.TFA{}, store.ErrNotFound
	}
	return t, nil
}

// PutTFA stores t as the account's 2FA state and recovery codes,
// replacing what was there, if the stored version is t.Version (0 for an
// account without state), and returns [store.ErrConflict] otherwise; a
// put that turns 2FA on or off raises the account's generation. One
// transaction: it reads whether 2FA is on under the state's row lock (on
// PostgreSQL; on SQLite the transaction holds the database's write lock),
// then compares the version and writes the state on the locked row
// (bumping the version, keeping the greater LastStep), so of concurrent
// puts from one read exactly one changes the row and the others, ordered
// after it by the lock, find the version moved on; then the codes are
// replaced, and the generation raised if Enabled changed. A conflict rolls
// back, changing nothing, the generation included.
//
// The generation is raised whether or not this store keeps the account:
// generations have a table of their own, so a host that keeps its
// accounts in its own table and their second factors here reads the
// generation from here ([Store.Generation], as [store.WithAccounts] does).
func (s *Store) PutTFA(ctx context.Context, t store.TFA) error {
	scope, id := int64(t.Account.Scope), t.Account.ID
	put := s.q.updateTFA
	if t.Version == 0 {
		put = s.q.insertTFA
	}
	return s.inTx(ctx, "put 2FA state", func(tx *sql.Tx) error {
		var wasEnabled bool // no state: off
		err := tx.QueryRowContext(ctx, s.q.lockTFA, scope, id).Scan(&wasEnabled)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		res, err := tx.ExecContext(ctx, put, scope, id, t.Enabled, t.Secret, t.PendingSecret,
			t.LastStep, t.RecoverySalt, t.Version)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n != 1 {
			return store.ErrConflict
		}
		if _, err := tx.ExecContext(ctx, s.q.deleteCodes, scope, id); err != nil {
			return err
		}
		for i, h := range t.RecoveryCodes {
			if _, err := tx.ExecContext(ctx, s.q.insertCode, scope, id, i, h[:]); err != nil {
				return err
			}
		}
		if t.Enabled != wasEnabled {
			return s.raiseGeneration(ctx, tx, t.Account)
		}
		return nil
	})
}

// AdvanceTFAStep sets the account's LastStep to step if step is greater
// than it, and reports whether it did: one UPDATE whose WHERE compares on
// the locked row, so of concurrent calls with one step one succeeds. An
// account without 2FA state is [store.ErrNotFound].
func (s *Store) AdvanceTFAStep(ctx context.Context, ref store.AccountRef, step int64) (bool, error) {
	n, err := s.exec(ctx, "advance 2FA step", s.q.advanceStep, int64(ref.Scope), ref.ID, step)
	if err != nil {
		return false, err
	}
	if n == 1 {
		return true, nil
	}
	return false, s.tfaExists(ctx, ref)
}

// tfaExists returns nil if the account has 2FA state, [store.ErrNotFound]
// if not.
func (s *Store) tfaExists(ctx context.Context, ref store.AccountRef) error {
	var one int
	err := s.db.QueryRowContext(ctx, s.q.tfaExists, int64(ref.Scope), ref.ID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return s.fail("2FA state", err)
	}
	return nil
}
