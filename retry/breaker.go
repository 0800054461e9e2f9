package retry

import (
	"context"
	"errors"

	"github.com/waqueue/waqueue/gupshup"
)

// BreakerFailure reports whether err says Gupshup itself is unwell: a 5xx,
// a timeout or a transport error. It is the inverse of the circuit
// breaker's IsSuccessful.
//
// Per-recipient and validation failures are not breaker failures: a burst
// of sends to bad numbers must not stop sends to good ones.
//
// 429 is not a breaker failure either. A 429 comes from a healthy service
// answering fast; it asks for a lower rate, which the rate limiter and the
// Throttled class (with Retry-After) already give. Opening the breaker
// would instead stop all sends for the whole open period, turning "slow
// down" into an outage, and the half-open probes would then race the
// limiter.
//
// 401 is not one either: bad credentials are an alarm, not a sick service.
func BreakerFailure(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	ge, ok := gupshup.AsError(err)
	if !ok {
		return false
	}
	return ge.Transport || ge.Timeout || ge.HTTPStatus >= 500
}

// BreakerExcluded reports whether err says nothing about Gupshup's health
// and should be left out of the breaker's counts altogether (its
// IsExcluded): our own cancellation, and requests refused before anything
// was sent.
func BreakerExcluded(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) {
		return true
	}
	_, ok := errors.AsType[*gupshup.ValidationError](err)
	return ok
}
