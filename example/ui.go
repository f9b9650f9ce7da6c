package main

import (
	"bytes"
	"crypto/rand"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/gorilla/securecookie"

	"github.com/keyward/keyward/authn"
)

// The browser UI: server-rendered pages (html/template, no JavaScript) on
// the same authenticator as the command API. It signs in with the session
// cookie keyward sets, and every page after that is authenticated by
// [authn.Authenticator.Middleware] from that cookie.
//
// Routes, all under "/":
//
//	GET  /            the signed-in page: who you are, your lists
//	GET  /login       sign in (GET /admin: the same, administrator ticked)
//	POST /login       the password step and the second-factor step
//	POST /logout      end the session, drop the cookie
//	POST /lists       create a list
//	GET  /2fa         two-factor status; POST /2fa/setup, POST /2fa/enable
//	GET  /keys        API keys; POST /keys (create), POST /keys/revoke
//	GET  /ui.css      the stylesheet
//
// Every form is a POST, refused (403) when it comes from another origin;
// no URL ever carries a session ID; errors are pages, never JSON.

//go:embed templates
var uiFiles embed.FS

// maxFormBytes bounds a UI form's body; the largest is a few hundred bytes.
const maxFormBytes = 64 << 10

// ui serves the pages. It is safe for concurrent use: everything it holds
// is read-only after newUI, and what changes lives in the app's stores.
type ui struct {
	app   *app
	auth  *authn.Authenticator
	pages map[string]*template.Template
	css   []byte
	// pending seals the first step of a two-step login: see
	// [pendingLogin].
	pending *securecookie.SecureCookie
	log     *slog.Logger
}

// pageNames are the templates in templates/, each rendered inside
// layout.html.
var pageNames = [...]string{"login", "home", "tfa", "keys", "reauth", "error"}

// newUI parses the templates and makes the keys of the pending-login token.
func newUI(a *app) (*ui, error) {
	u := &ui{
		app:   a,
		auth:  a.auth,
		pages: make(map[string]*template.Template, len(pageNames)),
		log:   slog.Default(),
	}
	for _, name := range pageNames {
		t, err := template.ParseFS(uiFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		u.pages[name] = t
	}
	var err error
	if u.css, err = fs.ReadFile(uiFiles, "templates/style.css"); err != nil {
		return nil, err
	}
	// The example's cookie keys are random per process (authn.Config.Keys
	// is left empty), and so are these: a pending login does not survive
	// a restart, which costs the user one more password entry. Several
	// instances behind one address would share both sets of keys.
	hashKey, blockKey := make([]byte, 32), make([]byte, 32)
	rand.Read(hashKey)
	rand.Read(blockKey)
	u.pending = securecookie.New(hashKey, blockKey).
		SetSerializer(securecookie.JSONEncoder{}).
		MaxAge(int(pendingTTL.Seconds()))
	return u, nil
}

// uiHandler returns the UI's handler for Handler to mount at "/". The
// templates are embedded, so a parse error is a bug that every test run
// catches, not a condition to handle at run time.
func (a *app) uiHandler() http.Handler {
	u, err := newUI(a)
	if err != nil {
		panic("example: UI templates: " + err.Error())
	}
	return u.handler()
}

// handler wires the routes, the origin check, the authentication and the
// headers every page gets.
func (u *ui) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", u.signedIn(u.home))
	mux.HandleFunc("GET /login", u.loginPage(false))
	mux.HandleFunc("GET /admin", u.loginPage(true))
	mux.HandleFunc("POST /login", u.login)
	mux.HandleFunc("POST /logout", u.logout)
	mux.HandleFunc("POST /lists", u.signedIn(u.createList))
	mux.HandleFunc("GET /2fa", u.signedIn(u.tfaPage))
	mux.HandleFunc("POST /2fa/setup", u.signedIn(u.managed(u.tfaSetup)))
	mux.HandleFunc("POST /2fa/enable", u.signedIn(u.managed(u.tfaEnable)))
	mux.HandleFunc("GET /keys", u.signedIn(u.keysPage))
	mux.HandleFunc("POST /keys", u.signedIn(u.managed(u.createKey)))
	mux.HandleFunc("POST /keys/revoke", u.signedIn(u.managed(u.revokeKey)))
	mux.HandleFunc("GET /ui.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(u.css)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.renderError(w, http.StatusNotFound, "There is no such page.")
	})
	pages := u.authenticated(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setPageHeaders(w.Header())
		// Every form post is checked for its origin before the middleware
		// sees it: the login form has no cookie yet to be checked for,
		// and a refusal here is a page, not JSON.
		if r.Method != http.MethodGet && r.Method != http.MethodHead && u.auth.CheckOrigin(r) != nil {
			u.renderError(w, http.StatusForbidden, "This form was sent from another site, so it was refused. Open the page here and send it again.")
			return
		}
		pages.ServeHTTP(w, r)
	})
}

