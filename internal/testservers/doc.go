// Package testservers finds the PostgreSQL and Redis servers, and the
// Redis Cluster, that tests run against. A variable names each
// (KEYWARD_TEST_POSTGRES, KEYWARD_TEST_REDIS, KEYWARD_TEST_REDIS_CLUSTER):
// set, its server must answer, or the test fails; unset, the default
// local server is tried, and the test is skipped, saying what to set, only
// when nothing answers there (a cluster whose nodes answer but that is not
// healthy fails). So `go test ./...` runs everything on a machine with the
// servers, passes anywhere, and CI (which sets all three) never skips
// silently.
package testservers
