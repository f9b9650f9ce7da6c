package main

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/totp"
)

// tfaView is the two-factor page in one of its states: off (a button to
// set it up), enrolling (QR code, secret, confirm), confirming again
// after a wrong code, just enabled (the recovery codes, once), or on.
type tfaView struct {
	base
	On     bool
	Enroll *enrollView
	// Confirm asks for a code again after a wrong one: the pending
	// secret cannot be shown twice.
	Confirm       bool
	RecoveryCodes []string
}

// enrollView is a new secret, shown once.
type enrollView struct {
	// QR is the QR code as a data: URL, and URL the otpauth:// URL it
	// carries. Both are made here, not from input, which is what makes
	// them safe to mark as template.URL.
	QR, URL template.URL
	Secret  string
}

// tfaPage serves GET /2fa.
func (u *ui) tfaPage(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	on, err := u.auth.TFAEnabled(r.Context(), p.Account())
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, http.StatusOK, "tfa", tfaView{base: u.signedInBase(p, "tfa", "Two-factor authentication"), On: on})
}

// tfaSetup serves POST /2fa/setup: a new pending secret, shown once, as a
// QR code and as text. 2FA is not on until a code of it is confirmed.
func (u *ui) tfaSetup(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	form, ok := u.parseForm(w, r)
	if !ok {
		return
	}
	if p, ok = u.proven(w, r, p, form, "set up two-factor authentication"); !ok {
		return
	}
	e, err := u.auth.SetupTFA(r.Context(), p)
	switch {
	case errors.Is(err, totp.ErrAlreadyEnabled):
		http.Redirect(w, r, "/2fa", http.StatusSeeOther)
		return
	case err != nil:
		u.fail(w, err)
		return
	}
	v := tfaView{base: u.signedInBase(p, "tfa", "Set up two-factor authentication")}
	v.Enroll = &enrollView{
		QR:     template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRCode)),
		URL:    template.URL(e.URL),
		Secret: e.Secret,
	}
	u.render(w, http.StatusOK, "tfa", v)
}

// tfaEnable serves POST /2fa/enable: a right code of the pending secret
// turns 2FA on, ends the account's other sessions, and shows the recovery
// codes, once. The browser's own session goes on under a new ID, in a new
// cookie.
func (u *ui) tfaEnable(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	form, ok := u.parseForm(w, r)
	if !ok {
		return
	}
	if p, ok = u.proven(w, r, p, form, "turn two-factor authentication on", "code"); !ok {
		return
	}
	ctx := r.Context()
	v := tfaView{base: u.signedInBase(p, "tfa", "Set up two-factor authentication")}
	codes, next, err := u.auth.EnableTFA(ctx, p, form.Get("code"))
	switch {
	case errors.Is(err, totp.ErrInvalidCode):
		v.Confirm = true
		v.Error = "That code is not right, or was already used. Enter the code your app shows now."
		u.render(w, http.StatusOK, "tfa", v)
		return
	case errors.Is(err, totp.ErrNotSetUp):
		v.Error = "Set up two-factor authentication first."
		u.render(w, http.StatusOK, "tfa", v)
		return
	case errors.Is(err, totp.ErrAlreadyEnabled):
		http.Redirect(w, r, "/2fa", http.StatusSeeOther)
		return
	case err != nil:
		u.fail(w, err)
		return
	}
	if _, err := u.auth.HandOver(w, r, next, true); err != nil {
		u.fail(w, err)
		return
	}
	v.Title = "Two-factor authentication is on"
	v.On, v.RecoveryCodes = true, codes
	u.render(w, http.StatusOK, "tfa", v)
}
