package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// serverFlags choose and configure the example child; every mode has them.
type serverFlags struct {
	pkg          string
	db, redis    string
	prefix       string
	env          envList
	logPath      string
	startTimeout time.Duration
	// lead are arguments before the flags, not a flag: the mode name
	// when the child is this tool's bare server.
	lead []string
}

// register adds the child's flags, its store included, to fs.
func (s *serverFlags) register(fs *flag.FlagSet) {
	s.registerCommon(fs)
	fs.StringVar(&s.db, "db", "", "the child's -db: empty for memory, sqlite:path, or postgres://...")
	fs.StringVar(&s.redis, "redis", "", "the child's -redis: redis://host:6379/0")
	fs.StringVar(&s.prefix, "prefix", "", "the child's -prefix; with -db or -redis, default a fresh random one per run, so that it seeds its own accounts with this tool's password (their tables and keys are left behind)")
}

// registerCommon adds the flags that do not choose the store.
func (s *serverFlags) registerCommon(fs *flag.FlagSet) {
	fs.StringVar(&s.pkg, "pkg", "./example", "the server's package, built with go build from the module root")
	fs.Var(&s.env, "env", "KEY=VALUE added to the child's environment (repeatable): GODEBUG=gctrace=1, GOMEMLIMIT=120MiB, GOGC=50, GOMAXPROCS=2")
	fs.StringVar(&s.logPath, "log", "", "append the child's output (its log and GODEBUG traces) to this file; default: discarded")
	fs.DurationVar(&s.startTimeout, "start-timeout", time.Minute, "how long the child may take to print its banner")
}

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q: want KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

// build compiles a package of the module into a directory of the user's
// cache (under keyward-load/, one per module directory and package) and
// returns the binary. go build leaves a binary that is up to date as it
// is, so a second run only checks it (a fraction of a second, where
// linking the example takes seconds). Without a cache directory it builds
// into a temporary one; the second result removes what build made then.
func build(ctx context.Context, pkg string) (bin string, cleanup func(), err error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", nil, err
	}
	cleanup = func() {}
	dir, err := buildDir(root, pkg)
	if err != nil {
		if dir, err = os.MkdirTemp("", "keyward-load-"); err != nil {
			return "", nil, err
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	bin = filepath.Join(dir, "server")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin, cleanup, nil
}

// buildDir is the cache directory of pkg's binary, made if need be.
func buildDir(root, pkg string) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(root + "\x00" + pkg))
	dir := filepath.Join(cache, "keyward-load", hex.EncodeToString(sum[:8]))
	return dir, os.MkdirAll(dir, 0o755)
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the keyward module")
	}
	return filepath.Dir(gomod), nil
}

// child is a running example server.
type child struct {
	cmd      *exec.Cmd
	url      string // http://127.0.0.1:port, from the banner
	password string // user@example.com's
	done     chan struct{}
	waitErr  error
	outWG    sync.WaitGroup
	log      io.Writer
	logMu    sync.Mutex
}

// bannerRE finds the server's address in the example's first line,
// "keyward example serving http://127.0.0.1:8080/api.php and ...", or in
// the bare server's (bare.go), "load bare serving http://.../api.php ...".
var bannerRE = regexp.MustCompile(`^(?:keyward example|load bare) serving (http://\S+?)/api\.php `)

