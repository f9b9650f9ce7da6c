package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// redisConn is a minimal Redis client (RESP2 over one connection) for
// counting commands. It sends nothing of its own accord, no HELLO, no
// CLIENT SETINFO, no health check, so it knows exactly which commands it
// added to the server's counts: see sent. Not safe for concurrent use.
type redisConn struct {
	conn net.Conn
	br   *bufio.Reader
	// sent counts the commands sent on this connection, by their name in
	// INFO commandstats ("info", "client|list").
	sent map[string]int64
}

// redisError is an error answer ("-ERR ...").
type redisError string

func (e redisError) Error() string { return "redis: " + string(e) }

// dialRedis connects to the server of a redis:// URL, authenticates if
// the URL has a password, and selects its database.
func dialRedis(ctx context.Context, rawURL string) (*redisConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL: %w", err)
	}
	if u.Scheme != "redis" {
		return nil, fmt.Errorf("redis URL %q: the counter speaks redis:// only (no TLS, no cluster)", u.Redacted())
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "6379")
	}
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	r := &redisConn{conn: c, br: bufio.NewReader(c), sent: map[string]int64{}}
	if pw, ok := u.User.Password(); ok {
		args := []string{"AUTH", pw}
		if name := u.User.Username(); name != "" {
			args = []string{"AUTH", name, pw}
		}
		if _, err := r.do(ctx, args...); err != nil {
			c.Close()
			return nil, err
		}
	}
	if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
		if _, err := r.do(ctx, "SELECT", db); err != nil {
			c.Close()
			return nil, err
		}
	}
	return r, nil
}

// Close closes the connection.
func (r *redisConn) Close() error { return r.conn.Close() }

// do sends a command and reads its answer: a string (simple or bulk), an
// int64, a []any, nil, or an error (a redisError for an error answer).
func (r *redisConn) do(ctx context.Context, args ...string) (any, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	if err := r.conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	r.sent[statName(args)]++
	if _, err := io.WriteString(r.conn, b.String()); err != nil {
		return nil, err
	}
	v, err := readRESP(r.br)
	if err != nil {
		return nil, err
	}
	if e, ok := v.(redisError); ok {
		return nil, e
	}
	return v, nil
}

// statName is a command's name in INFO commandstats: "get", or
// "client|list" for a container command's subcommand.
func statName(args []string) string {
	if len(args) == 0 {
		return ""
	}
	name := strings.ToLower(args[0])
	switch name {
	case "client", "config", "command", "script", "memory", "object", "cluster", "acl", "function", "xinfo", "slowlog", "latency", "module", "pubsub":
		if len(args) > 1 {
			name += "|" + strings.ToLower(args[1])
		}
	}
	return name
}

// readRESP reads one RESP2 value: "+OK" and bulk strings as string, ":1"
// as int64, arrays as []any, the null bulk string or array as nil, and
// "-ERR ..." as a redisError value (not an error: the stream is fine).
func readRESP(br *bufio.Reader) (any, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("redis: bad line %q", line)
	}
	kind, rest := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return rest, nil
	case '-':
		return redisError(rest), nil
	case ':':
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("redis: bad integer %q", rest)
		}
		return n, nil
	case '$', '*':
		n, err := strconv.Atoi(rest)
		if err != nil || n < -1 || n > 512<<20 {
			return nil, fmt.Errorf("redis: bad length %q", rest)
		}
		if n == -1 {
			return nil, nil
		}
		if kind == '$' {
			b := make([]byte, n+2)
			if _, err := io.ReadFull(br, b); err != nil {
				return nil, err
			}
			if string(b[n:]) != "\r\n" {
				return nil, errors.New("redis: bulk string not followed by CRLF")
			}
			return string(b[:n]), nil
		}
		vs := make([]any, n)
		for i := range vs {
			if vs[i], err = readRESP(br); err != nil {
				return nil, err
			}
		}
		return vs, nil
	}
	return nil, fmt.Errorf("redis: unknown answer type %q", kind)
}

// redisSnap is INFO commandstats at one moment, with what this connection
// had sent by then.
type redisSnap struct {
	calls map[string]int64 // by command, as commandstats names them
	sent  map[string]int64 // r.sent before the INFO that read calls
}

// snapshot reads INFO commandstats. The server counts a command once it
// has run, so the INFO that reads the counts is not in them; every
// command this connection sent before it is.
func (r *redisConn) snapshot(ctx context.Context) (redisSnap, error) {
	sent := make(map[string]int64, len(r.sent))
	for k, v := range r.sent {
		sent[k] = v
	}
	v, err := r.do(ctx, "INFO", "commandstats")
	if err != nil {
		return redisSnap{}, err
	}
	s, ok := v.(string)
	if !ok {
		return redisSnap{}, fmt.Errorf("redis: INFO answered %T", v)
	}
	calls, err := parseCommandStats(s)
	if err != nil {
		return redisSnap{}, err
	}
	return redisSnap{calls: calls, sent: sent}, nil
}

