// Package secretscan is a test over a package's own source: secrets are
// compared in constant time (crypto/subtle), never with ==, !=,
// bytes.Equal, strings.EqualFold or Compare. authn and authn/command run
// it on themselves.
package secretscan
