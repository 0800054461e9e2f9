package ratelimit

import (
	"context"
	"time"
)

// Limiter hands out one token per send for a key. Local is the in-process
// implementation; a fleet-wide one keeps its state in Redis behind the same
// interface, so the worker does not care which it has.
type Limiter interface {
	// Wait takes a token for key.
	//
	// It returns (0, nil) once the caller may send: immediately, or after a
	// wait no longer than the limiter's MaxWait and the time left before
	// ctx's deadline.
	//
	// When the wait would be longer it takes nothing and returns at once
	// with retryAfter > 0, the delay after which a token should be free
	// for this caller: when others already wait for the key, the callers
	// turned away line up behind them and behind each other, about a
	// token interval apart (see lineGap), so that a backlog far larger than what MaxWait holds
	// comes back at the rate it can be served, not all at once. Taking
	// nothing, it pushes back no caller that waits.
	//
	// When ctx ends during the wait, the token is given back and ctx's
	// error is returned.
	Wait(ctx context.Context, key string) (retryAfter time.Duration, err error)
}
