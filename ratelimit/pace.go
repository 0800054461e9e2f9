package ratelimit

import (
	"context"
	"math/rand/v2"
	"strconv"
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
	d, _, err := p.Take(ctx, key)
	return d, err
}

// Take is Wait with a way back: release frees the slot again when the send
// it was taken for does not happen after all (the sender's rate limit
// handed the task back), so that the recipient does not wait a whole
// interval for a message that never left. Release frees only the slot it
// took, never one a later send has taken since.
func (p *Pacer) Take(ctx context.Context, key string) (retryAfter time.Duration, release func(), err error) {
	if p.interval <= 0 {
		return 0, func() {}, nil
	}
	k := PaceKey(key)
	token := strconv.FormatUint(rand.Uint64(), 36)
	ok, err := p.rdb.SetNX(ctx, k, token, p.interval).Result()
	if err != nil {
		return 0, nil, err
	}
	if ok {
		return 0, func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			releaseScript.Run(rctx, p.rdb, []string{k}, token)
		}, nil
	}
	ttl, err := p.rdb.PTTL(ctx, k).Result()
	if err != nil {
		return 0, nil, err
	}
	if ttl <= 0 {
		// The slot expired between the two calls: a short hand-back is
		// cheaper than a second round of the race.
		ttl = 10 * time.Millisecond
	}
	return ttl, nil, nil
}

var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
