package breaker

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// State is a breaker's state.
type State = gobreaker.State

// The states, named here so that callers need not import gobreaker.
const (
	Closed   = gobreaker.StateClosed
	HalfOpen = gobreaker.StateHalfOpen
	Open     = gobreaker.StateOpen
)

// Key names the breaker for one API family and app, e.g.
// Key("selfserve", "myapp").
func Key(family, app string) string { return family + "/" + app }

// Set holds one breaker per key, created on first use. Keys are few (API
// families times apps), so they are kept for the life of the Set. It is
// safe for concurrent use.
type Set struct {
	cfg      config
	breakers sync.Map // string -> *entry
}

type entry struct {
	key string
	cb  *gobreaker.CircuitBreaker[struct{}]
	// openUntil is when the open period ends (unix nanoseconds).
	// gobreaker keeps it to itself, so it is recorded on the way in.
	openUntil atomic.Int64
	// publish is set on opening and cleared by the Do that writes the
	// opening to Shared: the state-change hook runs under gobreaker's lock,
	// no place for a round trip to Redis.
	publish atomic.Bool
	// checkedAt and sharedUntil cache the Shared state (unix nanoseconds).
	checkedAt   atomic.Int64
	sharedUntil atomic.Int64
}

// New returns an empty Set.
func New(opts ...Option) *Set {
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	return &Set{cfg: cfg}
}

// Do runs fn through key's breaker and returns fn's error unchanged. While
// the breaker is open, or half-open with its probes in flight, or open
// elsewhere according to Shared, fn is not called and Do returns an
// *OpenError. A ctx already done returns its error without touching the
// breaker, so an abandoned call never takes a probe's place.
func (s *Set) Do(ctx context.Context, key string, fn func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	e := s.entry(key)
	if s.cfg.shared != nil {
		now := time.Now()
		if until := s.sharedOpenUntil(ctx, e, now); until.After(now) {
			return &OpenError{Key: key, RetryIn: until.Sub(now)}
		}
	}

	called := false
	_, err := e.cb.Execute(func() (struct{}, error) {
		called = true
		return struct{}{}, fn()
	})
	if !called {
		return s.refusal(e, err)
	}
	if s.cfg.shared != nil && e.publish.CompareAndSwap(true, false) {
		s.publishOpen(ctx, e)
	}
	return err
}

// State returns key's state; a key never used is closed.
func (s *Set) State(key string) State {
	if v, ok := s.breakers.Load(key); ok {
		return v.(*entry).cb.State()
	}
	return Closed
}

func (s *Set) refusal(e *entry, err error) error {
	retryIn := s.cfg.halfOpenRetry
	if errors.Is(err, gobreaker.ErrOpenState) {
		retryIn = max(time.Until(time.Unix(0, e.openUntil.Load())), 0)
	}
	return &OpenError{Key: e.key, RetryIn: retryIn}
}

func (s *Set) entry(key string) *entry {
	if v, ok := s.breakers.Load(key); ok {
		return v.(*entry)
	}
	e := &entry{key: key}
	e.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        key,
		MaxRequests: s.cfg.maxRequests,
		Timeout:     s.cfg.timeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= s.cfg.failures
		},
		IsSuccessful:  s.cfg.isSuccessful,
		IsExcluded:    s.cfg.isExcluded,
		OnStateChange: func(_ string, from, to State) { s.changed(e, from, to) },
	})
	v, _ := s.breakers.LoadOrStore(key, e)
	return v.(*entry)
}

// changed runs under gobreaker's lock, right after the state changed.
func (s *Set) changed(e *entry, from, to State) {
	if to == Open {
		// gobreaker set its own expiry a moment earlier, so this end is
		// never before it: RetryIn never sends a caller back too soon.
		e.openUntil.Store(time.Now().Add(s.cfg.timeout).UnixNano())
		e.publish.Store(true)
	}
	if s.cfg.onStateChange != nil {
		s.cfg.onStateChange(e.key, from, to)
	}
}
