package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/readme"
)

// The README's shell blocks are a walk through the example, and they must
// stay true. TestREADME runs them, top to bottom, as one shell session,
// against the example started the way the README starts it, and checks
// every JSON answer and status line the README shows (a "# {...}" or
// "# HTTP/1.1 ..." comment under a command, or a ```json block after a
// shell block) against what that command printed; other comments, such
// as sample metrics, are prose. A shell block is run unless its mark (see package
// internal/readme) says otherwise: "server" starts the example (its
// environment and flags are taken), "skip (reason)" is not run.
//
// In a shown answer, a string with "..." in it stands for a value that
// changes (a session ID, a key), and is not compared; every other
// "Name":value is, whole, wherever it stands in the answer.
//
// It needs bash, curl and jq; without them it skips, saying so, unless
// KEYWARD_TEST_README=1 (as .ci/run sets, having installed them).
func TestREADME(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("KEYWARD_TEST_README") == "1" {
				t.Fatalf("KEYWARD_TEST_README=1 but %s is missing: %v", tool, err)
			}
			t.Skipf("README test skipped: it needs %s (apt-get install -y curl jq); set KEYWARD_TEST_README=1 to make its absence a failure, as .ci/run does", tool)
		}
	}
	t.Parallel()
	text, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readme.Blocks(string(text))
	if err != nil {
		t.Fatal(err)
	}
	var server *readme.Block
	var script strings.Builder
	var commands []readmeCommand
	ran := 0
	for i := range blocks {
		b := &blocks[i]
		switch {
		case b.Lang != "sh":
			continue
		case b.Mark == "server":
			server = b
			continue
		case strings.HasPrefix(b.Mark, "skip"):
			continue
		case b.Mark != "":
			t.Fatalf("README line %d: unknown mark %q", b.Line, b.Mark)
		case server == nil:
			t.Fatalf("README line %d: a shell block to run before the block that starts the example", b.Line)
		}
		ran++
		cmds, err := shellCommands(*b)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cmds {
			fmt.Fprintf(&script, "printf '\\n%s%d\\n'\n%s\n", readmeMarker, len(commands), c.text)
			commands = append(commands, c)
		}
		if i+1 < len(blocks) && blocks[i+1].Lang == "json" {
			// The answer of the block's last command that prints one:
			// not of a variable set after it.
			j := len(commands) - 1
			for j > 0 && shellAssignment.MatchString(commands[j].text) {
				j--
			}
			commands[j].want = append(commands[j].want, strings.TrimSpace(blocks[i+1].Body))
		}
	}
	if server == nil || ran < 8 {
		t.Fatalf("README: %d shell blocks to run, server block found: %v", ran, server != nil)
	}

	url := startREADMEServer(t, server)
	dir := t.TempDir()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	prelude := strings.Join([]string{
		"set -euo pipefail",
		// The README's commands run from the repository's root (go run
		// ./example); their files go to a scratch directory.
		"go() { (cd " + strconv.Quote(repo) + " && command go \"$@\"); }",
	}, "\n")
	full := prelude + "\n" + strings.ReplaceAll(script.String(), "http://127.0.0.1:8080", url)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute) // a hang detector
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", full)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	outputs := splitREADMEOutput(string(out))
	if err != nil {
		last := len(outputs) - 1
		if last < 0 {
			t.Fatalf("the README's shell blocks failed before their first command: %v\n%s", err, out)
		}
		t.Fatalf("README line %d: the shell stopped at this command (%v):\n%s\nit printed:\n%s", commands[last].line, err, commands[last].text, outputs[last])
	}
	checked := 0
	for i, c := range commands {
		if i >= len(outputs) {
			t.Fatalf("README line %d: never ran", c.line)
		}
		for _, want := range c.want {
			want = strings.ReplaceAll(want, "http://127.0.0.1:8080", url)
			checked++
			if msg := readmeMismatch(want, outputs[i]); msg != "" {
				t.Errorf("README line %d: %s\ncommand: %s\nshown:   %s\nprinted: %s", c.line, msg, c.text, want, strings.TrimSpace(outputs[i]))
			}
		}
	}
	t.Logf("%d shell blocks, %d commands, %d answers checked", ran, len(commands), checked)
}

