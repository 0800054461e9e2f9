package breaker

import (
	"context"
	"time"
)

// Shared holds, per key, the time until which a breaker somewhere in the
// fleet is open. Only the moment of opening is shared, not the counts: each
// process still trips on its own failures, and calls never queue behind a
// lock held by another process.
type Shared interface {
	// OpenUntil returns the time the key's breaker is open until, or the
	// zero time when it is not open.
	OpenUntil(ctx context.Context, key string) (time.Time, error)
	// SetOpenUntil records that the key's breaker is open until t. An
	// earlier t than the one already recorded must not shorten it.
	SetOpenUntil(ctx context.Context, key string, t time.Time) error
}

// sharedTimeout bounds a write of the Shared state: it happens on a send's
// path, after the send, and must not hold the send up for long.
const sharedTimeout = time.Second

// sharedOpenUntil returns the fleet's open-until time for e, read from
// Shared at most once per refresh. Callers arriving while one of them reads
// use the value read before.
func (s *Set) sharedOpenUntil(ctx context.Context, e *entry, now time.Time) time.Time {
	checked := e.checkedAt.Load()
	if now.UnixNano()-checked >= int64(s.cfg.refresh) && e.checkedAt.CompareAndSwap(checked, now.UnixNano()) {
		until, err := s.cfg.shared.OpenUntil(ctx, e.key)
		if err != nil {
			s.sharedError(e.key, err)
		} else {
			e.sharedUntil.Store(unixNano(until))
		}
	}
	if u := e.sharedUntil.Load(); u != 0 {
		return time.Unix(0, u)
	}
	return time.Time{}
}

// publishOpen tells the fleet that e opened. The send that tripped the
// breaker may have been cancelled meanwhile; the write is still wanted.
func (s *Set) publishOpen(ctx context.Context, e *entry) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedTimeout)
	defer cancel()
	until := time.Unix(0, e.openUntil.Load())
	if err := s.cfg.shared.SetOpenUntil(ctx, e.key, until); err != nil {
		s.sharedError(e.key, err)
	}
}

func (s *Set) sharedError(key string, err error) {
	if s.cfg.onSharedError != nil {
		s.cfg.onSharedError(key, err)
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
