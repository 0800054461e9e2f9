package ratelimit

import "time"

// Option configures a Local limiter.
type Option func(*config)

type config struct {
	burst   int
	maxWait time.Duration
	idleTTL time.Duration
}

func defaults() config {
	return config{burst: 1, maxWait: time.Second, idleTTL: time.Minute}
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
