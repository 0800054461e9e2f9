package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/waqueue/waqueue/internal/coalesce"
)

// maxBatch bounds the callers one reserve call serves, so that a script
// stays short however many handlers a process runs.
const maxBatch = 256

// A key's callers share reserve calls through a coalesce.Queue.
//
// While a reserve call for a key is in flight, the callers of that key
// that arrive wait for it to finish, and the next call reserves for all of
// them at once, each with its own longest wait, in the order they came.
// The script serves them exactly as it would the same calls one after
// another (see reserve), so nothing about the rate changes: no token is
// taken for a caller that is not waiting for it, and each caller still
// waits out its own slot. What changes is the cost of a busy key: a worker
// sending at full speed made one round trip to Redis per send, and now
// makes one per batch. A caller alone calls at once, as before.
type keyQueue struct {
	q     *coalesce.Queue[*reserveCall]
	users int // callers in q.Do; the queue is dropped at 0
}

// reserveCall is one caller's place in a batch.
type reserveCall struct {
	ctx     context.Context
	maxWait time.Duration
	res     reservation
	err     error
}

// reservation is a caller's answer from the reserve script.
type reservation struct {
	reserved bool
	wait     time.Duration // until the slot, or the retryAfter when refused
	tat      int64         // the receipt release needs
}

// reserve gets key's answer for one caller, through its batch.
func (r *Redis) reserve(ctx context.Context, key string, maxWait time.Duration) (reservation, error) {
	c := &reserveCall{ctx: ctx, maxWait: maxWait}
	r.mu.Lock()
	kq := r.queues[key]
	if kq == nil {
		kq = &keyQueue{q: coalesce.New(maxBatch, func(calls []*reserveCall) { r.reserveAll(key, calls) })}
		r.queues[key] = kq
	}
	kq.users++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		if kq.users--; kq.users == 0 {
			delete(r.queues, key)
		}
		r.mu.Unlock()
	}()
	kq.q.Do(c)
	return c.res, c.err
}

// reserveAll makes one reserve call for the callers of key.
func (r *Redis) reserveAll(key string, calls []*reserveCall) {
	// The call serves callers other than the one making it, so no
	// caller's context ending may cut it short; RedisTimeout bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(calls[0].ctx), r.cfg.redisTimeout)
	defer cancel()
	argv := make([]any, 0, 2+len(calls))
	argv = append(argv, r.interval, r.cfg.burst)
	for _, c := range calls {
		argv = append(argv, c.maxWait.Microseconds())
	}
	res, err := reserve.Run(ctx, r.rdb, []string{RedisKey(key)}, argv...).Int64Slice()
	if err == nil && len(res) != 3*len(calls) {
		err = fmt.Errorf("ratelimit: unexpected reply %v from the reserve script for %d callers", res, len(calls))
	}
	for i, c := range calls {
		if c.err = err; err == nil {
			c.res = reservation{reserved: res[3*i] == 1, wait: time.Duration(res[3*i+1]) * time.Microsecond, tat: res[3*i+2]}
		}
	}
}
