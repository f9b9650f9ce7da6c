// Package hostcall calls a function with every value a host could build
// for its arguments, and reports what panicked: authn's and
// authn/command's tests run it over their exported functions and methods,
// so that no argument a host can write (a zero value, a Request it made
// itself, a cancelled context) panics.
package hostcall
