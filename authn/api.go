package authn

import (
	"context"
	"errors"
	"fmt"
	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/authn/form"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/keyward/keyward/scopes"
)

// APIConfig configures an [API]. The zero value answers as Octeth's
// documents show.
type APIConfig struct {
	// AlwaysHTTP200 answers every envelope with HTTP 200, general errors
	// included, for old clients that read only ErrorCode. Default false:
	// general errors carry their status (400, 401, 403, 404, 503).
	AlwaysHTTP200 bool
	// ErrorCodeAsList sends ErrorCode as a one-element list ([3]), as
	// Octeth's newer pages show. Default false: a number. (OctethV5 sends
	// lists whatever this says.)
	ErrorCodeAsList bool
	// Profile numbers the general failures: [Seeds] (the default) or
	// [OctethV5].
	Profile Profile
	// CaptchaURL is where the host mounts [Authenticator.CaptchaHandler],
	// for the ImageURL and AudioURL that Captcha.New answers. Default
	// "/captcha/".
	CaptchaURL string
	// Dialect is the wire form: [Octeth] (the default) or [WMD].
	Dialect Dialect
	// Resolvers, when set, are the credentials this API accepts, in place
	// of [Config].Resolvers: WMD's api.php takes the cookie, its api-sl.php
	// the Bearer etoken.
	Resolvers []Resolver
}

// Dialect is the wire form an [API] speaks. One set of commands, two
// envelopes: a command is written once and served in either.
type Dialect uint8

const (
	// Octeth is Octeth's api.php: Command=..., answered as
	// {"Success":true,"ErrorCode":0,"ErrorText":"", ...}. Its built-in
	// commands are User.Login, Admin.Login and the rest (see [NewAPI]).
	Octeth Dialect = iota
	// WMD is the WMD SED API: c=..., answered as
	// {"status":"ok","error":"", ...} or {"status":"notok","error":"..."}.
	// Its built-in command is c=auth (login with user and pass; logout=1).
	WMD
)

// commandParam is the parameter that names the command.
func (d Dialect) commandParam() string {
	if d == WMD {
		return "c"
	}
	return "Command"
}

// API is an Octeth-style command endpoint (POST /api.php, Command=...): a
// router from command names to [Command]s that answers in Octeth's envelope
//
//	{"Success":true,"ErrorCode":0,"ErrorText":"", ...fields}
//
// Make one with [NewAPI], which registers the login, logout and API key
// commands; add the host's own with [API.Handle]; mount it as an
// http.Handler. It authenticates its requests itself, so mount it directly,
// not behind [Authenticator.Middleware] (if it is behind it anyway, it uses
// what the middleware found; but then a bad credential is refused by the
// middleware, in its format, before a login command can run).
//
// Register every command before serving; after that, an API is safe for
// concurrent use.
type API struct {
	a       *Authenticator
	cfg     APIConfig
	profile profileTable
	// commands are keyed by their names in lower case: names match
	// ignoring ASCII case, as Octeth 5.9 matches them.
	commands map[string]Command
}

// Command is one command of an [API].
type Command struct {
	// Scopes are the scopes allowed to call it. A principal of another
	// scope gets 403; a request without a credential gets 401.
	Scopes []scopes.Scope
	// Public commands need no credential (logins): the API resolves none
	// for them, and Call.Principal is the zero Principal. A command must
	// have Scopes or be Public, never both, so a forgotten Scopes never
	// opens a command to everyone.
	Public bool
	// Run does the work and answers fields for the envelope, or an error:
	// a [*CommandError] for the command's own failures (HTTP 200), or one
	// of this package's errors for a general one (ErrBadRequest: 400,
	// ErrForbidden: 403, ...). Any other error is logged and answered as
	// 503, without its text.
	Run func(c *Call) (Fields, error)
}

// Call is one call of a command: its parameters, its principal, and the
// means to set headers (cookies) on the answer.
type Call struct {
	// Principal is the caller: zero for public commands.
	Principal Principal
	// Params are the request's parameters.
	Params *form.Params
	// HTTP is the request.
	HTTP *http.Request

	w   http.ResponseWriter
	req *Request
}

// Context returns the request's context (the background context for a
// Call without a request).
func (c *Call) Context() context.Context {
	if c.HTTP == nil {
		return context.Background()
	}
	return c.HTTP.Context()
}

