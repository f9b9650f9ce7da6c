package command

// Dialect is the wire form an [API] speaks. One set of commands, two
// envelopes: a command is written once and served in either.
type Dialect uint8

const (
	// Octeth is Octeth's api.php: Command=..., answered as
	// {"Success":true,"ErrorCode":0,"ErrorText":"", ...}. Its built-in
	// commands are User.Login, Admin.Login and the rest (see [New]).
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

// CaptchaPolicy says when a password login of the Octeth dialect asks for a
// captcha. Logins by API key never do, and neither does the WMD dialect,
// which has no captcha parameter: there the throttle alone protects.
type CaptchaPolicy uint8

const (
	// CaptchaOcteth, the default: a captcha unless DisableCaptcha=true,
	// and even then once the throttle asks for one, as Octeth does.
	CaptchaOcteth CaptchaPolicy = iota
	// CaptchaAlways: every password login.
	CaptchaAlways
	// CaptchaNever: no login; the throttle alone protects, and past an
	// account's limit of failures its logins are refused (429).
	CaptchaNever
	// CaptchaAfterFailures: only once the throttle asks for one, whatever
	// DisableCaptcha says. For clients that send no captcha parameters at
	// all (seed 003's Admin.Login).
	CaptchaAfterFailures
)
