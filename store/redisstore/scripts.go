package redisstore

import "github.com/redis/go-redis/v9"

// scripts are the Lua scripts of a [Store]. Each touches only the keys it
// is given, all in one hash slot, and Redis runs it atomically: the
// decision on what it reads and the write that follows are one step, for
// every process that shares the Redis.
//
// Times are compared as the 20-digit strings of [encodeTime], whose order
// is the instants' order.
type scripts struct {
	claim, increment, decrement, putUnlessLive                 *redis.Script
	createSession, touchSession, deleteSession, deleteSessions *redis.Script
	gcSessions                                                 *redis.Script
}

func newScripts() scripts {
	return scripts{
		claim:          redis.NewScript(claimLua),
		increment:      redis.NewScript(incrementLua),
		decrement:      redis.NewScript(decrementLua),
		putUnlessLive:  redis.NewScript(putUnlessLiveLua),
		createSession:  redis.NewScript(sessionLib + createSessionLua),
		touchSession:   redis.NewScript(sessionLib + touchSessionLua),
		deleteSession:  redis.NewScript(sessionLib + deleteSessionLua),
		deleteSessions: redis.NewScript(sessionLib + deleteSessionsLua),
		gcSessions:     redis.NewScript(sessionLib + gcSessionsLua),
	}
}

// claimLua claims KEYS[1] unless a live claim holds it.
// ARGV: now, the claim's end (encoded times), Redis TTL in ms.
// Returns 1 if this call claimed the key, 0 if a live claim holds it.
const claimLua = `
local ends = redis.call('GET', KEYS[1])
if ends and ends > ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`

// incrementLua counts in the window of the counter KEYS[1] (a hash: c the
// count, r the window's end), or starts a new window.
// ARGV: now, a new window's end (encoded times), Redis TTL in ms.
// Returns {count, window end}.
const incrementLua = `
local r = redis.call('HGET', KEYS[1], 'r')
if r and r > ARGV[1] then
	return {redis.call('HINCRBY', KEYS[1], 'c', 1), r}
end
redis.call('HSET', KEYS[1], 'c', 1, 'r', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, ARGV[2]}
`

// decrementLua takes one from the count of the counter KEYS[1] (a hash: c
// the count, r the window's end) if its window has not ended and the count
// is above zero. HINCRBY leaves the key's TTL and the window's end as they
// are; an absent or ended counter is left alone, not brought back.
// ARGV: now (encoded). Returns 1 if it took one, 0 otherwise.
const decrementLua = `
local v = redis.call('HMGET', KEYS[1], 'c', 'r')
if not v[2] or v[2] <= ARGV[1] then return 0 end
local c = tonumber(v[1])
if not c or c <= 0 then return 0 end
redis.call('HINCRBY', KEYS[1], 'c', -1)
return 1
`

// putUnlessLiveLua stores a record whose value starts with its expiry (a
// captcha challenge, a one-time token) at KEYS[1] unless a live record is
// there. ARGV: now (encoded), the value (its expiry, then the rest), Redis
// TTL in ms. Returns 1 if stored, 0 if the key is taken.
const putUnlessLiveLua = `
local old = redis.call('GET', KEYS[1])
if old and string.sub(old, 1, 20) > ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
`

// sessionLib is shared by the session scripts. A session's value is its
// expiry, last-seen and creation times (20 digits each), its TFA flag (one
// byte), its API key hash (32 bytes), then "scope:id|" and the rest
// (generation part, switch part, method), which the scripts keep as it
// is: see [encodeSession]. Its bucket's index is two sorted sets of entries
// "scope:id:hexhash": KEYS[2] ("owners") all with score 0, to find an
// account's entries by lexical range, and KEYS[3] ("expiry") scored by
// the session's expiry in Unix milliseconds rounded up, to forget the
// entries whose score is not after now in milliseconds rounded down: their
// sessions have certainly expired.
const sessionLib = `
local function owner(v)
	return string.sub(v, 94, string.find(v, '|', 94, true) - 1)
end
local function gc(owners, expiry, nowms)
	local dead = redis.call('ZRANGEBYSCORE', expiry, '-inf', nowms, 'LIMIT', 0, 100)
	if #dead > 0 then
		redis.call('ZREM', expiry, unpack(dead))
		redis.call('ZREM', owners, unpack(dead))
	end
end
`

