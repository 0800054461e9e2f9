package ratelimit

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/waqueue/waqueue/store"
)

// Redis is a Limiter whose state is kept in Redis, so that every process
// sharing the Redis shares the rate: SEND_RATE per source number for the
// whole fleet of workers rather than for each of them. It is safe for
// concurrent use.
//
// Each key is one Redis string holding the GCRA "theoretical arrival
// time" (TAT) in microseconds of Redis's clock, read and moved by one Lua
// script per Wait, or per batch of Waits that arrive together (see
// batch.go). GCRA is a token bucket kept as a single timestamp: a
// call may go at TAT − burst×interval, and moves TAT on by one interval.
// The script reads the time with TIME, so the processes' clocks take no
// part and skew between hosts changes nothing.
//
// Like Local, a wait of up to MaxWait is reserved in Redis and waited out
// here; a longer one reserves nothing and comes back as retryAfter, which
// places the caller behind the others turned away while callers wait (see
// reserve). A caller whose context ends during the wait gives its slot
// back (see release for when that is possible).
//
// When Redis fails, Wait takes nothing and returns ErrorDelay as
// retryAfter with a nil error: the task is handed back without using an
// attempt, and nothing is ever sent unpaced. See NewRedis.
//
// Every command is an EVALSHA (or EVAL, the first time a server sees the
// script) naming exactly one key, "waq:rate:{<key>}", so it runs as is on
// a standalone Redis, behind Sentinel, or on a Cluster, where the key's
// slot decides the node.
//
// This is GCRA as github.com/go-redis/redis_rate does it, written out here
// rather than imported because that library fits none of the three things
// the worker needs: its keys are "rate:"+key, outside the project's "waq:"
// prefix and, unless the caller smuggles braces in, without a hash tag;
// it only allows or refuses now, with no reservation of a slot within
// MaxWait, so waiting callers would have to poll Redis and race each other
// for every slot rather than each getting its own in one round trip; and
// it has nothing to give a reservation back. It also takes an integer rate
// per period where SEND_RATE is a float.
type Redis struct {
	rdb      redis.UniversalClient
	interval int64 // microseconds between tokens, at least 1
	cfg      config

	mu     sync.Mutex
	queues map[string]*keyQueue // keys with callers reserving
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a Redis limiter allowing limit events per second per
// key across every process using the same Redis. Burst and MaxWait mean
// what they mean for Local; ErrorDelay, OnError and RedisTimeout say what
// happens when Redis fails; IdleTTL does not apply, since every key
// expires in Redis as soon as its bucket is full again.
//
// Redis keeps time in whole microseconds: the interval between tokens is
// 1/limit rounded up to a microsecond, so the rate is never above limit
// and is at most 10^6 per second. It panics when limit is not positive.
//
// On a Redis error the decision is to hand the task back rather than to
// fall back to a process-local limit. A local fallback would need the
// number of replicas to divide the rate by, which autoscaling changes
// under it, and a count that is too low sends above the contracted rate,
// the one thing this limiter exists to prevent. And an outage that reaches this limiter
// has most often stopped asynq and the send records, which live in the
// same Redis, so sends could not go on safely anyway. What is left is a
// Cluster losing the one node holding a source's key: its failover takes
// seconds, and the tasks wait them out in the queue, unharmed.
func NewRedis(rdb redis.UniversalClient, limit rate.Limit, opts ...Option) *Redis {
	if !(limit > 0) {
		panic(fmt.Sprintf("ratelimit: limit must be positive, got %v", limit))
	}
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	iv := math.Ceil(1e6 / float64(limit))
	if !(iv >= 1) { // rate.Inf, or a limit above 10^6
		iv = 1
	}
	return &Redis{rdb: rdb, interval: int64(min(iv, math.MaxInt64/4)), cfg: cfg, queues: map[string]*keyQueue{}}
}

// RedisKey is the Redis key holding the state of a limiter key, e.g.
// "waq:rate:{917834811114}". Its hash tag is the limiter key, as the
// project's rule for keys has it, though each script here touches this
// one key only and so runs on any Cluster node that holds it.
func RedisKey(key string) string { return store.Prefix + "rate:{" + key + "}" }

// reserve takes tokens for KEYS[1], one for each caller of a batch (see
// batch.go), in their order, each if it is free now or within that
// caller's longest wait: ARGV[3], ARGV[4], ... in microseconds. ARGV[1] is
// the interval between tokens and ARGV[2] the burst. For each caller it
// returns three numbers: {1, wait, tat} when it reserved a token, to be
// used after wait microseconds, tat being the TAT it left behind (the
// receipt release needs), or {0, retry, 0} when the wait was too long and
// no token was taken. The callers of a batch fare exactly as the same
// calls one after another would, so every bound on the rate is what it is
// for single calls; a batch of one is a single call.
//
// A refused caller is told retry as Local.turnAway tells it: the wait for
// the next token when nobody waits ahead of it, and otherwise a place in
// the line of refused callers, lineGap behind the last one, so that
// a fleet's backlog comes back at the rate the key serves it. The line is
// kept in the same string as the TAT, as "<tat>:<line>", so that every
// script still touches one key; it takes no token, so the TAT and every
// bound on the rate are as they would be without it.
//
// Numbers are kept as integer microseconds: about 1.8e15 today, exact in
// Lua's doubles (below 2^53) until the year 2255. They are written with
// %.0f, since Redis would turn a Lua number into a string with %.14g and
// lose the last digits. A key lives while its TAT or its line is ahead of
// now, that is while its bucket is not full or refused callers are still
// due back; an expired key and a full bucket are the same thing, so idle
// keys cost no memory.
//
// TIME makes the script non-deterministic, which Redis 5 and later
// replicate by effects (the SET) by default; replicate_commands asks for
// that on Redis 3.2 and 4, and is a no-op kept for compatibility on 7.
var reserve = redis.NewScript(`
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local v = redis.call('GET', KEYS[1]) or ''
local tat, line = 0, 0
local sep = string.find(v, ':', 1, true)
if sep then
	tat = tonumber(string.sub(v, 1, sep - 1)) or 0
	line = tonumber(string.sub(v, sep + 1)) or 0
else
	tat = tonumber(v) or 0
end
local gap = math.max(math.floor(interval * 2 / 3), 1)
local out, changed = {}, false
for i = 3, #ARGV do
	local base = tat
	if base < now then
		base = now
	end
	local new_tat = base + interval
	local wait = new_tat - burst * interval - now
	if wait < 0 then
		wait = 0
	end
	if wait <= tonumber(ARGV[i]) then
		tat, changed = new_tat, true
		out[#out + 1], out[#out + 2], out[#out + 3] = 1, wait, new_tat
	elseif wait <= interval then
		-- Nobody waits ahead: the next token is the place.
		out[#out + 1], out[#out + 2], out[#out + 3] = 0, wait, 0
	else
		-- Callers wait ahead (so tat is ahead of now): line up behind the
		-- last one turned away, as lineGap spaces them.
		local at = now + wait
		if line + gap > at then
			at = line + gap
		end
		line, changed = at, true
		out[#out + 1], out[#out + 2], out[#out + 3] = 0, at - now, 0
	end
end
if changed then
	local val, keep = string.format('%.0f', tat), tat
	if line > now then
		val = val .. string.format(':%.0f', line)
		keep = math.max(keep, line)
	end
	redis.call('SET', KEYS[1], val, 'PX', math.ceil((keep - now) / 1000) + 1)
end
return out
`)

// release gives back the token whose reservation left ARGV[1] as the TAT,
// ARGV[2] being the interval, if no later reservation has moved the TAT
// since: it then moves the TAT back by one interval, so that the next
// caller takes the given-back slot. Otherwise it does nothing. The line of
// refused callers, if any, is kept as it is.
//
// Later callers already sleep towards their own slots, so a hole in the
// middle of the schedule could only be filled by a second caller in one
// of theirs, which would put two sends in one slot: a window could hold
// one more than rate × length + burst. So a slot that is not the last is
// lost, and the key runs a little below its rate for one interval, never
// above; x/time/rate's Reservation.Cancel, which Local uses, gives back
// only what later reservations have not built on, for the same reason.
//
// The TAT grows with every reservation, and a key is only dropped once
// its TAT has passed, after which a new TAT starts at now + interval, past
// any receipt still held: equal values always mean the same reservation.
// The TTL is kept, so the key may outlive its full bucket by one interval,
// which is harmless: a TAT in the past reads as a full bucket anyway.
var release = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then
	return 0
end
local tat, rest = v, ''
local sep = string.find(v, ':', 1, true)
if sep then
	tat, rest = string.sub(v, 1, sep - 1), string.sub(v, sep)
end
if tat ~= ARGV[1] then
	return 0
end
local ttl = redis.call('PTTL', KEYS[1])
local back = string.format('%.0f', tonumber(ARGV[1]) - tonumber(ARGV[2])) .. rest
if ttl > 0 then
	redis.call('SET', KEYS[1], back, 'PX', ttl)
else
	redis.call('SET', KEYS[1], back)
end
return 1
`)

// Wait implements Limiter.
func (r *Redis) Wait(ctx context.Context, key string) (time.Duration, error) {
	return r.wait(ctx, key, r.cfg.maxWait)
}

// wait is Wait with the longest wait given by the caller, which for a
// Layered limiter is what its local wait has left of MaxWait.
func (r *Redis) wait(ctx context.Context, key string, maxWait time.Duration) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if dl, ok := ctx.Deadline(); ok {
		// As in Local: waiting past the deadline would only fail the send.
		maxWait = min(maxWait, time.Until(dl))
	}
	maxWait = max(maxWait, 0)

	rkey := RedisKey(key)
	res, err := r.reserve(ctx, key, maxWait)
	if err != nil {
		// The script may have run and reserved a slot whose receipt never
		// arrived, here or on a timeout: that slot is lost, the safe side.
		if ctxErr := ctx.Err(); ctxErr != nil {
			return 0, ctxErr
		}
		return r.failed(key, err), nil
	}
	if !res.reserved {
		// wait > maxWait >= 0, so the caller cannot mistake it for a go.
		return max(res.wait, time.Microsecond), nil
	}
	wait, tat := res.wait, res.tat
	if ctx.Err() != nil {
		// Ended while the batch's call was in flight.
		r.giveBack(ctx, key, rkey, tat)
		return 0, ctx.Err()
	}
	if wait <= 0 {
		return 0, nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return 0, nil
	case <-ctx.Done():
		r.giveBack(ctx, key, rkey, tat)
		return 0, ctx.Err()
	}
}

// giveBack returns a reserved slot whose caller has stopped waiting, on a
// context of its own since the caller's has ended, bounded by
// RedisTimeout since the caller is leaving. A failure only loses the slot.
func (r *Redis) giveBack(ctx context.Context, key, rkey string, tat int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.redisTimeout)
	defer cancel()
	if err := release.Run(ctx, r.rdb, []string{rkey}, strconv.FormatInt(tat, 10), r.interval).Err(); err != nil {
		r.report(key, err)
	}
}

// failed reports err and returns the retryAfter for a call Redis failed.
func (r *Redis) failed(key string, err error) time.Duration {
	r.report(key, err)
	return r.cfg.errorDelay
}

func (r *Redis) report(key string, err error) {
	if r.cfg.onError != nil {
		r.cfg.onError(key, err)
	}
}
