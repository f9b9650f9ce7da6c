// Package event is what keyward reports: logins, logouts, lockouts,
// credential changes, refusals and failures, one [Event] each, sent to the
// host's hook (authn.Config.OnEvent) and to log/slog. An event never holds
// a secret: no password, session ID, key, token or code, only IDs and
// fixed phrases; an unknown login name appears as a short keyed hash.
package event
