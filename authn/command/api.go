package command

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/keyward/keyward/authn"
	"github.com/keyward/keyward/authn/event"
	"github.com/keyward/keyward/authn/form"
	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
)

// Config configures an [API]. The zero value answers as Octeth's documents
// show.
type Config struct {
	// Dialect is the wire form: [Octeth] (the default) or [WMD].
	Dialect Dialect
	// Profile numbers the general failures of the Octeth dialect: [Seeds]
	// (the default) or [OctethV5].
	Profile Profile
	// AlwaysHTTP200 answers every envelope with HTTP 200, general errors
	// included, for old clients that read only ErrorCode. Default false:
	// general errors carry their status (400, 401, 403, 404, 503).
	AlwaysHTTP200 bool
	// ErrorCodeAsList sends ErrorCode as a one-element list ([3]), as
	// Octeth's newer pages show. Default false: a number. (OctethV5 sends
	// lists whatever this says.)
	ErrorCodeAsList bool
	// CaptchaPolicy says when a password login of the Octeth dialect asks
	// for a captcha. Default [CaptchaOcteth]. (The throttle asks for one
	// by itself after failures, whatever the policy but CaptchaNever.)
	CaptchaPolicy CaptchaPolicy
	// CaptchaURL is where the host mounts authn's CaptchaHandler, for the
	// ImageURL and AudioURL that Captcha.New answers. Default "/captcha/".
	CaptchaURL string
	// Credentials are the credentials this API accepts, in order, in place
	// of the authenticator's own (authn.Config.Credentials and Resolvers):
	// WMD's api.php takes the cookie, its api-sl.php the Bearer etoken.
	Credentials []authn.Method
	// WMDInfo gives what WMD's c=auth answers of an account and keyward
	// does not keep (group, secondary, rights, url), once the login has
	// succeeded. It cannot fail the login: these are descriptive fields,
	// and the session is made by then; when it cannot tell, it answers
	// the zero WMDInfo. Default: the seed's neutral values (see
	// [WMDInfo]).
	WMDInfo func(ctx context.Context, acct store.Account) WMDInfo
}

// API is a command endpoint: a router from command names to [Command]s
// that answers in its dialect's envelope. Octeth's (POST /api.php,
// Command=...):
//
//	{"Success":true,"ErrorCode":0,"ErrorText":"", ...fields}
//
// or the WMD SED API's (c=...):
//
//	{"status":"ok","error":"", ...fields}
//
// Make one with [New], which registers keyward's own commands; add the
// host's with [API.Handle]; mount it as an http.Handler. It authenticates
// its requests itself, so mount it outside authn's middleware: a login
// must not be refused for a stale cookie it came with. Behind the
// middleware it still works, with the credentials the middleware found
// (and the middleware's refusals, in its format).
//
// Register every command before serving; after that, an API is safe for
// concurrent use. An API without an authenticator (New given nil, or the
// zero API) answers every request with the envelope's internal error
// (500), as it answers a command's bug.
type API struct {
	auth    *authn.Authenticator
	cfg     Config
	profile profileTable
	// commands are keyed by their names in lower case: names match
	// ignoring ASCII case, as Octeth 5.9 matches them.
	commands map[string]Command
	buffers  bufferPool
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
	// an [*Error] for the command's own failures (HTTP 200), or one of
	// authn's errors for a general one (authn.ErrBadRequest: 400,
	// authn.ErrForbidden: 403, ...). Any other error is logged and
	// answered as 503, without its text.
	Run func(c *Call) (Fields, error)
}

// Call is one call of a command: its principal, its parameters, its
// request, and the answer's headers.
type Call struct {
	// Principal is the caller: zero for public commands.
	Principal authn.Principal
	// Params are the request's parameters.
	Params *form.Params
	// HTTP is the request. Its context carries the principal and the
	// parameters (authn.PrincipalFrom, authn.Authenticator.Request).
	HTTP *http.Request

	w http.ResponseWriter
}

// Context returns the request's context (the background context for a
// Call without a request, or a nil Call).
func (c *Call) Context() context.Context {
	if c == nil || c.HTTP == nil {
		return context.Background()
	}
	return c.HTTP.Context()
}

// Param returns a parameter's value, "" if absent; a repeated parameter is
// a [*form.Error] (400). A Call a host makes itself, with HTTP and no
// Params (to test a command), reads them from HTTP on first use.
func (c *Call) Param(name string) (string, error) {
	params, err := c.params()
	if err != nil {
		return "", err
	}
	return params.Get(name)
}

