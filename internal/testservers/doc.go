// Package testservers finds the PostgreSQL and Redis servers that tests
// run against. A variable names each (KEYWARD_TEST_POSTGRES,
// KEYWARD_TEST_REDIS): set, its server must answer, or the test fails;
// unset, the default local server is tried, and the test is skipped,
// saying what to set, only when nothing answers there. So `go test ./...`
// runs everything on a machine with the servers, passes anywhere, and CI
// (which sets both) never skips silently.
package testservers
