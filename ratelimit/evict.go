package ratelimit

import "time"

// maybeSweep starts a sweep of idle keys at most once per IdleTTL. The
// sweep gets a goroutine of its own, started on demand rather than kept
// running, so that no send waits for a walk over a map that may hold every
// recipient of a campaign, and so that the limiter needs no Close.
func (l *Local) maybeSweep(now time.Time) {
	if l.cfg.idleTTL <= 0 {
		return
	}
	last := l.lastSweep.Load()
	if now.UnixNano()-last < int64(l.cfg.idleTTL) {
		return
	}
	if !l.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	go l.sweep()
}

func (l *Local) sweep() {
	l.keys.Range(func(k, v any) bool {
		b := v.(*bucket)
		b.mu.Lock()
		// Read under the lock, like Wait does, so this time is never
		// behind the bucket's.
		now := time.Now()
		// A full bucket behaves exactly like a new one, so dropping it
		// loses nothing; a bucket still paying off reservations must stay.
		if now.Sub(b.used) >= l.cfg.idleTTL && b.lim.TokensAt(now) >= float64(l.cfg.burst) {
			b.gone = true
			if l.keys.CompareAndDelete(k, b) {
				l.size.Add(-1)
			}
		}
		b.mu.Unlock()
		return true
	})
}