// parseCommandStats reads INFO commandstats: the calls of each command,
// from lines "cmdstat_get:calls=12,usec=30,...". Calls count the commands
// the server ran, those that Lua scripts ran included (a script's
// redis.call("GET") counts under get, beside its evalsha); rejected
// commands are not in them.
func parseCommandStats(info string) (map[string]int64, error) {
	calls := map[string]int64{}
	header := false
	for line := range strings.Lines(info) {
		line = strings.TrimRight(line, "\r\n")
		if line == "# Commandstats" {
			header = true
			continue
		}
		rest, ok := strings.CutPrefix(line, "cmdstat_")
		if !ok {
			continue
		}
		name, fields, ok := strings.Cut(rest, ":")
		if !ok {
			return nil, fmt.Errorf("INFO commandstats: bad line %q", line)
		}
		found := false
		for f := range strings.SplitSeq(fields, ",") {
			if v, ok := strings.CutPrefix(f, "calls="); ok {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, fmt.Errorf("INFO commandstats: bad line %q", line)
				}
				calls[name], found = n, true
			}
		}
		if !found {
			return nil, fmt.Errorf("INFO commandstats: no calls= in %q", line)
		}
	}
	if !header {
		return nil, errors.New("INFO commandstats: no # Commandstats section")
	}
	return calls, nil
}

// redisCounts are the Redis commands of one window.
type redisCounts struct {
	// Calls are the commands the server ran, this counter's own taken
	// out; ByCommand splits them.
	Calls     int64
	ByCommand map[string]int64
	// Tagged is how many of the server's clients are the example's (named
	// by client_name); Foreign how many others sent a command during the
	// window, whose commands are in Calls too.
	Tagged, Foreign int
}

// redisDelta is what the server ran between two snapshots, less what this
// connection sent between them.
func redisDelta(a, b redisSnap) redisCounts {
	c := redisCounts{ByCommand: map[string]int64{}}
	for name, n := range b.calls {
		d := n - a.calls[name] - (b.sent[name] - a.sent[name])
		if d != 0 {
			c.ByCommand[name] = d
			c.Calls += d
		}
	}
	return c
}

// redisClient is one line of CLIENT LIST.
type redisClient struct {
	addr, name, cmd string
	age, idle       int64 // seconds
}

// parseClientList reads CLIENT LIST: a line per client of "key=value"
// fields.
func parseClientList(s string) []redisClient {
	var cs []redisClient
	for line := range strings.Lines(s) {
		var c redisClient
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "addr":
				c.addr = v
			case "name":
				c.name = v
			case "cmd":
				c.cmd = v
			case "age":
				c.age, _ = strconv.ParseInt(v, 10, 64)
			case "idle":
				c.idle, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		if c.addr != "" {
			cs = append(cs, c)
		}
	}
	return cs
}

// classifyClients counts the clients named tag (the example's), and the
// others, but self (this counter's address), that sent a command within
// the last window. Redis tells idleness in whole seconds, so a client
// that sent one up to a second before the window counts too.
func classifyClients(cs []redisClient, self, tag string, window time.Duration) (tagged, foreign int) {
	for _, c := range cs {
		switch {
		case c.addr == self:
		case tag != "" && c.name == tag:
			tagged++
		case time.Duration(c.idle)*time.Second < window:
			foreign++
		}
	}
	return tagged, foreign
}

// clients reads CLIENT LIST and classifies it.
func (r *redisConn) clients(ctx context.Context, tag string, window time.Duration) (tagged, foreign int, err error) {
	v, err := r.do(ctx, "CLIENT", "LIST")
	if err != nil {
		return 0, 0, err
	}
	s, ok := v.(string)
	if !ok {
		return 0, 0, fmt.Errorf("redis: CLIENT LIST answered %T", v)
	}
	tagged, foreign = classifyClients(parseClientList(s), r.conn.LocalAddr().String(), tag, window)
	return tagged, foreign, nil
}

// serverInfo reads INFO server's redis_version and process_id.
func (r *redisConn) serverInfo(ctx context.Context) (version string, pid int, err error) {
	v, err := r.do(ctx, "INFO", "server")
	if err != nil {
		return "", 0, err
	}
	s, _ := v.(string)
	for line := range strings.Lines(s) {
		k, val, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch k {
		case "redis_version":
			version = val
		case "process_id":
			pid, _ = strconv.Atoi(val)
		}
	}
	if version == "" {
		return "", 0, errors.New("redis: no redis_version in INFO server")
	}
	return version, pid, nil
}

// deletePrefix deletes the keys that start with prefix (SCAN, then
// UNLINK), and reports how many it deleted.
func (r *redisConn) deletePrefix(ctx context.Context, prefix string) (int, error) {
	pattern := globEscape(prefix) + "*"
	cursor, deleted := "0", 0
	for {
		v, err := r.do(ctx, "SCAN", cursor, "MATCH", pattern, "COUNT", "1000")
		if err != nil {
			return deleted, err
		}
		vs, ok := v.([]any)
		if !ok || len(vs) != 2 {
			return deleted, fmt.Errorf("redis: SCAN answered %v", v)
		}
		cursor, _ = vs[0].(string)
		keys, _ := vs[1].([]any)
		if len(keys) > 0 {
			args := []string{"UNLINK"}
			for _, k := range keys {
				if s, ok := k.(string); ok {
					args = append(args, s)
				}
			}
			if _, err := r.do(ctx, args...); err != nil {
				return deleted, err
			}
			deleted += len(args) - 1
		}
		if cursor == "0" || cursor == "" {
			return deleted, nil
		}
	}
}

// globEscape escapes the characters MATCH patterns treat specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
