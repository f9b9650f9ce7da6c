package main

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// keysView is the API keys page.
type keysView struct {
	base
	Keys []keyView
	// NewKey is a key just made, shown this once; NewLabel its label.
	NewKey, NewLabel string
	// AdminScope says the keys are admin keys (AdminAPIKey).
	AdminScope bool
}

// keyView is one key in the list: never the key itself.
type keyView struct {
	ID                      int64
	Prefix, Label           string
	Created, LastUsed, Ends string
}

// keysPage serves GET /keys.
func (u *ui) keysPage(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	u.renderKeys(w, r, p, keysView{})
}

// renderKeys fills v with p's keys and renders it.
func (u *ui) renderKeys(w http.ResponseWriter, r *http.Request, p authn.Principal, v keysView) {
	keys, err := u.auth.APIKeys(r.Context(), p.Account())
	if err != nil {
		u.fail(w, err)
		return
	}
	errText := v.Error
	v.base = u.signedInBase(p, "keys", "API keys")
	v.Notice = noticeText(r.URL.Query().Get("notice"))
	v.Error = errText
	v.AdminScope = p.Scope == scopes.Admin
	for _, k := range keys {
		v.Keys = append(v.Keys, keyView{
			ID: k.ID, Prefix: k.Prefix, Label: k.Label,
			Created: formatDate(k.CreatedAt), LastUsed: formatDate(k.LastUsedAt), Ends: formatDate(k.ExpiresAt),
		})
	}
	u.render(w, http.StatusOK, "keys", v)
}

// formatDate is a key's time for the list, or "never" for none.
func formatDate(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// createKey serves POST /keys: a new key for the signed-in account, shown
// in the answer once (the page is not cached), and kept only hashed.
func (u *ui) createKey(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	form, ok := u.parseForm(w, r)
	if !ok {
		return
	}
	if p, ok = u.proven(w, r, p, form, "create an API key", "label"); !ok {
		return
	}
	label := form.Get("label")
	key, _, err := u.auth.CreateAPIKey(r.Context(), p.Account(), authn.APIKeyOptions{Label: label})
	switch {
	case errors.Is(err, authn.ErrBadRequest):
		u.renderKeys(w, r, p, keysView{base: base{Error: "A label is at most 100 bytes of text."}})
		return
	case err != nil:
		u.fail(w, err)
		return
	}
	u.renderKeys(w, r, p, keysView{NewKey: key.Reveal(), NewLabel: label})
}

// revokeKey serves POST /keys/revoke with the key's ID (key_id: the field
// is not called APIKeyID or APIKey, which the middleware would read as a
// credential).
func (u *ui) revokeKey(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	form, ok := u.parseForm(w, r)
	if !ok {
		return
	}
	noSuchKey := keysView{base: base{Error: "There is no such key."}}
	id, err := strconv.ParseInt(form.Get("key_id"), 10, 64)
	if err != nil || id <= 0 {
		u.renderKeys(w, r, p, noSuchKey)
		return
	}
	switch err := u.auth.RevokeAPIKey(r.Context(), p.Account(), id); {
	case err == nil:
		http.Redirect(w, r, "/keys?notice=key-revoked", http.StatusSeeOther)
	case errors.Is(err, store.ErrNotFound): // not a key, or not this account's
		u.renderKeys(w, r, p, noSuchKey)
	default:
		u.fail(w, err)
	}
}
