// Package readme reads the fenced blocks of the project's README.md, for
// the tests that keep the README true: example's TestREADME runs its
// shell blocks against the example, and internal/readmecode's
// TestREADMEGoBlocks checks that its Go blocks are code the compiler saw.
//
// A block may carry a mark, an HTML comment on the line before its fence
// (invisible where the README is rendered):
//
//	<!-- readme-test: server -->        a shell block that starts the example
//	<!-- readme-test: skip (reason) --> a block no test runs or checks
//	<!-- readme-test: go NAME -->       a Go block: region NAME of internal/readmecode
package readme
