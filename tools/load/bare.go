package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/keyward/keyward/internal/serve"
)

// The bare server is what the rps mode measures the example against: a
// net/http server with no authentication, answering Lists.Get with the
// body the example answers, encoded anew for each request as a handler
// would. It runs as a child process of its own, like the examples, so
// that all three servers are measured alike: a process with its own Go
// runtime (scheduler, GOMAXPROCS, collector) competing with the load
// generator only through the kernel. Served from inside the tool, it
// would share the generator's scheduler and heap, and its figure would
// not be the same kind of figure as the examples'.

// bareList is one subscriber list, as the example's Lists.Get shows it.
type bareList struct {
	ListID int64
	Name   string
}

// bareAnswer is the example's Lists.Get answer: the seeds' envelope first,
// then the command's fields in name order, as the example writes them.
type bareAnswer struct {
	Success        bool
	ErrorCode      int
	ErrorText      string
	Lists          []bareList
	TotalListCount int
	TotalLists     int
}

// runBare serves until ctx ends (SIGINT or SIGTERM).
func runBare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	listsJSON := fs.String("lists", "[]", `the lists Lists.Get answers, as JSON: [{"ListID":1,"Name":"Newsletter"}]`)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./tools/load bare [flags]")
		fmt.Fprintln(stderr, "Serves GET /api.php?Command=Lists.Get as the example does, without authentication: the rps mode's bare server.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lists []bareList
	if err := json.Unmarshal([]byte(*listsJSON), &lists); err != nil {
		return fmt.Errorf("-lists: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "load bare serving http://%s/api.php (net/http alone, no authentication)\n", ln.Addr())
	return serve.Run(ctx, ln, bareHandler(lists), nil) // as the example serves: only the handler differs
}

// bareHandler answers Command=Lists.Get at /api.php with the lists, and
// anything else with a 404. It does what any handler of the request does
// at the least: parse the query, and encode the answer.
func bareHandler(lists []bareList) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api.php" || r.FormValue("Command") != "Lists.Get" {
			http.NotFound(w, r)
			return
		}
		body, err := json.Marshal(bareAnswer{Success: true, Lists: lists, TotalListCount: len(lists), TotalLists: len(lists)})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(append(body, '\n'))
	})
}
