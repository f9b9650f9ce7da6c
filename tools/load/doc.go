// Command load drives the example server (./example) as a child process
// and reports what a load costs it. It is a measuring tool, not a test:
// nothing in it asserts a duration.
//
//	go run ./tools/load logins                  # 1000 concurrent password logins
//	go run ./tools/load logins -n 500 -runs 5   # five fresh servers, 500 each
//	go run ./tools/load logins -max-rss 150     # exit 1 if a peak is over 150 MiB
//	go run ./tools/load logins -env GODEBUG=gctrace=1 -log /tmp/example.log
//	go run ./tools/load logins -db postgres://... -redis redis://...
//	go run ./tools/load rps                     # requests/s: bare, memory, PostgreSQL + Redis
//	go run ./tools/load rps -bench              # and the in-process benchmarks, same run
//	go run ./tools/load rps -rounds 3           # every row 3 times, interleaved: medians
//	go run ./tools/load rps -no-shared -c 64 -d 30s
//
// Each run builds the example (go build, into keyward-load/ under the
// user's cache directory, where a binary that is up to date is left as
// it is), starts it on 127.0.0.1 with a port of the kernel's choosing and
// a random user password, waits for its banner, then runs the mode's load
// and reads the child's memory or CPU time from /proc (Linux only). Run
// "go run ./tools/load help" for the modes and "go run ./tools/load <mode>
// -h" for their flags.
//
// # rps: requests per second
//
// The rps mode starts three servers on loopback, in one run: the example
// on its in-memory store; the example on PostgreSQL + Redis (-db and
// -redis, the local servers by default; a fresh -prefix, so a run's
// tables and keys are its own, dropped at the end; KEYWARD_KEYS from the
// example's -genkeys); and a bare net/http server (the hidden bare mode
// of this same tool) that answers the same request with the example's
// Lists.Get answer, byte for byte, encoded anew for each request, with no
// authentication. The bare server is a child process like the examples,
// built alike, with its own runtime (scheduler, GOMAXPROCS, collector):
// in the tool's own process it would share the load generator's
// scheduler and heap, and its figure would not be the same kind as the
// examples'.
//
// On each example it logs the seeded user in (User.Login), makes an API
// key with that session (User.APIKey.Create, the password sent as
// CurrentPassword) and two lists, then for each server and credential
// (APIKey, SessionID; the bare server gets the APIKey request) it sends
// GET /api.php?Command=Lists.Get&APIKey=... (or SessionID=...) on -c
// keep-alive connections, a warm-up (-warmup, 2 s) and then a measured
// window (-d, 10 s). Every answer must be a 200 whose body says
// "Success":true; any other, or a connection error, is a failure, and any
// failure fails the run (exit status 1, after the report). It prints, per
// row: requests/s, the ratio to the bare server of the same run, p50 and
// p99 latency (from a log-linear histogram, within 0.8%), and the store
// round trips per request; then the store work in detail, the CPU each
// window used, and the machine (CPU model, cores, kernel, Go version, and
// the stores' versions), so that figures quoted elsewhere can name it.
// With -bench it also runs
//
//	go test -run '^$' -bench 'BenchmarkFloor/Serial$|BenchmarkMiddleware/(APIKey|SessionID)$' -benchmem -count N ./authn
//
// and prints each benchmark's median ns/op and its ratio to the floor's
// median of that same run.
//
// A store that does not answer is reported and the shared-store example
// skipped, the rest measured; if its flag was given, the run fails
// instead.
//
// # Store round trips
//
// Redis: INFO commandstats just before and just after the window; the
// difference of the calls, less the counter's own commands (it speaks
// RESP itself, so it knows them: the first INFO), over the requests
// answered in the window. The commands a Lua script runs count beside
// its EVALSHA, as Redis counts them. Counts are server-wide: CLIENT LIST
// tells the example's connections (the tool gives them a client_name)
// from others, and the report says when another client sent commands
// during the window.
//
// PostgreSQL: pg_stat_statements needs preloading, which a stock server
// lacks, so the tool counts the database's transactions
// (pg_stat_database, xact_commit + xact_rollback): one per statement sent
// outside BEGIN ... COMMIT, which is how the stores read on the request
// path, and one per block. Beside them, the scans and rows written of the
// example's own tables (pg_stat_user_tables, by its prefix), which are
// the example's alone. A backend publishes its counts at most once a
// second, so two readings ten seconds apart can be a tenth off; the tool
// reads every 250 ms during the window and takes the least-squares slope
// of each count against the requests answered, which the lag shifts but
// does not tilt, and takes its own readings' transactions out. The
// example's sessions carry an application_name, and the report says when
// another session on the database was active during the window (its
// transactions are in the count; the per-table figures are not affected).
//
// # Two cores, shared
//
// The load generator runs on the same machine as the servers and the
// stores, so every request is paid for twice from the same cores: by the
// server, and by the generator that sends it and reads the answer. The
// generator is kept lean for that: a fixed pool of goroutines, each with
// its own connection, a request built once, HTTP/1.1 read by hand into a
// reused buffer, no allocation per request, latencies counted in
// per-worker histograms. Still, on 2 cores it takes a share of the CPU
// that the servers would otherwise have (the report's CPU section gives
// it per row), so absolute requests/s are lower than the servers could do
// alone, by about that share: figures from this machine are not a
// server's capacity, and other machines' figures are not comparable to
// them.
//
// The ratios to the bare server move much less: every row pays about the
// same generator cost per request, so it lowers all the rows' rates
// alike. What remains pulls the ratios towards 1 (a server is slower
// than bare by its own cost only, diluted by the generator's shared cost),
// so a slow server's ratio reads a little higher than the servers' own
// costs alone would give. The CPU section has that other view: each
// server's CPU time per request, which the generator does not enter;
// the bare server's divided by a row's is the ratio of the servers alone
// (for the shared-store rows, without the stores' own work, which the
// section gives beside it).
// Anything else running on the machine (a build, another test) skews
// every figure: its CPU is "the rest" in that section, and the report
// warns when it reaches a fifth of a core (the processes' times and the
// machine's are sampled apart, and disagree by about a tenth either way).
// A single run's ratios move by several hundredths from one run to the
// next on 2 shared cores; -rounds N measures every row N times, a round
// after another, and prints the medians and the ratios' range: use it
// for figures to quote.
package main