// shellAssignment matches a command that only sets a variable.
var shellAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=(\$\(.*\)|\S*)$`)

// readmeMarker starts the line the script prints before each command.
const readmeMarker = "@@readme-command "

// readmeCommand is one shell command of a block, with the answers the
// README shows for it.
type readmeCommand struct {
	text string
	line int
	want []string
}

// shellCommands splits a shell block into its commands (a line, with the
// lines a trailing backslash or a compound command continues), and gives
// each the answers shown in the comments under it.
func shellCommands(b readme.Block) ([]readmeCommand, error) {
	var out []readmeCommand
	lines := strings.Split(strings.TrimRight(b.Body, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			continue
		case strings.HasPrefix(trimmed, "#"):
			shown := strings.TrimSpace(strings.TrimPrefix(trimmed, "#"))
			if len(out) > 0 && (strings.HasPrefix(shown, "{") || strings.HasPrefix(shown, "HTTP/")) {
				last := &out[len(out)-1]
				last.want = append(last.want, shown)
			}
			continue
		}
		c := readmeCommand{text: line, line: b.Line + 1 + i}
		depth := shellDepth(trimmed)
		for (depth > 0 || strings.HasSuffix(strings.TrimSpace(lines[i]), `\`)) && i+1 < len(lines) {
			i++
			c.text += "\n" + lines[i]
			depth += shellDepth(strings.TrimSpace(lines[i]))
		}
		if depth != 0 {
			return nil, fmt.Errorf("README line %d: a compound command that does not close in its block", c.line)
		}
		out = append(out, c)
	}
	return out, nil
}

// shellDepth is how far a line opens (for, while, until, if, case: +1
// each) or closes (done, fi, esac: -1 each) compound commands, which run
// as one command; a one-line loop opens and closes itself.
func shellDepth(line string) int {
	line, _, _ = strings.Cut(line, " #") // a trailing comment
	depth := 0
	for _, word := range strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' || r == ';' }) {
		switch word {
		case "for", "while", "until", "if", "case":
			depth++
		case "done", "fi", "esac":
			depth--
		}
	}
	return depth
}

// splitREADMEOutput splits the script's output at the markers: one part
// per command that started.
func splitREADMEOutput(out string) []string {
	var parts []string
	for _, line := range strings.SplitAfter(out, "\n") {
		if strings.HasPrefix(line, readmeMarker) {
			parts = append(parts, "")
			continue
		}
		if len(parts) > 0 {
			parts[len(parts)-1] += line
		}
	}
	return parts
}

// readmePair matches a "Name":value of a shown answer: a string, a
// number, true, false, null, or a list of those.
var readmePair = regexp.MustCompile(`"([A-Za-z0-9_]+)":("(?:[^"\\]|\\.)*"|-?[0-9]+|true|false|null|\[[^\[\]{}]*\])`)

// readmeMismatch compares a shown answer with what the command printed:
// an HTTP status line must appear as shown; every "Name":value of a JSON
// answer, but strings with "...", must appear in the output. It returns
// what differs, or "".
func readmeMismatch(shown, printed string) string {
	if strings.HasPrefix(shown, "HTTP/") {
		status := strings.TrimSpace(strings.TrimPrefix(shown, strings.Fields(shown)[0]))
		if !strings.Contains(printed, status) {
			return "the status " + status + " is not in the answer"
		}
		return ""
	}
	pairs := readmePair.FindAllStringSubmatch(shown, -1)
	if len(pairs) == 0 {
		return "the shown answer has nothing to compare"
	}
	for _, p := range pairs {
		if strings.Contains(p[2], "...") {
			continue
		}
		// The value whole: followed by what may follow a value in
		// JSON, so that 1 is not found in 101.
		if !regexp.MustCompile(regexp.QuoteMeta(`"`+p[1]+`":`+p[2]) + `[,}\]]`).MatchString(printed) {
			return fmt.Sprintf("%q:%s is not in the answer", p[1], p[2])
		}
	}
	return ""
}

