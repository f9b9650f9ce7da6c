package redisstore_test

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// TestMain runs the examples only where Redis is configured: they talk to
// a real server and check their output, which a missing server would fail
// rather than skip. Without KEYWARD_TEST_REDIS, and with no -run of the
// caller's, only the tests run (and skip, saying how to run them).
func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(redisEnv) == "" && flag.Lookup("test.run").Value.String() == "" {
		_ = flag.Set("test.run", "^Test")
		fmt.Fprintln(os.Stderr, "redisstore: examples not run: "+skipMessage)
	}
	os.Exit(m.Run())
}
