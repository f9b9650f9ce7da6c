package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/scopes"
	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/sqlstore"
)

// Variables that tell TestOpenChild what to do.
const (
	childDBEnv    = "KEYWARD_SQLSTORE_CHILD_DB"
	childNameEnv  = "KEYWARD_SQLSTORE_CHILD_NAME"
	childStartEnv = "KEYWARD_SQLSTORE_CHILD_START"
)

func TestConcurrentOpensInProcesses(t *testing.T) {
	t.Parallel()
	// Separate processes open one new SQLite file at the same instant:
	// file locks, not just SQLite's locks between connections of one
	// process, must make them take turns.
	const processes = 3
	path := filepath.Join(t.TempDir(), "shared.db")
	start := time.Now().Add(500 * time.Millisecond)
	cmds := make([]*exec.Cmd, processes)
	outs := make([]strings.Builder, processes)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestOpenChild$", "-test.count=1")
		cmds[i].Env = append(os.Environ(),
			childDBEnv+"="+path,
			childNameEnv+"="+fmt.Sprint("process", i),
			childStartEnv+"="+strconv.FormatInt(start.UnixNano(), 10))
		cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i].String())
		}
	}
	db := sqliteDB(t, path)
	if got := migrationRows(t, db, sqlstore.DefaultTablePrefix); len(got) != sqlstore.SchemaVersion() {
		t.Fatalf("migrations recorded: %v, want 1..%d", got, sqlstore.SchemaVersion())
	}
	s, err := sqlstore.Open(context.Background(), db, sqlstore.Config{CleanupInterval: -1})
	must(t, err)
	closeStore(t, s)
	for i := range processes {
		if _, err := s.AccountByLogin(context.Background(), scopes.User, fmt.Sprint("process", i)); err != nil {
			t.Errorf("the account process %d made: %v", i, err)
		}
	}
}

// TestOpenChild opens the database TestConcurrentOpensInProcesses names,
// at the instant it names, and makes an account.
func TestOpenChild(t *testing.T) {
	path := os.Getenv(childDBEnv)
	if path == "" {
		t.Skip("run by TestConcurrentOpensInProcesses")
	}
	at, err := strconv.ParseInt(os.Getenv(childStartEnv), 10, 64)
	must(t, err)
	time.Sleep(time.Until(time.Unix(0, at)))
	ctx := context.Background()
	s, err := sqlstore.OpenSQLite(ctx, path, sqlstore.Config{})
	must(t, err)
	defer s.Close()
	_, err = s.CreateAccount(ctx, store.Account{Scope: scopes.User, Username: os.Getenv(childNameEnv)})
	must(t, err)
}
