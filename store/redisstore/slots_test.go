package redisstore_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/redisstore"
	"github.com/keyward/keyward/store/storetest"
)

func TestOneStepOneSlot(t *testing.T) {
	t.Parallel()
	// A Cluster runs a script, or any command, only on keys of one hash
	// slot (CROSSSLOT otherwise), and a MULTI ... EXEC likewise. Every
	// command the store sends under the whole conformance suite, and the
	// calls the suite does not make, is recorded; the keys of each (as
	// Redis reads them: COMMAND GETKEYS) and of each MULTI ... EXEC must
	// be of one slot, and every script of the store must have run. A
	// pipeline is not one step (a cluster client splits it by node), so
	// its commands are checked one by one.
	for _, tg := range targets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			c := tg.client(t)
			rec := &recorder{}
			c.AddHook(rec)
			storetest.Run(t, func(t *testing.T, now func() time.Time) any {
				return newStore(t, c, redisstore.Config{Now: now})
			})
			if t.Failed() {
				return
			}
			// What the suite does not call.
			ctx := context.Background()
			s := newStore(t, c, redisstore.Config{})
			for i := range 20 {
				must(t, s.CreateSession(ctx, newSession(fmt.Sprint(i), user(int64(i%3+1)), time.Now(), time.Minute)))
			}
			_, err := s.Cleanup(ctx)
			must(t, err)
			must(t, s.Invalidate(ctx, user(1)))

			checked, scripts := checkSlots(t, c, rec.take())
			t.Logf("%d multi-key commands and transactions in one slot each; %d scripts run", checked, len(scripts))
			if checked < 100 {
				t.Errorf("only %d multi-key commands recorded", checked)
			}
			if len(scripts) != redisstore.ScriptCount() {
				t.Errorf("ran %d distinct scripts %v; the store has %d: make the test run every one",
					len(scripts), scripts, redisstore.ScriptCount())
			}

			// The session key is found from its hash, in one GET: its tag
			// is the hash's first byte.
			h := store.HashOf([]byte("x"))
			owners, expiry := redisstore.BucketKeys(s, h)
			if key := redisstore.SessionKey(s, h); hashTag(key) != fmt.Sprintf("s%02x", h[0]) ||
				hashTag(owners) != hashTag(key) || hashTag(expiry) != hashTag(key) {
				t.Errorf("keys %q, %q, %q", key, owners, expiry)
			}
		})
	}
}

// checkSlots fails the test for each of cmds, or each MULTI ... EXEC among
// them, whose keys are of more than one hash slot. It returns how many it
// checked that had more than one key, and the SHA1 of each script run.
func checkSlots(t *testing.T, c redis.UniversalClient, cmds [][]string) (checked int, scripts map[string]bool) {
	t.Helper()
	ctx := context.Background()
	node := nodes(t, c)[0] // every node reads keys alike
	pipe := node.Pipeline()
	getKeys := make([]*redis.StringSliceCmd, len(cmds))
	for i, cmd := range cmds {
		args := []any{"command", "getkeys"}
		for _, a := range cmd {
			args = append(args, a)
		}
		getKeys[i] = redis.NewStringSliceCmd(ctx, args...)
		_ = pipe.Process(ctx, getKeys[i])
	}
	_, _ = pipe.Exec(ctx) // a command without keys is an error: see below

	scripts = make(map[string]bool)
	var tx []string // the keys of the open MULTI
	inTx := false
	oneSlot := func(what []string, keys []string) {
		checked++
		for _, k := range keys[1:] {
			if keySlot(k) != keySlot(keys[0]) {
				t.Errorf("%.80q touches keys of slots %d and %d: %q", what, keySlot(keys[0]), keySlot(k), keys)
				return
			}
		}
	}
	var multiKey []string
	for i, cmd := range cmds {
		name := strings.ToLower(cmd[0])
		keys, err := getKeys[i].Result()
		if err != nil {
			// No keys, or a command this Redis does not know (the
			// client's own handshake may try newer ones).
			if !strings.Contains(err.Error(), "no key arguments") && !strings.Contains(err.Error(), "Invalid command specified") {
				t.Fatalf("COMMAND GETKEYS %.80q: %v", cmd, err)
			}
			keys = nil
		}
		switch name {
		case "evalsha":
			scripts[cmd[1]] = true
		case "eval":
			sum := sha1.Sum([]byte(cmd[1]))
			scripts[hex.EncodeToString(sum[:])] = true
		case "multi":
			tx, inTx = nil, true
			continue
		case "exec", "discard":
			if len(tx) > 1 {
				oneSlot([]string{"MULTI"}, tx)
			}
			inTx = false
			continue
		}
		if inTx {
			tx = append(tx, keys...)
		}
		if len(keys) > 1 {
			oneSlot(cmd, keys)
			multiKey = append(multiKey, keys...)
		}
	}

	// On a cluster, Redis's own slots must be keySlot's.
	if _, ok := c.(*redis.ClusterClient); ok && len(multiKey) > 0 {
		pipe := node.Pipeline()
		slots := make([]*redis.IntCmd, len(multiKey))
		for i, k := range multiKey {
			slots[i] = pipe.ClusterKeySlot(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		for i, k := range multiKey {
			if slots[i].Val() != int64(keySlot(k)) {
				t.Fatalf("CLUSTER KEYSLOT %q = %d, keySlot says %d", k, slots[i].Val(), keySlot(k))
			}
		}
	}
	return checked, scripts
}

// keySlot returns the Redis Cluster hash slot of key: the CRC16 (XMODEM)
// of its hash tag, modulo 16384.
func keySlot(key string) int {
	var crc uint16
	for _, b := range []byte(hashTag(key)) {
		crc ^= uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc % 16384)
}
