package command

import (
	"errors"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// API key command error codes.
const (
	CodeMissingAPIKeyID = 1
	CodeInvalidAPIKeyID = 2
	CodeInvalidExpiry   = 3
	CodeInvalidLabel    = 4
	CodeInvalidBoundIP  = 5
)

// The bounds on a key's label and note that CreateAPIKey enforces,
// answered here with their codes.
const (
	maxLabelBytes = 100
	maxNoteBytes  = 1000
)

// registerKeys registers the API key commands.
func (api *API) registerKeys() {
	user := []scopes.Scope{scopes.User}
	api.mustHandle("User.APIKey.Create", Command{Scopes: user, Run: api.createKey})
	api.mustHandle("User.APIKey.Delete", Command{Scopes: user, Run: api.deleteKey})
	api.mustHandle("User.APIKeys.Get", Command{Scopes: user, Run: api.listKeys})
}

// createKey is User.APIKey.Create: Label (up to 100 bytes), Note (up to
// 1,000), BoundIPAddress (an address or a prefix the key is bound to) and
// ExpiresAt (RFC 3339), all optional. It needs the password proven
// recently (CurrentPassword, or a recent login). It answers the key, once,
// and its ID.
func (api *API) createKey(c *Call) (Fields, error) {
	if err := api.reauthenticated(c); err != nil {
		return nil, err
	}
	var opts authn.APIKeyOptions
	var exp string
	for _, f := range []struct {
		name string
		dst  *string
	}{{"Label", &opts.Label}, {"Note", &opts.Note}, {"BoundIPAddress", &opts.BoundIP}, {"ExpiresAt", &exp}} {
		v, err := c.Param(f.name)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	switch {
	case len(opts.Label) > maxLabelBytes || !utf8.ValidString(opts.Label):
		return nil, Fail(CodeInvalidLabel, "Label longer than 100 bytes")
	case len(opts.Note) > maxNoteBytes || !utf8.ValidString(opts.Note):
		return nil, Fail(CodeInvalidLabel, "Note longer than 1,000 bytes")
	case opts.BoundIP != "" && !isAddressOrPrefix(opts.BoundIP):
		return nil, Fail(CodeInvalidBoundIP, "BoundIPAddress is not an IP address or prefix")
	}
	errExpiry := Fail(CodeInvalidExpiry, "ExpiresAt must be an RFC 3339 time in the future")
	if exp != "" {
		t, err := time.Parse(time.RFC3339, exp)
		if err != nil {
			return nil, errExpiry
		}
		opts.ExpiresAt = t
	}
	key, rec, err := api.auth.CreateAPIKey(c.Context(), c.Principal.Account(), opts)
	if errors.Is(err, authn.ErrBadRequest) {
		return nil, errExpiry // the one thing not checked above: a time in the past
	}
	if err != nil {
		return nil, err
	}
	return Fields{"APIKey": key.Reveal(), "APIKeyID": rec.ID, "Prefix": rec.Prefix}, nil
}

// isAddressOrPrefix reports whether s is an IP address (with no zone) or
// a prefix, as a key may be bound to.
func isAddressOrPrefix(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	a, err := netip.ParseAddr(s)
	return err == nil && a.Zone() == ""
}

// deleteKey is User.APIKey.Delete: APIKeyID, one of the caller's keys. The
// sessions made with it end with it.
func (api *API) deleteKey(c *Call) (Fields, error) {
	if _, err := api.auth.Reauthenticate(c.Context(), c.HTTP, c.Principal, "", ""); errors.Is(err, authn.ErrForbidden) {
		return nil, err // a key does not revoke keys; a password session does, however old
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
	err = api.auth.RevokeAPIKey(c.Context(), c.Principal.Account(), id)
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

// listKeys is User.APIKeys.Get.
func (api *API) listKeys(c *Call) (Fields, error) {
	keys, err := api.auth.APIKeys(c.Context(), c.Principal.Account())
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
