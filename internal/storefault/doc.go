// Package storefault wraps a keyward store so that a test can make one of
// its calls fail, the way databases are tested for crash safety: a test
// counts the store calls a command makes, then runs the command again for
// each call n, failing the n-th either before it reaches the store
// (nothing applied) or after the store applied it (the answer lost, as
// when a connection drops after the write), and checks its invariant
// every time.
package storefault
