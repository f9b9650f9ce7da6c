package authn

import (
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Method says how a request authenticated.
type Method uint8

// The methods. The zero Method is anonymous.
const (
	// MethodSession is a SessionID parameter.
	MethodSession Method = iota + 1
	// MethodAPIKey is a user-scope API key (APIKey parameter or X-API-Key).
	MethodAPIKey
	// MethodAdminKey is an admin-scope API key (AdminAPIKey or
	// X-Admin-API-Key, or an admin key given as APIKey), including the
	// static key from [Config].AdminAPIKey.
	MethodAdminKey
	// MethodCookie is the session cookie.
	MethodCookie
	// MethodEToken is a Bearer etoken.
	MethodEToken
	// MethodCustom is a host's own [Resolver].
	MethodCustom
)

// String returns the method's name as events and logs show it.
func (m Method) String() string {
	switch m {
	case MethodSession:
		return "session"
	case MethodAPIKey:
		return "apikey"
	case MethodAdminKey:
		return "adminapikey"
	case MethodCookie:
		return "cookie"
	case MethodEToken:
		return "etoken"
	case MethodCustom:
		return "custom"
	}
	return "anonymous"
}

// Principal is who a request acts as. The middleware puts it in the
// request's context; read it with [PrincipalFrom]. It is a value: copying
// it is safe, and changing a copy changes nothing else.
type Principal struct {
	// Scope is User or Admin.
	Scope scopes.Scope
	// Method is how the request authenticated.
	Method Method
	// TFA reports whether the login passed a second factor.
	TFA bool
	// staticKey: the request came with the static admin key
	// ([Config].AdminAPIKey), set only where keyward compares it, so that
	// no principal a host builds or edits carries its proof. (It sits in
	// the padding after TFA: a Principal is no bigger for it.)
	staticKey bool
	// AccountID is the account's ID within its scope.
	AccountID int64
	// Username is the account's username when the request was resolved.
	Username string
	// AuthenticatedAt is when the caller last proved who it is: the login,
	// for a session, cookie or etoken (also when a key came with it); the
	// request itself, for an API key alone, and after
	// [Authenticator.Reauthenticate]. For a session made with the
	// password (Login "password"), sensitive changes need it within
	// [ReauthConfig].Window.
	AuthenticatedAt time.Time
	// Login is how the session was made ("password", "apikey",
	// "adminapikey", "switch"); empty for a request authenticated by a key
	// itself.
	Login string
	// APIKeyID is the stored API key's ID for MethodAPIKey and
	// MethodAdminKey; 0 for the static admin key and other methods.
	APIKeyID int64
	// SwitchedBy is, for a session an administrator made to act as this
	// user (User.Switch), that administrator; zero otherwise.
	SwitchedBy store.AccountRef
	// SwitchPrivilege is what the administrator chose ("Default" or
	// "Full"); empty unless SwitchedBy is set.
	SwitchPrivilege string

	// session is the hash of the session the request rode on, if any, so
	// that logout can end it without the client sending it again.
	session store.Hash
}

// Account returns the principal's scope and account ID.
func (p Principal) Account() store.AccountRef {
	return store.AccountRef{Scope: p.Scope, ID: p.AccountID}
}

// Authenticated reports whether p names an account: false for the zero
// Principal (anonymous).
func (p Principal) Authenticated() bool { return p.Scope.Valid() && p.AccountID > 0 }

// HasSession reports whether the request rode on a session (SessionID,
// cookie or etoken), which [Authenticator.EndSession] can end.
func (p Principal) HasSession() bool { return p.session != store.Hash{} }
