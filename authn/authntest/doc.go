// Package authntest helps a host application test its handlers and
// commands without a database or a server: an [Env] is keyward on an
// in-memory store with a fake clock and two seeded accounts, and its
// helpers log in, make keys and etokens, give a request a principal, call
// commands, and read the envelope back.
//
//	env := authntest.New(t, authntest.Options{})
//	if err := env.API.Handle("List.Create", myCommand); err != nil { ... }
//	e := env.Call(t, env.UserPrincipal(), "Command", "List.Create", "SubscriberListName", "x")
//	authntest.WantOK(t, e)
//
// Password hashing in an Env is cheap, so that tests are fast: never use
// an Env's configuration in production.
package authntest
