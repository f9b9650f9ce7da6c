package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"syscall"
)

// mode is one kind of load.
type mode struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// modes are the loads this tool knows.
var modes = []mode{
	{"logins", "N concurrent password logins (User.Login); the child's peak RSS, answers, time", runLogins},
	{"rps", "requests/s of Lists.Get on the example (memory; PostgreSQL + Redis) and a bare server, store round trips", runRPS},
	{"bare", "the bare net/http server rps compares against (rps starts it itself)", runBare},
}

// errFailed is a run that measured, but whose result is not what was
// asked (a login that failed, a peak over -max-rss): exit status 1, after
// the report.
var errFailed = errors.New("load: the run did not meet its conditions")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.Is(err, errFailed):
		os.Exit(1)
	case err != nil:
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// run picks the mode named by the first argument.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		usage(stderr)
		return flag.ErrHelp
	}
	i := slices.IndexFunc(modes, func(m mode) bool { return m.name == args[0] })
	if i < 0 {
		usage(stderr)
		return fmt.Errorf("unknown mode %q", args[0])
	}
	return modes[i].run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: go run ./tools/load <mode> [flags]   (go run ./tools/load <mode> -h for the flags)")
	fmt.Fprintln(w, "modes:")
	for _, m := range modes {
		fmt.Fprintf(w, "  %-8s %s\n", m.name, m.summary)
	}
}
