package main

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/scopes"
)

// The login form's two steps.
const (
	stepPassword = "password"
	stepTFA      = "tfa"
)

// loginView is the login page: the password step, or the second-factor
// step of a login whose password was right.
type loginView struct {
	base
	Step     string
	Username string
	Admin    bool
	// Pending is the sealed first step, carried by the second step's form
	// (see [pendingLogin]).
	Pending string
	// Captcha is the challenge to answer, when the login asked for one.
	Captcha *captchaView
}

// loginPage serves GET /login, and GET /admin with the administrator box
// ticked. A visitor already signed in goes to the home page.
func (u *ui) loginPage(admin bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := authn.PrincipalFrom(r.Context()); ok {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		v := u.loginView(admin)
		v.Notice = noticeText(r.URL.Query().Get("notice"))
		u.render(w, http.StatusOK, "login", v)
	}
}

// loginView returns the password step's view.
func (u *ui) loginView(admin bool) loginView {
	title := "Sign in"
	if admin {
		title = "Administrator sign in"
	}
	return loginView{base: base{Page: "login", Title: title}, Step: stepPassword, Admin: admin}
}

// login serves POST /login, both steps. It calls [authn.Authenticator.Login]
// as the User.Login and Admin.Login commands do, so the throttle, the
// captcha policy, the password check and the second factor are the API's,
// in the API's order; only the answers are pages. On success it sets the
// session cookie and redirects (303) home: the session ID travels only in
// the cookie, never in a URL.
func (u *ui) login(w http.ResponseWriter, r *http.Request) {
	form, ok := u.parseForm(w, r)
	if !ok {
		return
	}
	ip := u.auth.Request(r).ClientIP()
	req := authn.LoginRequest{HTTP: r, CaptchaID: form.Get("captcha_id"), Captcha: form.Get("captcha")}
	v := u.loginView(form.Get("admin") != "")
	if tok := form.Get("pending"); tok != "" {
		pl, err := u.openPending(tok, ip)
		if err != nil {
			v.Error = "Your sign-in took too long to finish. Please start again."
			u.render(w, http.StatusOK, "login", v)
			return
		}
		v = u.loginView(pl.Admin)
		v.Step, v.Username = stepTFA, pl.Username
		req.Username, req.Password = pl.Username, pl.Password
		req.TFACode, req.TFARecoveryCode = form.Get("tfa_code"), form.Get("recovery_code")
	} else {
		v.Username = form.Get("username")
		req.Username, req.Password = v.Username, form.Get("password")
	}
	req.Scope = scopes.User
	if v.Admin {
		req.Scope = scopes.Admin
	}
	res, err := u.auth.Login(r.Context(), req)
	if err != nil {
		u.loginRefused(w, r, v, req, err)
		return
	}
	// A login from a browser already signed in (a stale tab) replaces
	// that session rather than leaving it behind.
	if old, ok := authn.PrincipalFrom(r.Context()); ok && old.HasSession() {
		if err := u.auth.EndSession(w, r, old); err != nil {
			u.fail(w, err)
			return
		}
	}
	if _, err := u.auth.HandOver(w, r, res.SessionID, true); err != nil {
		u.fail(w, err)
		return
	}
	to := "/"
	if res.TFADisabled {
		to = "/?notice=recovered"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// loginRefused shows why a login failed, on the step it belongs to: a
// captcha when one is asked for, the second-factor step (with a fresh
// pending token) when the password was right and a code is needed.
func (u *ui) loginRefused(w http.ResponseWriter, r *http.Request, v loginView, req authn.LoginRequest, err error) {
	var throttled *authn.ThrottledError
	if errors.As(err, &throttled) {
		wait := throttled.RetryAfter.Round(time.Second)
		if wait < time.Second {
			wait = time.Second
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)))
		v.Step = stepPassword
		v.Error = "Too many failed sign-ins. Try again in " + wait.String() + "."
		u.render(w, http.StatusTooManyRequests, "login", v)
		return
	}
	switch {
	case errors.Is(err, authn.ErrMissingUsername), errors.Is(err, authn.ErrMissingPassword):
		v.Error = "Enter your username and your password."
	case errors.Is(err, authn.ErrInvalidCredential):
		// Unknown user, wrong password, disabled account: one answer. On
		// the second step it means the password changed meanwhile.
		v.Step = stepPassword
		v.Error = "Invalid username or password."
	case errors.Is(err, authn.ErrCaptchaRequired):
		v.Error = "There were several failed sign-ins. Type the digits in the picture to go on."
	case errors.Is(err, authn.ErrCaptchaWrong):
		v.Error = "The digits did not match the picture. Try this new one."
	case errors.Is(err, authn.ErrTFARequired):
		v.Step = stepTFA
		if r.PostForm.Get("pending") != "" { // the second step, sent without a code
			v.Error = "Enter the code from your authenticator app, or a recovery code."
		}
	case errors.Is(err, authn.ErrTFAWrong):
		v.Step = stepTFA
		v.Error = "That code is wrong or was already used. Wait for the next code, or use a recovery code."
	default:
		u.fail(w, err)
		return
	}
	if errors.Is(err, authn.ErrCaptchaRequired) || errors.Is(err, authn.ErrCaptchaWrong) {
		c, err := u.newCaptcha(r)
		if err != nil {
			v.Error = "Too many failed sign-ins from your address. Please try again later."
			v.Step = stepPassword
			u.render(w, http.StatusTooManyRequests, "login", v)
			return
		}
		v.Captcha = c
	}
	if v.Step == stepTFA {
		if v.Pending, err = u.sealPending(req, u.auth.Request(r).ClientIP()); err != nil {
			u.fail(w, err)
			return
		}
	}
	u.render(w, http.StatusOK, "login", v)
}

// logout serves POST /logout: it ends the session the cookie carries and
// drops the cookie, then sends the browser to the login page. An
// anonymous visitor just gets there.
func (u *ui) logout(w http.ResponseWriter, r *http.Request) {
	if p, ok := authn.PrincipalFrom(r.Context()); ok && p.HasSession() {
		if err := u.auth.EndSession(w, r, p); err != nil {
			u.fail(w, err)
			return
		}
	}
	http.Redirect(w, r, "/login?notice=signed-out", http.StatusSeeOther)
}
