package authn

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/keyward/keyward/store"
)

// EventKind names what happened.
type EventKind string

// The events. Their strings are stable: log queries and alerts may match
// them.
const (
	EventLoginOK          EventKind = "login_ok"
	EventLoginFailed      EventKind = "login_failed"
	EventLogout           EventKind = "logout"
	EventSessionExpired   EventKind = "session_expired"
	EventSessionsEnded    EventKind = "sessions_ended"
	EventTFAEnabled       EventKind = "tfa_enabled"
	EventTFADisabled      EventKind = "tfa_disabled"
	EventRecoveryUsed     EventKind = "recovery_code_used"
	EventTFABypassed      EventKind = "tfa_bypassed"
	EventPasswordChanged  EventKind = "password_changed"
	EventAccountUpdated   EventKind = "account_updated"
	EventPasswordReminded EventKind = "password_reminded"
	EventPasswordReset    EventKind = "password_reset"
	EventUserSwitched     EventKind = "user_switched"
	EventKeyCreated       EventKind = "key_created"
	EventKeyRevoked       EventKind = "key_revoked"
	EventLockedOut        EventKind = "locked_out"
	EventRefused          EventKind = "request_refused"
	EventStoreFailed      EventKind = "store_failed"
	EventCommandFailed    EventKind = "command_failed"
)

// Event is one thing worth auditing. It never holds a secret: no password,
// session ID, key, token or code, only IDs and reasons.
type Event struct {
	// Kind is what happened.
	Kind EventKind
	// Time is when, on the authenticator's clock.
	Time time.Time
	// Account is whom it is about; its ID is 0 when the client named no
	// account that exists (a failed login for an unknown username).
	Account store.AccountRef
	// Username is what the client gave or the account's; it may name no
	// account.
	Username string
	// Method is how the request authenticated, if it did.
	Method Method
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

// emit sends e to the host's hook and to the log: at Warn for failures and
// refusals, Error for store failures, Info for the rest.
func (a *Authenticator) emit(ctx context.Context, e Event) {
	if e.Time.IsZero() {
		e.Time = a.cfg.Now()
	}
	if a.cfg.OnEvent != nil {
		a.cfg.OnEvent(ctx, e)
	}
	level := slog.LevelInfo
	switch e.Kind {
	case EventLoginFailed, EventRefused, EventLockedOut:
		level = slog.LevelWarn
	case EventStoreFailed, EventCommandFailed:
		level = slog.LevelError
	}
	if !a.cfg.Logger.Enabled(ctx, level) {
		return
	}
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
	if e.Method != 0 {
		attrs = append(attrs, slog.String(keyMethod, e.Method.String()))
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
	a.cfg.Logger.LogAttrs(ctx, level, "keyward "+string(e.Kind), attrs...)
}
