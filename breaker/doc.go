// Package breaker stops calls to an API that is down, one circuit breaker
// per API family and Gupshup app, on top of github.com/sony/gobreaker/v2.
//
// The point is the dead-letter queue: during an outage every send would
// fail, use an attempt and, given a long enough outage, be archived. With
// the breaker open, Do refuses at once with an *OpenError saying how long
// until a probe may go through; the worker reschedules the task for then
// without using an attempt. One probe (half-open) tests the service; a
// success closes the breaker, a failure opens it for another period.
//
// Only failures the caller's IsSuccessful predicate rejects count. The
// worker counts service-side failures alone (5xx, timeouts, transport
// errors), so a run of sends to bad numbers never stops sends to good ones.
//
// The trip rule is a number of consecutive failures (default 5) rather than
// a failure ratio. It trips as fast at 1 send a minute as at 80 a second,
// where a ratio needs a minimum count per interval that a quiet app never
// reaches, so a night-time outage would burn attempts unnoticed. Its cost
// is that a service failing a large share of calls at random can trip it
// now and then; that costs one open period of delay, not attempts, and a
// single good probe closes it again.
package breaker
