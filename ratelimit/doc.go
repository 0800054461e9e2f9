// Package ratelimit paces sends per key: per business phone number (the
// source) so that Gupshup and Meta never see more than the configured rate,
// and per recipient so that one user is not written to too often.
//
// A wait of up to MaxWait is waited out by the caller, since a task that is
// handed back costs a trip through Redis and the scheduler, far more than a
// short sleep. A longer wait is not waited: the token is given back and the
// caller learns the delay (its place in line behind the callers turned
// away before it, when others wait), so the task can be rescheduled
// without using an attempt and without holding a worker slot.
//
// Burst defaults to 1. A token bucket lets through up to burst + rate×T
// events in a window of length T; with burst 1 each send leaves at least
// 1/rate after the one before, so no 1-second window holds more than rate
// of them as they leave this process. Under a backlog the achieved rate is
// the full rate whatever the burst, so a larger burst buys nothing but a
// shorter first wait after an idle spell, and pays for it by overshooting
// the provider's limit in that window. What the provider counts also moves
// with network jitter, which no limiter here can see: leave SEND_RATE a
// little below the contracted limit.
package ratelimit