// Param returns a parameter's value, "" if absent; a repeated parameter is
// an error wrapping [ErrBadRequest]. A Call a host makes itself, with HTTP
// and no Params (to test a command), reads them from HTTP on first use.
func (c *Call) Param(name string) (string, error) {
	if c.Params == nil {
		p, err := (&Request{HTTP: c.HTTP}).Params()
		if err != nil {
			return "", err
		}
		c.Params = p
	}
	return c.Params.Get(name)
}

// Header returns the answer's header map, to set cookies and the like. The
// body is the API's to write. A Call a host makes itself has a header map
// of its own, which goes nowhere.
func (c *Call) Header() http.Header {
	if c.w == nil {
		c.w = nowhere{http.Header{}}
	}
	return c.w.Header()
}

// nowhere is the writer of a Call that has none: it keeps a header and
// throws everything else away.
type nowhere struct{ h http.Header }

func (n nowhere) Header() http.Header       { return n.h }
func (nowhere) Write(b []byte) (int, error) { return len(b), nil }
func (nowhere) WriteHeader(int)             {}

// NewAPI returns an API on the authenticator. In the [Octeth] dialect its
// built-in commands are
// User.Login, Admin.Login, User.Logout, Admin.Logout, User.APIKey.Create,
// User.APIKey.Delete, User.APIKeys.Get, User.TFA.* and Admin.TFA.*
// (Setup, Enable, Disable, RecoveryCodes.Regenerate), Admin.Update,
// User.Update, User.PasswordChange, User.Current, User.Switch, Captcha.New,
// and, with a [Mailer], User.PasswordRemind, User.PasswordReset,
// Admin.PasswordRemind and Admin.PasswordReset; in the [WMD] dialect,
// auth.
func NewAPI(a *Authenticator, cfg APIConfig) *API {
	if cfg.CaptchaURL == "" {
		cfg.CaptchaURL = "/captcha/"
	}
	cfg.Resolvers = slices.Clone(cfg.Resolvers)
	api := &API{a: a, cfg: cfg, profile: cfg.Profile.table(), commands: make(map[string]Command)}
	if cfg.Dialect == WMD {
		api.mustHandle("auth", Command{Public: true, Run: api.wmdAuth})
	} else {
		api.registerBuiltins()
	}
	return api
}

// resolvers returns the credentials the API accepts.
func (api *API) resolvers() []Resolver {
	if api.cfg.Resolvers != nil {
		return api.cfg.Resolvers
	}
	return api.a.cfg.Resolvers
}

// Handle registers a command under name. Requests match it ignoring ASCII
// case ("List.Create", "list.create"). It returns an error for an empty
// name, one already registered in any case, a command without Run, and one
// that is neither Public nor scoped (or is both).
func (api *API) Handle(name string, cmd Command) error {
	switch {
	case name == "" || strings.ContainsAny(name, " \t\r\n"):
		return fmt.Errorf("authn: command name %q", name)
	case cmd.Run == nil:
		return fmt.Errorf("authn: command %s has no Run", name)
	case cmd.Public == (len(cmd.Scopes) > 0):
		return fmt.Errorf("authn: command %s must have Scopes or be Public, not both or neither", name)
	}
	for _, s := range cmd.Scopes {
		if !s.Valid() {
			return fmt.Errorf("authn: command %s has an invalid scope", name)
		}
	}
	key := lowerASCII(name)
	if _, dup := api.commands[key]; dup {
		return fmt.Errorf("authn: command %s registered twice", name)
	}
	cmd.Scopes = slices.Clone(cmd.Scopes)
	api.commands[key] = cmd
	return nil
}

// mustHandle registers a built-in command; its arguments are ours.
func (api *API) mustHandle(name string, cmd Command) {
	if err := api.Handle(name, cmd); err != nil {
		panic(err)
	}
}

