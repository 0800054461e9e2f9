package tasks

import "time"

// DefaultTimeout is the time one attempt of a task may take. A send is one
// HTTP call that the Gupshup client bounds well below this; the margin is for
// the Redis writes around it. It is per attempt: past it asynq retries, so
// it must never stand in for a message's validity period (expires_at).
const DefaultTimeout = 60 * time.Second

// Option changes how a task is enqueued.
type Option func(*options)

type options struct {
	queue     string
	processAt time.Time
	processIn time.Duration
	timeout   time.Duration
	now       func() time.Time
}

// Queue puts the task in q, one of QueueCritical, QueueDefault, QueueBulk.
func Queue(q string) Option { return func(o *options) { o.queue = q } }

// ProcessAt makes the task due at t instead of now.
func ProcessAt(t time.Time) Option {
	return func(o *options) { o.processAt, o.processIn = t, 0 }
}

// ProcessIn makes the task due d from now.
func ProcessIn(d time.Duration) Option {
	return func(o *options) { o.processAt, o.processIn = time.Time{}, d }
}

// Timeout replaces DefaultTimeout for each attempt.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// withClock fixes "now" for tests of the consent day stamp and expiry checks.
func withClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

func buildOptions(defaultQueue string, opts []Option) (options, error) {
	o := options{queue: defaultQueue, timeout: DefaultTimeout, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if !knownQueue(o.queue) {
		return o, invalid("queue", "unknown %q (want %s, %s or %s)", o.queue, QueueCritical, QueueDefault, QueueBulk)
	}
	if o.timeout <= 0 {
		return o, invalid("timeout", "%v is not a positive duration", o.timeout)
	}
	return o, nil
}

// due is when the task becomes ready, and whether that is later than now.
func (o options) due() (time.Time, bool) {
	now := o.now()
	switch {
	case o.processIn > 0:
		return now.Add(o.processIn), true
	case o.processAt.After(now):
		return o.processAt, true
	}
	return now, false
}
