package ratelimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Layered is the fleet-wide Limiter: a Local limiter in front of a Redis
// one, both at the same rate and burst. A call waits its turn in this
// process first, then takes a slot in Redis; MaxWait bounds the two waits
// together. It is safe for concurrent use.
//
// The local wait may use at most half of MaxWait, and the Redis wait gets
// whatever is left, so at least the other half. Under a backlog the local
// queue is always full; were it allowed all of MaxWait, calls would reach
// Redis with next to nothing left to wait, Redis could only give them a
// slot that is free that very moment, and every slot that passed between
// two arrivals would be lost: three processes sharing 100/s with a
// MaxWait of 100 ms sent 92% of the rate that way, and 100% with the
// split.
//
// Redis is the truth: only its GCRA sees every process, so only it keeps
// the fleet's sum at the rate, and it alone would be enough. The local
// limiter is a smoother that keeps a backlog from turning into a herd of
// Redis calls: however many tasks a process holds for a source, it makes
// at most rate + burst calls a second for it, and turns the rest away in
// memory.
//
// Why the full rate, not rate / replicas: a token bucket in front of an
// identical one never delays what it lets through, so a process alone
// (a single replica, or the only one holding tasks for a source) still
// gets the whole fleet rate (but for network jitter, which Redis then
// absorbs with a short wait), and the local bucket alone could never let a
// process exceed the fleet's limit either. A fraction would need the
// number of replicas, which autoscaling changes, and would cap a source
// below its rate whenever its tasks sit with fewer processes than that.
// What the local layer cannot do is make the sum right: N processes let
// through up to N × rate calls together, and Redis sorts them out.
//
// A local token is spent once the call goes to Redis, whatever Redis
// answers: it paid for a Redis call, which is what the local layer meters.
// So a call Redis turns away, or whose context ends while it waits for
// its Redis slot, does not return its local token; the local bucket then
// runs a little ahead of what was sent, which costs nothing while Redis
// is the tighter limit, as it is whenever this matters.
type Layered struct {
	local   *Local
	fleet   *Redis
	maxWait time.Duration
}

var _ Limiter = (*Layered)(nil)

// NewLayered returns a Layered limiter allowing limit events per second
// per key across every process using rdb's Redis. The options apply to
// both layers: Burst as for Local and Redis, MaxWait to the two waits
// together as described above, IdleTTL to the
// local layer, ErrorDelay, OnError and RedisTimeout to the Redis one. It panics when
// limit is not positive.
func NewLayered(rdb redis.UniversalClient, limit rate.Limit, opts ...Option) *Layered {
	fleet := NewRedis(rdb, limit, opts...)
	return &Layered{
		local:   New(limit, append(opts[:len(opts):len(opts)], MaxWait(fleet.cfg.maxWait/2))...),
		fleet:   fleet,
		maxWait: fleet.cfg.maxWait,
	}
}

// Wait implements Limiter. A retryAfter from the local layer is this
// process's own backlog; one from Redis is the fleet's, or ErrorDelay
// when Redis failed.
func (l *Layered) Wait(ctx context.Context, key string) (time.Duration, error) {
	start := time.Now()
	if d, err := l.local.Wait(ctx, key); err != nil || d > 0 {
		return d, err
	}
	return l.fleet.wait(ctx, key, l.maxWait-time.Since(start))
}

// Len is the number of keys the local layer holds, for metrics.
func (l *Layered) Len() int { return l.local.Len() }
