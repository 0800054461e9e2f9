package ratelimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Pacer spaces messages to the same recipient across the whole fleet: at
// most one every Interval per key. Meta refuses a business that writes to
// one user too often (error 131056, about one message every 6 seconds), and
// a refused message costs an attempt; pacing before the send costs nothing.
//
// It never waits: a recipient's next slot is seconds away, and waiting in
// the handler would hold up the other recipients behind it. The caller
// hands the task back for retryAfter instead.
type Pacer struct {
	rdb      redis.UniversalClient
	interval time.Duration
}

// NewPacer returns a Pacer keeping Interval between sends to one key.
func NewPacer(rdb redis.UniversalClient, interval time.Duration) *Pacer {
	return &Pacer{rdb: rdb, interval: interval}
}

// PaceKey is the Redis key of a recipient's slot; hash-tagged like every
// key of the project.
func PaceKey(key string) string { return "waq:pace:{" + key + "}" }

// Wait implements Limiter: it takes the recipient's slot if free, and
// otherwise says when it frees.
func (p *Pacer) Wait(ctx context.Context, key string) (time.Duration, error) {
	if p.interval <= 0 {
		return 0, nil
	}
	k := PaceKey(key)
	ok, err := p.rdb.SetNX(ctx, k, 1, p.interval).Result()
	if err != nil {
		return 0, err
	}
	if ok {
		return 0, nil
	}
	ttl, err := p.rdb.PTTL(ctx, k).Result()
	if err != nil {
		return 0, err
	}
	if ttl <= 0 {
		// The slot expired between the two calls: a short hand-back is
		// cheaper than a second round of the race.
		ttl = 10 * time.Millisecond
	}
	return ttl, nil
}