// parseBanner returns the server's URL if line is a server's banner.
func parseBanner(line string) (string, bool) {
	m := bannerRE.FindStringSubmatch(line)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// start runs bin with extra flags and waits for its banner. The child
// gets this process's environment, a random password for each seeded
// account, and s.env.
func start(ctx context.Context, bin string, s serverFlags, extra ...string) (*child, error) {
	args := append(slices.Clone(s.lead), "-addr", "127.0.0.1:0")
	if s.db != "" {
		args = append(args, "-db", s.db)
	}
	if s.redis != "" {
		args = append(args, "-redis", s.redis)
	}
	prefix := s.prefix
	if prefix == "" && (s.db != "" || s.redis != "") {
		prefix = "kwload_" + strings.ToLower(rand.Text()[:8]) + "_"
	}
	if prefix != "" {
		args = append(args, "-prefix", prefix)
	}
	args = append(args, extra...)
	// The seeded accounts get random passwords, unless -env sets them;
	// for a variable given twice the child sees the last.
	env := append(os.Environ(), "KEYWARD_USER_PASSWORD="+rand.Text(), "KEYWARD_ADMIN_PASSWORD="+rand.Text())
	env = append(env, s.env...)
	if (s.db != "" || s.redis != "") && !hasEnv(env, "KEYWARD_KEYS") {
		// A store-backed example wants cookie and etoken keys that
		// outlive it; it makes a value with -genkeys.
		out, err := exec.CommandContext(ctx, bin, "-genkeys").Output()
		if err != nil {
			return nil, fmt.Errorf("%s -genkeys (set KEYWARD_KEYS instead): %w", bin, err)
		}
		env = append(env, "KEYWARD_KEYS="+strings.TrimSpace(string(out)))
	}
	c := &child{password: lastEnv(env, "KEYWARD_USER_PASSWORD"), done: make(chan struct{}), log: io.Discard}
	if s.logPath != "" {
		f, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(f, "--- load: %s %s\n", bin, strings.Join(args, " "))
		c.log = f
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c.cmd = cmd
	banner := make(chan string, 1)
	var firstLines bytes.Buffer // shown if the child dies before its banner
	var firstMu sync.Mutex
	copyLines := func(r io.Reader, lookForBanner bool) {
		defer c.outWG.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if lookForBanner {
				if u, ok := parseBanner(line); ok {
					lookForBanner = false
					banner <- u
				}
			}
			firstMu.Lock()
			if firstLines.Len() < 4<<10 {
				firstLines.WriteString(line + "\n")
			}
			firstMu.Unlock()
			c.logMu.Lock()
			fmt.Fprintln(c.log, line)
			c.logMu.Unlock()
		}
		_, _ = io.Copy(io.Discard, r) // a line over 1 MiB: keep draining
	}
	c.outWG.Add(2)
	go copyLines(stdout, true)
	go copyLines(stderr, false)
	go func() {
		c.outWG.Wait()
		c.waitErr = cmd.Wait()
		if f, ok := c.log.(*os.File); ok {
			f.Close()
		}
		close(c.done)
	}()

	timer := time.NewTimer(s.startTimeout)
	defer timer.Stop()
	select {
	case c.url = <-banner:
		return c, nil
	case <-c.done:
		err = fmt.Errorf("the server exited before its banner (%v)", c.waitErr)
	case <-timer.C:
		err = fmt.Errorf("no banner from the server in %v", s.startTimeout)
	case <-ctx.Done():
		err = ctx.Err()
	}
	c.stop()
	firstMu.Lock()
	defer firstMu.Unlock()
	return nil, fmt.Errorf("%w; its output:\n%s", err, firstLines.String())
}

// hasEnv reports whether env sets key.
func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); k == key {
			return true
		}
	}
	return false
}

// lastEnv is the value of key in env as a child sees it: the last one.
func lastEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, _ := strings.Cut(kv, "="); k == key {
			v = val
		}
	}
	return v
}

// stop asks the child to shut down (SIGTERM), kills it after 10 s, and
// waits for it.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return
	case <-time.After(10 * time.Second):
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

// procMem is a process's memory as /proc/<pid>/status tells it, in bytes.
type procMem struct {
	RSS, HWM int64 // VmRSS (now) and VmHWM (peak RSS)
}

// readProcMem reads /proc/<pid>/status.
func readProcMem(pid int) (procMem, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procMem{}, err
	}
	return parseProcStatus(b)
}

// parseProcStatus finds VmRSS and VmHWM ("VmHWM:	  123456 kB").
func parseProcStatus(b []byte) (procMem, error) {
	var m procMem
	var seen int
	for line := range strings.Lines(string(b)) {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("/proc status: bad %s line %q", name, line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("/proc status: bad %s line %q", name, line)
		}
		if name == "VmRSS" {
			m.RSS = kb << 10
		} else {
			m.HWM = kb << 10
		}
		seen++
	}
	if seen != 2 {
		return m, errors.New("/proc status: no VmRSS or VmHWM (not Linux?)")
	}
	return m, nil
}

// resetHWM sets the process's VmHWM back to its current RSS (Linux 4.0 and
// later: "5" to /proc/<pid>/clear_refs), so that the next reading is the
// peak of what follows, not of the server's start-up.
func resetHWM(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}

// rssSampler reads a process's VmRSS every interval until stopped, and
// keeps the largest.
type rssSampler struct {
	stopc chan struct{}
	done  chan struct{}
	max   int64
	n     int
	err   error
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			m, err := readProcMem(pid)
			if err != nil {
				s.err = err
				return
			}
			s.max = max(s.max, m.RSS)
			s.n++
			select {
			case <-s.stopc:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends the sampling and returns the largest VmRSS seen and how many
// samples were read.
func (s *rssSampler) stop() (maxRSS int64, samples int, err error) {
	close(s.stopc)
	<-s.done
	return s.max, s.n, s.err
}

// mib formats bytes in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
