// Package command is keyward's command API: one HTTP endpoint (Octeth's
// api.php) where a parameter names the command (Command=User.Login, or
// WMD's c=auth), and every answer is an envelope. It is built on package
// authn's exported API alone: the built-in commands are ordinary
// [Command] values, written as a host writes its own.
//
// # Use
//
//	api := command.New(a, command.Config{}) // a is an *authn.Authenticator
//	err := api.Handle("List.Create", command.Command{
//		Scopes: []scopes.Scope{scopes.User},
//		Run: func(c *command.Call) (command.Fields, error) {
//			name, err := c.Param("SubscriberListName")
//			if err != nil {
//				return nil, err // repeated: 400
//			}
//			if name == "" {
//				return nil, command.Fail(1, "Missing subscriber list name")
//			}
//			return command.Fields{"ListID": lists.Create(c.Context(), c.Principal.AccountID, name)}, nil
//		},
//	})
//	mux.Handle("/api.php", api) // it authenticates its own requests
//
// # Dialects
//
// One set of commands, two envelopes ([Dialect]):
//
//   - [Octeth]: {"Success":true,"ErrorCode":0,"ErrorText":"",...}, JSON or,
//     with ResponseFormat=XML, XML. A command's own failure ([Fail]) is
//     HTTP 200 with its code; a general one (authn.ErrForbidden, ...)
//     carries its HTTP status and is numbered by the [Profile]: [Seeds]
//     (401, 403, ...) or [OctethV5] (99998, 99999, ...).
//   - [WMD]: {"status":"ok"|"notok","error":"..."}, the WMD SED API, whose
//     c=auth logs in to either scope and answers an etoken and the
//     seed's fields ([Config].WMDInfo fills those keyward does not keep).
//
// [Dialects] serves both on one path, as both call it api.php: a request
// with c= and no Command= goes to the WMD API.
//
// A right 2FA code of a time step already used is code 6, as a wrong one
// is, with a text that says to wait for the next code (in the [Seeds]
// profile; [OctethV5]'s Admin.Login answers every 2FA failure with 101,
// as Octeth 5.9 does).
//
// Login's refusals (authn's sentinel errors) are numbered in one table per
// dialect (codes.go): 1 and 2 a missing username or password, 3 invalid
// credentials, 4 and 5 a missing or wrong captcha, 101 and 6 a second
// factor needed or wrong, 429 throttled, with Retry-After. [CaptchaPolicy]
// says when an Octeth login asks for a captcha.
//
// # Built-in commands
//
// Octeth: User.Login, Admin.Login, User.Logout, Admin.Logout,
// User.APIKey.Create, User.APIKey.Delete, User.APIKeys.Get, User.TFA.* and
// Admin.TFA.* (Setup, Enable, Disable, RecoveryCodes.Regenerate),
// User.Update, Admin.Update, User.PasswordChange, User.Current,
// User.Switch, Captcha.New, and with a mailer User.PasswordRemind,
// User.PasswordReset, Admin.PasswordRemind, Admin.PasswordReset. WMD: auth
// (and logout=1). Sensitive ones answer [CodeReauthRequired] unless the
// password was proven recently or CurrentPassword comes with them.
//
// An [API] is safe for concurrent use; register its commands before it
// serves.
package command
