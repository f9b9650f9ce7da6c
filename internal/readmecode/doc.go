// Package readmecode holds, in its tests, the Go code the README shows,
// so that the compiler checks it: each README Go block is a region of
// these files, and TestREADMEGoBlocks checks that the two are the same
// text. It has no code of its own.
package readmecode