// createSessionLua stores the session KEYS[1] unless a live session has
// its hash, and indexes it in its bucket (KEYS[2], KEYS[3]).
// ARGV: now (encoded), the value, Redis TTL in ms, the index entry, its
// score, now in ms, the hash in hex.
// Returns 1 if stored, 0 if the hash is taken.
const createSessionLua = `
local old = redis.call('GET', KEYS[1])
if old then
	if string.sub(old, 1, 20) > ARGV[1] then return 0 end
	local entry = owner(old) .. ':' .. ARGV[7]
	redis.call('ZREM', KEYS[2], entry)
	redis.call('ZREM', KEYS[3], entry)
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
gc(KEYS[2], KEYS[3], ARGV[6])
return 1
`

// touchSessionLua sets the live session KEYS[1]'s expiry and last-seen
// time, and its index entry's score.
// ARGV: now, the new expiry, the new last-seen time (encoded), Redis TTL
// in ms, the hash in hex, the entry's score, now in ms.
// Returns 1 if touched, 0 if the session is absent or expired.
const touchSessionLua = `
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, 20) <= ARGV[1] then return 0 end
local entry = owner(v) .. ':' .. ARGV[5]
redis.call('SET', KEYS[1], ARGV[2] .. ARGV[3] .. string.sub(v, 41), 'PX', ARGV[4])
redis.call('ZADD', KEYS[2], 0, entry)
redis.call('ZADD', KEYS[3], ARGV[6], entry)
gc(KEYS[2], KEYS[3], ARGV[7])
return 1
`

// deleteSessionLua deletes the session KEYS[1] and its index entry.
// ARGV: the hash in hex, now in ms.
const deleteSessionLua = `
local v = redis.call('GET', KEYS[1])
if v then
	local entry = owner(v) .. ':' .. ARGV[1]
	redis.call('ZREM', KEYS[2], entry)
	redis.call('ZREM', KEYS[3], entry)
	redis.call('DEL', KEYS[1])
end
gc(KEYS[2], KEYS[3], ARGV[2])
return 1
`

// deleteSessionsLua deletes, of the sessions KEYS[3...] of one bucket
// whose index is KEYS[1] and KEYS[2], those the account owns, except the
// one kept, and their index entries. A session of that hash that another
// account owns now (made after the account's expired) stays; the
// account's stale entry goes.
// ARGV: now (encoded), the account "scope:id", the kept hash in hex, now
// in ms, then the hash in hex of each session key.
// Returns how many live sessions it deleted.
const deleteSessionsLua = `
local n = 0
for i = 3, #KEYS do
	local hex = ARGV[i + 2]
	if hex ~= ARGV[3] then
		local v = redis.call('GET', KEYS[i])
		if v and owner(v) == ARGV[2] then
			if string.sub(v, 1, 20) > ARGV[1] then n = n + 1 end
			redis.call('DEL', KEYS[i])
		end
		local entry = ARGV[2] .. ':' .. hex
		redis.call('ZREM', KEYS[1], entry)
		redis.call('ZREM', KEYS[2], entry)
	end
end
gc(KEYS[1], KEYS[2], ARGV[4])
return n
`

// gcSessionsLua forgets the expired entries of one bucket's index, KEYS[1]
// and KEYS[2], and returns how many entries are left. ARGV: now in ms.
const gcSessionsLua = `
gc(KEYS[1], KEYS[2], ARGV[1])
return redis.call('ZCARD', KEYS[2])
`
