package retry

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy holds the tunable part of retrying: how long to wait and how many
// tries a message gets. A zero field takes the value of DefaultPolicy, so
// Policy{MaxAttempts: 5} is a complete policy.
type Policy struct {
	// Base is the first retry's wait and the floor of every retryable wait.
	Base time.Duration
	// Cap bounds the exponential part of the backoff.
	Cap time.Duration
	// MaxAttempts is the number of tries (the first one included) a
	// Retryable message gets before it is dead-lettered.
	MaxAttempts int
	// UnknownCodeAttempts replaces MaxAttempts when the code is not in the
	// table: such a code may well be permanent.
	UnknownCodeAttempts int
	// ThrottleDelay is the wait after a throttle that named no delay of its own.
	ThrottleDelay time.Duration
	// WalletLowDelay is the wait after 1003: nothing changes until someone
	// tops the wallet up, so retrying sooner only burns attempts.
	WalletLowDelay time.Duration
	// SpamDelay is the wait after 131048, Meta's spam rate limit.
	SpamDelay time.Duration

	// uniform returns a number in [0, 1); tests replace it.
	uniform func() float64
}

// DefaultPolicy returns the policy the worker uses unless configured
// otherwise. With these numbers a message that keeps failing with plain
// retryable errors is given up after at most about four and a half hours
// of waiting (two on average).
func DefaultPolicy() Policy {
	return Policy{
		Base:                10 * time.Second,
		Cap:                 time.Hour,
		MaxAttempts:         12,
		UnknownCodeAttempts: 5,
		ThrottleDelay:       5 * time.Second,
		WalletLowDelay:      30 * time.Minute,
		SpamDelay:           time.Hour,
	}
}

func (p Policy) resolved() Policy {
	d := DefaultPolicy()
	if p.Base <= 0 {
		p.Base = d.Base
	}
	if p.Cap <= 0 {
		p.Cap = d.Cap
	}
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.UnknownCodeAttempts <= 0 {
		p.UnknownCodeAttempts = d.UnknownCodeAttempts
	}
	if p.ThrottleDelay <= 0 {
		p.ThrottleDelay = d.ThrottleDelay
	}
	if p.WalletLowDelay <= 0 {
		p.WalletLowDelay = d.WalletLowDelay
	}
	if p.SpamDelay <= 0 {
		p.SpamDelay = d.SpamDelay
	}
	if p.uniform == nil {
		p.uniform = rand.Float64
	}
	return p
}

// Validate reports a policy that asynq would undercut: the budgets must
// stay below AsynqMaxRetry, or asynq archives tasks before the policy
// decides (see AsynqMaxRetry).
func (p Policy) Validate() error {
	r := p.resolved()
	var errs []error
	if r.Cap < r.Base {
		errs = append(errs, fmt.Errorf("retry: Cap %v below Base %v", r.Cap, r.Base))
	}
	if r.MaxAttempts >= AsynqMaxRetry {
		errs = append(errs, fmt.Errorf("retry: MaxAttempts %d must stay below AsynqMaxRetry %d", r.MaxAttempts, AsynqMaxRetry))
	}
	if r.UnknownCodeAttempts > r.MaxAttempts {
		errs = append(errs, fmt.Errorf("retry: UnknownCodeAttempts %d above MaxAttempts %d", r.UnknownCodeAttempts, r.MaxAttempts))
	}
	return errors.Join(errs...)
}

// Backoff returns how long to wait before the next try after an outcome
// classified as v, when attempt tries have already counted against the
// budget (asynq's retry count). It is never below v.Delay.
//
// Retryable waits use full jitter: a uniform pick between Base and
// min(Cap, Base*2^(attempt+1)). Full jitter spreads a crowd of tasks that
// failed together (a Gupshup outage fails thousands at once) better than
// any other scheme, and it needs no state: asynq's RetryDelayFunc only
// knows the retry count, while decorrelated jitter would need the previous
// wait. The floor at Base keeps a retry from hitting Gupshup right away.
//
// Throttled waits do not grow, since throttles are not counted: they are
// ThrottleDelay plus up to as much again. The fixed long waits (1003,
// 131048, and any v.Delay that exceeds the computed wait) get up to a
// tenth or a quarter on top so that tasks parked together do not all wake
// in the same second.
func (p Policy) Backoff(v Verdict, attempt int) time.Duration {
	p = p.resolved()
	var d time.Duration
	switch {
	case v.Class == Throttled:
		d = p.ThrottleDelay + p.jitter(p.ThrottleDelay)
	case v.Code == codeWalletLow:
		d = p.WalletLowDelay + p.jitter(p.WalletLowDelay/4)
	case v.Code == codeSpamRateLimit:
		d = p.SpamDelay + p.jitter(p.SpamDelay/4)
	default:
		// Ok and Terminal have no next try, but a caller that retries them
		// anyway (a raw error handed to asynq) must still back off.
		d = p.Base + p.jitter(p.ceiling(attempt)-p.Base)
	}
	if d < v.Delay {
		d = v.Delay + p.jitter(v.Delay/10)
	}
	return d
}

// ceiling is min(Cap, Base*2^(attempt+1)), without overflowing.
func (p Policy) ceiling(attempt int) time.Duration {
	c := p.Base
	for i := 0; i <= max(attempt, 0); i++ {
		if c >= p.Cap/2 {
			return max(p.Cap, p.Base)
		}
		c *= 2
	}
	return c
}

// jitter returns a uniform duration in [0, span).
func (p Policy) jitter(span time.Duration) time.Duration {
	if span <= 0 {
		return 0
	}
	return time.Duration(p.uniform() * float64(span))
}
