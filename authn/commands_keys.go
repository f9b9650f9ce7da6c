package authn

import (
	"errors"
	"strconv"
	"time"

	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// registerBuiltins registers keyward's own commands.
func (api *API) registerBuiltins() {
	user, admin := []scopes.Scope{scopes.User}, []scopes.Scope{scopes.Admin}
	api.mustHandle("User.Login", Command{Public: true, Run: api.login(scopes.User)})
	api.mustHandle("Admin.Login", Command{Public: true, Run: api.login(scopes.Admin)})
	api.mustHandle("User.Logout", Command{Scopes: user, Run: api.logout})
	api.mustHandle("Admin.Logout", Command{Scopes: admin, Run: api.logout})
	api.mustHandle("User.APIKey.Create", Command{Scopes: user, Run: api.createKey})
	api.mustHandle("User.APIKey.Delete", Command{Scopes: user, Run: api.deleteKey})
	api.mustHandle("User.APIKeys.Get", Command{Scopes: user, Run: api.listKeys})
	api.registerTFA()
	api.registerAccounts()
	api.registerCaptcha()
	api.registerRecovery()
	api.mustHandle("User.Switch", Command{Scopes: admin, Run: api.userSwitch})
}

// API key command error codes.
const (
	CodeMissingAPIKeyID = 1
	CodeInvalidAPIKeyID = 2
	CodeInvalidExpiry   = 3
	CodeInvalidLabel    = 4
	CodeInvalidBoundIP  = 5
)

// createKey is User.APIKey.Create: Label (up to 100 bytes), Note (up to
// 1,000), BoundIPAddress (an address or a prefix the key is bound to) and
// ExpiresAt (RFC 3339), all optional. It answers the key, once, and its ID.
func (api *API) createKey(c *Call) (Fields, error) {
	if err := api.reauthenticated(c); err != nil {
		return nil, err
	}
	label, err := c.Param("Label")
	if err != nil {
		return nil, err
	}
	exp, err := c.Param("ExpiresAt")
	if err != nil {
		return nil, err
	}
	var opts APIKeyOptions
	opts.Label = label
	if opts.Note, err = c.Param("Note"); err != nil {
		return nil, err
	}
	if opts.BoundIP, err = c.Param("BoundIPAddress"); err != nil {
		return nil, err
	}
	if len(opts.Note) > maxNoteBytes {
		return nil, Fail(CodeInvalidLabel, "Note longer than 1,000 bytes")
	}
	if opts.BoundIP != "" {
		if _, ok := canonicalBound(opts.BoundIP); !ok {
			return nil, Fail(CodeInvalidBoundIP, "BoundIPAddress is not an IP address or prefix")
		}
	}
	if len(label) > maxLabelBytes {
		return nil, Fail(CodeInvalidLabel, "Label longer than 100 bytes")
	}
	if exp != "" {
		t, err := time.Parse(time.RFC3339, exp)
		if err != nil || !t.After(api.a.cfg.Now()) {
			return nil, Fail(CodeInvalidExpiry, "ExpiresAt must be an RFC 3339 time in the future")
		}
		opts.ExpiresAt = t
	}
	key, rec, err := api.a.CreateAPIKey(c.Context(), c.Principal.Account(), opts)
	if err != nil {
		return nil, err
	}
	return Fields{"APIKey": key.Reveal(), "APIKeyID": rec.ID, "Prefix": rec.Prefix}, nil
}

// deleteKey is User.APIKey.Delete: APIKeyID, one of the caller's keys.
func (api *API) deleteKey(c *Call) (Fields, error) {
	if err := requirePasswordSession(c.Principal); err != nil {
		return nil, err
	}
	v, err := c.Param("APIKeyID")
	if err != nil {
		return nil, err
	}
	if v == "" {
		return nil, Fail(CodeMissingAPIKeyID, "Missing APIKeyID")
	}
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return nil, Fail(CodeInvalidAPIKeyID, "Invalid APIKeyID")
	}
	err = api.a.RevokeAPIKey(c.Context(), c.Principal.Account(), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, Fail(CodeInvalidAPIKeyID, "Invalid APIKeyID")
	}
	if err != nil {
		return nil, err
	}
	return Fields{}, nil
}

// apiKeyInfo is one key in User.APIKeys.Get: never the key itself.
type apiKeyInfo struct {
	APIKeyID       int64
	Prefix         string
	Label          string
	Note           string
	BoundIPAddress string
	CreatedAt      string
	LastUsedAt     string `json:",omitempty"`
	LastUsedIP     string `json:",omitempty"`
	RequestCount   int64
	ExpiresAt      string `json:",omitempty"`
}

// listKeys is User.APIKeys.Get. Usage is written in the background; the
// list flushes it first, so that it shows what is known.
func (api *API) listKeys(c *Call) (Fields, error) {
	if err := api.a.FlushAPIKeyUsage(c.Context()); err != nil {
		api.a.Emit(c.Context(), event.Event{Kind: event.StoreFailed, Reason: "recording API key usage", Err: err})
	}
	keys, err := api.a.APIKeys(c.Context(), c.Principal.Account())
	if err != nil {
		return nil, err
	}
	infos := make([]apiKeyInfo, 0, len(keys))
	for _, k := range keys {
		infos = append(infos, apiKeyInfo{
			APIKeyID:       k.ID,
			Prefix:         k.Prefix,
			Label:          k.Label,
			Note:           k.Note,
			BoundIPAddress: k.BoundIP,
			CreatedAt:      formatTime(k.CreatedAt),
			LastUsedAt:     formatTime(k.LastUsedAt),
			LastUsedIP:     k.LastUsedIP,
			RequestCount:   k.RequestCount,
			ExpiresAt:      formatTime(k.ExpiresAt),
		})
	}
	return Fields{"APIKeys": infos, "TotalAPIKeys": len(infos)}, nil
}

// formatTime is RFC 3339 in UTC, or "" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
