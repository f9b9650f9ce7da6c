// Package serve runs an HTTP handler the way keyward's programs do (the
// example, and the load tool's bare net/http server, which must differ
// from the example in its handler alone): with the example's timeouts and
// header limit, until a context ends, then a graceful shutdown.
package serve
