// Package storewrap wraps a keyward store so that every call goes
// through one function of the caller's: to time calls (the example's
// metrics), or to fail them on purpose (package storefault). It
// implements every interface of package store; the optional ones answer
// store.ErrNotSupported when the wrapped store lacks them, as
// store.Combine's do.
package storewrap
