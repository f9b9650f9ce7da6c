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
