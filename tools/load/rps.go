package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The rps mode's defaults: the local servers, as .ci/run names them.
const (
	defaultPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	defaultRedis    = "redis://127.0.0.1:6379/0"
	// selfPkg is this tool's package, built again as the bare server.
	selfPkg = "./tools/load"
	// seededUser is the example's seeded user account.
	seededUser = "user@example.com"
	// rowPause is the rest between two measurements.
	rowPause = 500 * time.Millisecond
)

// listNames are the lists the rps mode makes on each example, so that
// Lists.Get answers something real.
func listNames() []string { return []string{"Newsletter", "Customers"} }

// rpsOptions are the rps mode's flags.
type rpsOptions struct {
	srv                       serverFlags
	db, redis                 string
	dbExplicit, redisExplicit bool
	noShared                  bool
	conns                     int
	dur, warmup               time.Duration
	rounds                    int
	bench                     bool
	benchCount                int
}

// parseRPS reads the rps mode's flags.
func parseRPS(args []string, stderr io.Writer) (rpsOptions, error) {
	fs := flag.NewFlagSet("rps", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o rpsOptions
	o.srv.registerCommon(fs)
	fs.StringVar(&o.db, "db", defaultPostgres, "the shared-store example's -db (PostgreSQL); empty: memory beside Redis")
	fs.StringVar(&o.redis, "redis", defaultRedis, "the shared-store example's -redis; empty: PostgreSQL alone")
	fs.BoolVar(&o.noShared, "no-shared", false, "skip the example on PostgreSQL + Redis")
	fs.IntVar(&o.conns, "c", 32, "concurrent keep-alive connections, one worker each")
	fs.DurationVar(&o.dur, "d", 10*time.Second, "measured duration of each row")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each row's window")
	fs.IntVar(&o.rounds, "rounds", 1, "measure every row this many times, a round after another, and print medians and the ratios' range")
	fs.BoolVar(&o.bench, "bench", false, "also run the in-process benchmarks (floor, middleware APIKey and SessionID) and print their medians")
	fs.IntVar(&o.benchCount, "bench-count", 5, "go test -count for -bench")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./tools/load rps [flags]")
		fmt.Fprintln(stderr, "Requests per second of GET /api.php?Command=Lists.Get on the example (memory; PostgreSQL + Redis)")
		fmt.Fprintln(stderr, "and on a bare net/http server, with APIKey and SessionID, and the store round trips per request.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("rps: unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		o.dbExplicit = o.dbExplicit || f.Name == "db"
		o.redisExplicit = o.redisExplicit || f.Name == "redis"
	})
	switch {
	case o.conns < 1 || o.rounds < 1:
		return o, errors.New("rps: -c and -rounds must be at least 1")
	case o.dur <= 0 || o.warmup < 0:
		return o, errors.New("rps: -d must be above 0, and -warmup 0 or more")
	case o.bench && o.benchCount < 1:
		return o, errors.New("rps: -bench-count must be at least 1")
	case !o.noShared && o.db == "" && o.redis == "":
		return o, errors.New("rps: -db and -redis are both empty: nothing is shared; use -no-shared")
	}
	return o, nil
}

// rpsRow is one measurement: a server and a credential.
type rpsRow struct {
	server, credential string
	runs               []loadResult // one per round
}

// rpsReport is what the rps mode prints.
type rpsReport struct {
	opts    rpsOptions
	machine machineInfo
	// storeVersions names the shared stores' servers, for the machine
	// line: "PostgreSQL 15.2", "Redis 7.0.15".
	storeVersions []string
	sharedName    string // the shared example's server column: "postgres+redis"
	prefix        string // the shared example's
	answerBytes   int    // the memory example's Lists.Get body
	notes         []string
	rows          []rpsRow
}

// runRPS is the rps mode.
func runRPS(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseRPS(args, stderr)
	if err != nil {
		return err
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "rps: building %s and the bare server\n", o.srv.pkg)
	bins, cleanup, err := buildAll(ctx, o.srv.pkg, selfPkg)
	defer cleanup()
	if err != nil {
		return err
	}
	exBin, bareBin := bins[0], bins[1]
	rep := rpsReport{opts: o, machine: readMachine()}
	var shared *sharedStores
	if o.noShared {
		rep.notes = append(rep.notes, "the example on PostgreSQL + Redis: skipped (-no-shared)")
	} else {
		shared, err = openShared(ctx, o)
		var down *storeDownError
		switch {
		case errors.As(err, &down) && !down.explicit:
			fmt.Fprintf(stderr, "rps: %v: the shared-store example is skipped\n", err)
			rep.notes = append(rep.notes, fmt.Sprintf("the shared-store example: skipped, %v", err))
		case err != nil:
			return err
		default:
			defer shared.Close()
			rep.storeVersions = shared.versions
			rep.sharedName = shared.name
		}
	}
	if err := measureAll(ctx, o, exBin, bareBin, shared, &rep, stderr); err != nil {
		return err
	}
	printRPS(stdout, rep)
	var fails int64
	for _, r := range rep.rows {
		for _, res := range r.runs {
			fails += res.Fails
		}
	}
	if o.bench {
		fmt.Fprintf(stderr, "rps: running the benchmarks (-count %d)\n", o.benchCount)
		if err := runBench(ctx, root, o.benchCount, stdout); err != nil {
			return err
		}
	}
	if fails > 0 {
		fmt.Fprintf(stdout, "FAIL: %d requests did not answer 200 with Success true\n", fails)
		return errFailed
	}
	return nil
}

