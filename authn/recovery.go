package authn

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Mailer sends an account's owner a password reset token, out of band. The
// host implements it: it builds the link (its own page, with the token in
// it), writes the message, and sends it.
type Mailer interface {
	// SendPasswordReset delivers token to acct's email address. keyward
	// calls it in the background, after the request has been answered, so
	// that the answer does not tell whether the address has an account;
	// an error is logged.
	SendPasswordReset(ctx context.Context, acct store.Account, token Secret) error
}

// resetTokenPrefix starts every password reset token.
const resetTokenPrefix = "kwr_"

// resetPurpose is the purpose of reset tokens in the store, by scope: a
// token made for a user never resets an administrator.
func resetPurpose(s scopes.Scope) string { return "password-reset:" + s.String() }

// Limits on password recovery, per client address and per address asked
// about, over the throttle's window (Remind) and per address (Reset).
const (
	remindsPerIP       = 20
	remindsPerEmail    = 5
	remindEmailWindow  = time.Hour
	badResetsPerIP     = 10
	recoveryBackground = 32 // reminds being mailed at once
	recoveryMailTime   = time.Minute
)

// errNoMailer means password recovery needs a [Mailer], and there is none:
// it wraps errors.ErrUnsupported.
var errNoMailer = fmt.Errorf("authn: password recovery needs Config.Passwords.Mailer: %w", errors.ErrUnsupported)

// RemindPassword starts a password reset for the account of the scope
// whose email address is email, if there is one and it is enabled: a new
// token (random, kept hashed, good for [PasswordConfig].ResetTokenTTL, once) goes to
// the [Mailer]. It returns as soon as the work is handed to the
// background, the same whether or not the address has an account. Each
// client address and each email address may ask a few times an hour
// ([*ThrottledError] after that).
func (a *Authenticator) RemindPassword(ctx context.Context, scope scopes.Scope, email string, r *http.Request) error {
	if err := a.made(); err != nil {
		return err
	}
	if a.cfg.Passwords.Mailer == nil {
		return errNoMailer
	}
	t := a.cfg.Throttle
	now := a.cfg.Now()
	for _, limit := range []struct {
		key    string
		window time.Duration
		max    int64
	}{
		{counterKey("remind-ip", ipKey(a.clientAddr(r))), t.Window, remindsPerIP},
		{counterKey("remind-email", scope.String(), store.NormalizeLogin(email)), remindEmailWindow, remindsPerEmail},
	} {
		n, reset, err := a.store.Increment(ctx, limit.key, limit.window)
		if err != nil {
			return storeFailure(err)
		}
		if n > limit.max {
			return &ThrottledError{RetryAfter: reset.Sub(now)}
		}
	}
	select {
	case a.mailing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	go func() {
		defer func() { <-a.mailing }()
		bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), recoveryMailTime)
		defer cancel()
		a.mailReset(bg, scope, email)
	}()
	return nil
}

// mailReset makes a token for the account and mails it, in the background.
func (a *Authenticator) mailReset(ctx context.Context, scope scopes.Scope, email string) {
	acct, err := a.store.AccountByLogin(ctx, scope, email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return
	case err != nil:
		a.Emit(ctx, event.Event{Kind: event.StoreFailed, Reason: "password reminder", Err: err})
		return
	case acct.Disabled || !strings.EqualFold(strings.TrimSpace(acct.Email), strings.TrimSpace(email)):
		return // a username is not an email address: only the address counts
	}
	raw, err := a.random(32)
	if err != nil {
		a.Emit(ctx, event.Event{Kind: event.StoreFailed, Reason: "password reminder", Err: err})
		return
	}
	token := resetTokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	err = a.store.PutToken(ctx, store.Token{
		Hash:      hashCredential(token),
		Account:   acct.Ref(),
		Purpose:   resetPurpose(scope),
		ExpiresAt: a.cfg.Now().Add(a.cfg.Passwords.ResetTokenTTL),
	})
	if err != nil {
		a.Emit(ctx, event.Event{Kind: event.StoreFailed, Reason: "password reminder", Err: err})
		return
	}
	if err := a.cfg.Passwords.Mailer.SendPasswordReset(ctx, acct, Secret{value: token}); err != nil {
		a.Emit(ctx, event.Event{Kind: event.CommandFailed, Account: acct.Ref(), Reason: "mailing a password reset", Err: err})
		return
	}
	a.Emit(ctx, event.Event{Kind: event.PasswordReminded, Account: acct.Ref(), Username: acct.Username})
}

// errBadResetToken is any token that does not reset: unknown, used,
// expired, malformed, of another scope.
var errBadResetToken = because(ErrInvalidCredential, "password reset token invalid, used or expired")

// ResetPassword sets a new password with a reset token: the token is used
// up (of concurrent resets with one token, exactly one succeeds), the
// password hashed, and every session of the account ended in the same
// write as the new password. Every try counts against the address of r's
// client before the token is looked at, and a success is taken back: a
// token that does not work is an error wrapping [ErrInvalidCredential],
// and past a few of them every try is [*ThrottledError].
func (a *Authenticator) ResetPassword(ctx context.Context, scope scopes.Scope, token, password string, r *http.Request) error {
	if err := a.made(); err != nil {
		return err
	}
	if a.cfg.Passwords.Mailer == nil {
		return errNoMailer // no token was ever made
	}
	clientIP := ipKey(a.clientAddr(r))
	// Counted before the token is checked, as login attempts are, so
	// that of any number of concurrent tries from one address at most
	// the limit are checked; a success is taken back.
	key := counterKey("reset-ip", clientIP)
	if _, err := a.count(ctx, key, a.cfg.Throttle.Window, badResetsPerIP); err != nil {
		return err
	}
	bad := func() error {
		a.Emit(ctx, event.Event{Kind: event.Refused, Account: store.AccountRef{Scope: scope}, Reason: "bad password reset token", ClientIP: clientIP})
		return errBadResetToken
	}
	if !strings.HasPrefix(token, resetTokenPrefix) || len(token) > maxCredentialBytes {
		return bad()
	}
	if a.passwords == nil {
		return errAccountsReadOnly
	}
	// The hash first: what can fail without the token's fault fails before
	// the token is used up.
	hash, err := a.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	t, err := a.store.TakeToken(ctx, hashCredential(token))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return bad()
	case err != nil:
		return storeFailure(err)
	case t.Purpose != resetPurpose(scope) || t.Account.Scope != scope:
		return bad()
	}
	acct, err := a.Account(ctx, t.Account)
	if errors.Is(err, ErrInvalidCredential) {
		return bad() // disabled or gone since the token was made
	}
	if err != nil {
		return err
	}
	// No session goes on: the one who reset is not signed in.
	start := time.Now()
	_, err = a.changeCredentials(ctx, Principal{}, acct, func(ctx context.Context) error {
		return accountWriteError(a.passwords.SetPassword(ctx, acct.Ref(), hash))
	})
	if err != nil {
		return err
	}
	after, cancel := a.afterward(ctx, start) // the change's own deadline
	defer cancel()
	_ = a.takeBack(after, key)
	a.Emit(ctx, event.Event{Kind: event.PasswordReset, Account: acct.Ref(), Username: acct.Username, ClientIP: clientIP})
	return nil
}
