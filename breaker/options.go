package breaker

import (
	"context"
	"errors"
	"time"
)

// Option configures a Set.
type Option func(*config)

type config struct {
	timeout       time.Duration
	maxRequests   uint32
	failures      uint32
	halfOpenRetry time.Duration
	isSuccessful  func(error) bool
	isExcluded    func(error) bool
	onStateChange func(key string, from, to State)
	shared        Shared
	refresh       time.Duration
	onSharedError func(key string, err error)
}

func defaults() config {
	return config{
		timeout:       30 * time.Second,
		maxRequests:   1,
		failures:      5,
		halfOpenRetry: time.Second,
		isSuccessful:  func(err error) bool { return err == nil },
		isExcluded:    func(err error) bool { return errors.Is(err, context.Canceled) },
	}
}

// Timeout is how long the breaker stays open before letting a probe
// through, default 30 s.
func Timeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// MaxRequests is how many probes a half-open breaker lets through, default
// 1; it closes after that many successes in a row.
func MaxRequests(n uint32) Option {
	return func(c *config) { c.maxRequests = max(n, 1) }
}

// ConsecutiveFailures is how many failures in a row open the breaker,
// default 5.
func ConsecutiveFailures(n uint32) Option {
	return func(c *config) { c.failures = max(n, 1) }
}

// HalfOpenRetry is the RetryIn given to calls turned away while a probe is
// in flight, default 1 s: the probe's outcome is due within a request's
// time, and either way it is worth asking again soon.
func HalfOpenRetry(d time.Duration) Option {
	return func(c *config) { c.halfOpenRetry = max(d, 0) }
}

// IsSuccessful decides which errors of fn count as successes, default only
// nil. The worker passes the inverse of its service-failure test, so that
// an error about one recipient counts as a healthy answer.
func IsSuccessful(f func(err error) bool) Option {
	return func(c *config) { c.isSuccessful = f }
}

// IsExcluded decides which errors of fn count as neither success nor
// failure, default context.Canceled: a send abandoned at shutdown says
// nothing about the service.
func IsExcluded(f func(err error) bool) Option {
	return func(c *config) { c.isExcluded = f }
}

// OnStateChange is called on every change of state, for logs and metrics.
// It runs under the breaker's lock: it must return quickly and must not
// call back into the Set.
func OnStateChange(f func(key string, from, to State)) Option {
	return func(c *config) { c.onStateChange = f }
}

// Share makes breakers of this Set and of every other process using sh
// stop together: when one opens, it records in sh until when, and Do
// refuses calls until then. Do reads sh at most once per refresh per key,
// so another process's opening is seen within refresh.
func Share(sh Shared, refresh time.Duration) Option {
	return func(c *config) {
		c.shared = sh
		c.refresh = max(refresh, 0)
	}
}

// OnSharedError is told about failures to read or write the Shared state.
// Do carries on with the local breaker alone: a Redis hiccup should not
// stop sends that the local breaker allows.
func OnSharedError(f func(key string, err error)) Option {
	return func(c *config) { c.onSharedError = f }
}
