package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// maxBatch bounds the callers one reserve call serves, so that a script
// stays short however many handlers a process runs.
const maxBatch = 256

// A batch is the callers of one key that share a reserve call.
//
// While a reserve call for a key is in flight, the callers of that key
// that arrive wait for it to finish, and the next call reserves for all of
// them at once, each with its own longest wait, in the order they came.
// The script serves them exactly as it would the same calls one after
// another (see reserve), so nothing about the rate changes: no token is
// taken for a caller that is not waiting for it, and each caller still
// waits out its own slot. What changes is the cost of a busy key: a worker
// sending at full speed made one round trip to Redis per send, and now
// makes one per batch, which Redis and the worker both pay for in system
// calls more than in work. A caller alone calls at once, as before.
//
// The caller that finds no call in flight leads: it makes the call for
// the batch, wakes the others with their answers, and hands the lead to
// the first caller that arrived meanwhile, so that no caller makes more
// than one call.
type batch struct {
	busy    bool
	waiting []*reserveCall
}

// reserveCall is one caller's place in a batch.
type reserveCall struct {
	maxWait time.Duration
	res     reservation
	err     error
	lead    bool          // set before wake; this caller makes the next call
	wake    chan struct{} // its answer is in, or it leads
}

// reservation is a caller's answer from the reserve script.
type reservation struct {
	reserved bool
	wait     time.Duration // until the slot, or the retryAfter when refused
	tat      int64         // the receipt release needs
}

// reserve gets key's answer for one caller, through its batch.
func (r *Redis) reserve(ctx context.Context, key string, maxWait time.Duration) (reservation, error) {
	c := &reserveCall{maxWait: maxWait, wake: make(chan struct{}, 1)}
	r.mu.Lock()
	b := r.batches[key]
	if b == nil {
		b = &batch{}
		r.batches[key] = b
	}
	b.waiting = append(b.waiting, c)
	first := !b.busy
	b.busy, c.lead = true, first
	r.mu.Unlock()
	if !first {
		// Once woken, lead is what the waker set before it woke us.
		<-c.wake
	}
	if c.lead {
		r.lead(ctx, key, b, c)
	}
	return c.res, c.err
}

// lead makes one reserve call for the callers waiting on b, self among
// them, and passes the lead on.
func (r *Redis) lead(ctx context.Context, key string, b *batch, self *reserveCall) {
	r.mu.Lock()
	n := min(len(b.waiting), maxBatch)
	calls := b.waiting[:n:n]
	b.waiting = b.waiting[n:]
	r.mu.Unlock()

	// The call serves callers other than this one, so this caller's
	// context ending must not cut it short; RedisTimeout bounds it.
	callCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.redisTimeout)
	argv := make([]any, 0, 2+len(calls))
	argv = append(argv, r.interval, r.cfg.burst)
	for _, c := range calls {
		argv = append(argv, c.maxWait.Microseconds())
	}
	res, err := reserve.Run(callCtx, r.rdb, []string{RedisKey(key)}, argv...).Int64Slice()
	cancel()
	if err == nil && len(res) != 3*len(calls) {
		err = fmt.Errorf("ratelimit: unexpected reply %v from the reserve script for %d callers", res, len(calls))
	}
	for i, c := range calls {
		if c.err = err; err == nil {
			c.res = reservation{reserved: res[3*i] == 1, wait: time.Duration(res[3*i+1]) * time.Microsecond, tat: res[3*i+2]}
		}
	}

	r.mu.Lock()
	var next *reserveCall
	if len(b.waiting) > 0 {
		next = b.waiting[0]
		next.lead = true
	} else {
		b.busy = false
		delete(r.batches, key)
	}
	r.mu.Unlock()
	for _, c := range calls {
		if c != self {
			c.wake <- struct{}{}
		}
	}
	if next != nil {
		next.wake <- struct{}{}
	}
}