// params returns the call's parameters, read from HTTP on first use by a
// Call a host made without them.
func (c *Call) params() (*form.Params, error) {
	if c == nil {
		return (&authn.Request{}).Params() // no request, as a Call without HTTP
	}
	if c.Params == nil {
		p, err := (&authn.Request{HTTP: c.HTTP}).Params()
		if err != nil {
			return nil, err
		}
		c.Params = p
	}
	return c.Params, nil
}

// Response returns a writer for the answer's headers and cookies, for
// functions that set them through an http.ResponseWriter
// (authn.Authenticator.HandOver). What is written to its body is thrown
// away: the body is the API's, the envelope. A Call a host makes itself
// has headers of its own, which go nowhere.
func (c *Call) Response() http.ResponseWriter {
	if c == nil || c.w == nil {
		return headersOnly{http.Header{}}
	}
	return headersOnly{c.w.Header()}
}

// headersOnly is the answer as a command sees it: headers it may set,
// and a body it may not write.
type headersOnly struct{ h http.Header }

func (w headersOnly) Header() http.Header       { return w.h }
func (headersOnly) Write(b []byte) (int, error) { return len(b), nil }
func (headersOnly) WriteHeader(int)             {}

// New returns an API on the authenticator, with keyward's own commands. In
// the [Octeth] dialect: User.Login, Admin.Login, User.Logout,
// Admin.Logout, User.APIKey.Create, User.APIKey.Delete, User.APIKeys.Get,
// User.TFA.* and Admin.TFA.* (Setup, Enable, Disable,
// RecoveryCodes.Regenerate), Admin.Update, User.Update,
// User.PasswordChange, User.Current, User.Switch, Captcha.New,
// User.PasswordRemind, User.PasswordReset, Admin.PasswordRemind and
// Admin.PasswordReset (these last and Captcha.New answer as unknown
// commands when the authenticator has no mailer, or no captcha of its
// own); in the [WMD] dialect, auth. A nil auth makes an API that answers
// every request with the envelope's internal error (500): New has no
// error to return.
func New(auth *authn.Authenticator, cfg Config) *API {
	if cfg.CaptchaURL == "" {
		cfg.CaptchaURL = "/captcha/"
	}
	cfg.Credentials = slices.Clone(cfg.Credentials)
	api := &API{auth: auth, cfg: cfg, profile: cfg.Profile.table(), commands: make(map[string]Command)}
	if cfg.Dialect == WMD {
		api.mustHandle("auth", Command{Public: true, Run: api.wmdAuth})
	} else {
		api.registerBuiltins()
	}
	return api
}

// Handle registers a command under name. Requests match it ignoring ASCII
// case ("List.Create", "list.create"). It returns an error for an empty
// name, one already registered in any case, a command without Run, and one
// that is neither Public nor scoped (or is both), and for a nil API.
func (api *API) Handle(name string, cmd Command) error {
	switch {
	case api == nil:
		return errors.New("command: Handle on a nil API")
	case name == "" || strings.ContainsAny(name, " \t\r\n"):
		return fmt.Errorf("command: name %q", name)
	case cmd.Run == nil:
		return fmt.Errorf("command: %s has no Run", name)
	case cmd.Public == (len(cmd.Scopes) > 0):
		return fmt.Errorf("command: %s must have Scopes or be Public, not both or neither", name)
	}
	for _, s := range cmd.Scopes {
		if !s.Valid() {
			return fmt.Errorf("command: %s has an invalid scope", name)
		}
	}
	key := lowerASCII(name)
	if api.commands == nil { // the zero API
		api.commands = make(map[string]Command)
	}
	if _, dup := api.commands[key]; dup {
		return fmt.Errorf("command: %s registered twice", name)
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
		authn.WriteJSONError(w, r, authn.ErrBadRequest)
		return
	}
	if api == nil {
		api = &API{} // answers as the zero API does
	}
	req := api.auth.Request(r)
	params, err := req.Params()
	if err != nil {
		api.fail(w, r, params, err)
		return
	}
	api.serve(w, r, req, params)
}

