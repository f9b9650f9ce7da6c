package main

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/keyward/keyward/authn"
)

// reauthView asks for the password again before a sensitive change, and
// posts the form it interrupted back to where it was going.
type reauthView struct {
	base
	// What the password is for ("set up two-factor authentication"), and
	// where the form goes.
	What, Action string
	// Fields are the interrupted form's fields, carried over hidden.
	Fields []formField
}

// formField is one hidden field.
type formField struct{ Name, Value string }

// proven returns p with its password proven for this request, for a
// sensitive change (2FA, API keys): a password login on this session
// within keyward's re-authentication window, or the current_password the
// form carries (checked and counted as a login attempt). Otherwise it
// answers with a page that asks for the password, and reports false.
func (u *ui) proven(w http.ResponseWriter, r *http.Request, p authn.Principal, form url.Values, what string, keep ...string) (authn.Principal, bool) {
	recent, err := u.auth.Reauthenticate(r.Context(), r, p, "", "")
	if err == nil {
		return recent, true
	}
	if !errors.Is(err, authn.ErrReauthenticate) {
		u.fail(w, err)
		return p, false
	}
	v := reauthView{base: u.signedInBase(p, "reauth", "Confirm your password"), What: what, Action: r.URL.Path}
	for _, name := range keep {
		v.Fields = append(v.Fields, formField{Name: name, Value: form.Get(name)})
	}
	if pw := form.Get("current_password"); pw != "" {
		proved, err := u.auth.Reauthenticate(r.Context(), r, p, pw, "")
		switch {
		case err == nil:
			return proved, true
		case errors.Is(err, authn.ErrInvalidCredential):
			v.Error = "That password is not right."
		default:
			u.fail(w, err)
			return p, false
		}
	}
	u.render(w, http.StatusOK, "reauth", v)
	return p, false
}
