// Command load drives the example server (./example) as a child process
// and reports what a load costs it. It is a measuring tool, not a test:
// nothing in it asserts a duration.
//
//	go run ./tools/load logins                  # 1000 concurrent password logins
//	go run ./tools/load logins -n 500 -runs 5   # five fresh servers, 500 each
//	go run ./tools/load logins -max-rss 150     # exit 1 if a peak is over 150 MiB
//	go run ./tools/load logins -env GODEBUG=gctrace=1 -log /tmp/example.log
//	go run ./tools/load logins -db postgres://... -redis redis://...
//
// Each run builds the example (go build, into a temporary directory), starts
// it on 127.0.0.1 with a port of the kernel's choosing and a random user
// password, waits for its banner, then runs the mode's load and reads the
// child's memory from /proc (Linux only). Run "go run ./tools/load help"
// for the modes and "go run ./tools/load <mode> -h" for their flags.
package main
