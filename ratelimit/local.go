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
	l := &Local{limit: limit, cfg: cfg}
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
		b.mu.Unlock()
		return delay, nil
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
