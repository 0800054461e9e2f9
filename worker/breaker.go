package worker

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/waqueue/waqueue/breaker"
	"github.com/waqueue/waqueue/retry"
)

// newBreakers builds the circuit breakers, one per family and app. Only
// service-side failures (5xx, timeouts, transport) count against them; a
// per-recipient failure says nothing about Gupshup's health.
//
// The open state is shared through Redis: when one replica's breaker opens,
// every replica stops sending to that API until the open period ends.
//
// observe, when given, is told of every state change too (metrics).
func newBreakers(cfg Config, rdb redis.UniversalClient, log zerolog.Logger, observe ...func(key string, from, to breaker.State)) *breaker.Set {
	return breaker.New(
		breaker.Share(breaker.NewRedis(rdb), time.Second),
		breaker.OnSharedError(func(key string, err error) {
			log.Warn().Err(err).Str("breaker", key).Msg("shared breaker state unavailable; using this replica's own")
		}),
		breaker.Timeout(cfg.BreakerOpen),
		breaker.ConsecutiveFailures(uint32(cfg.BreakerFailures)),
		breaker.IsSuccessful(func(err error) bool { return !retry.BreakerFailure(err) }),
		breaker.IsExcluded(retry.BreakerExcluded),
		breaker.OnStateChange(func(key string, from, to breaker.State) {
			ev := log.Info()
			if to == breaker.Open {
				ev = log.Error()
			}
			ev.Str("breaker", key).Str("from", from.String()).Str("to", to.String()).Msg("circuit breaker changed state")
			for _, f := range observe {
				f(key, from, to)
			}
		}),
	)
}

// breakerThrottle turns a refusal of an open breaker into a hand-back that
// uses no attempt: an outage must never fill the dead-letter queue. The
// jitter keeps the tasks refused together from coming back together.
func breakerThrottle(err error) (error, bool) {
	var oe *breaker.OpenError
	if !errors.As(err, &oe) {
		return err, false
	}
	d := oe.RetryIn + jitter(oe.RetryIn/4+time.Second)
	return retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: "circuit breaker " + oe.Key + " open", Delay: d}, d), true
}

// jitter is a random wait in [0, upTo), so that tasks handed back
// together do not all return in the same instant.
func jitter(upTo time.Duration) time.Duration {
	if upTo <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(upTo)))
}