// buildAll builds packages at once (see build); cleanup removes what
// they left in temporary directories.
func buildAll(ctx context.Context, pkgs ...string) (bins []string, cleanup func(), err error) {
	bins = make([]string, len(pkgs))
	cleanups := make([]func(), len(pkgs))
	errs := make([]error, len(pkgs))
	var wg sync.WaitGroup
	for i, pkg := range pkgs {
		wg.Go(func() { bins[i], cleanups[i], errs[i] = build(ctx, pkg) })
	}
	wg.Wait()
	cleanup = func() {
		for _, c := range cleanups {
			if c != nil {
				c()
			}
		}
	}
	return bins, cleanup, errors.Join(errs...)
}

// measureAll starts the servers, sets up their credentials and lists,
// measures each row, and stops them; the shared example's tables and keys
// are dropped after it.
func measureAll(ctx context.Context, o rpsOptions, exBin, bareBin string, shared *sharedStores, rep *rpsReport, stderr io.Writer) error {
	base := serverFlags{pkg: o.srv.pkg, env: o.srv.env, logPath: o.srv.logPath, startTimeout: o.srv.startTimeout}
	fmt.Fprintln(stderr, "rps: starting the example on memory")
	mem, err := start(ctx, exBin, base)
	if err != nil {
		return fmt.Errorf("the example on memory: %w", err)
	}
	defer mem.stop()
	memCreds, err := setupCreds(ctx, mem)
	if err != nil {
		return fmt.Errorf("the example on memory: %w", err)
	}
	rep.answerBytes = len(memCreds.body)
	var answer bareAnswer
	if err := json.Unmarshal(memCreds.body, &answer); err != nil {
		return fmt.Errorf("the example's Lists.Get answer: %w", err)
	}
	lists, err := json.Marshal(answer.Lists)
	if err != nil {
		return err
	}
	bareFlags := base
	bareFlags.pkg, bareFlags.lead = selfPkg, []string{"bare"}
	fmt.Fprintln(stderr, "rps: starting the bare server")
	bare, err := start(ctx, bareBin, bareFlags, "-lists", string(lists))
	if err != nil {
		return fmt.Errorf("the bare server: %w", err)
	}
	defer bare.stop()
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	bareBody, err := getLists(ctx, client, bare.url+listsTarget("APIKey", memCreds.apiKey))
	if err != nil {
		return fmt.Errorf("the bare server: %w", err)
	}
	if !bytes.Equal(bareBody, memCreds.body) {
		rep.notes = append(rep.notes, fmt.Sprintf("the bare server's answer differs from the example's: %d bytes against %d\n  bare:    %s  example: %s",
			len(bareBody), len(memCreds.body), bareBody, memCreds.body))
	}

	type target struct {
		server, credential string
		c                  *child
		query              string
		sampler            func() windowSampler
	}
	targets := []target{
		{"bare", "none", bare, listsTarget("APIKey", memCreds.apiKey), nil},
		{"memory", "APIKey", mem, listsTarget("APIKey", memCreds.apiKey), nil},
		{"memory", "SessionID", mem, listsTarget("SessionID", memCreds.sessionID), nil},
	}
	if shared != nil {
		tag := "kwload-" + strings.ToLower(rand.Text()[:8])
		sf := base
		if sf.db, shared.pgTag, err = tagURL(o.db, "application_name", tag); err != nil {
			return err
		}
		if sf.redis, shared.redisTag, err = tagURL(o.redis, "client_name", tag); err != nil {
			return err
		}
		// A fresh prefix: the run's tables and keys are its own, and
		// dropped after it, even if the example fails half-way.
		sf.prefix = "kwload_" + strings.ToLower(rand.Text()[:8]) + "_"
		rep.prefix, shared.prefix = sf.prefix, sf.prefix
		defer shared.cleanup(ctx, stderr)
		fmt.Fprintf(stderr, "rps: starting the example on %s\n", shared.name)
		sharedChild, err := start(ctx, exBin, sf)
		if err != nil {
			return fmt.Errorf("the example on %s: %w", shared.name, err)
		}
		defer sharedChild.stop() // before the clean-up
		sc, err := setupCreds(ctx, sharedChild)
		if err != nil {
			return fmt.Errorf("the example on %s: %w", shared.name, err)
		}
		if len(sc.body) != len(memCreds.body) {
			rep.notes = append(rep.notes, fmt.Sprintf("the %s example's answer is %d bytes, the memory one's %d", shared.name, len(sc.body), len(memCreds.body)))
		}
		targets = append(targets,
			target{shared.name, "APIKey", sharedChild, listsTarget("APIKey", sc.apiKey), shared.sampler},
			target{shared.name, "SessionID", sharedChild, listsTarget("SessionID", sc.sessionID), shared.sampler})
	}

	rep.rows = make([]rpsRow, len(targets))
	for round := range o.rounds {
		for i, t := range targets {
			if round > 0 || i > 0 {
				if err := sleepCtx(ctx, min(rowPause, o.dur)); err != nil {
					return err
				}
			}
			fmt.Fprintf(stderr, "rps: round %d/%d, %s %s: %v warm-up, %v measured\n", round+1, o.rounds, t.server, t.credential, o.warmup, o.dur)
			u, err := url.Parse(t.c.url)
			if err != nil {
				return err
			}
			spec := loadSpec{addr: u.Host, target: t.query, conns: o.conns, warmup: o.warmup, dur: o.dur, serverPID: t.c.cmd.Process.Pid}
			if t.sampler != nil {
				spec.sampler, spec.sampleEvery = t.sampler(), pgSampleEvery
			}
			res, err := drive(ctx, spec)
			if err != nil {
				return fmt.Errorf("%s %s: %w", t.server, t.credential, err)
			}
			rep.rows[i].server, rep.rows[i].credential = t.server, t.credential
			rep.rows[i].runs = append(rep.rows[i].runs, res)
		}
	}
	return nil
}