// ServeHTTP runs the command the request names.
func (api *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r == nil {
		WriteJSONError(w, r, errNoRequest)
		return
	}
	ctx := r.Context()
	req, authenticated := api.requestState(r)
	asXML := false
	params, err := req.Params()
	if err != nil {
		api.fail(w, req, err)
		return
	}
	// Exactly "XML", as Octeth has it; anything else is JSON.
	if f, err := params.Get("ResponseFormat"); err == nil && f == "XML" && api.cfg.Dialect == Octeth {
		asXML = true
	}
	name, err := params.Get(api.cfg.Dialect.commandParam())
	switch {
	case err != nil:
		api.fail(w, req, err)
		return
	case name == "":
		api.fail(w, req, because(ErrBadRequest, "missing "+api.cfg.Dialect.commandParam()))
		return
	}
	cmd, ok := api.commands[lowerASCII(name)]
	if !ok {
		api.fail(w, req, ErrUnknownCommand)
		return
	}

	var p Principal
	switch {
	case cmd.Public:
		// A login from another site would sign the victim's browser in
		// to the attacker's account (login CSRF), by POST or by GET.
		if err := api.a.checkOrigin(r); err != nil {
			api.fail(w, req, err)
			return
		}
	case authenticated:
		p = req.principal
		if p.Method == MethodCookie {
			if err := api.a.checkOrigin(r); err != nil {
				api.fail(w, req, err)
				return
			}
		}
	default:
		if p, err = api.a.authenticate(req, api.resolvers(), true); err != nil {
			api.fail(w, req, err)
			return
		}
		api.a.handOnCookie(w, req)
	}
	if !cmd.Public {
		if !p.Authenticated() {
			api.fail(w, req, ErrUnauthenticated)
			return
		}
		if !slices.Contains(cmd.Scopes, p.Scope) {
			api.fail(w, req, ErrForbidden)
			return
		}
	}

	next := r // behind the middleware, r already carries req
	if !authenticated {
		next = req.handOn(p)
	}
	call := &Call{Principal: p, Params: params, HTTP: next, w: w, req: req}
	fields, err := api.run(cmd, call)
	var cerr *CommandError
	switch {
	case err == nil:
		for k := range fields {
			if reservedField(k) {
				api.a.Emit(ctx, event.Event{Kind: event.CommandFailed, Reason: "command " + name + " set the field " + k})
				api.writeEnvelope(ctx, w, api.profile.generalAnswer(ErrInternal), asXML)
				return
			}
		}
		api.writeEnvelope(ctx, w, answer{status: http.StatusOK, ok: true, fields: fields}, asXML)
	case errors.As(err, &cerr):
		for k := range cerr.Fields {
			if reservedField(k) { // a failure must not read as a success
				api.a.Emit(ctx, event.Event{Kind: event.CommandFailed, Reason: "command " + name + " set the field " + k})
				api.writeEnvelope(ctx, w, api.profile.generalAnswer(ErrInternal), asXML)
				return
			}
		}
		api.writeEnvelope(ctx, w, answer{status: http.StatusOK, code: cerr.Code, text: cerr.Text, fields: cerr.Fields}, asXML)
	default:
		api.fail(w, req, err)
	}
}

// run calls the command, turning a panic into an error: a bug in one
// command answers 500 and is logged, it does not take the server down.
func (api *API) run(cmd Command, call *Call) (fields Fields, err error) {
	defer func() {
		if v := recover(); v != nil {
			api.a.cfg.Logger.ErrorContext(call.Context(), "keyward command panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			fields, err = nil, because(ErrInternal, "command panicked")
		}
	}()
	return cmd.Run(call)
}

// requestState returns the request's state: the middleware's, if this
// authenticator's middleware has already been through it; a new one that
// keeps the principal a host put in the context with [WithPrincipal]
// (its own authentication, or a test's); or a new one to authenticate.
func (api *API) requestState(r *http.Request) (*Request, bool) {
	s, ok := r.Context().Value(stateKey{}).(*Request)
	switch {
	case ok && s.a == api.a:
		return s, true
	case ok && s.a == nil && s.principal.Authenticated():
		return &Request{HTTP: r, a: api.a, principal: s.principal}, true
	}
	return &Request{HTTP: r, a: api.a}, false
}

// fail answers a general error in the envelope, and logs it.
func (api *API) fail(w http.ResponseWriter, req *Request, err error) {
	api.a.refuse(w, req, err, func(w http.ResponseWriter, r *http.Request, err error) {
		setRetryAfter(w, err)
		api.writeEnvelope(r.Context(), w, api.profile.generalAnswer(err), api.wantsXML(req))
	})
}

// wantsXML reports whether the request asked for XML, as far as its
// parameters could be read.
func (api *API) wantsXML(req *Request) bool {
	if api.cfg.Dialect != Octeth || !req.parsed || req.paramsErr != nil {
		return false
	}
	f, err := req.params.Get("ResponseFormat")
	return err == nil && f == "XML"
}

// lowerASCII lowers ASCII letters only, as command names match.
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
