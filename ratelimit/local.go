package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Local is a Limiter that keeps one token bucket per key in this process.
// It is safe for concurrent use.
type Local struct {
	limit rate.Limit
	cfg   config
	// interval is the time between two tokens, 1/limit.
	interval time.Duration

	keys      sync.Map // string -> *bucket
	size      atomic.Int64
	lastSweep atomic.Int64 // unix nanoseconds
}

// bucket serialises reserve-and-maybe-cancel on one key. rate.Limiter is
// safe for concurrent use, but giving back a reservation restores its token
// only when no later reservation was made in between; without this lock,
// callers turned away concurrently would each lose a token for good and the
// key would run below its rate.
type bucket struct {
	mu   sync.Mutex
	lim  *rate.Limiter
	used time.Time
	// gone is set when the sweeper has dropped the bucket from the map; a
	// caller that found it just before must look the key up again, or two
	// buckets would be handing out tokens for one key.
	gone bool
	// line is when the last caller turned away behind waiting ones was
	// told to come back (see turnAway).
	line time.Time
}

var _ Limiter = (*Local)(nil)

// New returns a Local limiter allowing limit events per second per key,
// e.g. rate.Limit(80) for a source number or rate.Every(6*time.Second) for
// a recipient. It panics when limit is not positive: a limiter that never
// lets anything through is a configuration mistake, not a policy.
func New(limit rate.Limit, opts ...Option) *Local {
	if !(limit > 0) {
		panic(fmt.Sprintf("ratelimit: limit must be positive, got %v", limit))
	}
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	l := &Local{limit: limit, cfg: cfg, interval: time.Duration(float64(time.Second) / float64(limit))}
	l.lastSweep.Store(time.Now().UnixNano())
	return l
}

// Wait implements Limiter.
func (l *Local) Wait(ctx context.Context, key string) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	l.maybeSweep(time.Now())

	b := l.lock(key)
	// rate.Limiter takes the time from its caller and moves its clock back
	// when handed an earlier one, crediting tokens twice; reading the clock
	// under the bucket's lock keeps the times it sees in order.
	now := time.Now()
	maxWait := l.cfg.maxWait
	if dl, ok := ctx.Deadline(); ok {
		// Waiting past the deadline would only fail the send; hand the
		// task back instead. Never below 0, or a free token would be
		// cancelled and reported as a wait of 0.
		maxWait = max(min(maxWait, dl.Sub(now)), 0)
	}
	r := b.lim.ReserveN(now, 1)
	delay := r.DelayFrom(now)
	if delay > maxWait {
		r.CancelAt(now)
		retryAfter := b.turnAway(now, delay, l.interval)
		b.mu.Unlock()
		return retryAfter, nil
	}
	b.used = now
	b.mu.Unlock()

	if delay == 0 {
		return 0, nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return 0, nil
	case <-ctx.Done():
		b.mu.Lock()
		r.CancelAt(time.Now())
		b.mu.Unlock()
		return 0, ctx.Err()
	}
}

// turnAway returns the retryAfter of a caller whose token would come
// delay from now, too late to wait for; it holds b's lock.
//
// A token more than an interval away means callers are waiting for the
// ones before it: the key is oversubscribed. Were every caller turned away
// then told the same delay, they would all come back at once, a few would
// find room in the queue and the rest would be turned away again, over and
// over: with SEND_RATE 5 and 50 handlers, thousands of hand-backs for a
// hundred sends. So the callers turned away line up behind the waiting
// ones and behind each other, and come back about when a token is free for
// them: the hand-backs follow the rate. The line is advice only: it takes
// no token, so the rate and the schedule of the callers that wait are as
// they would be without it.
//
// With nobody waiting, the next token is the truth for every caller: none
// of them is behind another.
func (b *bucket) turnAway(now time.Time, delay, interval time.Duration) time.Duration {
	// The microsecond absorbs the float arithmetic of rate.Limiter.
	if delay <= interval+time.Microsecond {
		return delay
	}
	at := now.Add(delay)
	if next := b.line.Add(lineGap(interval)); next.After(at) {
		at = next
	}
	b.line = at
	return at.Sub(now)
}

// lineGap is the spacing of the line of callers turned away: two thirds
// of the interval between tokens. Callers come back later than told, never
// sooner (the worker adds jitter of up to half the delay, asynq's
// scheduler looks once a second), so a line spaced at the rate would come
// back thinner than the rate and leave a fifth of the tokens unused. Two
// thirds of an interval apart, about one and a half come back per token:
// the queue of waiting callers stays fed, and the one that finds no room
// lines up again, about one hand-back per send.
func lineGap(interval time.Duration) time.Duration { return max(interval*2/3, time.Microsecond) }

// Len is the number of keys held, for metrics.
func (l *Local) Len() int { return int(l.size.Load()) }

// lock returns the live bucket for key, locked.
func (l *Local) lock(key string) *bucket {
	for {
		v, ok := l.keys.Load(key)
		if !ok {
			fresh := &bucket{lim: rate.NewLimiter(l.limit, l.cfg.burst), used: time.Now()}
			var loaded bool
			if v, loaded = l.keys.LoadOrStore(key, fresh); !loaded {
				l.size.Add(1)
			}
		}
		b := v.(*bucket)
		b.mu.Lock()
		if !b.gone {
			return b
		}
		b.mu.Unlock()
	}
}