// serve runs the command named in params, read from req.
func (api *API) serve(w http.ResponseWriter, r *http.Request, req *authn.Request, params *form.Params) {
	if api.unmade(w, r, params) {
		return
	}
	ctx := r.Context()
	asXML := api.wantsXML(params)
	name, err := params.Get(api.cfg.Dialect.commandParam())
	switch {
	case err != nil:
		api.fail(w, r, params, err)
		return
	case name == "":
		api.fail(w, r, params, missing(api.cfg.Dialect.commandParam()))
		return
	}
	cmd, ok := api.command(name)
	if !ok {
		api.fail(w, r, params, ErrUnknownCommand)
		return
	}

	next := r
	if cmd.Public {
		// A login from another site would sign the victim's browser in
		// to the attacker's account (login CSRF), by POST or by GET.
		if err := api.auth.CheckOrigin(r); err != nil {
			api.fail(w, r, params, err)
			return
		}
	} else if next, err = api.auth.Authenticate(w, req, api.cfg.Credentials); err != nil {
		api.write(w, r, api.profile.generalAnswer(err), asXML)
		return
	}
	var p authn.Principal
	if !cmd.Public {
		var signedIn bool
		if p, signedIn = authn.PrincipalFrom(next.Context()); !signedIn {
			api.fail(w, r, params, authn.ErrUnauthenticated)
			return
		}
		if !slices.Contains(cmd.Scopes, p.Scope) {
			api.fail(w, r, params, authn.ErrForbidden)
			return
		}
	}

	call := &Call{Principal: p, Params: params, HTTP: next, w: w}
	fields, err := api.run(cmd, call)
	var cerr *Error
	switch {
	case err == nil:
		if k, bad := reserved(fields); bad {
			api.commandFailed(ctx, w, "command "+name+" set the field "+k, nil, asXML)
			return
		}
		api.write(w, r, answer{status: http.StatusOK, ok: true, fields: fields}, asXML)
	case errors.As(err, &cerr):
		if k, bad := reserved(cerr.Fields); bad { // a failure must not read as a success
			api.commandFailed(ctx, w, "command "+name+" set the field "+k, nil, asXML)
			return
		}
		api.write(w, r, answer{status: http.StatusOK, code: cerr.Code, text: cerr.Text, fields: cerr.Fields}, asXML)
	case errors.Is(err, ErrInternal):
		api.commandFailed(ctx, w, "command "+name+" failed", err, asXML)
	default:
		api.fail(w, r, params, err)
	}
}

// run calls the command, turning a panic into an error: a bug in one
// command answers 500 and is logged, it does not take the server down.
func (api *API) run(cmd Command, call *Call) (fields Fields, err error) {
	defer func() {
		if v := recover(); v != nil {
			fields, err = nil, fmt.Errorf("%w: command panicked: %v\n%s", ErrInternal, v, debug.Stack())
		}
	}()
	return cmd.Run(call)
}

// fail answers a general error in the envelope, and reports it.
func (api *API) fail(w http.ResponseWriter, r *http.Request, params *form.Params, err error) {
	if api.unmade(w, r, params) {
		return
	}
	status, text := authn.PublicError(err)
	e := event.Event{Kind: event.Refused, Reason: text}
	if status >= 500 && !errors.Is(err, ErrInternal) {
		e.Kind, e.Err = event.StoreFailed, err // the server's fault: the cause is for operators
	}
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		api.auth.Emit(r.Context(), e)
	}
	api.write(w, r, api.profile.generalAnswer(err), api.wantsXML(params))
}

// unmade answers the internal error (500) for an API without an
// authenticator, and reports whether it did: serve and fail, the two ends
// of every request, ask it first.
func (api *API) unmade(w http.ResponseWriter, r *http.Request, params *form.Params) bool {
	if api.auth != nil {
		return false
	}
	api.writeEnvelope(r.Context(), w, api.profile.generalAnswer(ErrInternal), api.wantsXML(params))
	return true
}

// commandFailed answers a command's bug (500) and reports it with its
// cause: a panic, a field it may not set, an answer that does not encode.
func (api *API) commandFailed(ctx context.Context, w http.ResponseWriter, reason string, cause error, asXML bool) {
	api.auth.Emit(ctx, event.Event{Kind: event.CommandFailed, Reason: reason, Err: cause})
	api.writeEnvelope(ctx, w, api.profile.generalAnswer(ErrInternal), asXML)
}

// wantsXML reports whether the request asked for XML: ResponseFormat is
// exactly "XML", as Octeth has it (anything else is JSON), in the Octeth
// dialect.
func (api *API) wantsXML(params *form.Params) bool {
	if api.cfg.Dialect != Octeth || params == nil {
		return false
	}
	f, err := params.Get("ResponseFormat")
	return err == nil && f == "XML"
}

// missing is the malformed request that lacks a parameter.
func missing(name string) error {
	return &form.Error{Reason: "missing " + name}
}

// command finds the command named name, in any ASCII case, without
// allocating for a name of a usual length.
func (api *API) command(name string) (Command, bool) {
	var room [64]byte
	if len(name) > len(room) {
		cmd, ok := api.commands[lowerASCII(name)]
		return cmd, ok
	}
	b := room[:len(name)]
	for i := range len(name) {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[i] = c
	}
	cmd, ok := api.commands[string(b)] // no allocation: the compiler sees to it
	return cmd, ok
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
