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

import (
	"fmt"
	"regexp"
	"strings"
)

// Block is one fenced block.
type Block struct {
	// Lang is the fence's info string: "sh", "go", "json", ...
	Lang string
	// Mark is what the readme-test comment before the fence says, if any.
	Mark string
	// Body is the text between the fences, each line ending in "\n".
	Body string
	// Line is the opening fence's line number, from 1.
	Line int
}

var mark = regexp.MustCompile(`^<!-- readme-test: (.*?) -->$`)

// Blocks returns the fenced blocks of text, in order. A fence that never
// closes, or a closing fence with text after its backticks, is an error:
// either would swallow the rest of the page.
func Blocks(text string) ([]Block, error) {
	var blocks []Block
	var cur *Block
	prev := ""
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &Block{Lang: strings.TrimPrefix(trimmed, "```"), Line: i + 1}
			if m := mark.FindStringSubmatch(prev); m != nil {
				cur.Mark = m[1]
			}
		case cur != nil && strings.HasPrefix(trimmed, "```"):
			if trimmed != "```" {
				return nil, fmt.Errorf("README line %d: text after a closing fence: %q", i+1, line)
			}
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.Body += line + "\n"
		}
		if trimmed != "" {
			prev = trimmed
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("README line %d: a fence that never closes", cur.Line)
	}
	return blocks, nil
}
