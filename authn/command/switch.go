package command

import (
	"errors"
	"strconv"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// User.Switch error codes.
const (
	CodeInvalidUserID    = 1
	CodeInvalidPrivilege = 2
)

// userSwitch is User.Switch (admin scope, from a session made with a
// password): UserID and PrivilegeType (Default, the default, or Full). It
// answers a new session of that user, whose principal records the
// administrator who switched (SwitchedBy) and the privilege asked for; the
// user's own sessions are untouched. The session ends with the
// administrator's session that made it (logout, expiry, a credential
// change, the account disabled). What the privilege allows is the host's
// to decide and enforce. Each switch is an event.
func (api *API) userSwitch(c *Call) (Fields, error) {
	// Acting as someone else is for an administrator at a keyboard, not
	// for a key.
	if err := api.requirePasswordSession(c); err != nil {
		return nil, err
	}
	v, err := c.Param("UserID")
	if err != nil {
		return nil, err
	}
	priv, err := c.Param("PrivilegeType")
	if err != nil {
		return nil, err
	}
	switch priv {
	case "":
		priv = "Default"
	case "Default", "Full":
	default:
		return nil, Fail(CodeInvalidPrivilege, "PrivilegeType must be Default or Full")
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return nil, Fail(CodeInvalidUserID, "Invalid user ID")
	}
	ctx := c.Context()
	user, err := api.auth.Account(ctx, store.AccountRef{Scope: scopes.User, ID: id})
	if errors.Is(err, authn.ErrInvalidCredential) {
		return nil, Fail(CodeInvalidUserID, "Invalid user ID")
	}
	if err != nil {
		return nil, err
	}
	sid, err := api.auth.StartSession(ctx, user, authn.SessionOptions{Method: "switch", SwitchedBy: c.Principal, SwitchPrivilege: priv})
	if err != nil {
		return nil, err
	}
	// No cookie: the administrator's browser keeps its own session.
	etoken, err := api.auth.HandOver(c.Response(), c.HTTP, sid, false)
	if err != nil {
		return nil, err
	}
	api.auth.Emit(ctx, event.Event{Kind: event.UserSwitched, Account: user.Ref(), Username: user.Username, Actor: c.Principal.Account(), Reason: priv})
	return Fields{"SessionID": sid.Reveal(), "etoken": etoken.Reveal(), "UserInfo": userInfo(user)}, nil
}
