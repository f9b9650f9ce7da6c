package event

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/keyward/keyward/store"
)

// Kind names what happened. Its strings are stable: log queries, alerts
// and metrics may match them.
type Kind string

// The kinds.
const (
	LoginOK          Kind = "login_ok"
	LoginFailed      Kind = "login_failed"
	Logout           Kind = "logout"
	SessionExpired   Kind = "session_expired"
	SessionsEnded    Kind = "sessions_ended"
	TFAEnabled       Kind = "tfa_enabled"
	TFADisabled      Kind = "tfa_disabled"
	RecoveryUsed     Kind = "recovery_code_used"
	TFABypassed      Kind = "tfa_bypassed"
	PasswordChanged  Kind = "password_changed"
	AccountUpdated   Kind = "account_updated"
	PasswordReminded Kind = "password_reminded"
	PasswordReset    Kind = "password_reset"
	UserSwitched     Kind = "user_switched"
	KeyCreated       Kind = "key_created"
	KeyRevoked       Kind = "key_revoked"
	LockedOut        Kind = "locked_out"
	CaptchaDemanded  Kind = "captcha_demanded"
	Refused          Kind = "request_refused"
	StoreFailed      Kind = "store_failed"
	CommandFailed    Kind = "command_failed"
	// CacheServing and CacheBypassed: the store's invalidation channel
	// came up, and the credential cache serves; or went down, and every
	// request reads the store until it is back.
	CacheServing  Kind = "cache_serving"
	CacheBypassed Kind = "cache_bypassed"
)

// Event is one thing worth auditing.
type Event struct {
	// Kind is what happened.
	Kind Kind
	// Time is when, on the authenticator's clock.
	Time time.Time
	// Account is whom it is about; its ID is 0 when the client named no
	// account that exists (a failed login for an unknown username).
	Account store.AccountRef
	// Username is the account's, or, for a name that names no account, a
	// short keyed hash of it ("?3f9a..."): never what was typed.
	Username string
	// Method is how the request authenticated, if it did ("session",
	// "apikey", "cookie", ...), or how a login was made ("password"); on
	// a request_refused (or store_failed) event, the kind of credential
	// refused, empty when none is to blame (a malformed request).
	Method string
	// Reason is a short, fixed phrase: "wrong password", "session expired".
	Reason string
	// Count is a number the event is about (sessions ended), or 0.
	Count int
	// Actor is who acted on Account when it was not its owner: the
	// administrator of a User.Switch.
	Actor store.AccountRef
	// ClientIP is the client's address as throttling counts it (an IPv6
	// address by its /64), when the event is about a request.
	ClientIP string
	// Err is the cause of a store_failed or command_failed event: the
	// store's or the command's own error, for operators. keyward puts no
	// secret in its errors; a host's store or command should not either.
	Err error
}

// Level is how loud e is in a log: Warn for failures and refusals, Error
// for failures of the store or of a command, Info for the rest.
func (e Event) Level() slog.Level {
	switch e.Kind {
	case LoginFailed, Refused, LockedOut, CaptchaDemanded, CacheBypassed:
		return slog.LevelWarn
	case StoreFailed, CommandFailed:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Log attribute keys, defined once.
const (
	keyEvent    = "event"
	keyAccount  = "account_id"
	keyScope    = "scope"
	keyMethod   = "method"
	keyUsername = "username"
	keyReason   = "reason"
	keyCount    = "count"
	keyError    = "error"
	keyClientIP = "client_ip"
	keyActor    = "actor"
)

// Attrs returns e as log attributes, the empty ones left out.
func (e Event) Attrs() []slog.Attr {
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String(keyEvent, string(e.Kind)))
	if e.Account.Scope != 0 {
		attrs = append(attrs, slog.String(keyScope, e.Account.Scope.String()))
	}
	if e.Account.ID != 0 {
		attrs = append(attrs, slog.Int64(keyAccount, e.Account.ID))
	}
	if e.Username != "" {
		attrs = append(attrs, slog.String(keyUsername, e.Username))
	}
	if e.Method != "" {
		attrs = append(attrs, slog.String(keyMethod, e.Method))
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String(keyReason, e.Reason))
	}
	if e.Count != 0 {
		attrs = append(attrs, slog.Int(keyCount, e.Count))
	}
	if e.Actor.ID != 0 {
		attrs = append(attrs, slog.String(keyActor, e.Actor.Scope.String()+":"+strconv.FormatInt(e.Actor.ID, 10)))
	}
	if e.ClientIP != "" {
		attrs = append(attrs, slog.String(keyClientIP, e.ClientIP))
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String(keyError, e.Err.Error()))
	}
	return attrs
}
