// Package scopes defines the two permission scopes of an Octeth-style API:
// [User] for marketing operations on one's own account and [Admin] for
// system administration.
//
// A [Scope] is a small value type, safe for concurrent use. Its zero value is
// not a scope: it names nobody and [Scope.Valid] reports false, so a
// forgotten field never grants access.
package scopes
