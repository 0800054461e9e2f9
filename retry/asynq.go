package retry

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
)

// AsynqMaxRetry is the asynq.MaxRetry every send task must be enqueued
// with. It is a backstop, not the budget: the budget is Policy.MaxAttempts,
// enforced by the handler returning Dead.
//
// asynq v0.26 archives a failed task when its retry count has reached
// MaxRetry before it even asks IsFailure (processor.handleFailedMessage).
// A throttled return, which must cost nothing, would then archive a task
// whose count sits at MaxRetry. Keeping MaxRetry well above the policy's
// budget means the count never gets there through handler returns; the
// margin absorbs failures asynq counts on its own (panics, task deadline,
// lease expiry after a crash). 25 is also asynq's default, so a producer
// that forgets the option changes nothing.
const AsynqMaxRetry = 25

type kind uint8

const (
	later kind = iota
	throttle
	dead
)

// Error is what a handler returns for a send that did not succeed. It
// carries the verdict and the chosen wait to asynq's IsFailure and
// RetryDelayFunc, and its text is what asynqmon shows as the task's last
// error.
type Error struct {
	Verdict Verdict
	// Delay is the wait before the next try; 0 lets RetryDelay compute it.
	Delay time.Duration
	kind  kind
	// attempts is set when the budget ran out, for the text.
	attempts int
}

// Later returns an error that makes asynq retry after d (0: the policy's
// backoff) and count an attempt.
func Later(v Verdict, d time.Duration) error { return &Error{Verdict: v, Delay: d, kind: later} }

// Throttle returns an error that makes asynq retry after d (0: the
// policy's backoff) without counting an attempt.
func Throttle(v Verdict, d time.Duration) error {
	return &Error{Verdict: v, Delay: d, kind: throttle}
}

// Dead returns an error that makes asynq archive the task at once (it
// wraps asynq.SkipRetry). Its text keeps the class, code and reason, e.g.
// "terminal: code 1002: number does not exist on WhatsApp".
func Dead(v Verdict) error { return &Error{Verdict: v, kind: dead} }

func exhausted(v Verdict, attempts int) error {
	return &Error{Verdict: v, kind: dead, attempts: attempts}
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.attempts > 0 {
		b.WriteString("gave up after ")
		b.WriteString(strconv.Itoa(e.attempts))
		b.WriteString(" attempts: ")
	}
	b.WriteString(e.Verdict.String())
	if e.kind != dead && e.Delay > 0 {
		b.WriteString(" (retry in ")
		b.WriteString(e.Delay.Round(time.Second).String())
		if e.kind == throttle {
			b.WriteString(", no attempt used")
		}
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap makes errors.Is(err, asynq.SkipRetry) true for Dead errors, which
// is how asynq recognizes them.
func (e *Error) Unwrap() error {
	if e.kind == dead {
		return asynq.SkipRetry
	}
	return nil
}

// VerdictOf returns the verdict carried by an error built here.
func VerdictOf(err error) (Verdict, bool) {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Verdict, true
	}
	return Verdict{}, false
}

// IsFailure is asynq.Config.IsFailure: false for throttles, so asynq does
// not count them against the task. Errors not built here (asynq's own
// context errors, a raw client error) are classified first, so a bare 429
// or a cancellation does not count either.
func IsFailure(err error) bool {
	if err == nil {
		return false
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.kind != throttle
	}
	return Classify(err).Class != Throttled
}

// RetryDelay is asynq.Config.RetryDelayFunc: the wait carried by the error
// when there is one, else the backoff for its verdict. n is asynq's retry
// count, the same number Decide takes.
func (p Policy) RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if e, ok := errors.AsType[*Error](err); ok {
		if e.Delay > 0 {
			return e.Delay
		}
		return p.Backoff(e.Verdict, n)
	}
	return p.Backoff(Classify(err), n)
}

// Outcome turns a verdict into what the handler returns: nil for Ok,
// Later, Throttle or Dead otherwise, with the wait already chosen. retried
// is asynq.GetRetryCount of the task.
func (p Policy) Outcome(v Verdict, retried int) error {
	d := p.Decide(v, retried)
	switch d.Action {
	case Done:
		return nil
	case Retry:
		return Later(v, d.Delay)
	case Wait:
		return Throttle(v, d.Delay)
	}
	if d.Exhausted {
		return exhausted(v, d.Attempts)
	}
	return Dead(v)
}

// OutcomeContext is Outcome with the retry count read from the handler's
// context. When the task's own MaxRetry has been reached (a producer that
// did not use AsynqMaxRetry), asynq archives whatever is returned, so the
// task is given up here with a text that says so rather than archived
// under a "retry in" message.
func (p Policy) OutcomeContext(ctx context.Context, v Verdict) error {
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	if !ok {
		maxRetry = AsynqMaxRetry
	}
	return p.outcome(v, retried, maxRetry)
}

func (p Policy) outcome(v Verdict, retried, maxRetry int) error {
	err := p.Outcome(v, retried)
	if err != nil && retried >= maxRetry && !errors.Is(err, asynq.SkipRetry) {
		return exhausted(v, retried+1)
	}
	return err
}
