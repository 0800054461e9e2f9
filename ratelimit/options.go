package ratelimit

import "time"

// Option configures a limiter: Local, Redis or Layered. An option that
// does not apply to a limiter is ignored by it.
type Option func(*config)

type config struct {
	burst   int
	maxWait time.Duration
	idleTTL time.Duration

	// The Redis limiter only, alone or as the layer of a Layered one.
	errorDelay   time.Duration
	onError      func(key string, err error)
	redisTimeout time.Duration
}

func defaults() config {
	return config{burst: 1, maxWait: time.Second, idleTTL: time.Minute, errorDelay: time.Second, redisTimeout: 500 * time.Millisecond}
}

// Burst is how many tokens a key may hold, default 1 (see the package
// documentation for why). Values below 1 mean 1: with no bucket at all
// nothing could ever be sent.
func Burst(n int) Option {
	return func(c *config) { c.burst = max(n, 1) }
}

// MaxWait is the longest wait that Wait sits through, default 1 s. Longer
// waits are returned to the caller instead. 0 never waits, which suits
// recipient pacing, where the gaps are seconds long.
func MaxWait(d time.Duration) Option {
	return func(c *config) { c.maxWait = max(d, 0) }
}

// IdleTTL is how long a key must go unused before it may be dropped,
// default 1 minute; 0 keeps every key for good, which suits a handful of
// source numbers. A key is dropped only once its bucket is full again, so
// forgetting it never lets a send through early; the TTL only spares keys
// in steady use from being rebuilt over and over.
func IdleTTL(d time.Duration) Option {
	return func(c *config) { c.idleTTL = max(d, 0) }
}

// ErrorDelay is the retryAfter a Redis limiter returns when Redis fails,
// default 1 s. The call takes no token and sends nothing: the caller hands
// the task back as it does for any other wait too long to sit through.
// Values below 1 ms mean 1 ms, since a retryAfter of 0 means "send".
func ErrorDelay(d time.Duration) Option {
	return func(c *config) { c.errorDelay = max(d, time.Millisecond) }
}

// OnError is called with every Redis error a Redis limiter meets, so that
// it can be logged or counted: to the caller an outage looks like pacing.
// It is called on the caller's goroutine and must not block; during an
// outage it is called once per Wait, so sample what it logs.
func OnError(f func(key string, err error)) Option {
	return func(c *config) { c.onError = f }
}

// RedisTimeout bounds each Redis call of a Redis limiter, default 500 ms;
// a call that takes longer counts as a Redis error. Redis answers these
// scripts in well under a millisecond, so a call this slow is an outage,
// and the caller is better off handing its task back than holding a
// worker slot through go-redis's dial retries (seconds against a node that
// is down, far more against one that is unreachable). A reply stuck on an
// open connection is only cut short when the client has
// ContextTimeoutEnabled; otherwise its ReadTimeout applies. Values below
// 1 ms mean 1 ms.
func RedisTimeout(d time.Duration) Option {
	return func(c *config) { c.redisTimeout = max(d, time.Millisecond) }
}