// startREADMEServer runs the example as the server block starts it (its
// NAME=value environment, its flags), on a port of its own, and returns
// its address. One change: etokens live 30 s, not 2, since a busy CI
// machine can stall a shell for seconds between the two commands that
// hand one over.
func startREADMEServer(t *testing.T, b *readme.Block) string {
	t.Helper()
	words := strings.Fields(strings.ReplaceAll(b.Body, "\\\n", " "))
	env := map[string]string{"KEYWARD_ETOKEN_VALIDITY": "30s"}
	var args []string
	for i, w := range words {
		if name, value, ok := strings.Cut(w, "="); ok && len(args) == 0 && !strings.HasPrefix(w, "-") {
			env[name] = value
			continue
		}
		if w == "go" && i+2 < len(words) && words[i+1] == "run" && words[i+2] == "./example" {
			args = append(args, words[i+3:]...)
			break
		}
	}
	args = append(args, "-addr", "127.0.0.1:0")
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, func(k string) string { return env[k] }, pw, io.Discard)
		pw.CloseWithError(fmt.Errorf("the example stopped: %v", err))
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	var url string
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), "keyward example serving "); ok {
			url = strings.TrimSuffix(strings.Fields(rest)[0], "/api.php")
			break
		}
	}
	// The rest of its output (the reset mails) is read and dropped, so
	// that it never blocks.
	var drain sync.WaitGroup
	drain.Go(func() { io.Copy(io.Discard, pr) })
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the example: %v", err)
		}
		drain.Wait()
	})
	if url == "" {
		t.Fatalf("the example printed no address: %v", lines.Err())
	}
	return url
}

// The runner's own parts: a block is split into commands, and a shown
// answer is compared field by field.
func TestREADMERunner(t *testing.T) {
	t.Parallel()
	blocks, err := readme.Blocks("```sh\na=1\nfor i in 1 2; do\n  echo $i\ndone\ncurl x \\\n  -F y\n# {\"A\":1}\n```\n")
	if err != nil || len(blocks) != 1 {
		t.Fatalf("blocks %+v, %v", blocks, err)
	}
	cmds, err := shellCommands(blocks[0])
	if err != nil || len(cmds) != 3 || !strings.HasPrefix(cmds[1].text, "for") || !strings.HasSuffix(cmds[1].text, "done") ||
		cmds[2].text != "curl x \\\n  -F y" || len(cmds[2].want) != 1 || cmds[2].line != 6 {
		t.Fatalf("commands %+v", cmds)
	}
	tests := []struct {
		shown, printed string
		ok             bool
	}{
		{`{"Success":true,"ID":1,"Key":"kw_..."}`, `{"Key":"kw_abc","Success":true,"ID":1}`, true},
		{`{"Success":true,"ID":1}`, `{"Success":true,"ID":2}`, false},
		{`{"Text":"two words"}`, `{"Text":"two"}`, false},
		{`{"Success":true,...,"TFADisabled":true,...}`, `{"Success":true,"X":1,"TFADisabled":true}`, true},
		{`HTTP/1.1 403 Forbidden`, "HTTP/1.1 403 Forbidden\r\n", true},
		{`HTTP/1.1 403 Forbidden`, "HTTP/1.1 200 OK\r\n", false},
		{`{...}`, `{}`, false}, // nothing to compare is not a pass
		{`{"ErrorCode":1}`, `{"ErrorCode":101}`, false},
		{`{"userid":1,"x":2}`, `{"userid":12,"x":2}`, false},
		{`{"ErrorCode":[3]}`, `{"ErrorCode":[4]}`, false},
		{`{"ErrorCode":[3]}`, `{"ErrorCode":[3]}`, true},
	}
	// A one-line loop is one command; a loop that never closes is an
	// error, not the rest of the block swallowed.
	one, _ := readme.Blocks("```sh\nfor i in 1 2; do echo $i; done\ncurl y\n# {\"A\":1}\n```\n")
	if cmds, err := shellCommands(one[0]); err != nil || len(cmds) != 2 || len(cmds[1].want) != 1 {
		t.Errorf("a one-line loop: %+v, %v", cmds, err)
	}
	open, _ := readme.Blocks("```sh\nfor i in 1 2; do\n  echo $i\n```\n")
	if _, err := shellCommands(open[0]); err == nil {
		t.Error("a loop that never closes was taken")
	}
	for _, tc := range tests {
		if got := readmeMismatch(tc.shown, tc.printed) == ""; got != tc.ok {
			t.Errorf("readmeMismatch(%q, %q) passes = %v, want %v", tc.shown, tc.printed, got, tc.ok)
		}
	}
}
