package retry

import (
	"strconv"
	"time"
)

// Action is what to do with a message after an outcome.
type Action int

const (
	// Done: the send succeeded, nothing to do.
	Done Action = iota
	// Retry after Decision.Delay, using one attempt of the budget.
	Retry
	// Wait for Decision.Delay and try again without using an attempt.
	Wait
	// GiveUp: dead-letter the message now.
	GiveUp
)

func (a Action) String() string {
	switch a {
	case Done:
		return "done"
	case Retry:
		return "retry"
	case Wait:
		return "wait"
	case GiveUp:
		return "give up"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Decision is the policy's answer for one outcome.
type Decision struct {
	Action Action
	// Delay is the wait before the next try, for Retry and Wait.
	Delay time.Duration
	// Exhausted is set on GiveUp when the budget ran out, as opposed to a
	// terminal verdict.
	Exhausted bool
	// Attempts is the number of counted tries including this one, set when
	// the outcome counts (Retry, or GiveUp on exhaustion).
	Attempts int
}

// Decide says what to do after an outcome classified as v, when retried
// tries have already counted against the budget (asynq.GetRetryCount).
// Retryable outcomes get MaxAttempts tries in all, UnknownCodeAttempts
// when the code is unknown; Throttled outcomes never count and never give
// up.
func (p Policy) Decide(v Verdict, retried int) Decision {
	p = p.resolved()
	retried = max(retried, 0)
	switch v.Class {
	case Ok:
		return Decision{Action: Done}
	case Throttled:
		return Decision{Action: Wait, Delay: p.Backoff(v, retried)}
	case Retryable:
		budget := p.MaxAttempts
		if v.Unknown {
			budget = min(p.UnknownCodeAttempts, p.MaxAttempts)
		}
		tries := retried + 1
		if tries >= budget {
			return Decision{Action: GiveUp, Exhausted: true, Attempts: tries}
		}
		return Decision{Action: Retry, Delay: p.Backoff(v, retried), Attempts: tries}
	}
	return Decision{Action: GiveUp}
}
