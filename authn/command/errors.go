package command

import "errors"

// The general errors of a command API that authn does not know. Like
// authn's, a command may return them, and the API answers them in its
// profile's way.
var (
	// ErrUnknownCommand means the API has no command of the name given:
	// 404.
	ErrUnknownCommand = errors.New("command: unknown command")
	// ErrInternal means a command broke (it panicked, or answered fields
	// the envelope cannot carry): 500. It is logged; the client learns
	// nothing more.
	ErrInternal = errors.New("command: internal error")
)