// setPageHeaders sets what every UI answer carries: no caching (pages show
// keys and recovery codes once), no framing (clickjacking of the forms),
// and a policy that allows no script at all.
func setPageHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

// signedIn passes requests with a principal to h, and sends anonymous ones
// to the login page (303), as a browser expects, instead of a JSON 401.
func (u *ui) signedIn(h func(http.ResponseWriter, *http.Request, authn.Principal)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, ok := authn.PrincipalFrom(r.Context())
		if !ok {
			http.Redirect(w, r, "/login?notice=sign-in", http.StatusSeeOther)
			return
		}
		h(w, r, p)
	}
}

// managed lets h run only on a session signed in with a password, as the
// command API requires for keys and 2FA (its requirePasswordSession): a
// session made by logging in with an API key must not mint keys that
// outlive the key, or change the second factor.
func (u *ui) managed(h func(http.ResponseWriter, *http.Request, authn.Principal)) func(http.ResponseWriter, *http.Request, authn.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p authn.Principal) {
		if !p.HasSession() || p.Login != "password" {
			u.renderError(w, http.StatusForbidden, "API keys and two-factor authentication are managed from a session signed in with a password.")
			return
		}
		h(w, r, p)
	}
}

// parseForm reads a POST's form, bounded, or answers 400 and reports false.
func (u *ui) parseForm(w http.ResponseWriter, r *http.Request) (url.Values, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		u.renderError(w, http.StatusBadRequest, "The form could not be read.")
		return nil, false
	}
	return r.PostForm, true
}

// base is what every page's view carries for layout.html.
type base struct {
	// Page names the template; layout.html puts it on <body data-page>.
	Page  string
	Title string
	// User is the signed-in username, for the navigation; empty for
	// anonymous pages.
	User   string
	Notice string
	Error  string
}

// render executes the page's template with v and writes it with status.
// It renders into a buffer first, so a template error never sends half a
// page.
func (u *ui) render(w http.ResponseWriter, status int, name string, v any) {
	var buf bytes.Buffer
	if err := u.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		u.log.Error("example: rendering a page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorView is the error page.
type errorView struct {
	base
	Status int
}

// renderError answers status with a page that says text.
func (u *ui) renderError(w http.ResponseWriter, status int, text string) {
	u.render(w, status, "error", errorView{base: base{Page: "error", Title: http.StatusText(status), Error: text}, Status: status})
}

// fail answers an error of keyward's (a store failure, mostly) with its
// status and the text a client may read, never the error's own message.
func (u *ui) fail(w http.ResponseWriter, err error) {
	status, text := authn.PublicError(err)
	if status >= 500 {
		u.log.Error("example: UI request failed", "err", err)
	}
	u.renderError(w, status, text)
}

// noticeText is the message a redirect's ?notice= names. Only these fixed
// texts can appear, so the parameter cannot put words in the page.
func noticeText(key string) string {
	switch key {
	case "sign-in":
		return "Sign in to continue."
	case "signed-out":
		return "You are signed out."
	case "expired":
		return "Your session has ended. Please sign in again."
	case "recovered":
		return "You signed in with a recovery code, so two-factor authentication is now off. Set it up again from the Two-factor page."
	case "list-created":
		return "List created."
	case "key-revoked":
		return "API key revoked."
	}
	return ""
}
