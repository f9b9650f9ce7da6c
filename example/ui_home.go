package main

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
)

// principalView is the principal as the home page shows it.
type principalView struct {
	Username string
	Scope    string
	// Login is how the session was made ("password"); Method how this
	// request authenticated ("cookie").
	Login, Method string
	// TFAPassed reports whether the login passed a second factor.
	TFAPassed bool
	SignedIn  string
}

// homeView is the signed-in page.
type homeView struct {
	base
	P principalView
	// TFAOn reports whether the account has 2FA on now.
	TFAOn bool
	// HasLists is set for user accounts, which own lists.
	HasLists bool
	Lists    []list
}

// home serves GET /: who the visitor is, and their lists.
func (u *ui) home(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	u.renderHome(w, r, p, http.StatusOK, "")
}

// renderHome renders the home page with an error message, if any.
func (u *ui) renderHome(w http.ResponseWriter, r *http.Request, p authn.Principal, status int, errText string) {
	on, err := u.auth.TFAEnabled(r.Context(), p.Account())
	if err != nil {
		u.fail(w, err)
		return
	}
	v := homeView{
		base: u.signedInBase(p, "home", "Your account"),
		P: principalView{
			Username:  p.Username,
			Scope:     p.Scope.String(),
			Login:     p.Login,
			Method:    p.Method.String(),
			TFAPassed: p.TFA,
			SignedIn:  p.AuthenticatedAt.UTC().Format(time.RFC1123),
		},
		TFAOn:    on,
		HasLists: p.Scope == scopes.User,
	}
	if v.HasLists {
		v.Lists = u.app.lists.of(p.AccountID)
	}
	v.Notice = noticeText(r.URL.Query().Get("notice"))
	v.Error = errText
	u.render(w, status, "home", v)
}

// signedInBase is the base of a page for p.
func (u *ui) signedInBase(p authn.Principal, page, title string) base {
	return base{Page: page, Title: title, User: p.Username}
}

// createList serves POST /lists, with the rules of the List.Create
// command.
func (u *ui) createList(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	form, ok := u.parseForm(w, r)
	if !ok {
		return
	}
	if p.Scope != scopes.User {
		u.renderError(w, http.StatusForbidden, "Only user accounts have lists.")
		return
	}
	name := strings.TrimSpace(form.Get("name"))
	switch {
	case name == "":
		u.renderHome(w, r, p, http.StatusOK, "Enter a name for the list.")
		return
	case !utf8.ValidString(name) || utf8.RuneCountInString(name) > 200:
		u.renderHome(w, r, p, http.StatusOK, "A list name is at most 200 characters.")
		return
	}
	u.app.lists.add(p.AccountID, name)
	http.Redirect(w, r, "/?notice=list-created", http.StatusSeeOther)
}
